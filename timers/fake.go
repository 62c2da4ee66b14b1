package timers

import (
	"sync"
	"time"
)

// Fake is a Clock that moves only when told to. Its zero value is not
// usable; call NewFake.
//
// A Fake is safe for concurrent use: Now may be read, and callbacks
// scheduled or stopped, from any goroutine while Advance runs. Callbacks
// run on the goroutine calling Advance, with no lock of the Fake held, so
// they may use the Fake freely. A callback scheduled with d <= 0 is due at
// once and runs on the next Advance, Advance(0) included.
type Fake struct {
	mu   sync.Mutex
	now  time.Time
	seq  uint64       // scheduling order, to break ties between deadlines
	heap []*fakeTimer // binary min-heap by (when, seq)
}

// fakeTimer is one callback scheduled on a Fake. It is the Stopper (and
// Resetter) AfterFunc returns.
type fakeTimer struct {
	f    *Fake
	fn   func()
	when time.Time
	seq  uint64
	i    int // 1 + position in f.heap; 0 when not scheduled
}

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// AfterFunc schedules fn for when the fake time reaches Now()+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Stopper {
	t := &fakeTimer{f: f, fn: fn}
	f.mu.Lock()
	f.scheduleLocked(t, d)
	f.mu.Unlock()
	return t
}

// Advance moves the time forward by d, calling every callback that falls
// due on the way, in deadline order, with Now reading each one's deadline
// as it runs. Callbacks scheduled during Advance that fall due within it
// run too.
//
// Callbacks with equal deadlines run in the order they were scheduled. The
// time never moves backwards, even when Advance is called from several
// goroutines at once or from inside a callback. Advance panics if d is
// negative.
func (f *Fake) Advance(d time.Duration) {
	if d < 0 {
		panic("timers: Fake.Advance with negative duration")
	}
	f.mu.Lock()
	target := f.now.Add(d)
	for len(f.heap) > 0 && !f.heap[0].when.After(target) {
		t := f.heap[0]
		f.removeLocked(t)
		if t.when.After(f.now) {
			f.now = t.when
		}
		fn := t.fn
		f.mu.Unlock()
		fn()
		f.mu.Lock()
	}
	if target.After(f.now) {
		f.now = target
	}
	f.mu.Unlock()
}

// Next reports when the earliest scheduled callback is due, and false when
// none is scheduled. It lets a test advance straight to the next event.
func (f *Fake) Next() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.heap) == 0 {
		return time.Time{}, false
	}
	return f.heap[0].when, true
}

// Pending returns the number of scheduled callbacks.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.heap)
}

// Stop cancels the callback and reports whether it was still scheduled.
func (t *fakeTimer) Stop() bool {
	f := t.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.i == 0 {
		return false
	}
	f.removeLocked(t)
	return true
}

// Reset schedules the callback for Now()+d, whether or not it already ran,
// and reports whether it was still scheduled.
func (t *fakeTimer) Reset(d time.Duration) bool {
	f := t.f
	f.mu.Lock()
	defer f.mu.Unlock()
	was := t.i != 0
	if was {
		f.removeLocked(t)
	}
	f.scheduleLocked(t, d)
	return was
}

func (f *Fake) scheduleLocked(t *fakeTimer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	t.when = f.now.Add(d)
	t.seq = f.seq
	f.seq++
	f.heap = append(f.heap, t)
	t.i = len(f.heap)
	f.up(len(f.heap) - 1)
}

func (a *fakeTimer) less(b *fakeTimer) bool {
	if a.when.Equal(b.when) {
		return a.seq < b.seq
	}
	return a.when.Before(b.when)
}

// removeLocked takes t, which must be scheduled, out of the heap.
func (f *Fake) removeLocked(t *fakeTimer) {
	j := t.i - 1
	n := len(f.heap) - 1
	if j != n {
		f.heap[j] = f.heap[n]
		f.heap[j].i = j + 1
	}
	f.heap[n] = nil
	f.heap = f.heap[:n]
	t.i = 0
	if j != n {
		f.down(j)
		f.up(j)
	}
}

func (f *Fake) up(j int) {
	h := f.heap
	t := h[j]
	for j > 0 {
		p := (j - 1) / 2
		if !t.less(h[p]) {
			break
		}
		h[j] = h[p]
		h[j].i = j + 1
		j = p
	}
	h[j] = t
	t.i = j + 1
}

func (f *Fake) down(j int) {
	h := f.heap
	n := len(h)
	t := h[j]
	for {
		c := 2*j + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].less(h[c]) {
			c++
		}
		if !h[c].less(t) {
			break
		}
		h[j] = h[c]
		h[j].i = j + 1
		j = c
	}
	h[j] = t
	t.i = j + 1
}
