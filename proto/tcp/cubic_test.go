package tcp

import (
	"math"
	"testing"
	"time"
)

// The reference values below are computed in segments and seconds, the
// units of RFC 9438, independently of cubic.go's bytes.

// refK is RFC 9438 equation 2: K = cbrt((W_max - cwnd_epoch)/C).
func refK(wMax, cwndEpoch float64) float64 { return math.Cbrt((wMax - cwndEpoch) / 0.4) }

// refW is RFC 9438 equation 1: W_cubic(t) = C*(t-K)^3 + W_max.
func refW(t, k, wMax float64) float64 { return 0.4*math.Pow(t-k, 3) + wMax }

// cubicAfterLoss returns a CUBIC that lost a segment with w segments in
// flight and a window of w, has recovered, and has taken the first ACK
// of its congestion avoidance stage, whose time it returns.
func cubicAfterLoss(mss, w int, rtt time.Duration) (*cubic, time.Time) {
	c := new(cubic)
	c.Init(mss, 0, ccT0)
	c.setWindow(w*mss, InfiniteSsthresh)
	c.OnEnterRecovery(w*mss, ccT0)
	c.OnExitRecovery(ccT0)
	now := ccT0.Add(rtt)
	c.OnAck(Ack{Acked: mss, InFlight: c.CWND(), RTT: rtt}, now)
	return c, now
}

// TestCubicCurve checks W_max, K and W_cubic(t) after a loss against RFC
// 9438's equations.
func TestCubicCurve(t *testing.T) {
	const mss = 1448
	for _, w := range []int{10, 100, 1000, 12345} {
		c, _ := cubicAfterLoss(mss, w, 100*time.Millisecond)
		wMax := float64(w)
		epoch := float64(w*mss*7/10) / mss // cwnd = flight_size * beta_cubic, in whole bytes
		k := refK(wMax, epoch)
		if math.Abs(c.wMax/mss-wMax) > 1e-9 || math.Abs(c.k-k) > 1e-9 || math.Abs(c.cwndEpoch/mss-epoch) > 1e-9 {
			t.Errorf("W = %d: W_max %.6f K %.6f cwnd_epoch %.6f; want %.6f %.6f %.6f",
				w, c.wMax/mss, c.k, c.cwndEpoch/mss, wMax, k, epoch)
		}
		if want := float64(w) * 0.3; math.Abs(c.k-math.Cbrt(want/0.4)) > 1e-6 {
			t.Errorf("W = %d: K %.6f, want cbrt(0.3*W/C)", w, c.k)
		}
		for _, tt := range []float64{0, k / 4, k / 2, k, 1.5 * k, 2 * k, 10} {
			want := refW(tt, k, wMax)
			if got := c.wCubic(tt) / mss; math.Abs(got-want) > 1e-9*max(1, want) {
				t.Errorf("W = %d: W_cubic(%.3f) = %.6f, want %.6f", w, tt, got, want)
			}
		}
		if got := c.wCubic(0) / mss; math.Abs(got-epoch) > 1e-9*epoch {
			t.Errorf("W = %d: W_cubic(0) = %.6f, want cwnd_epoch %.6f", w, got, epoch)
		}
		if got := c.wCubic(k) / mss; math.Abs(got-wMax) > 1e-9*wMax {
			t.Errorf("W = %d: W_cubic(K) = %.6f, want W_max", w, got)
		}
	}
}

