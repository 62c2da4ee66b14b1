package link

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/stacknet/stacknet/timers"
)

// Impairment describes what happens to frames in one direction. The zero
// value passes every frame untouched.
//
// Decisions are drawn, per frame and in this order, for Loss, Corrupt and
// Duplicate, then for every copy sent for Reorder and Jitter; a probability
// of zero draws nothing. The duplicate of a corrupted frame carries the
// same corruption. Each copy of a duplicated frame is paced, delayed and
// possibly reordered on its own.
type Impairment struct {
	Loss      float64 // probability a frame is dropped
	Duplicate float64 // probability a frame is sent twice
	// Reorder is the probability a frame is held back and sent right after
	// the next one, or ReorderHold after it was due if nothing follows. At
	// most one frame is held at a time.
	Reorder float64
	// Corrupt is the probability one bit is flipped. On an Ethernet device
	// the bit is chosen after the 14-byte header, so that checksums, not
	// MAC filtering, catch it; a frame with no byte after the header is
	// left alone.
	Corrupt float64
	Delay   time.Duration // added to every frame
	// Jitter adds a uniform extra delay in [0, Jitter). It never reorders
	// frames by itself: a frame is never sent before the one ahead of it.
	Jitter time.Duration
	// Rate paces frames to this many bytes per second; 0 means unlimited.
	// Frames waiting for the link queue up like at a router, up to
	// QueueLimit frames (default 1000, counting the one being sent); more
	// are dropped and counted as QueueDrops.
	Rate       int64
	QueueLimit int
	// ReorderHold bounds how long a reordered frame waits for a successor
	// (default 1ms).
	ReorderHold time.Duration
}

// ImpairStats counts what an Impaired did in one direction. Frames counts
// frames offered; the others count the decisions taken. Delayed counts
// copies that were held for later rather than sent at once (Reordered ones
// included).
type ImpairStats struct {
	Frames, Dropped, Duplicated, Reordered, Corrupted, Delayed, QueueDrops uint64
}

const (
	impairDefaultQueue = 1000
	impairDefaultHold  = time.Millisecond
	// impairMaxQueued bounds the frames one direction holds in its delay
	// line (and, on ingress, released but not yet read), so that a sender
	// outrunning a long Delay cannot exhaust memory. Beyond it frames are
	// counted as QueueDrops.
	impairMaxQueued = 1 << 16
	impairMaxFree   = 256 // spare buffers kept per direction
	impairReadBatch = 8   // frames the ingress reader asks the device for
	impairSeedOut   = 0x9e3779b97f4a7c15
	impairSeedIn    = 0xd1b54a32d192ed03
)

// Placement of one copy of a frame, as decided by impairDir.place.
const (
	impairPlaceNow   = iota // send at once: nothing is queued ahead of it
	impairPlaceLater        // queue until its release time
	impairPlaceHold         // hold for reordering
	impairPlaceDrop         // the rate queue is full
)

func (m Impairment) normalize() Impairment {
	if m.QueueLimit <= 0 {
		m.QueueLimit = impairDefaultQueue
	}
	if m.ReorderHold <= 0 {
		m.ReorderHold = impairDefaultHold
	}
	m.Delay = max(m.Delay, 0)
	m.Jitter = max(m.Jitter, 0)
	m.Rate = max(m.Rate, 0)
	return m
}

// timed reports whether frames may have to be held for later.
func (m *Impairment) timed() bool {
	return m.Delay > 0 || m.Jitter > 0 || m.Rate > 0 || m.Reorder > 0
}

// zero reports whether m passes every frame untouched. NaN probabilities
// count as zero.
func (m *Impairment) zero() bool {
	return !(m.Loss > 0 || m.Duplicate > 0 || m.Corrupt > 0) && !m.timed()
}

