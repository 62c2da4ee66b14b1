package link

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/stacknet/stacknet/timers"
)

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