// TestCubicFollowsCurve drives CUBIC with a cwnd-limited ACK clock after
// a loss and checks that the window tracks the cubic function: between
// W_cubic(t) and W_cubic(t+RTT), the target it grows towards (RFC 9438
// 4.2), in the concave region before K and the convex region after.
func TestCubicFollowsCurve(t *testing.T) {
	const mss = 1000
	const w = 1000
	const rtt = 100 * time.Millisecond
	c, now := cubicAfterLoss(mss, w, rtt)
	epoch := c.epoch
	k := refK(w, 700)
	var prevCWND int
	var growth []float64 // per round trip, in segments
	var times []float64
	for {
		now = ackClock(c, mss, now, rtt, 1)
		tt := now.Sub(epoch).Seconds()
		if tt > 2*k {
			break
		}
		seg := float64(c.CWND()) / mss
		lo, hi := refW(tt, k, w), refW(tt+rtt.Seconds(), k, w)
		if seg < lo-1 || seg > hi+1 {
			t.Fatalf("t = %.2f s: cwnd %.1f segments outside [W_cubic(t), W_cubic(t+RTT)] = [%.1f, %.1f]", tt, seg, lo, hi)
		}
		// The Reno-friendly estimate stays behind in this large-BDP,
		// long-RTT case, so the curve alone decides.
		if c.wEst > float64(c.CWND()) {
			t.Fatalf("t = %.2f s: W_est %.1f above cwnd %.1f", tt, c.wEst/mss, seg)
		}
		if prevCWND != 0 {
			growth = append(growth, float64(c.CWND()-prevCWND)/mss)
			times = append(times, tt)
		}
		prevCWND = c.CWND()
	}
	// Concave, then convex: growth per round trip falls until about K,
	// then rises. The slowest round is within a few round trips of K.
	slowest := 0
	for i := range growth {
		if growth[i] < growth[slowest] {
			slowest = i
		}
	}
	if d := math.Abs(times[slowest] - k); d > 3*rtt.Seconds() {
		t.Errorf("slowest growth at t = %.2f s, want near K = %.2f s", times[slowest], k)
	}
	for i := 1; i < len(growth); i++ {
		// A byte of slack: the window grows in whole bytes.
		if times[i] < k-rtt.Seconds() && growth[i] > growth[i-1]+1e-3 {
			t.Errorf("concave region: growth rose from %.3f to %.3f at t = %.2f s", growth[i-1], growth[i], times[i])
		}
		if times[i-1] > k+rtt.Seconds() && growth[i] < growth[i-1]-1e-3 {
			t.Errorf("convex region: growth fell from %.3f to %.3f at t = %.2f s", growth[i-1], growth[i], times[i])
		}
	}
	if growth[0] < 5*growth[slowest] || growth[len(growth)-1] < 5*growth[slowest] {
		t.Errorf("growth per round: %.2f at first, %.2f near K, %.2f at 2K: no plateau", growth[0], growth[slowest], growth[len(growth)-1])
	}
}