// Impaired is a Device that drops, duplicates, corrupts, delays, paces and
// reorders the frames of another, independently in each direction, like a
// bad cable or a congested router. It is meant for testing a stack against
// a hostile network.
//
// Decisions come from a pseudo-random generator per direction, seeded from
// the seed given to Impair: the same seed and the same sequence of frames
// through one direction give the same decisions. Concurrent writers can
// change the order in which frames reach the generator, and so the
// decisions.
//
// Egress (WriteFrames) runs on the caller's goroutine and allocates nothing
// while no frame has to wait: loss, corruption and duplication need no
// hand-off, and a corrupted frame is a copy, never the caller's buffer.
// Frames that must wait (Delay, Jitter, Rate, Reorder) are copied into
// pooled buffers and sent by one timer per direction, on the clock's
// goroutine (a time.AfterFunc goroutine for the system clock, the caller of
// Advance for a timers.Fake).
//
// Ingress (ReadFrames) applies loss, corruption and duplication in place on
// the caller's buffers; a duplicate that does not fit is kept for the next
// call. Once the ingress Impairment needs frames to wait, the next
// ReadFrames starts one reader goroutine that reads the device and feeds a
// queue, and every later ReadFrames takes frames from that queue.
//
// Close discards every frame still held, stops the timers and the reader,
// and closes the wrapped device.
type Impaired struct {
	dev   Device
	clock timers.Clock
	out   impairDir
	in    impairIngress
	done  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	err   error // from the wrapped device's Close
}

// An ImpairOption configures Impair.
type ImpairOption func(*Impaired)

// ImpairClock makes the Impaired schedule held frames on c rather than the
// system clock, so that a stack running on a timers.Fake sees delays in
// its own time.
func ImpairClock(c timers.Clock) ImpairOption {
	return func(d *Impaired) { d.clock = c }
}

// Impair wraps dev. Impairment out applies to frames written (egress), in
// to frames read (ingress).
func Impair(dev Device, seed uint64, out, in Impairment, opts ...ImpairOption) *Impaired {
	d := &Impaired{dev: dev, clock: timers.System(), done: make(chan struct{})}
	for _, o := range opts {
		o(d)
	}
	hdr, size := HeaderLen(dev.Kind()), dev.MTU()+HeaderLen(dev.Kind())
	d.out.init(d.clock, rand.NewPCG(seed, seed^impairSeedOut), hdr, size, out, d.sendDue)
	d.in.init(d.clock, rand.NewPCG(seed^impairSeedIn, seed), hdr, size, in, d.in.pushAll)
	d.in.readyCh = make(chan struct{}, 1)
	return d
}

// Stats returns what each direction has done so far.
func (d *Impaired) Stats() (out, in ImpairStats) {
	return d.out.getStats(), d.in.getStats()
}

// SetImpairment changes both directions' impairments. Frames already held
// keep their release times. A change that makes ingress need its reader
// goroutine takes effect at the next ReadFrames.
func (d *Impaired) SetImpairment(out, in Impairment) {
	d.out.set(out)
	d.in.set(in)
}

// MTU returns the wrapped device's MTU.
func (d *Impaired) MTU() int { return d.dev.MTU() }

// HardwareAddr returns the wrapped device's address.
func (d *Impaired) HardwareAddr() net.HardwareAddr { return d.dev.HardwareAddr() }

// Kind returns the wrapped device's kind.
func (d *Impaired) Kind() Kind { return d.dev.Kind() }

// Name is the inner device's name (Namer), or "".
func (d *Impaired) Name() string { return nameOf(d.dev) }

// Close discards held frames, stops every timer and goroutine of d and
// closes the wrapped device. It is safe to call more than once.
func (d *Impaired) Close() error {
	d.once.Do(func() {
		d.out.shut()
		d.in.shut()
		close(d.done)
		d.err = d.dev.Close()
		d.wg.Wait()
	})
	return d.err
}

