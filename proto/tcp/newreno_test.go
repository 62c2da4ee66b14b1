package tcp

import (
	"testing"
	"time"
)

// TestRenoSlowStartABC checks slow start's growth per ACK with
// Appropriate Byte Counting (RFC 3465 2.2, L = 2*SMSS; L = 1*SMSS after a
// timeout, 2.3).
func TestRenoSlowStartABC(t *testing.T) {
	const mss = 1000
	for _, tc := range []struct {
		name     string
		timedOut bool
		acked    []int // bytes acknowledged by each ACK
		growth   []int // cwnd growth after each
	}{
		{"one segment per ACK", false, []int{mss, mss, mss}, []int{mss, mss, mss}},
		{"delayed ACKs", false, []int{2 * mss, 2 * mss}, []int{2 * mss, 2 * mss}},
		{"stretch ACK capped at L = 2", false, []int{5 * mss, 3 * mss}, []int{2 * mss, 2 * mss}},
		{"partial segments count in bytes", false, []int{300, 300, 400}, []int{300, 300, 400}},
		{"after a timeout L = 1", true, []int{mss, 2 * mss, 5 * mss}, []int{mss, mss, mss}},
	} {
		cc := newCC(NewReno, mss)
		if tc.timedOut {
			cc.OnTimeout(100*mss, ccT0)
			cc.(interface{ setWindow(cwnd, ssthresh int) }).setWindow(10*mss, 50*mss)
		}
		for i, acked := range tc.acked {
			before := cc.CWND()
			cc.OnAck(Ack{Acked: acked, InFlight: before}, ccT0)
			if got := cc.CWND() - before; got != tc.growth[i] {
				t.Errorf("%s: ACK %d of %d bytes grew cwnd by %d, want %d", tc.name, i, acked, got, tc.growth[i])
			}
		}
	}
}

// TestRenoSlowStartDoubles checks that slow start doubles the window each
// round trip, with and without delayed ACKs.
func TestRenoSlowStartDoubles(t *testing.T) {
	const mss = 1460
	for _, per := range []int{1, 2} {
		cc := newCC(NewReno, mss)
		want := 10
		for round := range 6 {
			ackClockN(cc, mss, per, ccT0, 10*time.Millisecond, 1)
			want *= 2
			if cc.CWND() != want*mss {
				t.Fatalf("ACK every %d segments, round %d: cwnd %d segments, want %d", per, round, cc.CWND()/mss, want)
			}
		}
	}
}

// TestRenoSlowStartToAvoidance checks the hand-over at ssthresh: slow
// start stops there and the rest of the ACK counts towards congestion
// avoidance.
func TestRenoSlowStartToAvoidance(t *testing.T) {
	const mss = 1000
	cc := newCC(NewReno, mss)
	cc.(interface{ setWindow(cwnd, ssthresh int) }).setWindow(19*mss+500, 20*mss)
	cc.OnAck(Ack{Acked: 2 * mss, InFlight: 19 * mss}, ccT0)
	if cc.CWND() != 20*mss {
		t.Fatalf("cwnd %d, want ssthresh %d", cc.CWND(), 20*mss)
	}
	r := cc.(*reno)
	if r.bytesAcked != 1500 {
		t.Fatalf("bytes carried into congestion avoidance %d, want 1500", r.bytesAcked)
	}
	// 18500 more bytes make a window's worth: one SMSS.
	cc.OnAck(Ack{Acked: 18500, InFlight: 20 * mss}, ccT0)
	if cc.CWND() != 21*mss || r.bytesAcked != 0 {
		t.Fatalf("cwnd %d, bytes_acked %d; want %d and 0", cc.CWND(), r.bytesAcked, 21*mss)
	}
}

// TestRenoAvoidance checks congestion avoidance's growth of one SMSS per
// round trip, however the ACKs come (RFC 5681 3.1, RFC 3465 2.1).
func TestRenoAvoidance(t *testing.T) {
	const mss = 1448
	for _, per := range []int{1, 2, 3} {
		cc := newCC(NewReno, mss)
		cc.OnEnterRecovery(40*mss, ccT0)
		cc.OnExitRecovery(ccT0)
		if cc.CWND() != 20*mss || cc.Ssthresh() != 20*mss {
			t.Fatalf("after loss with 40 segments in flight: cwnd %d ssthresh %d", cc.CWND(), cc.Ssthresh())
		}
		now := ccT0
		for round := 1; round <= 50; round++ {
			now = ackClockN(cc, mss, per, now, 50*time.Millisecond, 1)
			if want := (20 + round) * mss; cc.CWND() != want {
				t.Fatalf("ACK every %d, round %d: cwnd %d segments, want %d", per, round, cc.CWND()/mss, want/mss)
			}
		}
	}
}