// TestCubicPerAck checks the per-ACK rules of RFC 9438 4.2-4.5 against a
// reference written from the RFC in segments: W_est += alpha_cubic *
// segments_acked / cwnd, alpha_cubic becoming 1 once W_est reaches
// cwnd_prior; cwnd = W_est in the Reno-friendly region (W_cubic(t) <
// W_est), and otherwise cwnd += (target - cwnd)/cwnd per segment, target
// = W_cubic(t + RTT) held within [cwnd, 1.5*cwnd].
func TestCubicPerAck(t *testing.T) {
	const mss = 1000
	for _, tc := range []struct {
		w           int           // window at the loss, segments
		rtt         time.Duration // also the RTT of every sample
		d           time.Duration // to run for
		reno, curve bool          // the regions expected
	}{
		{500, 100 * time.Millisecond, 15 * time.Second, false, true},
		{500, 20 * time.Millisecond, 20 * time.Second, true, true}, // curve, W_est about K, curve
		{20, time.Millisecond, 2 * time.Second, true, false},
	} {
		c, now := cubicAfterLoss(mss, tc.w, tc.rtt)
		wMax := float64(tc.w)
		prior := wMax
		cwnd := float64(c.CWND()) / mss
		k := refK(wMax, c.cwndEpoch/mss)
		wEst := c.wEst / mss // cwnd_epoch and the first ACK's growth
		renoSeen, curveSeen := false, false
		end := now.Add(tc.d)
		for i := 0; now.Before(end); i++ {
			// An ACK clock with delayed ACKs: one ACK for every two
			// segments, half a window's worth of ACKs per RTT.
			now = now.Add(tc.rtt * 2 * mss / time.Duration(c.CWND()))
			c.OnAck(Ack{Acked: 2 * mss, InFlight: c.CWND(), RTT: tc.rtt}, now)
			tt := now.Sub(c.epoch).Seconds()
			alpha := 3 * (1 - 0.7) / (1 + 0.7)
			if wEst >= prior {
				alpha = 1
			}
			const segmentsAcked = 2
			wEst += alpha * segmentsAcked / cwnd
			if refW(tt, k, wMax) < wEst {
				renoSeen = true
				cwnd = max(cwnd, wEst)
			} else {
				curveSeen = true
				target := min(max(refW(tt+tc.rtt.Seconds(), k, wMax), cwnd), 1.5*cwnd)
				cwnd += (target - cwnd) / cwnd * segmentsAcked
			}
			// The window is kept in whole bytes, the fraction carried.
			if got := float64(c.CWND()) / mss; math.Abs(got-cwnd) > 1.0/mss+1e-6 {
				t.Fatalf("W %d, ACK %d, t = %.4f s: cwnd %.4f segments, reference %.4f", tc.w, i, tt, got, cwnd)
			}
		}
		if renoSeen != tc.reno || curveSeen != tc.curve || cwnd < 1.1*wMax {
			t.Fatalf("W %d RTT %v: ended at %.1f segments; Reno-friendly region %v, cubic region %v",
				tc.w, tc.rtt, cwnd, renoSeen, curveSeen)
		}
	}
}

// TestCubicRenoFriendly checks that on a short, small path the
// Reno-friendly region (RFC 9438 4.3) dominates: the window grows as
// W_est does, alpha_cubic segments per round trip until W_est reaches
// cwnd_prior and one segment after, where the cubic curve alone would
// hardly have moved.
func TestCubicRenoFriendly(t *testing.T) {
	const mss = 1000
	const rtt = time.Millisecond
	alpha := 3 * (1 - 0.7) / (1 + 0.7)
	c, now := cubicAfterLoss(mss, 20, rtt)
	k := refK(20, 14)
	done := 0
	for _, tc := range []struct {
		rounds int
		want   float64 // segments
	}{
		// From 14, alpha per round trip; W_est reaches cwnd_prior = 20
		// after 6/alpha = 11.33 rounds, and grows 1 per round after.
		{5, 14 + 5*alpha},
		{10, 14 + 10*alpha},
		{20, 20 + (20 - 6/alpha)},
		{40, 20 + (40 - 6/alpha)},
	} {
		now = ackClock(c, mss, now, rtt, tc.rounds-done)
		done = tc.rounds
		got := float64(c.CWND()) / mss
		// W_est grows alpha*MSS/cwnd per ACK; as the window grows within
		// a round, that sums to a little less than alpha a round: about
		// 3% here. Either alpha_cubic staying below 1 or the cubic curve
		// alone would fall far short.
		if math.Abs(got-tc.want) > 0.04*tc.want {
			t.Errorf("after %d rounds: cwnd %.2f segments, want %.2f", tc.rounds, got, tc.want)
		}
		tt := now.Sub(c.epoch).Seconds()
		if cubicOnly := refW(tt+rtt.Seconds(), k, 20); got < cubicOnly+1 {
			t.Errorf("after %d rounds: cwnd %.2f is no more than the cubic curve's %.2f", tc.rounds, got, cubicOnly)
		}
	}
}

