package link

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
)

// queueLen is how many frames a Pipe or Loopback end holds for its reader
// before it drops new arrivals, like a NIC's receive ring or the kernel's
// netdev_max_backlog (1000 by default).
const queueLen = 1024

// minSlot is the smallest buffer a queue allocates for a frame. Buffers
// are recycled, so after a warm-up the queue allocates nothing; starting
// at this size means most Ethernet frames fit the first buffer they get.
const minSlot = 2048

// vlanTagLen is the room readers leave beyond MTU plus the link header,
// for one 802.1Q tag.
const vlanTagLen = 4

// Pipe returns the two ends of an in-memory Ethernet wire with the given
// MTU (0 means 1500). Each end has its own random MAC address (RandomMAC).
//
// A frame written to one end is copied into the other end's receive queue,
// which holds up to 1024 frames; when it is full, further frames are
// dropped and counted in that end's Stats, so a writer never blocks. (Two
// stacks whose reader goroutines write to each other would deadlock if it
// could.) A frame longer than MTU+14 bytes, or shorter than an Ethernet
// header, is dropped when written and counted.
//
// Closing one end makes its ReadFrames and WriteFrames return ErrClosed.
// The other end keeps working until it is closed too, but what it writes
// is dropped, as on a cut cable. Options (WithChecksumOffload) apply to
// both ends.
func Pipe(mtu int, opts ...PipeOption) (Device, Device) {
	if mtu <= 0 {
		mtu = 1500
	}
	a, b := pipe(mtu, queueLen)
	for _, o := range opts {
		o(a)
		o(b)
	}
	return a, b
}

// pipe is Pipe with queues of qlen frames, a power of two.
func pipe(mtu, qlen int) (*queueDevice, *queueDevice) {
	a := newQueueDevice(Ethernet, mtu, RandomMAC(), qlen)
	b := newQueueDevice(Ethernet, mtu, RandomMAC(), qlen)
	for bytes.Equal(a.mac, b.mac) {
		b.mac = RandomMAC()
	}
	a.peer, b.peer = b, a
	return a, b
}

// queueDevice is one end of a Pipe, or a Loopback (whose peer is itself).
// It owns the queue of frames waiting for its reader; writers copy into
// the peer's queue.
type queueDevice struct {
	kind     Kind
	mtu      int
	mac      net.HardwareAddr
	minLen   int // shortest frame accepted: the link header, at least one byte
	maxLen   int // longest frame accepted: MTU plus the link header
	peer     *queueDevice
	offloads Offload
	closed   atomic.Bool
	stats    counters
	q        frameQueue
}

func newQueueDevice(kind Kind, mtu int, mac net.HardwareAddr, qlen int) *queueDevice {
	d := &queueDevice{
		kind:   kind,
		mtu:    mtu,
		mac:    mac,
		minLen: max(HeaderLen(kind), 1),
		maxLen: mtu + HeaderLen(kind),
	}
	d.q.init(qlen)
	return d
}

// ReadFrames implements Device.
func (d *queueDevice) ReadFrames(bufs [][]byte, sizes []int) (int, error) {
	n, err := d.q.pop(bufs, sizes, false)
	d.stats.addRx(sizes[:n])
	return n, err
}

// SwapFrames implements FrameSwapper: a frame whose buffer is as large as
// the caller's is handed over, and the caller's buffer joins the queue's
// spares, which saves a copy of every frame.
func (d *queueDevice) SwapFrames(bufs [][]byte, sizes []int) (int, error) {
	n, err := d.q.pop(bufs, sizes, true)
	d.stats.addRx(sizes[:n])
	return n, err
}

// WriteFrames implements Device.
func (d *queueDevice) WriteFrames(frames [][]byte) (int, error) {
	if d.closed.Load() {
		return 0, ErrClosed
	}
	var bad uint64
	for _, f := range frames {
		if len(f) < d.minLen || len(f) > d.maxLen {
			bad++
		}
	}
	// Frames that reach a full queue count as sent here, as dropped there.
	sent, bytes, full, cut := d.peer.q.push(frames, d.minLen, d.maxLen)
	d.stats.addTx(sent, bytes, bad+cut)
	if full != 0 {
		d.peer.stats.drops.Add(full)
	}
	return len(frames), nil
}

