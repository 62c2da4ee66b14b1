package timers

import (
	"testing"
	"time"
)

// TestNoAllocs checks that arming, re-arming (earlier, which moves the
// clock wake-up, and later, which does not), stopping and Init allocate
// nothing once a service has its wake-up and heap space.
func TestNoAllocs(t *testing.T) {
	clocks := []struct {
		name string
		c    func() Clock
	}{
		{"Fake", func() Clock { return NewFake(epoch) }},
		{"System", System},
	}
	for _, ck := range clocks {
		t.Run(ck.name, func(t *testing.T) {
			s := New(ck.c())
			defer s.Close()
			// Far deadlines: nothing fires while we measure.
			other := s.NewTimer(func() {})
			other.Reset(time.Hour)
			tm := s.NewTimer(func() {})
			var embedded struct {
				_ int
				t Timer
			}
			f := func() {}
			d := 50 * time.Minute
			at := s.Now().Add(d)
			tests := []struct {
				name string
				fn   func()
			}{
				{"ResetAt earlier", func() { at = at.Add(-time.Microsecond); tm.ResetAt(at) }},
				{"Reset earlier", func() { d -= time.Millisecond; tm.Reset(d) }},
				{"Reset later", func() { d += time.Microsecond; tm.Reset(d) }},
				{"ResetAt", func() { tm.ResetAt(epoch.Add(100 * 365 * 24 * time.Hour)) }},
				{"Stop+Reset", func() { tm.Stop(); tm.Reset(time.Hour) }},
				{"Stop", func() { tm.Stop() }},
				{"Init", func() { embedded.t.Init(s, f) }},
				{"Pending+Deadline+Len", func() { _ = tm.Pending(); _ = tm.Deadline(); _ = s.Len() }},
			}
			for i, tt := range tests {
				arms := s.Stats().Arms
				if n := testing.AllocsPerRun(1000, tt.fn); n != 0 {
					t.Errorf("%s: %v allocations per run, want 0", tt.name, n)
				}
				// Each earlier deadline must have moved the wake-up.
				if arms = s.Stats().Arms - arms; i == 0 && arms < 1000 {
					t.Errorf("%s: only %d wake-up arms, want every run", tt.name, arms)
				}
			}
		})
	}
}

// TestNoAllocsFiring checks that a firing pass with the Fake clock
// allocates nothing either: a periodic timer costs nothing per tick.
func TestNoAllocsFiring(t *testing.T) {
	f := NewFake(epoch)
	s := New(f)
	defer s.Close()
	var tick *Timer
	tick = s.NewTimer(func() { tick.Reset(time.Millisecond) })
	tick.Reset(time.Millisecond)
	n := testing.AllocsPerRun(1000, func() { f.Advance(time.Millisecond) })
	if n != 0 {
		t.Fatalf("%v allocations per tick, want 0", n)
	}
	if st := s.Stats(); st.Fired < 1000 {
		t.Fatalf("only %d ticks fired", st.Fired)
	}
}
