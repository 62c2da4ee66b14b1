package timers

import (
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkArmCancel10k arms 10,000 timers at random deadlines and stops
// them all again; ns/timer is the cost of one arm plus one cancel.
func BenchmarkArmCancel10k(b *testing.B) {
	for _, ck := range []struct {
		name string
		c    Clock
	}{{"Fake", NewFake(epoch)}, {"System", System()}} {
		b.Run(ck.name, func(b *testing.B) {
			const n = 10000
			s := New(ck.c)
			defer s.Close()
			ts := make([]Timer, n)
			ds := make([]time.Duration, n)
			rng := rand.New(rand.NewPCG(5, 6))
			for i := range ts {
				ts[i].Init(s, func() {})
				ds[i] = time.Hour + time.Duration(rng.Int64N(int64(time.Hour)))
			}
			b.ReportAllocs()
			for b.Loop() {
				for i := range ts {
					ts[i].Reset(ds[i])
				}
				for i := range ts {
					ts[i].Stop()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/timer")
		})
	}
}

// BenchmarkRearm re-arms one timer, as TCP re-arms its retransmission
// timer on every ACK, among 10,000 other armed timers. "later" is the
// common case (the deadline moves out, the wake-up stays); "earlier" moves
// the clock wake-up every time.
func BenchmarkRearm(b *testing.B) {
	for _, ck := range []struct {
		name string
		c    func() Clock
	}{{"Fake", func() Clock { return NewFake(epoch) }}, {"System", System}} {
		for _, dir := range []string{"later", "earlier"} {
			b.Run(ck.name+"/"+dir, func(b *testing.B) {
				s := New(ck.c())
				defer s.Close()
				for i := range 10000 {
					s.NewTimer(func() {}).Reset(2*time.Hour + time.Duration(i)*time.Millisecond)
				}
				rto := s.NewTimer(func() {})
				at := s.Now().Add(time.Hour)
				step := time.Nanosecond
				if dir == "earlier" {
					step = -step
				}
				b.ReportAllocs()
				for b.Loop() {
					at = at.Add(step)
					rto.ResetAt(at)
				}
			})
		}
	}
}

// BenchmarkRearmTimeTimer is the baseline: re-arming one runtime timer.
func BenchmarkRearmTimeTimer(b *testing.B) {
	t := time.AfterFunc(time.Hour, func() {})
	defer t.Stop()
	b.ReportAllocs()
	for b.Loop() {
		t.Reset(time.Hour)
	}
}

// BenchmarkAdvance10k fires 10,000 timers at distinct deadlines through
// one Fake Advance; ns/timer is the cost of firing one.
func BenchmarkAdvance10k(b *testing.B) {
	const n = 10000
	f := NewFake(epoch)
	s := New(f)
	defer s.Close()
	ts := make([]Timer, n)
	rng := rand.New(rand.NewPCG(7, 8))
	ds := make([]time.Duration, n)
	for i := range ts {
		ts[i].Init(s, func() {})
		ds[i] = time.Duration(1+rng.IntN(1000)) * time.Microsecond
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range ts {
			ts[i].Reset(ds[i])
		}
		f.Advance(time.Second)
	}
	if s.Len() != 0 {
		b.Fatalf("%d timers left", s.Len())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/timer")
}
