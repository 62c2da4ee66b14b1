package timers

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// guard is how long a System-clock test waits for something that should
// take milliseconds before declaring it lost. It only bounds failures.
const guard = 30 * time.Second

func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(guard):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func newSystemService(t *testing.T) *Service {
	s := New(nil)
	t.Cleanup(s.Close)
	if _, ok := s.Clock().(systemClock); !ok {
		t.Fatalf("New(nil) clock is %T, want the system clock", s.Clock())
	}
	return s
}

func TestSystemFiresInOrderNeverEarly(t *testing.T) {
	s := newSystemService(t)
	type fired struct {
		name  string
		early time.Duration // > 0 if it ran before its deadline
	}
	c := make(chan fired, 3)
	// Arm them from a callback: none can fire before it returns, however
	// slowly this goroutine is scheduled, so they must come in deadline
	// order.
	s.NewTimer(func() {
		for _, tt := range []struct {
			name string
			d    time.Duration
		}{{"c", 3 * ms}, {"a", 1 * ms}, {"b", 2 * ms}} {
			deadline := time.Now().Add(tt.d)
			s.NewTimer(func() { c <- fired{tt.name, time.Until(deadline)} }).ResetAt(deadline)
		}
	}).Reset(0)
	for _, want := range []string{"a", "b", "c"} {
		got := recv(t, c, "timer "+want)
		if got.name != want || got.early > 0 {
			t.Fatalf("fired %q %v early, want %q on time", got.name, got.early, want)
		}
	}
}

func TestSystemStopRacingFire(t *testing.T) {
	// Whatever Stop reports must be the truth: true means the callback
	// never runs. The sentinel's later deadline proves it would have run
	// by then (a pass fires in deadline order).
	s := newSystemService(t)
	for i := range 50 {
		var ran atomic.Bool
		tm := s.NewTimer(func() { ran.Store(true) })
		done := make(chan struct{})
		sentinel := s.NewTimer(func() { close(done) })
		tm.Reset(time.Duration(i%3) * time.Microsecond)
		sentinel.Reset(2 * ms)
		stopped := tm.Stop()
		recv(t, done, "sentinel")
		if stopped && ran.Load() {
			t.Fatalf("round %d: Stop returned true but the callback ran", i)
		}
		if !stopped && !ran.Load() {
			t.Fatalf("round %d: Stop returned false but the callback never ran", i)
		}
	}
}

func TestSystemDueTimerFromCallback(t *testing.T) {
	s := newSystemService(t)
	done := make(chan struct{})
	b := s.NewTimer(func() { close(done) })
	a := s.NewTimer(func() { b.Reset(0) })
	a.Reset(ms)
	recv(t, done, "timer armed due from a callback")
}

func TestSystemClose(t *testing.T) {
	for _, wait := range []bool{false, true} {
		name := "Close"
		if wait {
			name = "CloseWait"
		}
		t.Run(name, func(t *testing.T) {
			s := New(System())
			var closed atomic.Bool
			var late atomic.Int32 // callbacks entered after Close returned
			started := make(chan struct{})
			calls := 0 // only touched by callbacks, which never overlap
			var tick *Timer
			tick = s.NewTimer(func() {
				if closed.Load() {
					late.Add(1)
				}
				if calls++; calls == 10 {
					close(started)
				}
				tick.Reset(0)
			})
			tick.Reset(0)
			recv(t, started, "ten ticks")
			if wait {
				s.CloseWait()
			} else {
				s.Close()
			}
			closed.Store(true)
			if s.Len() != 0 || tick.Pending() {
				t.Fatal("timer still armed after Close")
			}
			tick.Reset(0)
			if tick.Pending() {
				t.Fatal("Reset after Close armed the timer")
			}
			// Give a wrongly surviving wake-up a chance to show itself.
			// The test cannot pass by timing luck: it only fails on a
			// real bug.
			time.Sleep(5 * ms)
			s.CloseWait()
			// Close may let through the one call it found already taken
			// off the heap; CloseWait none.
			if n := late.Load(); n > 1 || wait && n > 0 {
				t.Fatalf("%d callbacks entered after %s returned", n, name)
			}
		})
	}
}

// TestSystemStress hammers one service from many goroutines while its
// callbacks re-arm and stop other timers, checks that callbacks never
// overlap, and then that every armed timer still fires: no wake-up is lost
// to a race between arming and firing.
func TestSystemStress(t *testing.T) {
	s := newSystemService(t)
	const n, workers, rounds = 256, 8, 2000
	var inside atomic.Int32
	var fired atomic.Int64
	var quiet atomic.Bool
	firstFire := make(chan struct{})
	var once sync.Once
	ts := make([]*Timer, n)
	for i := range ts {
		ts[i] = s.NewTimer(func() {
			if inside.Add(1) != 1 {
				t.Error("two callbacks ran at once")
			}
			defer inside.Add(-1)
			if quiet.Load() {
				return
			}
			fired.Add(1)
			once.Do(func() { close(firstFire) })
			switch i % 4 {
			case 0:
				ts[(i+1)%n].Reset(time.Duration(i%5) * time.Microsecond)
			case 1:
				ts[(i+7)%n].Stop()
			case 2:
				ts[i].Reset(time.Duration(i%3) * time.Microsecond)
			}
		})
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for range rounds {
				tm := ts[rng.IntN(n)]
				switch rng.IntN(5) {
				case 0:
					tm.Stop()
				case 1:
					tm.ResetAt(time.Now().Add(time.Duration(rng.IntN(200)) * time.Microsecond))
				default:
					tm.Reset(time.Duration(rng.IntN(200)) * time.Microsecond)
				}
			}
		}()
	}
	wg.Wait()
	checkHeap(t, s)
	ts[2].Reset(0) // re-arms itself: the callbacks keep running meanwhile
	recv(t, firstFire, "a callback in the stress phase")

	// Now arm a fresh set of timers and wait for every one of them, while
	// the first set winds down.
	quiet.Store(true)
	all := make(chan int, n)
	for i := range n {
		s.NewTimer(func() { all <- i }).Reset(time.Duration(i%7) * time.Microsecond)
	}
	seen := make([]bool, n)
	for range n {
		seen[recv(t, all, "every timer to fire")] = true
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("timer %d never fired", i)
		}
	}
}
