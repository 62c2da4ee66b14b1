package timers

import (
	"sync"
	"testing"
	"time"
)

func TestFakeAdvance(t *testing.T) {
	tests := []struct {
		name    string
		sched   []time.Duration // callback i is scheduled after sched[i]
		advance []time.Duration
		want    []event // name is the callback's index
	}{{
		name:    "deadline order, Now at each deadline",
		sched:   []time.Duration{30 * ms, 10 * ms, 20 * ms},
		advance: []time.Duration{time.Second},
		want:    []event{{"1", 10 * ms}, {"2", 20 * ms}, {"0", 30 * ms}},
	}, {
		name:    "ties in scheduling order",
		sched:   []time.Duration{10 * ms, 5 * ms, 10 * ms, 10 * ms},
		advance: []time.Duration{10 * ms},
		want:    []event{{"1", 5 * ms}, {"0", 10 * ms}, {"2", 10 * ms}, {"3", 10 * ms}},
	}, {
		name:    "split advances",
		sched:   []time.Duration{10 * ms, 25 * ms},
		advance: []time.Duration{9 * ms, 1 * ms, 10 * ms, 5 * ms},
		want:    []event{{"0", 10 * ms}, {"1", 25 * ms}},
	}, {
		name:    "not yet due",
		sched:   []time.Duration{10 * ms},
		advance: []time.Duration{9 * ms, 0},
		want:    nil,
	}, {
		name:    "due now runs on Advance(0)",
		sched:   []time.Duration{0, -ms},
		advance: []time.Duration{0},
		want:    []event{{"0", 0}, {"1", 0}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFake(epoch)
			rec := &recorder{clock: f}
			for i, d := range tt.sched {
				f.AfterFunc(d, rec.fn(string(rune('0'+i))))
			}
			var total time.Duration
			for _, d := range tt.advance {
				f.Advance(d)
				total += d
				if got := f.Now().Sub(epoch); got != total {
					t.Fatalf("after Advance(%v): Now = %v, want %v", d, got, total)
				}
			}
			if got := rec.take(); !equalEvents(got, tt.want) {
				t.Fatalf("calls = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFakeScheduleDuringAdvance(t *testing.T) {
	f := NewFake(epoch)
	rec := &recorder{clock: f}
	f.AfterFunc(10*ms, func() {
		rec.add("outer")
		f.AfterFunc(0, rec.fn("now"))
		f.AfterFunc(5*ms, rec.fn("within"))
		f.AfterFunc(-ms, rec.fn("past"))
		f.AfterFunc(time.Hour, rec.fn("beyond"))
	})
	f.AfterFunc(12*ms, rec.fn("other"))
	f.Advance(20 * ms)
	want := []event{{"outer", 10 * ms}, {"now", 10 * ms}, {"past", 10 * ms}, {"other", 12 * ms}, {"within", 15 * ms}}
	if got := rec.take(); !equalEvents(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	if n := f.Pending(); n != 1 {
		t.Fatalf("Pending = %d, want 1 (beyond)", n)
	}
	if next, ok := f.Next(); !ok || next.Sub(epoch) != 10*ms+time.Hour {
		t.Fatalf("Next = %v, %v", next, ok)
	}
}

func TestFakeStopReset(t *testing.T) {
	f := NewFake(epoch)
	rec := &recorder{clock: f}
	a := f.AfterFunc(10*ms, rec.fn("a")).(Resetter)
	b := f.AfterFunc(20*ms, rec.fn("b")).(Resetter)
	if !b.Stop() {
		t.Fatal("Stop of a scheduled callback = false")
	}
	if b.Stop() {
		t.Fatal("second Stop = true")
	}
	if b.Reset(30 * ms) {
		t.Fatal("Reset of a stopped callback = true")
	}
	if !a.Reset(40 * ms) {
		t.Fatal("Reset of a scheduled callback = false")
	}
	f.Advance(35 * ms)
	if a.Stop() != true || b.Stop() != false {
		t.Fatal("Stop after Advance reports wrongly")
	}
	// Reset after firing schedules it again.
	if b.Reset(5 * ms) {
		t.Fatal("Reset of a fired callback = true")
	}
	f.Advance(5 * ms)
	want := []event{{"b", 30 * ms}, {"b", 40 * ms}}
	if got := rec.take(); !equalEvents(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	if _, ok := f.Next(); ok || f.Pending() != 0 {
		t.Fatalf("Next reports a callback; Pending = %d", f.Pending())
	}
}

func TestFakeAdvanceNegativePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Advance(-1) did not panic")
		}
	}()
	NewFake(epoch).Advance(-1)
}

// TestFakeNeverGoesBack reads Now from other goroutines while Advance runs
// (some Advances nested in callbacks, some concurrent) and checks that the
// time only moves forward.
func TestFakeNeverGoesBack(t *testing.T) {
	f := NewFake(epoch)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := f.Now()
			for {
				now := f.Now()
				if now.Before(last) {
					t.Errorf("Now went back from %v to %v", last, now)
					return
				}
				last = now
				select {
				case <-done:
					return
				default:
				}
			}
		}()
	}
	for i := range 200 {
		f.AfterFunc(time.Duration(i)*ms, func() {
			if i%10 == 0 {
				f.Advance(3 * ms) // nested
			}
		})
	}
	var adv sync.WaitGroup
	for range 4 {
		adv.Add(1)
		go func() {
			defer adv.Done()
			for range 50 {
				f.Advance(ms)
			}
		}()
	}
	adv.Wait()
	close(done)
	wg.Wait()
	// Each goroutine's own Advances are sequential, so the time moved at
	// least 50ms; concurrent ones may overlap.
	if got := f.Now().Sub(epoch); got < 50*ms {
		t.Fatalf("Now = %v after 50 sequential Advance(1ms)", got)
	}
	f.Advance(time.Second)
	if n := f.Pending(); n != 0 {
		t.Fatalf("%d callbacks left after advancing past all of them", n)
	}
}