// WriteFrames impairs frames on their way to the wrapped device. Dropped
// frames count as taken.
func (d *Impaired) WriteFrames(frames [][]byte) (int, error) {
	x := &d.out
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return 0, ErrClosed
	}
	pending := x.q.len() > 0 || x.held != nil
	if !pending && x.imp.zero() {
		x.stats.Frames += uint64(len(frames))
		x.mu.Unlock()
		return d.dev.WriteFrames(frames)
	}
	defer x.mu.Unlock()
	timed := pending || x.imp.timed()
	var now time.Time
	if timed {
		now = x.clock.Now()
	}
	batch, src, spare, scratch := x.batch[:0], x.src[:0], x.spare[:0], 0
	for i, f := range frames {
		bit, copies := x.decide(len(f))
		data, dirty := f, bit >= 0
		for range copies {
			if timed {
				release, how := x.place(now, len(f))
				switch how {
				case impairPlaceDrop:
					x.stats.QueueDrops++
					continue
				case impairPlaceHold, impairPlaceLater:
					x.enqueue(now, x.copyIn(f, bit), release, how == impairPlaceHold)
					continue
				}
			}
			if dirty { // corrupt a copy, once for both duplicates
				data, dirty = x.scratchCopy(scratch, f, bit), false
				scratch++
			}
			batch, src = append(batch, data), append(src, i)
			if x.held != nil { // a reordered frame follows its successor
				batch, src, spare = append(batch, x.held), append(src, i), append(spare, x.held)
				x.held = nil
			}
		}
	}
	n, err := impairWriteAll(d.dev, batch, src, len(frames))
	for _, b := range spare {
		x.put(b)
	}
	clear(batch) // do not keep the caller's frames
	clear(spare)
	x.batch, x.src, x.spare = batch[:0], src[:0], spare[:0]
	return n, err
}

// impairWriteAll writes batch, in which entry k comes from input frame src[k],
// and returns how many of total input frames were taken.
func impairWriteAll(dev Device, batch [][]byte, src []int, total int) (int, error) {
	for done := 0; done < len(batch); {
		n, err := dev.WriteFrames(batch[done:])
		done += max(n, 0)
		if err == nil && n <= 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			if done >= len(batch) {
				return total, err
			}
			return src[done], err
		}
	}
	return total, nil
}

// sendDue is the egress delivery: it writes released frames, dropping them
// if the device fails as a wire would, and recycles their buffers. It runs
// with d.out.mu held.
func (d *Impaired) sendDue(bufs [][]byte) {
	for rest := bufs; len(rest) > 0; {
		n, err := d.dev.WriteFrames(rest)
		if err != nil || n <= 0 {
			break
		}
		rest = rest[n:]
	}
	for _, b := range bufs {
		d.out.put(b)
	}
}

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
type impairEntry struct {
	buf     []byte
	release time.Time
}

// impairDir is the state of one direction. Every field after mu is guarded
// by it.
type impairDir struct {
	mu      sync.Mutex
	clock   timers.Clock
	deliver func([][]byte) // hands on released frames; owns their buffers
	fireFn  func()         // x.fire, bound once
	hdr     int            // leading bytes never corrupted
	bufSize int            // size of pooled buffers

	imp    Impairment
	rng    *rand.Rand
	stats  ImpairStats
	closed bool

	q            impairFIFO[impairEntry] // release times non-decreasing
	held         []byte                  // the frame held for reordering
	heldDeadline time.Time
	tx           impairFIFO[time.Time] // rate queue: when each frame finishes sending
	busyUntil    time.Time             // when the rate-limited link is next free
	rateRem      int64                 // byte-nanoseconds not yet turned into delay
	lastRelease  time.Time

	timer   timers.Stopper
	armed   bool
	armedAt time.Time

	free, due, spare, batch, scratch [][]byte
	src                              []int
}