// TestCubicFastConvergence checks RFC 9438 4.7: a loss below the previous
// W_max remembers less than the window, (1 + beta_cubic)/2 of it.
func TestCubicFastConvergence(t *testing.T) {
	const mss = 1000
	c := new(cubic)
	c.Init(mss, 0, ccT0)
	now := ccT0
	for _, tc := range []struct {
		cwnd, inFlight int     // at the loss, segments
		wMax, ssthresh float64 // after it, segments
	}{
		{1000, 1000, 1000, 700},     // first loss: W_max = cwnd
		{900, 900, 900 * 0.85, 630}, // below W_max: fast convergence
		{700, 600, 700 * 0.85, 420}, // again; ssthresh from FlightSize
		{1100, 1100, 1100, 770},     // above W_max: remember cwnd
		{1100, 1100, 1100, 770},     // equal: remember cwnd
		{2, 2, 2 * 0.85, 2},         // ssthresh floor of 2 segments
	} {
		c.setWindow(tc.cwnd*mss, c.Ssthresh())
		c.OnEnterRecovery(tc.inFlight*mss, now)
		if math.Abs(c.wMax/mss-tc.wMax) > 1e-9 || c.Ssthresh() != int(tc.ssthresh*mss) || c.CWND() != c.Ssthresh() {
			t.Errorf("loss at %d (flight %d): W_max %.2f ssthresh %d cwnd %d; want %.2f, %.0f",
				tc.cwnd, tc.inFlight, c.wMax/mss, c.Ssthresh()/mss, c.CWND()/mss, tc.wMax, tc.ssthresh)
		}
		if c.cwndPrior != float64(tc.cwnd*mss) {
			t.Errorf("loss at %d: cwnd_prior %.0f", tc.cwnd, c.cwndPrior/mss)
		}
		c.OnExitRecovery(now)
		now = now.Add(time.Second)
		c.OnAck(Ack{Acked: mss, InFlight: c.CWND()}, now)
		if want := refK(tc.wMax, tc.ssthresh); tc.wMax > tc.ssthresh && math.Abs(c.k-want) > 1e-9 {
			t.Errorf("loss at %d: K %.6f, want %.6f", tc.cwnd, c.k, want)
		}
	}
}

// TestCubicTimeout checks RFC 9438 4.8: after a retransmission timeout
// cwnd is one segment and ssthresh flight_size*beta_cubic; the first
// congestion avoidance stage after the slow start that follows has K = 0
// and W_max = W_est = cwnd_epoch.
func TestCubicTimeout(t *testing.T) {
	const mss = 1000
	const rtt = 20 * time.Millisecond
	c, now := cubicAfterLoss(mss, 100, rtt)
	now = ackClock(c, mss, now, rtt, 50)
	c.OnTimeout(120*mss, now)
	if c.CWND() != mss || c.Ssthresh() != 84*mss {
		t.Fatalf("after timeout: cwnd %d ssthresh %d, want 1 and 84 segments", c.CWND()/mss, c.Ssthresh()/mss)
	}
	// Slow start after a timeout: RFC 3465 2.3's L = 1.
	c.OnAck(Ack{Acked: 3 * mss, InFlight: mss}, now)
	if c.CWND() != 2*mss {
		t.Fatalf("stretch ACK in slow start after timeout: cwnd %d, want 2 segments", c.CWND()/mss)
	}
	for c.CWND() < c.Ssthresh() {
		now = now.Add(time.Millisecond)
		c.OnAck(Ack{Acked: mss, InFlight: c.CWND(), RTT: rtt}, now)
	}
	if c.inEpoch {
		t.Fatal("congestion avoidance began in slow start")
	}
	now = now.Add(time.Millisecond)
	c.OnAck(Ack{Acked: mss, InFlight: c.CWND(), RTT: rtt}, now)
	if !c.inEpoch || c.k != 0 || c.wMax != c.cwndEpoch || c.cwndEpoch != float64(c.Ssthresh()) {
		t.Fatalf("first stage after timeout: K %v W_max %.0f cwnd_epoch %.0f ssthresh %d", c.k, c.wMax, c.cwndEpoch, c.Ssthresh())
	}
	// W_est started at cwnd_epoch and has taken one ACK.
	if want := c.cwndEpoch + (3*(1-0.7)/(1+0.7))*mss*mss/c.cwndEpoch; math.Abs(c.wEst-want) > 1e-6 {
		t.Fatalf("W_est %.3f, want %.3f", c.wEst, want)
	}
	// With K = 0 the curve leaves cwnd_epoch as slowly as it can, so
	// W_est, from cwnd_epoch, sets the pace: alpha_cubic a round trip.
	ackClock(c, mss, now, rtt, 10)
	if got := float64(c.CWND()-c.Ssthresh()) / mss; got < 4.5 || got > 6 {
		t.Errorf("10 round trips into the stage cwnd grew %.1f segments, want about 10*alpha_cubic = 5.3", got)
	}
}

