package timers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// step is one action of a scripted test: arm, stop or advance.
type step struct {
	op   byte // 'r' Reset, 'a' ResetAt (d since epoch), 's' Stop, '>' Advance
	name string
	d    time.Duration
	want bool // for 's': Stop's result
}

func reset(name string, d time.Duration) step   { return step{op: 'r', name: name, d: d} }
func resetAt(name string, d time.Duration) step { return step{op: 'a', name: name, d: d} }
func stop(name string, want bool) step          { return step{op: 's', name: name, want: want} }
func advance(d time.Duration) step              { return step{op: '>', d: d} }

const ms = time.Millisecond

func TestScripts(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		want  []event
	}{{
		name:  "deadline order",
		steps: []step{reset("c", 30*ms), reset("a", 10*ms), reset("b", 20*ms), advance(time.Second)},
		want:  []event{{"a", 10 * ms}, {"b", 20 * ms}, {"c", 30 * ms}},
	}, {
		name:  "ties in scheduling order",
		steps: []step{reset("x", 10*ms), reset("y", 10*ms), reset("z", 10*ms), advance(10 * ms)},
		want:  []event{{"x", 10 * ms}, {"y", 10 * ms}, {"z", 10 * ms}},
	}, {
		name:  "re-arming to the same deadline goes behind",
		steps: []step{reset("x", 10*ms), reset("y", 10*ms), reset("x", 10*ms), advance(10 * ms)},
		want:  []event{{"y", 10 * ms}, {"x", 10 * ms}},
	}, {
		name:  "reset earlier",
		steps: []step{reset("a", 50*ms), reset("b", 30*ms), reset("a", 10*ms), advance(time.Second)},
		want:  []event{{"a", 10 * ms}, {"b", 30 * ms}},
	}, {
		name:  "reset later",
		steps: []step{reset("a", 10*ms), reset("b", 30*ms), reset("a", 50*ms), advance(time.Second)},
		want:  []event{{"b", 30 * ms}, {"a", 50 * ms}},
	}, {
		name:  "reset later after time passed",
		steps: []step{reset("a", 10*ms), advance(5 * ms), reset("a", 10*ms), advance(time.Second)},
		want:  []event{{"a", 15 * ms}},
	}, {
		name:  "not fired before its deadline",
		steps: []step{reset("a", 10*ms), advance(9 * ms), stop("a", true), advance(time.Second)},
		want:  nil,
	}, {
		name:  "fires exactly at its deadline",
		steps: []step{reset("a", 10*ms), advance(10 * ms), stop("a", false)},
		want:  []event{{"a", 10 * ms}},
	}, {
		name:  "stop before firing",
		steps: []step{reset("a", 10*ms), reset("b", 20*ms), stop("a", true), stop("a", false), advance(time.Second)},
		want:  []event{{"b", 20 * ms}},
	}, {
		name:  "stop after firing",
		steps: []step{reset("a", 10*ms), advance(time.Second), stop("a", false)},
		want:  []event{{"a", 10 * ms}},
	}, {
		name:  "stop never armed",
		steps: []step{stop("a", false), advance(time.Second)},
		want:  nil,
	}, {
		name:  "re-arm after firing",
		steps: []step{reset("a", 10*ms), advance(10 * ms), reset("a", 10*ms), advance(time.Second)},
		want:  []event{{"a", 10 * ms}, {"a", 20 * ms}},
	}, {
		name:  "zero and negative durations fire on Advance(0)",
		steps: []step{advance(5 * ms), reset("a", 0), reset("b", -time.Hour), advance(0)},
		want:  []event{{"b", 5 * ms}, {"a", 5 * ms}}, // b's deadline is earlier
	}, {
		name:  "past deadline via ResetAt",
		steps: []step{advance(5 * ms), resetAt("a", 7*ms), resetAt("b", -time.Hour), advance(0), advance(time.Second)},
		want:  []event{{"b", 5 * ms}, {"a", 7 * ms}},
	}, {
		name:  "ResetAt",
		steps: []step{resetAt("a", 20*ms), resetAt("b", 10*ms), advance(time.Second)},
		want:  []event{{"b", 10 * ms}, {"a", 20 * ms}},
	}, {
		name:  "huge durations saturate",
		steps: []step{reset("far", math.MaxInt64), reset("a", 10*ms), advance(time.Hour)},
		want:  []event{{"a", 10 * ms}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, f, rec := newFakeService(t)
			timers := map[string]*Timer{}
			timer := func(name string) *Timer {
				if timers[name] == nil {
					timers[name] = s.NewTimer(rec.fn(name))
				}
				return timers[name]
			}
			for i, st := range tt.steps {
				switch st.op {
				case 'r':
					timer(st.name).Reset(st.d)
				case 'a':
					timer(st.name).ResetAt(epoch.Add(st.d))
				case 's':
					if got := timer(st.name).Stop(); got != st.want {
						t.Errorf("step %d: %s.Stop() = %v, want %v", i, st.name, got, st.want)
					}
				case '>':
					f.Advance(st.d)
				}
				checkHeap(t, s)
			}
			if got := rec.take(); !equalEvents(got, tt.want) {
				t.Errorf("calls = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPendingDeadlineLen(t *testing.T) {
	s, f, rec := newFakeService(t)
	a := s.NewTimer(rec.fn("a"))
	b := s.NewTimer(rec.fn("b"))
	if a.Pending() || !a.Deadline().IsZero() || s.Len() != 0 {
		t.Fatalf("new timer: Pending %v, Deadline %v, Len %d", a.Pending(), a.Deadline(), s.Len())
	}
	a.Reset(10 * ms)
	b.ResetAt(epoch.Add(time.Hour))
	if !a.Pending() || !a.Deadline().Equal(epoch.Add(10*ms)) || !b.Deadline().Equal(epoch.Add(time.Hour)) || s.Len() != 2 {
		t.Fatalf("armed: Pending %v, Deadlines %v %v, Len %d", a.Pending(), a.Deadline(), b.Deadline(), s.Len())
	}
	f.Advance(10 * ms)
	if a.Pending() || !a.Deadline().IsZero() || s.Len() != 1 {
		t.Fatalf("fired: Pending %v, Deadline %v, Len %d", a.Pending(), a.Deadline(), s.Len())
	}
	if !s.Now().Equal(epoch.Add(10*ms)) || s.Clock() != Clock(f) {
		t.Fatalf("Now %v, Clock %v", s.Now(), s.Clock())
	}
}

func TestZeroTimer(t *testing.T) {
	var z Timer
	if z.Pending() || z.Stop() || !z.Deadline().IsZero() {
		t.Fatal("zero Timer reads as armed")
	}
	for name, fn := range map[string]func(){
		"Reset":   func() { z.Reset(ms) },
		"ResetAt": func() { z.ResetAt(epoch) },
		"Init":    func() { z.Init(nil, func() {}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s on a zero Timer did not panic", name)
				}
			}()
			fn()
		}()
	}
}

// conn shows the intended use: timers embedded in a larger struct.
type conn struct {
	rto, ack Timer
	fired    []string
}

func TestInitEmbedded(t *testing.T) {
	s, f, _ := newFakeService(t)
	c := new(conn)
	c.rto.Init(s, func() { c.fired = append(c.fired, "rto") })
	c.ack.Init(s, func() { c.fired = append(c.fired, "ack") })
	c.rto.Reset(200 * ms)
	c.ack.Reset(40 * ms)
	// Init again on an armed timer disarms it first.
	c.rto.Init(s, func() { c.fired = append(c.fired, "rto2") })
	if c.rto.Pending() || s.Len() != 1 {
		t.Fatalf("re-Init left the timer armed (Len %d)", s.Len())
	}
	c.rto.Reset(100 * ms)
	f.Advance(time.Second)
	if want := []string{"ack", "rto2"}; !slices.Equal(c.fired, want) {
		t.Fatalf("fired %v, want %v", c.fired, want)
	}
}

func TestCallbackNowIsDeadline(t *testing.T) {
	s, f, _ := newFakeService(t)
	var bad []string
	for _, d := range []time.Duration{3 * ms, 1 * ms, 2 * ms, 2 * ms, 7 * ms} {
		tm := new(Timer)
		tm.Init(s, func() {
			if got := s.Now().Sub(epoch); got != d {
				bad = append(bad, fmt.Sprintf("timer for %v ran at %v", d, got))
			}
		})
		tm.Reset(d)
	}
	f.Advance(10 * ms)
	if len(bad) > 0 || s.Len() != 0 {
		t.Fatalf("%v (Len %d)", bad, s.Len())
	}
	if got := f.Now().Sub(epoch); got != 10*ms {
		t.Fatalf("after Advance: Now %v, want 10ms", got)
	}
}

func TestCallbackRearmsItself(t *testing.T) {
	s, f, rec := newFakeService(t)
	var tick *Timer
	n := 0
	tick = s.NewTimer(func() {
		rec.add("tick")
		if n++; n < 5 {
			tick.Reset(10 * ms)
		}
	})
	tick.Reset(10 * ms)
	f.Advance(time.Second)
	want := []event{{"tick", 10 * ms}, {"tick", 20 * ms}, {"tick", 30 * ms}, {"tick", 40 * ms}, {"tick", 50 * ms}}
	if got := rec.take(); !equalEvents(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
}

func TestCallbackReentrancy(t *testing.T) {
	tests := []struct {
		name string
		// cb is a's callback, given the other timers by name.
		cb   func(t *testing.T, m map[string]*Timer)
		want []event
	}{{
		name: "arms a due timer: same pass",
		cb:   func(t *testing.T, m map[string]*Timer) { m["b"].Reset(0) },
		want: []event{{"a", 10 * ms}, {"tie", 10 * ms}, {"b", 10 * ms}, {"c", 20 * ms}},
	}, {
		name: "arms a past timer: same pass",
		cb:   func(t *testing.T, m map[string]*Timer) { m["b"].ResetAt(epoch) },
		want: []event{{"a", 10 * ms}, {"b", 10 * ms}, {"tie", 10 * ms}, {"c", 20 * ms}},
	}, {
		name: "arms a timer due within the Advance",
		cb:   func(t *testing.T, m map[string]*Timer) { m["b"].Reset(5 * ms) },
		want: []event{{"a", 10 * ms}, {"tie", 10 * ms}, {"b", 15 * ms}, {"c", 20 * ms}},
	}, {
		name: "arms a timer due after the Advance",
		cb:   func(t *testing.T, m map[string]*Timer) { m["b"].Reset(time.Hour) },
		want: []event{{"a", 10 * ms}, {"tie", 10 * ms}, {"c", 20 * ms}},
	}, {
		name: "stops a timer due at the same time",
		cb: func(t *testing.T, m map[string]*Timer) {
			if !m["tie"].Stop() {
				t.Error("Stop of a due, uncalled timer returned false")
			}
		},
		want: []event{{"a", 10 * ms}, {"c", 20 * ms}},
	}, {
		name: "stops itself",
		cb: func(t *testing.T, m map[string]*Timer) {
			if m["a"].Stop() {
				t.Error("Stop of the running timer returned true")
			}
		},
		want: []event{{"a", 10 * ms}, {"tie", 10 * ms}, {"c", 20 * ms}},
	}, {
		name: "moves a later timer earlier",
		cb:   func(t *testing.T, m map[string]*Timer) { m["c"].Reset(2 * ms) },
		want: []event{{"a", 10 * ms}, {"tie", 10 * ms}, {"c", 12 * ms}},
	}, {
		name: "moves the tie later",
		cb:   func(t *testing.T, m map[string]*Timer) { m["tie"].Reset(20 * ms) },
		want: []event{{"a", 10 * ms}, {"c", 20 * ms}, {"tie", 30 * ms}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, f, rec := newFakeService(t)
			m := map[string]*Timer{}
			for _, name := range []string{"b", "c", "tie"} {
				m[name] = s.NewTimer(rec.fn(name))
			}
			m["a"] = s.NewTimer(func() {
				rec.add("a")
				tt.cb(t, m)
				checkHeap(t, s)
			})
			m["a"].Reset(10 * ms)
			m["tie"].Reset(10 * ms)
			m["c"].Reset(20 * ms)
			f.Advance(100 * ms)
			if got := rec.take(); !equalEvents(got, tt.want) {
				t.Fatalf("calls = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCallbackChainOfDueTimers(t *testing.T) {
	// Each callback arms the next with a zero duration: the whole chain
	// runs within one Advance(0), at one instant.
	s, f, rec := newFakeService(t)
	const n = 100
	ts := make([]*Timer, n)
	for i := n - 1; i >= 0; i-- {
		i := i
		ts[i] = s.NewTimer(func() {
			rec.add(fmt.Sprint(i))
			if i+1 < n {
				ts[i+1].Reset(0)
			}
		})
	}
	ts[0].Reset(0)
	f.Advance(0)
	got := rec.take()
	if len(got) != n {
		t.Fatalf("%d calls, want %d", len(got), n)
	}
	for i, e := range got {
		if e != (event{fmt.Sprint(i), 0}) {
			t.Fatalf("call %d = %v", i, e)
		}
	}
	if st := s.Stats(); st.Wakeups != 1 || st.Fired != n {
		t.Fatalf("Stats = %+v, want one wake-up firing %d", st, n)
	}
}

func TestCallbackPanicLeavesServiceUsable(t *testing.T) {
	s, f, rec := newFakeService(t)
	s.NewTimer(func() { panic("boom") }).Reset(10 * ms)
	s.NewTimer(rec.fn("later")).Reset(20 * ms)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want boom", r)
			}
		}()
		f.Advance(time.Second)
	}()
	// The panic cut the first Advance short at 10ms.
	f.Advance(time.Second)
	if got, want := rec.take(), []event{{"later", 20 * ms}}; !equalEvents(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
}

func TestLazyWakeup(t *testing.T) {
	s, f, rec := newFakeService(t)
	a := s.NewTimer(rec.fn("a"))
	a.Reset(10 * ms)
	if st := s.Stats(); st.Arms != 1 {
		t.Fatalf("first Reset: %d wake-ups armed, want 1", st.Arms)
	}
	// Moving the earliest deadline later, or stopping it, leaves the
	// wake-up alone.
	for i := range 100 {
		a.Reset(time.Duration(20+i) * ms)
	}
	b := s.NewTimer(rec.fn("b"))
	b.Reset(500 * ms)
	b.Stop()
	if st := s.Stats(); st.Arms != 1 {
		t.Fatalf("later Resets re-armed the wake-up: %d arms", st.Arms)
	}
	// Moving it earlier re-arms, reusing the one clock callback.
	a.Reset(5 * ms)
	if st := s.Stats(); st.Arms != 2 || f.Pending() != 1 {
		t.Fatalf("earlier Reset: %d arms, %d clock callbacks; want 2, 1", st.Arms, f.Pending())
	}
	// The early wake-up at 10ms (stale) finds nothing, re-arms for 119ms.
	f.Advance(time.Second)
	if got, want := rec.take(), []event{{"a", 5 * ms}}; !equalEvents(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	a.Reset(10 * ms)
	a.Reset(20 * ms)
	f.Advance(15 * ms) // stale wake-up at 10ms re-arms for 20ms
	f.Advance(5 * ms)
	if got, want := rec.take(), []event{{"a", 1020 * ms}}; !equalEvents(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	if st := s.Stats(); st.Wakeups != 3 || st.Fired != 2 {
		t.Fatalf("Stats = %+v, want 3 wake-ups, 2 fired", st)
	}
}

func TestClose(t *testing.T) {
	t.Run("disarms everything", func(t *testing.T) {
		s, f, rec := newFakeService(t)
		ts := make([]*Timer, 10)
		for i := range ts {
			ts[i] = s.NewTimer(rec.fn(fmt.Sprint(i)))
			ts[i].Reset(time.Duration(i) * ms)
		}
		s.Close()
		s.Close() // idempotent
		if s.Len() != 0 || f.Pending() != 0 {
			t.Fatalf("after Close: Len %d, clock callbacks %d", s.Len(), f.Pending())
		}
		for i, tm := range ts {
			if tm.Pending() || tm.Stop() {
				t.Fatalf("timer %d still armed after Close", i)
			}
			tm.Reset(0)
			tm.ResetAt(epoch)
			if tm.Pending() {
				t.Fatalf("Reset after Close armed timer %d", i)
			}
		}
		f.Advance(time.Second)
		if got := rec.take(); len(got) != 0 {
			t.Fatalf("calls after Close: %v", got)
		}
	})
	t.Run("from a callback", func(t *testing.T) {
		s, f, rec := newFakeService(t)
		s.NewTimer(rec.fn("before")).Reset(10 * ms)
		s.NewTimer(func() { rec.add("close"); s.Close() }).Reset(10 * ms)
		s.NewTimer(rec.fn("tie")).Reset(10 * ms)
		s.NewTimer(rec.fn("after")).Reset(20 * ms)
		f.Advance(time.Second)
		want := []event{{"before", 10 * ms}, {"close", 10 * ms}}
		if got := rec.take(); !equalEvents(got, want) {
			t.Fatalf("calls = %v, want %v", got, want)
		}
	})
	t.Run("while a callback runs elsewhere", func(t *testing.T) {
		s, f, rec := newFakeService(t)
		started, release := make(chan struct{}), make(chan struct{})
		s.NewTimer(func() {
			close(started)
			<-release
			rec.add("slow")
		}).Reset(10 * ms)
		s.NewTimer(rec.fn("tie")).Reset(10 * ms)
		s.NewTimer(rec.fn("after")).Reset(20 * ms)
		done := make(chan struct{})
		go func() {
			defer close(done)
			f.Advance(time.Second)
		}()
		<-started
		s.Close() // must not wait for the running callback
		close(release)
		<-done
		want := []event{{"slow", 10 * ms}}
		if got := rec.take(); !equalEvents(got, want) {
			t.Fatalf("calls = %v, want %v", got, want)
		}
	})
}

func TestCloseWait(t *testing.T) {
	s, f, _ := newFakeService(t)
	started, release := make(chan struct{}), make(chan struct{})
	var finished, after atomic.Bool
	s.NewTimer(func() {
		close(started)
		<-release
		finished.Store(true)
	}).Reset(10 * ms)
	s.NewTimer(func() { after.Store(true) }).Reset(10 * ms)
	go f.Advance(time.Second)
	<-started
	waited := make(chan bool)
	go func() {
		s.CloseWait()
		waited <- finished.Load()
	}()
	for s.Len() != 0 { // until CloseWait has closed s
		runtime.Gosched()
	}
	close(release)
	if !<-waited {
		t.Fatal("CloseWait returned while a callback was running")
	}
	if after.Load() {
		t.Fatal("a callback ran after CloseWait")
	}
	s.CloseWait() // again, and with nothing running
}

// TestManyTimers arms, re-arms and stops thousands of timers at random
// and checks that exactly the right ones fire, in (deadline, scheduling)
// order, each at its deadline.
func TestManyTimers(t *testing.T) {
	const n = 10000
	s, f, _ := newFakeService(t)
	rng := rand.New(rand.NewPCG(1, 2))
	type state struct {
		t     *Timer
		armed bool
		when  time.Duration
		seq   int
	}
	st := make([]state, n)
	type call struct {
		i  int
		at time.Duration
	}
	var calls []call
	for i := range st {
		st[i].t = s.NewTimer(func() { calls = append(calls, call{i, f.Now().Sub(epoch)}) })
	}
	seq := 0
	for range 5 * n {
		i := rng.IntN(n)
		switch rng.IntN(4) {
		case 0, 1, 2:
			// Coarse deadlines so that many tie.
			d := time.Duration(rng.IntN(1000)) * ms
			st[i].t.Reset(d)
			st[i].armed, st[i].when, st[i].seq = true, d, seq
			seq++
		case 3:
			if got := st[i].t.Stop(); got != st[i].armed {
				t.Fatalf("Stop of timer %d = %v, want %v", i, got, st[i].armed)
			}
			st[i].armed = false
		}
	}
	checkHeap(t, s)
	var want []call
	var order []int
	for i := range st {
		if st[i].armed {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		if st[a].when != st[b].when {
			return int(st[a].when - st[b].when)
		}
		return st[a].seq - st[b].seq
	})
	for _, i := range order {
		want = append(want, call{i, st[i].when})
	}
	if s.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(want))
	}
	f.Advance(time.Second)
	if !slices.Equal(calls, want) {
		for k := range min(len(calls), len(want)) {
			if calls[k] != want[k] {
				t.Fatalf("call %d = %v, want %v (of %d calls, %d wanted)", k, calls[k], want[k], len(calls), len(want))
			}
		}
		t.Fatalf("%d calls, want %d", len(calls), len(want))
	}
	if s.Len() != 0 {
		t.Fatalf("Len = %d after all fired", s.Len())
	}
}

// TestHeapRandomOps drives the heap with random pushes, fixes and removals
// and checks its invariants after every operation.
func TestHeapRandomOps(t *testing.T) {
	s, _, _ := newFakeService(t)
	rng := rand.New(rand.NewPCG(3, 4))
	ts := make([]*Timer, 200)
	for i := range ts {
		ts[i] = s.NewTimer(func() {})
	}
	for range 20000 {
		tm := ts[rng.IntN(len(ts))]
		if rng.IntN(3) == 0 {
			tm.Stop()
		} else {
			tm.ResetAt(epoch.Add(time.Duration(rng.IntN(50))))
		}
		checkHeap(t, s)
	}
	// Popping everything yields (when, seq) order.
	s.mu.Lock()
	defer s.mu.Unlock()
	var prev *entry
	for len(s.heap) > 0 {
		e := s.heap[0]
		if prev != nil && e.before(prev) {
			t.Fatalf("popped (%d,%d) after (%d,%d)", e.when, e.seq, prev.when, prev.seq)
		}
		prev = &e
		s.heap.remove(0)
	}
}

func TestAddSatUntil(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	for _, tt := range []struct{ a, b, sum int64 }{
		{1, 2, 3}, {-1, -2, -3}, {maxI, 1, maxI}, {maxI - 1, 1, maxI}, {minI, -1, minI},
		{minI, maxI, -1}, {maxI, minI, -1}, {5, 0, 5}, {maxI, maxI, maxI}, {minI, minI, minI},
	} {
		if got := addSat(tt.a, tt.b); got != tt.sum {
			t.Errorf("addSat(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.sum)
		}
	}
	for _, tt := range []struct{ now, when, d int64 }{
		{0, 10, 10}, {10, 0, 0}, {10, 10, 0}, {minI, maxI, maxI}, {-5, maxI, maxI}, {-5, 5, 10},
	} {
		if got := until(tt.now, tt.when); got != tt.d {
			t.Errorf("until(%d, %d) = %d, want %d", tt.now, tt.when, got, tt.d)
		}
	}
}
