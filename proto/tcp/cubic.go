package tcp

import (
	"math"
	"time"
)

// The constants of RFC 9438 4.1.1.
const (
	cubicC     = 0.4 // C, segments per second cubed
	cubicBeta  = 0.7 // beta_cubic, the multiplicative decrease
	cubicAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)
)

// cubicReduce returns flight * beta_cubic in whole bytes, computed
// exactly as 7/10 in integers: in floating point 90 * 0.7 is
// 62.99999999999999, one byte short once truncated.
func cubicReduce(flight int) int {
	flight = min(max(flight, 0), math.MaxInt32) // no flight exceeds the sequence space
	return int(int64(flight) * 7 / 10)
}

// cubic is CUBIC congestion control (RFC 9438), Linux's default, with
// HyStart++ (RFC 9406) in its first slow start.
//
// The RFC counts windows in segments; here they are bytes, so W_cubic(t)
// = C*SMSS*(t-K)^3 + W_max and K = cbrt((W_max - cwnd_epoch)/(C*SMSS)),
// which are the RFC's equations 1 and 2 multiplied through by SMSS. The
// curve's state is kept in float64, the window itself in whole bytes
// with the fraction carried over.
type cubic struct {
	window

	// RFC 9438 4.1.2.
	wMax      float64   // W_max, bytes; 0 while undefined
	cwndPrior float64   // cwnd_prior, bytes
	k         float64   // K, seconds
	epoch     time.Time // t_epoch, less the application-limited time since (5.8)
	inEpoch   bool      // a congestion avoidance stage has begun
	cwndEpoch float64   // cwnd_epoch, bytes
	wEst      float64   // W_est, bytes

	frac    float64       // growth not yet added to cwnd, under one byte
	lastAck time.Time     // the last ACK in congestion avoidance
	srtt    time.Duration // RTT of RFC 9438 4.2, smoothed as in RFC 6298

	hs hystart
}

// Init implements CongestionControl.
func (c *cubic) Init(mss, iw int, _ time.Time) {
	*c = cubic{}
	c.init(mss, iw)
	c.hs.start()
}

// Algorithm implements CongestionControl.
func (c *cubic) Algorithm() Algorithm { return CUBIC }

// OnAck implements CongestionControl.
func (c *cubic) OnAck(a Ack, now time.Time) {
	if a.Acked <= 0 || c.recovery {
		return
	}
	c.timedOut = false
	if a.RTT > 0 {
		// RFC 6298 2.2 and 2.3 with alpha = 1/8.
		if c.srtt == 0 {
			c.srtt = a.RTT
		} else {
			c.srtt += (a.RTT - c.srtt) / 8
		}
	}
	limited := c.cwndLimited(a.InFlight)
	acked := min(a.Acked, maxCWND) // no ACK covers more than a window
	if c.inSlowStart() {
		// RFC 9438 4.10: HyStart++ for the first slow start, RFC 5681
		// slow start for the rest.
		if c.hs.on {
			if !c.hystartAck(a, limited) || c.inSlowStart() {
				return
			}
			// HyStart++ ended slow start; this ACK begins the stage.
		} else if !limited {
			return
		} else if acked = c.slowStart(acked, c.slowStartLimit()); acked == 0 {
			return
		}
	}
	c.congestionAvoidance(acked, limited, now)
}

// congestionAvoidance grows the window for acked bytes acknowledged in
// congestion avoidance (RFC 9438 4.2-4.5).
func (c *cubic) congestionAvoidance(acked int, limited bool, now time.Time) {
	if !c.inEpoch {
		c.startEpoch(now)
	}
	if !limited {
		// RFC 9438 4.2 and 5.8: t excludes time during which the window
		// did not grow for want of data to send, so the epoch moves with
		// it.
		c.pauseClock(now.Sub(c.lastAck), now)
		c.lastAck = now
		return
	}
	c.lastAck = now
	t := now.Sub(c.epoch).Seconds()
	cwnd := float64(c.cwnd)

	// RFC 9438 4.3: the Reno-friendly estimate, in bytes as ABC asks;
	// alpha_cubic becomes 1 once W_est reaches cwnd_prior.
	alpha := cubicAlpha
	if c.wEst >= c.cwndPrior {
		alpha = 1
	}
	c.wEst += alpha * float64(acked) * float64(c.mss) / cwnd

	var add float64
	if c.wCubic(t) < c.wEst {
		// The Reno-friendly region: cwnd = W_est. This never shrinks the
		// window, which may be ahead of W_cubic(t) by up to an RTT of
		// growth towards W_cubic(t+RTT).
		add = c.wEst - cwnd
	} else {
		// The concave and convex regions (4.4, 4.5): cwnd grows by
		// (target - cwnd)/cwnd per segment acknowledged, target being
		// W_cubic(t+RTT) held within [cwnd, 1.5*cwnd] (4.2).
		target := min(max(c.wCubic(t+c.srtt.Seconds()), cwnd), 1.5*cwnd)
		add = (target - cwnd) / cwnd * float64(acked)
	}
	if add > 0 {
		c.frac += add
		n := math.Floor(c.frac)
		c.frac -= n
		c.grow(int(min(n, maxCWND)))
	}
}