// TestCubicApplicationLimited checks that t leaves out time in which the
// sender was not limited by cwnd (RFC 9438 4.2, 5.8): a flow that paused
// for ten seconds in congestion avoidance resumes where the curve left
// off, like one that never paused.
func TestCubicApplicationLimited(t *testing.T) {
	const mss = 1000
	const rtt = 50 * time.Millisecond
	paused, now1 := cubicAfterLoss(mss, 500, rtt)
	steady, now2 := cubicAfterLoss(mss, 500, rtt)
	now1 = ackClock(paused, mss, now1, rtt, 20)
	now2 = ackClock(steady, mss, now2, rtt, 20)
	if paused.CWND() != steady.CWND() {
		t.Fatalf("twins differ: %d and %d", paused.CWND(), steady.CWND())
	}
	for range 200 { // ten seconds of ACKs for a small flight
		now1 = now1.Add(rtt)
		paused.OnAck(Ack{Acked: mss, InFlight: 10 * mss, RTT: rtt}, now1)
	}
	now1 = now1.Add(rtt)
	paused.OnIdle(5*time.Second, time.Minute, now1.Add(5*time.Second)) // idle, but under the RTO
	now1 = now1.Add(5 * time.Second)
	if paused.CWND() != steady.CWND() {
		t.Fatalf("application-limited ACKs moved cwnd from %d to %d", steady.CWND(), paused.CWND())
	}
	ackClock(paused, mss, now1, rtt, 20)
	ackClock(steady, mss, now2, rtt, 20)
	if d := paused.CWND() - steady.CWND(); d < -2*mss || d > 2*mss {
		t.Errorf("after the pause cwnd %d, without it %d", paused.CWND(), steady.CWND())
	}
}

// TestCubicIdleRestart checks that a restart after idle longer than the
// RTO reduces the window and begins a new stage aimed at the old W_max.
func TestCubicIdleRestart(t *testing.T) {
	const mss = 1000
	const rtt = 50 * time.Millisecond
	c, now := cubicAfterLoss(mss, 100, rtt)
	now = ackClock(c, mss, now, rtt, 10)
	cwnd := c.CWND()
	now = now.Add(time.Second)
	c.OnIdle(time.Second, 300*time.Millisecond, now) // three halvings, floored at IW
	if c.inEpoch || c.CWND() != max(cwnd/8, 10*mss) || c.Ssthresh() != max(70*mss, cwnd/2+cwnd/4) {
		t.Fatalf("restart: cwnd %d ssthresh %d from %d", c.CWND(), c.Ssthresh(), cwnd)
	}
	for c.CWND() < c.Ssthresh() {
		now = now.Add(time.Millisecond)
		c.OnAck(Ack{Acked: mss, InFlight: c.CWND(), RTT: rtt}, now)
	}
	now = now.Add(time.Millisecond)
	c.OnAck(Ack{Acked: mss, InFlight: c.CWND(), RTT: rtt}, now)
	if !c.inEpoch || c.wMax != 100*mss || math.Abs(c.k-refK(100, c.cwndEpoch/mss)) > 1e-9 {
		t.Fatalf("stage after restart: W_max %.0f K %.3f", c.wMax/mss, c.k)
	}
}

