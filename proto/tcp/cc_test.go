package tcp

import (
	"math"
	"testing"
	"time"
)

// ccT0 is the simulated time at which every test starts.
var ccT0 = time.Unix(1_700_000_000, 0)

var ccAlgorithms = []Algorithm{CUBIC, NewReno}

func TestInitialWindow(t *testing.T) {
	for _, tc := range []struct{ mss, want int }{
		{536, 5360},     // 10 segments
		{1000, 10000},   // 10 segments
		{1460, 14600},   // 10 segments
		{1461, 14600},   // under 10 segments: 14600 bytes
		{4000, 14600},   // 3.65 segments
		{7300, 14600},   // 2 segments
		{8960, 17920},   // 2 segments
		{65483, 130966}, // loopback: 2 segments
	} {
		if got := InitialWindow(tc.mss); got != tc.want {
			t.Errorf("InitialWindow(%d) = %d, want %d", tc.mss, got, tc.want)
		}
	}
}

func TestAlgorithmNames(t *testing.T) {
	for _, tc := range []struct {
		alg  Algorithm
		name string
	}{{CUBIC, "cubic"}, {NewReno, "reno"}} {
		if got := tc.alg.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", tc.alg, got, tc.name)
		}
		if got, ok := ParseAlgorithm(tc.name); !ok || got != tc.alg {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", tc.name, got, ok)
		}
		if got := NewCongestionControl(tc.alg).Algorithm(); got != tc.alg {
			t.Errorf("NewCongestionControl(%v).Algorithm() = %v", tc.alg, got)
		}
	}
	for _, name := range []string{"", "bbr", "CUBIC", "newreno"} {
		if _, ok := ParseAlgorithm(name); ok {
			t.Errorf("ParseAlgorithm(%q) succeeded", name)
		}
	}
	if got := Algorithm(9).String(); got != "unknown" {
		t.Errorf("Algorithm(9).String() = %q", got)
	}
	if got := NewCongestionControl(Algorithm(9)).Algorithm(); got != CUBIC {
		t.Errorf("NewCongestionControl(9) is %v, want the default, cubic", got)
	}
}

// newCC returns alg initialised with mss and the default initial window.
func newCC(alg Algorithm, mss int) CongestionControl {
	cc := NewCongestionControl(alg)
	cc.Init(mss, 0, ccT0)
	return cc
}

// ackClock feeds cc the ACKs of rounds round trips of rtt, one ACK per
// segment, from a sender that refills the window after every ACK and so
// is always limited by cwnd: the textbook ACK clock. It returns the time
// after them.
func ackClock(cc CongestionControl, mss int, now time.Time, rtt time.Duration, rounds int) time.Time {
	return ackClockN(cc, mss, 1, now, rtt, rounds)
}

// ackClockN is ackClock with one ACK per per segments (2: delayed ACKs).
func ackClockN(cc CongestionControl, mss, per int, now time.Time, rtt time.Duration, rounds int) time.Time {
	return ackRounds(cc, mss, per, now, func(int) time.Duration { return rtt }, rounds)
}

// ackRounds is the ACK clock with the RTT of each round given by rtt. A
// round has as many ACKs as the window had segments at its start, spread
// evenly over the round's RTT, and ends when SND.UNA reaches the SND.NXT
// of its start, as HyStart++ counts rounds (RFC 9406 4.2).
func ackRounds(cc CongestionControl, mss, per int, now time.Time, rtt func(round int) time.Duration, rounds int) time.Time {
	var una Seq
	nxt := una.Add(cc.CWND() / mss * mss)
	for round := range rounds {
		end := nxt
		d := rtt(round)
		acks := max(int(end.Diff(una))/(per*mss), 1)
		start := now
		for i := range acks {
			now = start.Add(d * time.Duration(i+1) / time.Duration(acks))
			inFlight := int(nxt.Diff(una))
			prev := una
			una = una.Add(per * mss)
			if i == acks-1 {
				una = end // the last ACK of the round covers any odd segment
			}
			cc.OnAck(Ack{Acked: int(una.Diff(prev)), InFlight: inFlight, RTT: d, SndUna: una, SndNxt: nxt}, now)
			nxt = nxt.Max(una.Add(cc.CWND() / mss * mss))
		}
	}
	return now
}