func (x *impairDir) init(c timers.Clock, src rand.Source, hdr, size int, m Impairment, deliver func([][]byte)) {
	x.clock, x.rng, x.hdr, x.bufSize, x.deliver = c, rand.New(src), hdr, size, deliver
	x.imp = m.normalize()
	x.fireFn = x.fire
}

func (x *impairDir) set(m Impairment) {
	x.mu.Lock()
	x.imp = m.normalize()
	x.mu.Unlock()
}

func (x *impairDir) getStats() ImpairStats {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.stats
}

// shut marks the direction closed, stops its timer and drops held frames.
func (x *impairDir) shut() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.closed = true
	if x.timer != nil {
		x.timer.Stop()
	}
	x.q, x.tx, x.held, x.free = impairFIFO[impairEntry]{}, impairFIFO[time.Time]{}, nil, nil
}

// decide draws loss, corruption and duplication for a frame of n bytes. It
// returns the bit to flip (-1 for none) and how many copies to send.
func (x *impairDir) decide(n int) (bit, copies int) {
	m := &x.imp
	x.stats.Frames++
	if m.Loss > 0 && x.rng.Float64() < m.Loss {
		x.stats.Dropped++
		return -1, 0
	}
	bit, copies = -1, 1
	if m.Corrupt > 0 && x.rng.Float64() < m.Corrupt && n > x.hdr {
		bit = x.hdr*8 + x.rng.IntN((n-x.hdr)*8)
		x.stats.Corrupted++
	}
	if m.Duplicate > 0 && x.rng.Float64() < m.Duplicate {
		copies = 2
		x.stats.Duplicated++
	}
	return bit, copies
}

// place decides when one copy of n bytes, offered at now, leaves.
func (x *impairDir) place(now time.Time, n int) (time.Time, int) {
	m := &x.imp
	reorder := m.Reorder > 0 && x.rng.Float64() < m.Reorder
	var jitter time.Duration
	if m.Jitter > 0 {
		jitter = time.Duration(x.rng.Int64N(int64(m.Jitter)))
	}
	if x.q.len() >= impairMaxQueued {
		return time.Time{}, impairPlaceDrop
	}
	release := now
	if m.Rate > 0 {
		for x.tx.len() > 0 && !x.tx.peek().After(now) {
			x.tx.pop()
		}
		if x.tx.len() >= m.QueueLimit {
			return time.Time{}, impairPlaceDrop
		}
		// Exact pacing: carry the remainder of n*1e9/Rate to the next frame.
		x.rateRem += int64(n) * int64(time.Second)
		d := x.rateRem / m.Rate
		x.rateRem -= d * m.Rate
		x.busyUntil = impairLater(now, x.busyUntil).Add(time.Duration(d))
		x.tx.push(x.busyUntil)
		release = x.busyUntil
	}
	release = impairLater(release.Add(m.Delay+jitter), x.lastRelease) // jitter never reorders
	x.lastRelease = release
	switch {
	case reorder && x.held == nil:
		return release, impairPlaceHold
	case !release.After(now) && x.q.len() == 0:
		return release, impairPlaceNow
	}
	return release, impairPlaceLater
}

func impairLater(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// enqueue holds buf until release, or for reordering. A held frame that
// is waiting leaves right behind buf.
func (x *impairDir) enqueue(now time.Time, buf []byte, release time.Time, hold bool) {
	x.stats.Delayed++
	if hold {
		x.stats.Reordered++
		x.held, x.heldDeadline = buf, release.Add(x.imp.ReorderHold)
		x.arm(now, x.heldDeadline)
		return
	}
	x.q.push(impairEntry{buf, release})
	if x.held != nil {
		x.q.push(impairEntry{x.held, release})
		x.held = nil
	}
	x.arm(now, release)
}

// arm makes sure the timer fires no later than at.
func (x *impairDir) arm(now, at time.Time) {
	if x.armed && !at.Before(x.armedAt) {
		return
	}
	x.armed, x.armedAt = true, at
	d := at.Sub(now)
	if r, ok := x.timer.(timers.Resetter); ok {
		r.Reset(d)
		return
	}
	if x.timer != nil {
		x.timer.Stop()
	}
	x.timer = x.clock.AfterFunc(d, x.fireFn)
}

// fire is the timer callback: it releases every frame that is due.
func (x *impairDir) fire() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return
	}
	x.armed = false
	now := x.clock.Now()
	if next, ok := x.pump(now); ok {
		x.arm(now, next)
	}
}