// hystartRun drives the first slow start of a CUBIC for the given round
// RTTs, and returns it.
func hystartRun(rtts []time.Duration) *cubic {
	c := new(cubic)
	c.Init(1000, 0, ccT0)
	ackRounds(c, 1000, 1, ccT0, func(r int) time.Duration { return rtts[r] }, len(rtts))
	return c
}

// TestHyStart checks HyStart++ (RFC 9406 4.2): slow start is left for
// Conservative Slow Start when a round's minimum RTT rises by RttThresh,
// CSS grows a quarter as fast, and after CSS_ROUNDS rounds congestion
// avoidance begins with ssthresh = cwnd; an RTT that falls back resumes
// slow start.
func TestHyStart(t *testing.T) {
	const ms = time.Millisecond
	steady := []time.Duration{100 * ms, 100 * ms, 100 * ms}
	rounds := func(d ...time.Duration) []time.Duration { return append(append([]time.Duration{}, steady...), d...) }

	// Steady RTT: plain slow start, doubling each round.
	c := hystartRun(rounds())
	if c.hs.css || !c.hs.on || c.CWND() != 80*1000 {
		t.Fatalf("steady RTT: css %v cwnd %d", c.hs.css, c.CWND())
	}

	// A rise below RttThresh = max(4 ms, min(100/8 ms, 16 ms)) = 12.5 ms.
	c = hystartRun(rounds(112 * ms))
	if c.hs.css || c.CWND() != 160*1000 {
		t.Fatalf("rise of 12 ms: css %v cwnd %d", c.hs.css, c.CWND())
	}

	// A rise of RttThresh: CSS after the 8th sample of the round.
	c = hystartRun(rounds(112500 * time.Microsecond))
	if !c.hs.css || c.hs.cssBaselineMinRTT != 112500*time.Microsecond {
		t.Fatalf("rise of 12.5 ms: css %v baseline %v", c.hs.css, c.hs.cssBaselineMinRTT)
	}
	// 80 segments at the round's start; 8 ACKs at slow start's rate, 72 at
	// CSS's quarter.
	if want := (80 + 8 + 72/4) * 1000; c.CWND() != want {
		t.Fatalf("round entering CSS: cwnd %d, want %d", c.CWND(), want)
	}
	if c.Ssthresh() != InfiniteSsthresh {
		t.Fatal("CSS set ssthresh")
	}

	// CSS for CSS_ROUNDS rounds: congestion avoidance with ssthresh = cwnd.
	high := 113 * ms
	c = hystartRun(rounds(high, high, high, high, high))
	if !c.hs.css || !c.hs.on {
		t.Fatalf("four rounds of CSS: css %v on %v", c.hs.css, c.hs.on)
	}
	c = hystartRun(rounds(high, high, high, high, high, high))
	if c.hs.on || c.Ssthresh() == InfiniteSsthresh || c.Ssthresh() > c.CWND() {
		t.Fatalf("five rounds of CSS: on %v ssthresh %d cwnd %d", c.hs.on, c.Ssthresh(), c.CWND())
	}
	// RFC 9438 4.10: cwnd_prior = cwnd and the first stage has K = 0.
	if c.cwndPrior != float64(c.Ssthresh()) || c.k != 0 || c.wMax != c.cwndEpoch {
		t.Fatalf("stage after HyStart++: cwnd_prior %.0f K %v W_max %.0f cwnd_epoch %.0f", c.cwndPrior, c.k, c.wMax, c.cwndEpoch)
	}

	// The RTT falls back below the baseline: slow start resumes.
	c = hystartRun(rounds(high, 100*ms))
	if c.hs.css || !c.hs.on || c.hs.cssBaselineMinRTT != hsInfinity {
		t.Fatalf("RTT fell back: css %v", c.hs.css)
	}

	// Thresholds are clamped to [4 ms, 16 ms].
	for _, tc := range []struct {
		base, rise time.Duration
		css        bool
	}{
		{10 * ms, 3 * ms, false}, // 10/8 = 1.25 ms, raised to 4
		{10 * ms, 4 * ms, true},
		{400 * ms, 15 * ms, false}, // 400/8 = 50 ms, lowered to 16
		{400 * ms, 16 * ms, true},
	} {
		c := hystartRun([]time.Duration{tc.base, tc.base, tc.base, tc.base + tc.rise})
		if c.hs.css != tc.css {
			t.Errorf("base %v rise %v: css %v, want %v", tc.base, tc.rise, c.hs.css, tc.css)
		}
	}

	// Loss ends HyStart++; it does not come back after a timeout.
	c = hystartRun(rounds())
	c.OnEnterRecovery(c.CWND(), ccT0)
	if c.hs.on {
		t.Fatal("HyStart++ survived a loss")
	}
	c.Init(1000, 0, ccT0)
	c.OnTimeout(10000, ccT0)
	if c.hs.on {
		t.Fatal("HyStart++ survived a timeout")
	}

	// Without sequence numbers every ACK is a round and nothing is decided.
	c = new(cubic)
	c.Init(1000, 0, ccT0)
	now := ccT0
	for i := range 1000 {
		now = now.Add(time.Millisecond)
		c.OnAck(Ack{Acked: 1000, InFlight: c.CWND(), RTT: time.Duration(100+i) * ms}, now)
	}
	if c.hs.css || c.CWND() != 1010*1000 {
		t.Fatalf("without sequence numbers: css %v cwnd %d", c.hs.css, c.CWND())
	}
}

