package timers

import (
	"math"
	"sync"
	"time"
)

// Service runs every protocol timer of one stack. It keeps its timers in
// one structure and asks the Clock for a single wake-up at the earliest
// deadline, so arming, re-arming and stopping are cheap and thousands of
// pending timers cost no goroutine and no runtime timer each.
//
// Callbacks run one at a time, on the goroutine the clock wakes the
// service on (for a Fake, the goroutine calling Advance), with no lock of
// the service held: a callback may Reset or Stop any timer, its own
// included.
type Service struct {
	clock Clock
	base  time.Time // deadlines are kept as nanoseconds since base
	fire  func()    // s.run, bound once so arming the wake-up allocates nothing

	mu      sync.Mutex
	heap    heap4
	seq     uint64
	closed  bool
	running bool      // a firing pass is under way; it re-arms the wake-up when done
	idle    sync.Cond // on mu; broadcast when running turns false

	// The wake-up. While wakeSet, a call of s.fire is scheduled (or under
	// way) no later than wakeAt. wakeSet may be false while a call is in
	// fact pending (a stale wake-up); that costs one spare pass, never a
	// missed timer.
	wake    Stopper
	wakeAt  int64
	wakeSet bool

	stats Stats
}

// Stats counts a service's work since New.
type Stats struct {
	Armed   int    // timers armed now (Len)
	Fired   uint64 // callbacks called
	Wakeups uint64 // firing passes run (wake-ups received from the clock)
	Arms    uint64 // wake-ups requested from the clock (AfterFunc or Reset)
}

// New returns a service on clock c (nil means System()).
func New(c Clock) *Service {
	if c == nil {
		c = System()
	}
	s := &Service{clock: c, base: c.Now()}
	s.fire = s.run
	s.idle.L = &s.mu
	return s
}

// Now returns the clock's time.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Clock returns the service's clock.
func (s *Service) Clock() Clock { return s.clock }

// Close stops every timer: no callback starts after Close returns, and the
// service's wake-up is cancelled. Reset after Close does nothing.
//
// Close does not wait for a callback already running, so a callback may
// call it. A callback counts as running from the moment the service takes
// its timer off the heap to call it: on another goroutine, that call may
// still be entering the callback as Close returns (as with Stop). Use
// CloseWait to wait for it. Close is idempotent.
func (s *Service) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.wake != nil {
		s.wake.Stop()
		s.wake = nil
		s.wakeSet = false
	}
	for j := range s.heap {
		s.heap[j].t.i = 0
	}
	clear(s.heap)
	s.heap = nil
}

// CloseWait is Close, then waits until no callback is running: once it
// returns, no callback of s is running or will start. It must not be
// called from a callback of s, which would wait for itself forever.
func (s *Service) CloseWait() {
	s.Close()
	s.mu.Lock()
	for s.running {
		s.idle.Wait()
	}
	s.mu.Unlock()
}

// Len returns the number of armed timers.
func (s *Service) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.heap)
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Armed = len(s.heap)
	return st
}

// since returns t as nanoseconds since s.base, saturating.
func (s *Service) since(t time.Time) int64 { return int64(t.Sub(s.base)) }

// now returns the clock's time as nanoseconds since s.base.
func (s *Service) now() int64 { return s.since(s.clock.Now()) }

// addSat returns a+b, saturating instead of wrapping.
func addSat(a, b int64) int64 {
	c := a + b
	if (c > a) == (b > 0) {
		return c
	}
	if b > 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}

// until returns how long after now when is: 0 if it is not later,
// saturating instead of wrapping.
func until(now, when int64) int64 {
	if when <= now {
		return 0
	}
	if d := when - now; d > 0 {
		return d
	}
	return math.MaxInt64
}

// armLocked makes sure a wake-up is scheduled no later than the earliest
// deadline. It never moves a wake-up later: an early wake-up costs one
// spare pass, which then re-arms for the real earliest deadline.
func (s *Service) armLocked() {
	if len(s.heap) == 0 || s.closed {
		return
	}
	when := s.heap[0].when
	if s.wakeSet && s.wakeAt <= when {
		return
	}
	d := time.Duration(until(s.now(), when))
	switch w := s.wake.(type) {
	case nil:
		s.wake = s.clock.AfterFunc(d, s.fire)
	case Resetter:
		w.Reset(d)
	default:
		// A late Stop lets the old call through; it finds nothing due.
		w.Stop()
		s.wake = s.clock.AfterFunc(d, s.fire)
	}
	s.wakeAt = when
	s.wakeSet = true
	s.stats.Arms++
}