// TestCCCommonResponses checks the rules both ccAlgorithms share: the initial
// window, the floors after loss, the timeout, holding ssthresh within an
// episode, and that ACKs during recovery change nothing.
func TestCCCommonResponses(t *testing.T) {
	const mss = 1000
	beta := map[Algorithm]float64{CUBIC: 0.7, NewReno: 0.5}
	for _, alg := range ccAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			cc := NewCongestionControl(alg)
			cc.Init(mss, 0, ccT0)
			if cc.CWND() != 10*mss || cc.Ssthresh() != InfiniteSsthresh {
				t.Fatalf("after Init: cwnd %d ssthresh %d", cc.CWND(), cc.Ssthresh())
			}
			cc.Init(mss, mss, ccT0) // SYN was retransmitted: IW = 1 segment
			if cc.CWND() != mss {
				t.Fatalf("Init with iw = 1 MSS: cwnd %d", cc.CWND())
			}
			cc.Init(mss, 10, ccT0) // below one segment
			if cc.CWND() != mss {
				t.Fatalf("Init with iw = 10 bytes: cwnd %d, want 1 MSS", cc.CWND())
			}

			cc.Init(mss, 0, ccT0)
			now := ackClock(cc, mss, ccT0, 10*time.Millisecond, 3) // 10 -> 80 segments
			if cc.CWND() != 80*mss {
				t.Fatalf("after 3 rounds of slow start cwnd = %d, want %d", cc.CWND(), 80*mss)
			}
			cc.OnEnterRecovery(80*mss, now)
			want := int(80 * mss * beta[alg])
			if cc.CWND() != want || cc.Ssthresh() != want {
				t.Fatalf("after loss: cwnd %d ssthresh %d, want both %d", cc.CWND(), cc.Ssthresh(), want)
			}
			// ACKs and timeouts of the same episode change nothing but cwnd.
			cc.OnAck(Ack{Acked: 10 * mss, InFlight: 80 * mss}, now)
			if cc.CWND() != want {
				t.Fatalf("an ACK in recovery moved cwnd to %d", cc.CWND())
			}
			cc.OnTimeout(60*mss, now)
			if cc.CWND() != mss || cc.Ssthresh() != want {
				t.Fatalf("timeout in recovery: cwnd %d ssthresh %d, want %d and %d held", cc.CWND(), cc.Ssthresh(), mss, want)
			}
			cc.OnExitRecovery(now) // recovery already ended with the timeout
			if cc.CWND() != mss {
				t.Fatalf("OnExitRecovery after a timeout set cwnd %d", cc.CWND())
			}
			cc.OnTimeout(mss, now) // back-to-back: ssthresh held (RFC 5681 3.1)
			if cc.CWND() != mss || cc.Ssthresh() != want {
				t.Fatalf("second timeout: cwnd %d ssthresh %d", cc.CWND(), cc.Ssthresh())
			}
			cc.OnAck(Ack{Acked: mss, InFlight: mss}, now)
			cc.OnTimeout(2*mss, now) // a new episode, with a tiny flight
			if cc.CWND() != mss || cc.Ssthresh() != 2*mss {
				t.Fatalf("timeout with 2 MSS in flight: cwnd %d ssthresh %d, want 1 and 2 MSS", cc.CWND(), cc.Ssthresh())
			}
			cc.OnAck(Ack{Acked: mss, InFlight: mss}, now)
			cc.OnEnterRecovery(mss, now) // the 2*SMSS floor
			if cc.CWND() != 2*mss || cc.Ssthresh() != 2*mss {
				t.Fatalf("loss with 1 MSS in flight: cwnd %d ssthresh %d, want 2 MSS", cc.CWND(), cc.Ssthresh())
			}
			cc.OnExitRecovery(now)
			if cc.CWND() != 2*mss {
				t.Fatalf("after recovery cwnd %d, want ssthresh", cc.CWND())
			}
		})
	}
}

