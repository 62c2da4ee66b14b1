package tcp

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRTOSequence follows RFC 6298 2.2 and 2.3 by hand through a series
// of measurements whose every intermediate value is exact in nanoseconds.
func TestRTOSequence(t *testing.T) {
	const ms = time.Millisecond
	type step struct {
		sample            time.Duration
		srtt, rttvar, rto time.Duration
	}
	for _, tc := range []struct {
		name  string
		r     RTO
		steps []step
	}{
		{"first sample", NewRTO(0, 0, 0), []step{
			// SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4*RTTVAR).
			{100 * ms, 100 * ms, 50 * ms, 300 * ms},
		}},
		{"smoothing", NewRTO(0, 0, 0), []step{
			{100 * ms, 100 * ms, 50 * ms, 300 * ms},
			// RTTVAR = 3/4*50 + 1/4*|100-180| = 57.5; SRTT = 7/8*100 + 1/8*180 = 110.
			{180 * ms, 110 * ms, 57500 * time.Microsecond, 340 * ms},
			// RTTVAR = 3/4*57.5 + 1/4*|110-30| = 63.125; SRTT = 7/8*110 + 1/8*30 = 100.
			{30 * ms, 100 * ms, 63125 * time.Microsecond, 352500 * time.Microsecond},
			// A steady RTT: RTTVAR decays by 3/4 each time, SRTT stays.
			{100 * ms, 100 * ms, 47343750 * time.Nanosecond, 289375 * time.Microsecond},
		}},
		{"raised to min", NewRTO(0, 0, 0), []step{
			{10 * ms, 10 * ms, 5 * ms, 200 * ms}, // 30 ms computed
			{10 * ms, 10 * ms, 3750 * time.Microsecond, 200 * ms},
		}},
		{"clock granularity", NewRTO(time.Microsecond, 0, 0), []step{
			// 4*RTTVAR = 20 us < G: RTO = SRTT + G.
			{10 * time.Microsecond, 10 * time.Microsecond, 5 * time.Microsecond, 1010 * time.Microsecond},
			{0, 8750 * time.Nanosecond, 6250 * time.Nanosecond, 1008750 * time.Nanosecond},
		}},
		{"limited to max", NewRTO(0, 0, 0), []step{
			{100 * time.Second, 100 * time.Second, 50 * time.Second, 120 * time.Second},
		}},
		{"custom bounds", NewRTO(time.Second, 60*time.Second, 0), []step{
			{100 * ms, 100 * ms, 50 * ms, time.Second},
			{400 * time.Second, 100*ms + (400*time.Second-100*ms)/8, 50*ms + (400*time.Second-100*ms-50*ms)/4, 60 * time.Second},
		}},
	} {
		r := tc.r
		for i, s := range tc.steps {
			r.Sample(s.sample)
			if !r.HasSample() || r.SRTT() != s.srtt || r.RTTVar() != s.rttvar || r.Timeout() != s.rto {
				t.Errorf("%s: after sample %d (%v): SRTT %v RTTVAR %v RTO %v, want %v %v %v",
					tc.name, i, s.sample, r.SRTT(), r.RTTVar(), r.Timeout(), s.srtt, s.rttvar, s.rto)
			}
		}
	}
}

// TestRTOReference compares the estimator with RFC 6298's equations
// evaluated in floating point, over a pseudo-random series of samples.
func TestRTOReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := NewRTO(time.Nanosecond, time.Hour, 0)
	var srtt, rttvar float64
	for i := range 10000 {
		sample := time.Duration(rng.Int64N(int64(2 * time.Second)))
		R := float64(sample)
		if i == 0 {
			srtt, rttvar = R, R/2
		} else {
			rttvar = 0.75*rttvar + 0.25*math.Abs(srtt-R)
			srtt = 0.875*srtt + 0.125*R
		}
		r.Sample(sample)
		want := srtt + max(float64(time.Millisecond), 4*rttvar)
		// Integer rounding loses under a nanosecond a step; it does not
		// accumulate, because each step shrinks the old error.
		if d := math.Abs(float64(r.Timeout()) - want); d > 16 {
			t.Fatalf("sample %d: RTO %v, reference %v", i, r.Timeout(), time.Duration(want))
		}
	}
}

func TestRTOInitialAndBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    RTO
		want time.Duration
	}{
		{"zero value", RTO{}, time.Second},
		{"defaults", NewRTO(0, 0, 0), time.Second},
		{"negative means default", NewRTO(-1, -1, -1), time.Second},
		{"after a retransmitted SYN (RFC 6298 5.7)", NewRTO(0, 0, 3*time.Second), 3 * time.Second},
		{"initial below min", NewRTO(2*time.Second, 0, time.Second), 2 * time.Second},
		{"initial above max", NewRTO(0, 10*time.Second, time.Minute), 10 * time.Second},
		{"max below min is raised", NewRTO(5*time.Second, time.Second, 0), 5 * time.Second},
	} {
		if got := tc.r.Timeout(); got != tc.want {
			t.Errorf("%s: Timeout() = %v, want %v", tc.name, got, tc.want)
		}
		if tc.r.HasSample() || tc.r.SRTT() != 0 || tc.r.RTTVar() != 0 || tc.r.Backoffs() != 0 {
			t.Errorf("%s: an estimator without samples reports some", tc.name)
		}
	}
}

func TestRTOBackoff(t *testing.T) {
	const ms = time.Millisecond
	var r RTO
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 120, 120, 120}
	for i, w := range want {
		if got := r.Timeout(); got != w*time.Second {
			t.Fatalf("after %d backoffs: %v, want %v", i, got, w*time.Second)
		}
		if r.Backoffs() != i {
			t.Fatalf("Backoffs() = %d, want %d", r.Backoffs(), i)
		}
		r.Backoff()
	}

	// A sample collapses the backed-off timeout (RFC 6298 5).
	r.Sample(100 * ms)
	if r.Backoffs() != 0 || r.Timeout() != 300*ms {
		t.Fatalf("after a sample: %d backoffs, RTO %v; want 0 and 300ms", r.Backoffs(), r.Timeout())
	}
	r.Backoff()
	r.Backoff()
	if r.Timeout() != 1200*ms {
		t.Fatalf("300ms backed off twice: %v", r.Timeout())
	}
	// Backoff of a floored value doubles the floor.
	var floored RTO
	floored.Sample(10 * ms) // 30 ms computed
	floored.Backoff()
	if floored.Timeout() != 400*ms {
		t.Fatalf("200ms floor backed off once: %v", floored.Timeout())
	}

	// Any number of backoffs stays at max, and Backoffs keeps counting.
	for range 10000 {
		r.Backoff()
	}
	if r.Timeout() != DefaultRTOMax || r.Backoffs() != 10002 {
		t.Fatalf("after 10002 backoffs: %v, count %d", r.Timeout(), r.Backoffs())
	}
	r.backoffs = math.MaxInt
	r.Backoff()
	if r.Backoffs() != math.MaxInt {
		t.Fatalf("Backoffs wrapped to %d", r.Backoffs())
	}

	// No overflow with the largest bounds and samples.
	huge := NewRTO(time.Nanosecond, math.MaxInt64, 0)
	huge.Sample(math.MaxInt64 / 3)
	huge.Sample(math.MaxInt64)
	for range 100 {
		huge.Backoff()
		if d := huge.Timeout(); d <= 0 {
			t.Fatalf("timeout overflowed to %v", d)
		}
	}
	if huge.Timeout() != math.MaxInt64 {
		t.Fatalf("timeout %v, want max", huge.Timeout())
	}
	huge.Sample(time.Duration(math.MaxInt64))
	if d := huge.Timeout(); d != math.MaxInt64 {
		t.Fatalf("timeout %v after a huge sample", d)
	}
}

func TestRTOIgnoresNegative(t *testing.T) {
	const ms = time.Millisecond
	var r RTO
	r.Sample(-time.Second)
	if r.HasSample() || r.Timeout() != time.Second {
		t.Fatal("a negative sample was taken")
	}
	r.Sample(100 * ms)
	r.Backoff()
	r.Sample(-1)
	if r.SRTT() != 100*ms || r.Backoffs() != 1 {
		t.Fatal("a negative sample changed the estimate")
	}
}

// TestRTOInvariants drives the estimator with random samples and backoffs:
// the timeout stays within its bounds and never falls with a backoff.
func TestRTOInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		lo := time.Duration(rng.Int64N(int64(time.Second)))
		hi := lo + time.Duration(rng.Int64N(int64(time.Minute)))
		r := NewRTO(lo, hi, time.Duration(rng.Int64N(int64(time.Minute))))
		if lo == 0 {
			lo = DefaultRTOMin
		}
		if hi == 0 {
			hi = DefaultRTOMax
		}
		hi = max(hi, lo)
		for range 200 {
			before := r.Timeout()
			if rng.IntN(3) == 0 {
				r.Backoff()
				if r.Timeout() < before {
					t.Fatalf("backoff lowered the timeout from %v to %v", before, r.Timeout())
				}
			} else {
				r.Sample(time.Duration(rng.Int64N(int64(10 * time.Second))))
			}
			if d := r.Timeout(); d < lo || d > hi {
				t.Fatalf("timeout %v outside [%v, %v]", d, lo, hi)
			}
		}
	}
}