// run is the firing pass, called by the clock at the wake-up. It calls
// the due callbacks one at a time, earliest first, popping each under the
// lock and calling it without the lock; a timer a callback arms that is
// already due runs in the same pass. Passes never overlap: a wake-up that
// arrives while a pass is under way leaves the work to that pass.
func (s *Service) run() {
	s.mu.Lock()
	s.wakeSet = false
	if s.running || s.closed {
		s.mu.Unlock()
		return
	}
	s.running = true
	s.stats.Wakeups++
	inCallback := false
	defer func() {
		// Only reached with the lock released when a callback panicked:
		// leave the service usable for whoever recovers.
		if inCallback {
			s.mu.Lock()
			s.running = false
			s.idle.Broadcast()
			s.armLocked()
			s.mu.Unlock()
		}
	}()
	now := s.now()
	for len(s.heap) > 0 && !s.closed {
		e := &s.heap[0]
		if e.when > now {
			// The clock may have moved while earlier callbacks ran.
			if now = s.now(); e.when > now {
				break
			}
		}
		f := e.t.f
		s.heap.remove(0)
		s.stats.Fired++
		s.mu.Unlock()
		inCallback = true
		f()
		inCallback = false
		s.mu.Lock()
	}
	s.running = false
	s.idle.Broadcast()
	s.armLocked()
	s.mu.Unlock()
}

// Timer is one protocol timer. Its zero value is not usable: call Init
// (to embed a Timer in a larger struct without another allocation) or use
// Service.NewTimer.
//
// A Timer's methods are safe for concurrent use, from callbacks too.
type Timer struct {
	s *Service
	f func()
	i int // 1 + position in s.heap; 0 when not armed
}

// NewTimer returns an unarmed timer that calls f when it fires.
func (s *Service) NewTimer(f func()) *Timer {
	t := new(Timer)
	t.Init(s, f)
	return t
}

// Init prepares an embedded timer to call f on service s. Init on a timer
// that is armed stops it first. Init must not run concurrently with other
// methods of t.
func (t *Timer) Init(s *Service, f func()) {
	if s == nil || f == nil {
		panic("timers: Timer.Init with nil service or callback")
	}
	if t.s != nil {
		t.Stop()
	}
	t.s = s
	// A firing pass reads f under the lock.
	s.mu.Lock()
	t.f = f
	s.mu.Unlock()
}

// Reset arms the timer to fire after d, replacing any earlier deadline.
// A deadline not in the future fires at the next pass: at once for the
// system clock, on the next Advance for a Fake, or in the same pass when
// armed from a callback.
func (t *Timer) Reset(d time.Duration) {
	s := t.mustService()
	now := s.now()
	s.mu.Lock()
	t.resetLocked(addSat(now, int64(d)))
	s.mu.Unlock()
}

// ResetAt arms the timer to fire at when.
func (t *Timer) ResetAt(when time.Time) {
	s := t.mustService()
	s.mu.Lock()
	t.resetLocked(s.since(when))
	s.mu.Unlock()
}

func (t *Timer) mustService() *Service {
	if t.s == nil {
		panic("timers: Timer used without Init or NewTimer")
	}
	return t.s
}

func (t *Timer) resetLocked(when int64) {
	s := t.s
	if s.closed {
		return
	}
	seq := s.seq
	s.seq++
	if t.i != 0 {
		e := &s.heap[t.i-1]
		e.when, e.seq = when, seq
		s.heap.fix(t.i - 1)
	} else {
		s.heap.push(entry{when: when, seq: seq, t: t})
	}
	// Only a new earliest deadline can need an earlier wake-up; a running
	// pass re-arms when it finishes.
	if t.i == 1 && !s.running {
		s.armLocked()
	}
}

// Stop disarms the timer and reports whether it was armed. A callback
// already running is not waited for.
//
// Stop returns false, and cannot prevent the call, once the service has
// taken the timer off its heap to call it; it prevents every call not yet
// begun.
func (t *Timer) Stop() bool {
	s := t.s
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.i == 0 {
		return false
	}
	// The wake-up is left as it is: if it comes early, the pass re-arms.
	s.heap.remove(t.i - 1)
	return true
}

// Pending reports whether the timer is armed.
func (t *Timer) Pending() bool {
	s := t.s
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return t.i != 0
}

// Deadline returns when an armed timer fires, and the zero Time when it is
// not armed.
func (t *Timer) Deadline() time.Time {
	s := t.s
	if s == nil {
		return time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.i == 0 {
		return time.Time{}
	}
	return s.base.Add(time.Duration(s.heap[t.i-1].when))
}
