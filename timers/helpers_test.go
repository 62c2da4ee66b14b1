package timers

import (
	"sync"
	"testing"
	"time"
)

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// event is one callback call seen by a recorder.
type event struct {
	name string
	at   time.Duration // clock reading at the call, since epoch
}

// recorder collects callback calls in order. It is safe for concurrent
// use so that the race detector, not the recorder, judges the service.
type recorder struct {
	mu     sync.Mutex
	clock  Clock
	events []event
}

func (r *recorder) fn(name string) func() {
	return func() { r.add(name) }
}

func (r *recorder) add(name string) {
	at := r.clock.Now().Sub(epoch)
	r.mu.Lock()
	r.events = append(r.events, event{name, at})
	r.mu.Unlock()
}

func (r *recorder) take() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

// newFakeService returns a service on a fake clock reading epoch, closed
// when the test ends.
func newFakeService(t testing.TB) (*Service, *Fake, *recorder) {
	t.Helper()
	f := NewFake(epoch)
	s := New(f)
	t.Cleanup(s.Close)
	return s, f, &recorder{clock: f}
}

// checkHeap verifies the heap order and every timer's recorded position.
func checkHeap(t testing.TB, s *Service) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for j := range s.heap {
		e := &s.heap[j]
		if e.t.i != j+1 {
			t.Fatalf("heap[%d].t.i = %d, want %d", j, e.t.i, j+1)
		}
		if e.t.s != s {
			t.Fatalf("heap[%d] belongs to another service", j)
		}
		if j > 0 {
			if p := (j - 1) / 4; e.before(&s.heap[p]) {
				t.Fatalf("heap[%d] (%d,%d) before its parent heap[%d] (%d,%d)",
					j, e.when, e.seq, p, s.heap[p].when, s.heap[p].seq)
			}
		}
	}
}

func equalEvents(a, b []event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