// TestRenoByteCountingCarry checks RFC 3465 2.1's bookkeeping: the bytes
// beyond a window carry over, at most one SMSS of growth per ACK.
func TestRenoByteCountingCarry(t *testing.T) {
	const mss = 1000
	cc := newCC(NewReno, mss)
	cc.OnEnterRecovery(20*mss, ccT0)
	cc.OnExitRecovery(ccT0) // cwnd = ssthresh = 10 segments
	r := cc.(*reno)
	for _, tc := range []struct{ acked, cwnd, carried int }{
		{9000, 10000, 9000},
		{1500, 11000, 500}, // 10500 >= 10000: grow, carry 500
		{10000, 11000, 10500},
		{20000, 12000, 11000}, // 30500 - 11000 = 19500, kept to a window
		{0, 12000, 11000},     // ignored
		{1000, 13000, 0},
	} {
		cc.OnAck(Ack{Acked: tc.acked, InFlight: cc.CWND()}, ccT0)
		if cc.CWND() != tc.cwnd || r.bytesAcked != tc.carried {
			t.Fatalf("after %d bytes: cwnd %d carried %d, want %d and %d", tc.acked, cc.CWND(), r.bytesAcked, tc.cwnd, tc.carried)
		}
	}
}

// TestRenoRecovery checks the halving on loss (RFC 5681 equation 4) from
// FlightSize, not cwnd.
func TestRenoRecovery(t *testing.T) {
	const mss = 1000
	for _, tc := range []struct {
		inFlight, ssthresh int
	}{
		{40 * mss, 20 * mss},
		{41 * mss, 20*mss + 500},
		{4 * mss, 2 * mss},
		{3 * mss, 2 * mss}, // floor
		{0, 2 * mss},
	} {
		cc := newCC(NewReno, mss)
		ackClock(cc, mss, ccT0, 10*time.Millisecond, 3) // cwnd 80 segments
		cc.OnEnterRecovery(tc.inFlight, ccT0)
		if cc.Ssthresh() != tc.ssthresh || cc.CWND() != tc.ssthresh {
			t.Errorf("loss with %d in flight: ssthresh %d cwnd %d, want %d", tc.inFlight, cc.Ssthresh(), cc.CWND(), tc.ssthresh)
		}
		cc.OnExitRecovery(ccT0)
		cc.OnExitRecovery(ccT0) // not in recovery: nothing
		if cc.CWND() != tc.ssthresh {
			t.Errorf("after recovery cwnd %d, want %d", cc.CWND(), tc.ssthresh)
		}
	}
}

// TestRenoSawtooth runs NewReno through the link model with a buffer of
// one bandwidth-delay product, the classic size at which Reno keeps the
// link busy: the window halves at each loss, climbs one segment per
// round trip, and loss comes when the window exceeds the path's capacity
// of BDP plus buffer.
func TestRenoSawtooth(t *testing.T) {
	const mss = 1000
	s := newLinkSim(NewReno, mss, time.Millisecond, 50*time.Millisecond, 50)
	capacity := s.bdp() + s.buffer // packets the path holds
	const warmup = 5 * time.Second
	cycles := sawtooth(s, 100*time.Second, warmup, nil)
	if len(cycles) < 15 {
		t.Fatalf("%d cycles in 100 s", len(cycles))
	}
	for i, c := range cycles {
		// Halved from FlightSize, which with SACK is a little more than
		// cwnd: segments above the hole have left the network.
		if c.cwndStart != c.lossFlight/2 {
			t.Errorf("cycle %d: cwnd %d after a loss with %d in flight, want half", i, c.cwndStart, c.lossFlight)
		}
		if c.lossFlight < c.lossCWND || c.lossFlight > c.lossCWND+4*mss {
			t.Errorf("cycle %d: FlightSize %d at a loss with cwnd %d", i, c.lossFlight, c.lossCWND)
		}
		// Loss comes once the window passes the path's capacity, and is
		// seen a round trip later.
		if c.cwndEnd < capacity*mss || c.cwndEnd > (capacity+3)*mss {
			t.Errorf("cycle %d: loss at cwnd %d segments, capacity %d", i, c.cwndEnd/mss, capacity)
		}
		// One segment per round trip.
		if growth := (c.cwndEnd - c.cwndStart) / mss; growth < c.rounds-2 || growth > c.rounds+2 {
			t.Errorf("cycle %d: grew %d segments in %d round trips", i, growth, c.rounds)
		}
	}
	if n := s.timeouts(warmup); n != 0 {
		t.Errorf("%d retransmission timeouts in steady state", n)
	}
	if u := s.utilisation(); u < 0.97 {
		t.Errorf("utilisation %.3f with a buffer of one BDP", u)
	}
}