// wCubic is W_cubic(t) in bytes (RFC 9438 equation 1).
func (c *cubic) wCubic(t float64) float64 {
	d := t - c.k
	return cubicC*float64(c.mss)*d*d*d + c.wMax
}

// startEpoch begins a congestion avoidance stage (RFC 9438 4.2): t_epoch
// is now, cwnd_epoch the window, W_est starts from it (4.3) and K is the
// time the curve takes from it to W_max (equation 2). With W_max
// undefined, after a timeout (4.8) or a slow start that HyStart++ ended
// without loss (4.10), or already behind the window, the curve starts
// from the window with K = 0 and W_max = cwnd_epoch.
func (c *cubic) startEpoch(now time.Time) {
	cwnd := float64(c.cwnd)
	c.inEpoch = true
	c.epoch = now
	c.lastAck = now
	c.cwndEpoch = cwnd
	c.wEst = cwnd
	c.frac = 0
	if c.wMax > cwnd {
		c.k = math.Cbrt((c.wMax - cwnd) / (cubicC * float64(c.mss)))
	} else {
		c.k = 0
		c.wMax = cwnd
	}
}

// pauseClock moves t_epoch forward by d, not beyond now, so that t leaves
// out d (RFC 9438 5.8).
func (c *cubic) pauseClock(d time.Duration, now time.Time) {
	if !c.inEpoch || d <= 0 {
		return
	}
	c.epoch = c.epoch.Add(d)
	if c.epoch.After(now) {
		c.epoch = now
	}
}

// OnEnterRecovery implements CongestionControl: RFC 9438 4.6 and 4.7.
func (c *cubic) OnEnterRecovery(inFlight int, _ time.Time) {
	cwnd := float64(c.cwnd)
	// 4.7 fast convergence: a flow whose saturation point fell releases
	// bandwidth by remembering less than it had.
	if cwnd < c.wMax {
		c.wMax = cwnd * (1 + cubicBeta) / 2
	} else {
		c.wMax = cwnd
	}
	c.cwndPrior = cwnd
	// 4.6: ssthresh = flight_size * beta_cubic, cwnd = max(ssthresh, 2).
	c.reduce(cubicReduce(inFlight))
	c.inEpoch = false
	c.hs.on = false // RFC 9406 4.2: loss ends HyStart++
}

// OnExitRecovery implements CongestionControl. The next congestion
// avoidance stage, and with it t, begins with the next ACK.
func (c *cubic) OnExitRecovery(_ time.Time) {
	if !c.recovery {
		return
	}
	c.recovery = false
	c.cwnd = c.ssthresh
	c.inEpoch = false
}

// OnTimeout implements CongestionControl: RFC 9438 4.8, Reno's response
// with ssthresh = flight_size * beta_cubic, and a first congestion
// avoidance stage afterwards with K = 0 and W_max = cwnd_epoch.
func (c *cubic) OnTimeout(inFlight int, _ time.Time) {
	cwnd := float64(c.cwnd)
	if c.timeout(cubicReduce(inFlight)) {
		c.cwndPrior = cwnd
	}
	c.wMax = 0
	c.inEpoch = false
	c.hs.on = false // RFC 9406 4.2: HyStart++ only in the first slow start
}

// OnIdle implements CongestionControl.
func (c *cubic) OnIdle(idle, rto time.Duration, now time.Time) {
	if c.recovery {
		return
	}
	if c.inEpoch {
		// RFC 9438 5.8: the idle time is not part of t. The clock has
		// counted up to the last ACK, so only what came after is taken
		// out.
		c.pauseClock(min(idle, now.Sub(c.lastAck)), now)
		c.lastAck = now
	}
	if c.restart(idle, rto) {
		// Slow start follows, and after it a new stage.
		c.inEpoch = false
	}
}