// TestCubicSawtooth runs CUBIC through the link model on a long fat path,
// where the cubic function rather than the Reno-friendly region governs:
// the window oscillates around the BDP, each loss cuts it to 0.7 of
// FlightSize, and after each loss it climbs back to W_max in K, the time
// RFC 9438 equation 2 gives.
func TestCubicSawtooth(t *testing.T) {
	const mss = 1000
	// 5,000 packets a second, 100 ms: a BDP of 500 packets, and a
	// quarter of that in the buffer.
	s := newLinkSim(CUBIC, mss, 200*time.Microsecond, 100*time.Millisecond, 125)
	bdp, capacity := s.bdp(), s.bdp()+s.buffer
	const warmup = 10 * time.Second
	var lastWMax float64
	cycles := sawtooth(s, 100*time.Second, warmup, func(lossCWND int) float64 {
		// RFC 9438 4.7, computed here from the losses seen.
		w := float64(lossCWND)
		if w < lastWMax {
			w *= (1 + 0.7) / 2
		}
		lastWMax = w
		return w
	})
	if len(cycles) < 8 {
		t.Fatalf("%d cycles in 100 s", len(cycles))
	}
	fastConvergence, probes, plateaus := 0, 0, 0
	for i, c := range cycles {
		if c.cwndStart != c.lossFlight*7/10 {
			t.Errorf("cycle %d: cwnd %d after a loss with %d in flight, want 0.7 of it", i, c.cwndStart, c.lossFlight)
		}
		if c.cwndEnd < capacity*mss || c.cwndEnd > capacity*mss*21/20 {
			t.Errorf("cycle %d: loss at cwnd %d segments, capacity %d", i, c.cwndEnd/mss, capacity)
		}
		if c.minCWND >= bdp*mss || c.cwndEnd <= bdp*mss {
			t.Errorf("cycle %d: cwnd between %d and %d segments, not around the BDP of %d", i, c.minCWND/mss, c.cwndEnd/mss, bdp)
		}
		if c.target < float64(c.lossCWND) {
			fastConvergence++
		}
		// The window follows W_cubic(t), within the RTT (100 to 125 ms
		// here) by which it aims ahead or lags, and a segment of
		// rounding: probed on the steep part, at the midpoint between
		// cwnd_epoch and W_max (t = (1 - 2^-1/3)K), and on the plateau.
		k := refK(c.target/mss, float64(c.cwndStart)/mss)
		wMax := c.target / mss
		dur := c.end.Sub(c.start).Seconds()
		for _, p := range []float64{0.1 * k, (1 - math.Pow(2, -1.0/3)) * k, 0.5 * k, 0.8 * k, k, 1.2 * k} {
			if p > dur-0.3 {
				continue // the loss, seen a round trip late, is near
			}
			got := float64(c.cwndAt(time.Duration(p*float64(time.Second)))) / mss
			lo, hi := refW(p-0.125, k, wMax)-1, refW(p+0.125, k, wMax)+1
			probes++
			if got < lo || got > hi {
				t.Errorf("cycle %d, t = %.2f s (K = %.2f s): cwnd %.1f, W_cubic gives [%.1f, %.1f]", i, p, k, got, lo, hi)
			}
		}
		// W_max is recovered in K: the cycle outlasts K with the window
		// at W_max then, or the loss came at W_max first, W_max being
		// above what the path holds.
		if dur > k+0.3 {
			plateaus++
			if got := float64(c.cwndAt(time.Duration(k*float64(time.Second)))) / mss; math.Abs(got-wMax) > 2 {
				t.Errorf("cycle %d: cwnd %.1f at K = %.2f s, W_max %.1f", i, got, k, wMax)
			}
		} else if got := float64(c.cwndEnd) / mss; got < 0.99*wMax || wMax < float64(capacity) {
			t.Errorf("cycle %d: ended after %.2f s, before K = %.2f s, at %.1f below W_max %.1f", i, dur, k, got, wMax)
		}
	}
	// A lone flow sees its losses at about the same window, so every
	// other loss comes a little below the last W_max, and fast
	// convergence lowers it.
	if fastConvergence == 0 || fastConvergence == len(cycles) {
		t.Errorf("fast convergence in %d of %d cycles", fastConvergence, len(cycles))
	}
	t.Logf("%d cycles, %d with fast convergence, %d past K; %d probes of the curve; utilisation %.4f",
		len(cycles), fastConvergence, plateaus, probes, s.utilisation())
	if plateaus == 0 || probes < 4*len(cycles) {
		t.Errorf("only %d cycles outlasted K and %d probes fell within cycles", plateaus, probes)
	}
	if n := s.timeouts(warmup); n != 0 {
		t.Errorf("%d retransmission timeouts in steady state", n)
	}
	if u := s.utilisation(); u < 0.95 {
		t.Errorf("utilisation %.3f", u)
	}
}

// TestCubicNoWorseThanReno runs both algorithms through a short path
// with a small buffer, where Reno leaves the link idle after each
// halving. CUBIC's smaller reduction and its Reno-friendly region must
// use it at least as well (RFC 9438 4.3: "at least the same throughput
// as Reno").
func TestCubicNoWorseThanReno(t *testing.T) {
	util := map[Algorithm]float64{}
	for _, alg := range ccAlgorithms {
		s := newLinkSim(alg, 1000, time.Millisecond, 20*time.Millisecond, 5)
		s.run(60 * time.Second)
		util[alg] = s.utilisation()
		if n := s.timeouts(5 * time.Second); n != 0 {
			t.Errorf("%v: %d timeouts", alg, n)
		}
	}
	t.Logf("utilisation: cubic %.3f, reno %.3f", util[CUBIC], util[NewReno])
	if util[CUBIC] < util[NewReno] || util[NewReno] > 0.95 {
		t.Errorf("utilisation: cubic %.3f, reno %.3f", util[CUBIC], util[NewReno])
	}
}