// TestCCApplicationLimited checks that neither algorithm grows a window
// the sender is not using (RFC 9438 5.8, RFC 7661).
func TestCCApplicationLimited(t *testing.T) {
	const mss = 1000
	for _, alg := range ccAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			for _, tc := range []struct {
				name     string
				inFlight int
				grows    bool
			}{
				{"slow start, full window", 10 * mss, true},
				{"slow start, just over half", 6 * mss, true},
				{"slow start, half", 5 * mss, false},
				{"slow start, three segments", 3 * mss, false},
			} {
				cc := newCC(alg, mss)
				cc.OnAck(Ack{Acked: mss, InFlight: tc.inFlight}, ccT0)
				if got := cc.CWND() > 10*mss; got != tc.grows {
					t.Errorf("%s: cwnd %d", tc.name, cc.CWND())
				}
			}
			// Congestion avoidance: grows only with less than an MSS unused.
			cc := newCC(alg, mss)
			cc.OnEnterRecovery(40*mss, ccT0)
			cc.OnExitRecovery(ccT0)
			base := cc.CWND()
			now := ccT0
			for i := range 1000 {
				now = now.Add(time.Millisecond)
				cc.OnAck(Ack{Acked: mss, InFlight: base - mss, RTT: 10 * time.Millisecond}, now)
				if cc.CWND() != base {
					t.Fatalf("ACK %d with one MSS unused grew cwnd to %d", i, cc.CWND())
				}
			}
			cc.OnAck(Ack{Acked: mss, InFlight: base - mss + 1}, now.Add(time.Second))
			ackClock(cc, mss, now.Add(time.Second), 10*time.Millisecond, 3)
			if cc.CWND() <= base {
				t.Fatalf("cwnd-limited ACKs did not grow cwnd %d", cc.CWND())
			}
		})
	}
}

// TestCCIdleRestart checks the restart after idle of Linux's
// tcp_slow_start_after_idle (RFC 5681 4.1, RFC 2861).
func TestCCIdleRestart(t *testing.T) {
	const mss = 1000
	const rto = 300 * time.Millisecond
	for _, alg := range ccAlgorithms {
		for _, tc := range []struct {
			idle           time.Duration
			cwnd, ssthresh int // in segments
		}{
			{0, 40, 20},
			{rto, 40, 20},       // not more than an RTO: nothing
			{rto + 1, 20, 30},   // halved once; ssthresh 3/4 of 40
			{2 * rto, 20, 30},   // still once
			{2*rto + 1, 10, 30}, // twice
			{10 * rto, 10, 30},  // down to the restart window, IW
			{time.Hour, 10, 30}, // never below it
		} {
			cc := newCC(alg, mss)
			cc.OnEnterRecovery(40*mss, ccT0) // ssthresh 20 or 28
			cc.OnExitRecovery(ccT0)
			cc.(interface{ setWindow(cwnd, ssthresh int) }).setWindow(40*mss, 20*mss)
			cc.OnIdle(tc.idle, rto, ccT0.Add(time.Hour))
			if cc.CWND() != tc.cwnd*mss || cc.Ssthresh() != tc.ssthresh*mss {
				t.Errorf("%v idle %v: cwnd %d ssthresh %d, want %d and %d segments",
					alg, tc.idle, cc.CWND()/mss, cc.Ssthresh()/mss, tc.cwnd, tc.ssthresh)
			}
		}
		// Nothing is idle during recovery.
		cc := newCC(alg, mss)
		cc.OnEnterRecovery(40*mss, ccT0)
		before := cc.CWND()
		cc.OnIdle(time.Hour, rto, ccT0.Add(time.Hour))
		if cc.CWND() != before {
			t.Errorf("%v: OnIdle in recovery moved cwnd from %d to %d", alg, before, cc.CWND())
		}
		// A window smaller than IW restarts at itself.
		cc = newCC(alg, mss)
		cc.OnTimeout(40*mss, ccT0)
		cc.OnIdle(time.Hour, rto, ccT0.Add(time.Hour))
		if cc.CWND() != mss {
			t.Errorf("%v: restart raised cwnd %d above its 1 MSS", alg, cc.CWND())
		}
	}
}