// SetMSS implements CongestionControl. The curve's byte counts scale
// with the window; K, a time, is unchanged.
func (c *cubic) SetMSS(mss int) {
	f := c.setMSS(mss)
	c.wMax *= f
	c.cwndPrior *= f
	c.cwndEpoch *= f
	c.wEst *= f
}

// The constants of HyStart++ (RFC 9406 4.3).
const (
	hsMinRTTThresh     = 4 * time.Millisecond
	hsMaxRTTThresh     = 16 * time.Millisecond
	hsMinRTTDivisor    = 8
	hsNRTTSample       = 8
	hsCSSGrowthDivisor = 4
	hsCSSRounds        = 5
	hsL                = 8 // segments; infinity for a paced sender, and this one is not
	hsInfinity         = time.Duration(math.MaxInt64)
)

// hystart is the state of HyStart++ (RFC 9406 4.2).
type hystart struct {
	on      bool // in the first slow start, which HyStart++ governs
	css     bool // in Conservative Slow Start
	started bool // a round has begun and windowEnd is set

	windowEnd          Seq
	lastRoundMinRTT    time.Duration
	currentRoundMinRTT time.Duration
	cssBaselineMinRTT  time.Duration
	rttSampleCount     int
	cssRounds          int // rounds completed in CSS
}

// start arms HyStart++ for a connection's first slow start.
func (h *hystart) start() {
	*h = hystart{
		on:                 true,
		lastRoundMinRTT:    hsInfinity,
		currentRoundMinRTT: hsInfinity,
		cssBaselineMinRTT:  hsInfinity,
	}
}

// hystartAck handles an ACK in the first slow start (RFC 9406 4.2): it
// counts rounds, grows the window by slow start's or CSS's rule, and
// moves between slow start, CSS and congestion avoidance on the round's
// minimum RTT. It reports whether congestion avoidance begins with this
// ACK, which it then leaves untouched.
func (c *cubic) hystartAck(a Ack, limited bool) (done bool) {
	h := &c.hs
	if !h.started || a.SndUna.GreaterThan(h.windowEnd) {
		// The round ended with the ACK of windowEnd; this is the first
		// ACK of the next. Starting it here rather than at that ACK, as
		// Linux's HyStart does, sets windowEnd after the sender answered
		// the last ACK of the old round, so that the new round covers
		// all the data sent in answer to the old one.
		if h.started && h.css {
			if h.cssRounds++; h.cssRounds >= hsCSSRounds {
				// CSS_ROUNDS rounds in CSS: congestion avoidance, with
				// ssthresh = cwnd. RFC 9438 4.10: cwnd_prior = cwnd, and
				// W_max, still undefined without a loss, gives the first
				// stage K = 0.
				c.ssthresh = max(c.cwnd, 2*c.mss)
				c.cwndPrior = float64(c.cwnd)
				h.on = false
				return true
			}
		}
		h.started = true
		h.windowEnd = a.SndNxt
		h.lastRoundMinRTT = h.currentRoundMinRTT
		h.currentRoundMinRTT = hsInfinity
		h.rttSampleCount = 0
	}

	if limited {
		// cwnd += min(N, L*SMSS), divided by CSS_GROWTH_DIVISOR in CSS.
		inc := min(a.Acked, hsL*c.mss)
		if h.css {
			inc /= hsCSSGrowthDivisor
		}
		c.grow(inc)
	}

	if a.RTT > 0 {
		h.currentRoundMinRTT = min(h.currentRoundMinRTT, a.RTT)
		h.rttSampleCount++
	}
	if h.rttSampleCount < hsNRTTSample {
		return false
	}
	if !h.css {
		if h.currentRoundMinRTT == hsInfinity || h.lastRoundMinRTT == hsInfinity {
			return false
		}
		// A rise of the round's minimum RTT by RttThresh ends slow start.
		thresh := max(hsMinRTTThresh, min(h.lastRoundMinRTT/hsMinRTTDivisor, hsMaxRTTThresh))
		if h.currentRoundMinRTT >= h.lastRoundMinRTT+thresh {
			h.cssBaselineMinRTT = h.currentRoundMinRTT
			h.css = true
			h.cssRounds = 0
		}
		return false
	}
	if h.currentRoundMinRTT < h.cssBaselineMinRTT {
		// The RTT fell back: leaving slow start was spurious.
		h.cssBaselineMinRTT = hsInfinity
		h.css = false
	}
	return false
}