// MTU implements Device.
func (d *queueDevice) MTU() int { return d.mtu }

// HardwareAddr implements Device.
func (d *queueDevice) HardwareAddr() net.HardwareAddr { return d.mac }

// Kind implements Device.
func (d *queueDevice) Kind() Kind { return d.kind }

// Stats implements StatsReporter.
func (d *queueDevice) Stats() DeviceStats { return d.stats.snapshot() }

// Close implements Device. It unblocks ReadFrames and discards the frames
// still queued.
func (d *queueDevice) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	d.q.close()
	return nil
}

// frameQueue is a bounded FIFO of frame copies with one reader. Its
// buffers move between the ring and a free list, so once every buffer it
// needs has been allocated it allocates nothing. The reader waits on a
// sync.Cond: there is no channel operation, and no goroutine hand-off, per
// frame.
type frameQueue struct {
	mu       sync.Mutex
	nonEmpty sync.Cond // signalled when frames arrive or the queue closes
	ring     [][]byte  // len is a power of two; ring[head:head+n] (mod len) hold frames
	head     int
	n        int
	free     [][]byte // spare buffers; cap is len(ring), so appending never allocates
	closed   bool
}

func (q *frameQueue) init(size int) {
	q.nonEmpty.L = &q.mu
	q.ring = make([][]byte, size)
	q.free = make([][]byte, 0, size)
}

// push copies the frames whose length is within [minLen, maxLen] to the
// queue. It returns how many frames, and bytes, reached the queue, how
// many of those it dropped because it was full, and how many it dropped
// because it was closed (and which did not reach it).
func (q *frameQueue) push(frames [][]byte, minLen, maxLen int) (sent, bytes, full, closed uint64) {
	q.mu.Lock()
	wasEmpty := q.n == 0
	mask := len(q.ring) - 1
	for _, f := range frames {
		switch {
		case len(f) < minLen || len(f) > maxLen:
			continue // counted by the caller
		case q.closed:
			closed++
			continue
		case q.n == len(q.ring):
			sent++
			bytes += uint64(len(f))
			full++
			continue
		}
		var buf []byte
		if k := len(q.free); k > 0 {
			buf = q.free[k-1]
			q.free[k-1] = nil
			q.free = q.free[:k-1]
		}
		if cap(buf) < len(f) {
			// Room for the longest frame and a VLAN tag, as readers
			// size their buffers, so that SwapFrames can hand it over;
			// on a large MTU, a small frame gets minSlot.
			size := maxLen + vlanTagLen
			if size > minSlot && len(f) <= minSlot {
				size = minSlot
			}
			buf = make([]byte, 0, size)
		}
		q.ring[(q.head+q.n)&mask] = append(buf[:0], f...)
		q.n++
		sent++
		bytes += uint64(len(f))
	}
	if wasEmpty && q.n > 0 {
		q.nonEmpty.Signal()
	}
	q.mu.Unlock()
	return sent, bytes, full, closed
}

// pop waits until the queue holds a frame or is closed, then copies as
// many frames as fit in bufs and sizes; with swap, it exchanges a frame's
// buffer for the caller's instead where the frame's is large enough.
func (q *frameQueue) pop(bufs [][]byte, sizes []int, swap bool) (int, error) {
	want := min(len(bufs), len(sizes))
	q.mu.Lock()
	for q.n == 0 && !q.closed {
		if want == 0 {
			q.mu.Unlock()
			return 0, nil
		}
		q.nonEmpty.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		return 0, ErrClosed
	}
	mask := len(q.ring) - 1
	i := 0
	for ; i < want && q.n > 0; i++ {
		f := q.ring[q.head]
		q.ring[q.head] = nil
		if swap && cap(f) >= len(bufs[i]) {
			sizes[i] = len(f)
			f, bufs[i] = bufs[i], f[:len(bufs[i])]
		} else {
			sizes[i] = copy(bufs[i], f)
		}
		q.free = append(q.free, f)
		q.head = (q.head + 1) & mask
		q.n--
	}
	q.mu.Unlock()
	return i, nil
}

// close marks the queue closed, wakes the reader and lets the buffers go.
func (q *frameQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.ring = nil
	q.free = nil
	q.n = 0
	q.nonEmpty.Broadcast()
	q.mu.Unlock()
}