// pump delivers the frames due at now and reports when the next is due.
func (x *impairDir) pump(now time.Time) (time.Time, bool) {
	due := x.due[:0]
	for x.q.len() > 0 && !x.q.peek().release.After(now) {
		due = append(due, x.q.pop().buf)
	}
	// Every frame queued before the held one is due by its deadline, and
	// any frame offered after it released it, so it goes last.
	if x.held != nil && !x.heldDeadline.After(now) {
		due = append(due, x.held)
		x.held = nil
	}
	if len(due) > 0 {
		x.deliver(due)
	}
	clear(due)
	x.due = due[:0]
	switch {
	case x.q.len() > 0:
		return x.q.peek().release, true // never after a held deadline
	case x.held != nil:
		return x.heldDeadline, true
	}
	return time.Time{}, false
}

// copyIn copies f into a pooled buffer, flipping bit if it is not -1.
func (x *impairDir) copyIn(f []byte, bit int) []byte {
	var b []byte
	if k := len(x.free) - 1; k >= 0 && cap(x.free[k]) >= len(f) {
		b, x.free[k] = x.free[k][:len(f)], nil
		x.free = x.free[:k]
	} else {
		b = make([]byte, len(f), max(len(f), x.bufSize))
	}
	copy(b, f)
	impairFlip(b, bit)
	return b
}

// put recycles a buffer from copyIn.
func (x *impairDir) put(b []byte) {
	if len(x.free) < impairMaxFree && cap(b) >= x.bufSize && !x.closed {
		x.free = append(x.free, b[:0])
	}
}

// scratchCopy copies f into the k-th scratch buffer of this call and flips
// bit, so that a corrupted frame never touches the caller's buffer.
func (x *impairDir) scratchCopy(k int, f []byte, bit int) []byte {
	if k == len(x.scratch) {
		x.scratch = append(x.scratch, nil)
	}
	if cap(x.scratch[k]) < len(f) {
		x.scratch[k] = make([]byte, max(len(f), x.bufSize))
	}
	b := x.scratch[k][:len(f)]
	copy(b, f)
	impairFlip(b, bit)
	return b
}

func impairFlip(b []byte, bit int) {
	if bit >= 0 {
		b[bit/8] ^= 1 << (bit % 8)
	}
}

// impairIngress is the ingress direction: an impairDir whose released
// frames go to a ready queue that ReadFrames drains.
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

func impairB2I(b bool) int {
	if b {
		return 1
	}
	return 0
}

// impairFIFO is a queue on a slice that it compacts when full, so steady
// use allocates nothing.
type impairFIFO[T any] struct {
	s    []T
	head int
}

func (f *impairFIFO[T]) len() int { return len(f.s) - f.head }
func (f *impairFIFO[T]) peek() T  { return f.s[f.head] }

func (f *impairFIFO[T]) push(v T) {
	if f.head > 0 && len(f.s) == cap(f.s) && f.head >= len(f.s)/2 {
		n := copy(f.s, f.s[f.head:])
		clear(f.s[n:])
		f.s, f.head = f.s[:n], 0
	}
	f.s = append(f.s, v)
}

func (f *impairFIFO[T]) pop() T {
	var zero T
	v := f.s[f.head]
	f.s[f.head] = zero
	if f.head++; f.head == len(f.s) {
		f.s, f.head = f.s[:0], 0
	}
	return v
}
