package link

import "time"

// The ingress side of Impaired: ReadFrames, and the queue fed by its
// reader goroutine when frames must be held.

// ReadFrames returns impaired frames from the wrapped device.
func (d *Impaired) ReadFrames(bufs [][]byte, sizes []int) (int, error) {
	x := &d.in
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return 0, ErrClosed
	}
	if x.ready.len() > 0 {
		n := x.take(bufs, sizes)
		x.mu.Unlock()
		return n, nil
	}
	if !x.reading && x.imp.timed() {
		x.reading = true
		d.wg.Add(1)
		go d.readLoop()
	}
	if x.reading {
		x.mu.Unlock()
		return d.waitReady(bufs, sizes)
	}
	x.mu.Unlock()
	for {
		n, err := d.dev.ReadFrames(bufs, sizes)
		x.mu.Lock()
		if x.closed {
			x.mu.Unlock()
			return 0, ErrClosed
		}
		n = x.inPlace(bufs, sizes, max(min(n, len(bufs), len(sizes)), 0))
		x.mu.Unlock()
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// waitReady serves ReadFrames from the queue the reader goroutine fills.
func (d *Impaired) waitReady(bufs [][]byte, sizes []int) (int, error) {
	x := &d.in
	for {
		x.mu.Lock()
		switch {
		case x.closed:
			x.mu.Unlock()
			return 0, ErrClosed
		case x.ready.len() > 0:
			n := x.take(bufs, sizes)
			x.mu.Unlock()
			return n, nil
		case x.readErr != nil:
			err := x.readErr
			x.mu.Unlock()
			return 0, err
		}
		x.mu.Unlock()
		select {
		case <-x.readyCh:
		case <-d.done:
		}
	}
}

// readLoop is the ingress reader goroutine: it reads the device and passes
// each frame through the ingress impairment into the ready queue.
func (d *Impaired) readLoop() {
	defer d.wg.Done()
	x := &d.in
	bufs, sizes := make([][]byte, impairReadBatch), make([]int, impairReadBatch)
	for i := range bufs {
		bufs[i] = make([]byte, x.bufSize)
	}
	for {
		n, err := d.dev.ReadFrames(bufs, sizes)
		x.mu.Lock()
		if x.closed {
			x.mu.Unlock()
			return
		}
		timed := x.imp.timed() || x.q.len() > 0 || x.held != nil
		var now time.Time
		if timed {
			now = x.clock.Now()
		}
		for i := range max(min(n, len(bufs)), 0) {
			x.admit(now, timed, bufs[i][:min(sizes[i], len(bufs[i]))])
		}
		if err != nil {
			x.readErr = err
		}
		x.signal()
		x.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// impairEntry is a held frame and when it may leave.

type impairIngress struct {
	impairDir
	ready   impairFIFO[[]byte]
	readyCh chan struct{} // signalled when ready grows or readErr is set
	reading bool          // the reader goroutine runs
	readErr error
	dup     []bool
}

// admit passes one frame from the reader goroutine through the impairment.
func (x *impairIngress) admit(now time.Time, timed bool, f []byte) {
	bit, copies := x.decide(len(f))
	for range copies {
		how, release := impairPlaceNow, now
		if timed {
			release, how = x.place(now, len(f))
		}
		switch how {
		case impairPlaceDrop:
			x.stats.QueueDrops++
		case impairPlaceHold, impairPlaceLater:
			x.enqueue(now, x.copyIn(f, bit), release, how == impairPlaceHold)
		default:
			x.push(x.copyIn(f, bit))
			if x.held != nil {
				x.push(x.held)
				x.held = nil
			}
		}
	}
}

// pushAll is the ingress delivery, called by pump.
func (x *impairIngress) pushAll(bufs [][]byte) {
	for _, b := range bufs {
		x.push(b)
	}
	x.signal()
}

func (x *impairIngress) push(b []byte) {
	if x.ready.len() >= impairMaxQueued {
		x.stats.QueueDrops++
		x.put(b)
		return
	}
	x.ready.push(b)
}

func (x *impairIngress) signal() {
	select {
	case x.readyCh <- struct{}{}:
	default:
	}
}

// take copies ready frames into bufs.
func (x *impairIngress) take(bufs [][]byte, sizes []int) int {
	k := 0
	for ; k < len(bufs) && k < len(sizes) && x.ready.len() > 0; k++ {
		b := x.ready.pop()
		sizes[k] = copy(bufs[k], b)
		x.put(b)
	}
	return k
}

// inPlace impairs the n frames just read into bufs: lost frames are
// removed, corrupted ones flipped where they lie, and duplicates inserted
// right after their originals, the copies that do not fit going to the
// ready queue for the next call. It returns how many frames bufs holds.
func (x *impairIngress) inPlace(bufs [][]byte, sizes []int, n int) int {
	if x.imp.zero() {
		x.stats.Frames += uint64(n)
		return n
	}
	if len(x.dup) < n {
		x.dup = make([]bool, len(bufs))
	}
	kept, total := 0, 0
	for i := range n {
		f := bufs[i][:min(sizes[i], len(bufs[i]))]
		bit, copies := x.decide(len(f))
		if copies == 0 {
			continue
		}
		impairFlip(f, bit)
		if kept != i {
			sizes[kept] = copy(bufs[kept], f)
		} else {
			sizes[kept] = len(f)
		}
		x.dup[kept] = copies == 2
		kept++
		total += copies
	}
	// Spread the frames out from the end, so that no source is overwritten
	// before it is copied: frame k goes to j >= k.
	over, room := x.spare[:0], len(bufs)
	for range total - room {
		over = append(over, nil)
	}
	j := total - 1
	for k := kept - 1; k >= 0; k-- {
		f := bufs[k][:sizes[k]]
		for c := 0; c < 1+impairB2I(x.dup[k]); c++ {
			switch {
			case j >= room:
				over[j-room] = x.copyIn(f, -1)
			case j != k:
				sizes[j] = copy(bufs[j], f)
			}
			j--
		}
	}
	for _, b := range over {
		x.push(b)
	}
	clear(over)
	x.spare = over[:0]
	return min(total, room)
}