// setWindow puts the shared window in a given state, for tests.
func (w *window) setWindow(cwnd, ssthresh int) { w.cwnd, w.ssthresh = cwnd, ssthresh }

func TestCCSetMSS(t *testing.T) {
	for _, alg := range ccAlgorithms {
		cc := newCC(alg, 1460)
		if cc.CWND() != 14600 {
			t.Fatalf("cwnd %d", cc.CWND())
		}
		cc.SetMSS(1000) // PMTU fell: still 10 segments
		if cc.CWND() != 10000 || cc.Ssthresh() != InfiniteSsthresh {
			t.Errorf("%v: after SetMSS(1000) cwnd %d ssthresh %d", alg, cc.CWND(), cc.Ssthresh())
		}
		cc.OnEnterRecovery(40000, ccT0)
		cc.OnExitRecovery(ccT0)
		before := cc.Ssthresh()
		cc.SetMSS(500)
		if cc.Ssthresh() != before/2 || cc.CWND() != before/2 {
			t.Errorf("%v: SetMSS(500) took ssthresh %d to %d, cwnd to %d", alg, before, cc.Ssthresh(), cc.CWND())
		}
		cc.SetMSS(500) // no change
		cc.SetMSS(0)   // nonsense: treated as 1 byte, without dividing by zero
		if cc.CWND() < 1 || cc.Ssthresh() < 2 {
			t.Errorf("%v: SetMSS(0): cwnd %d ssthresh %d", alg, cc.CWND(), cc.Ssthresh())
		}
	}
}

// TestCCNoOverflow drives both ccAlgorithms with absurd inputs: the window
// stays within [1 MSS, 2^30] and nothing panics.
func TestCCNoOverflow(t *testing.T) {
	for _, alg := range ccAlgorithms {
		cc := newCC(alg, 1460)
		now := ccT0
		for i := range 2000 {
			now = now.Add(time.Hour)
			cc.OnAck(Ack{Acked: math.MaxInt32, InFlight: math.MaxInt32, RTT: time.Duration(i) * time.Hour}, now)
			if c := cc.CWND(); c < 1460 || c > maxCWND {
				t.Fatalf("%v: cwnd %d", alg, c)
			}
		}
		cc.OnEnterRecovery(math.MaxInt32, now)
		cc.OnExitRecovery(now)
		for range 2000 {
			now = now.Add(24 * time.Hour)
			cc.OnAck(Ack{Acked: math.MaxInt, InFlight: math.MaxInt, RTT: time.Hour}, now)
		}
		if c := cc.CWND(); c < 1460 || c > maxCWND {
			t.Fatalf("%v: cwnd %d", alg, c)
		}
		cc.OnAck(Ack{Acked: -5, InFlight: -5}, now)
		cc.OnIdle(-time.Second, -time.Second, now)
	}
}

func TestOnAckAllocs(t *testing.T) {
	for _, alg := range ccAlgorithms {
		cc := newCC(alg, 1448)
		now := ccT0
		var una Seq
		allocs := testing.AllocsPerRun(1000, func() {
			now = now.Add(100 * time.Microsecond)
			una = una.Add(1448)
			cc.OnAck(Ack{Acked: 1448, InFlight: cc.CWND(), RTT: 20 * time.Millisecond, SndUna: una, SndNxt: una.Add(cc.CWND())}, now)
			if cc.CWND() > 1<<24 {
				cc.OnEnterRecovery(cc.CWND(), now)
				cc.OnExitRecovery(now)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: OnAck allocates %v times", alg, allocs)
		}
	}
}

func BenchmarkOnAck(b *testing.B) {
	for _, alg := range ccAlgorithms {
		for _, phase := range []string{"slowstart", "avoidance"} {
			b.Run(alg.String()+"/"+phase, func(b *testing.B) {
				cc := newCC(alg, 1448)
				now := ccT0
				reset := func() {
					cc.Init(1448, 0, now)
					if phase == "avoidance" {
						cc.OnEnterRecovery(1000*1448, now)
						cc.OnExitRecovery(now)
					}
				}
				reset()
				var una Seq
				b.ReportAllocs()
				for b.Loop() {
					now = now.Add(10 * time.Microsecond)
					una = una.Add(1448)
					cc.OnAck(Ack{Acked: 1448, InFlight: cc.CWND(), RTT: 20 * time.Millisecond, SndUna: una, SndNxt: una.Add(cc.CWND())}, now)
					if cc.CWND() > 1<<26 || (phase == "avoidance" && cc.CWND() < cc.Ssthresh()) {
						reset()
					}
				}
			})
		}
	}
}

// FuzzCongestionControl drives both algorithms and the RTO estimator
// with arbitrary sequences of events and checks what must hold whatever
// happens: cwnd within [1 SMSS, 2^30], ssthresh at least 2 SMSS or
// infinite, the timeout within its bounds, and no panic.
func FuzzCongestionControl(f *testing.F) {
	f.Add([]byte{0, 10, 5, 0, 10, 5, 0, 10, 5, 1, 0, 0, 2, 0, 0, 0, 10, 5})
	f.Add([]byte{3, 200, 1, 0, 255, 255, 4, 9, 9, 5, 1, 1, 0, 3, 3, 6, 0, 1})
	f.Add([]byte{0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 7, 2, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		for _, alg := range ccAlgorithms {
			mss := 536
			cc := newCC(alg, mss)
			var r RTO
			now := ccT0
			var una Seq
			for i := 0; i+3 <= len(ops); i += 3 {
				a, b := int(ops[i+1]), int(ops[i+2])
				now = now.Add(time.Duration(b) * time.Millisecond)
				switch ops[i] % 8 {
				case 0, 1: // the commonest event
					una = una.Add(a * 100)
					cc.OnAck(Ack{Acked: a * 100, InFlight: cc.CWND() * b / 128, RTT: time.Duration(a) * time.Millisecond, SndUna: una, SndNxt: una.Add(cc.CWND())}, now)
					r.Sample(time.Duration(a*b) * time.Millisecond)
				case 2:
					cc.OnEnterRecovery(a*b*10, now)
				case 3:
					cc.OnExitRecovery(now)
				case 4:
					cc.OnTimeout(a*b*10, now)
					r.Backoff()
				case 5:
					cc.OnIdle(time.Duration(a)*10*time.Millisecond, r.Timeout(), now)
				case 6:
					mss = max(a*8, 1)
					cc.SetMSS(mss)
				case 7:
					cc.Init(mss, a*b, now)
				}
				if c := cc.CWND(); c < mss || c > maxCWND {
					t.Fatalf("%v: op %d: cwnd %d with SMSS %d", alg, i/3, c, mss)
				}
				if s := cc.Ssthresh(); s != InfiniteSsthresh && (s < 2*mss || s > maxCWND) {
					t.Fatalf("%v: op %d: ssthresh %d with SMSS %d", alg, i/3, s, mss)
				}
				if d := r.Timeout(); d < DefaultRTOMin || d > DefaultRTOMax {
					t.Fatalf("op %d: RTO %v", i/3, d)
				}
			}
		}
	})
}
