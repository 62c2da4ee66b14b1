package tcp

import (
	"math"
	"time"
)

// Linux's bounds of the retransmission timeout, which NewRTO uses for
// zero arguments.
const (
	// DefaultRTOMin is the floor of the timeout, Linux's TCP_RTO_MIN. RFC
	// 6298 2.4 asks for 1 s; Linux, and so stacknet, use 200 ms, as every
	// widely deployed stack now does on today's networks.
	DefaultRTOMin = 200 * time.Millisecond

	// DefaultRTOMax is the ceiling of the timeout, Linux's TCP_RTO_MAX.
	// RFC 6298 2.5 allows any ceiling of at least 60 s.
	DefaultRTOMax = 120 * time.Second

	// DefaultRTOInitial is the timeout before any RTT has been measured
	// (RFC 6298 2.1), Linux's TCP_TIMEOUT_INIT.
	DefaultRTOInitial = time.Second
)

// rtoGranularity is G, the clock granularity of RFC 6298 2: the timeout
// exceeds SRTT by at least this much however steady the RTT.
const rtoGranularity = time.Millisecond

// RTO estimates a connection's retransmission timeout from its
// round-trip time measurements (RFC 6298): the smoothed RTT, its mean
// deviation, and the exponential backoff after a timeout. It reads no
// clock: the caller measures each RTT and passes it to Sample, arms its
// retransmission timer for Timeout, and calls Backoff when the timer
// expires.
//
// Which measurements to pass is the caller's business. Karn's algorithm
// (RFC 6298 3) forbids measuring a segment that was retransmitted, whose
// ACK could belong to either transmission; the exception is a
// measurement from the Timestamps option, whose echoed TSval names the
// transmission that arrived (RFC 6298 3, RFC 7323 4). Like Linux, the
// estimator weighs every sample alike: RFC 7323 Appendix G's smaller
// gains for many samples a round trip are not applied.
//
// One deliberate difference from Linux: Linux floors the variance term,
// so its timeout is at least SRTT + 200 ms, while here, as in RFC 6298
// 2.4, the floor applies to the whole timeout, so it is at least 200 ms.
//
// The zero RTO is ready to use with Linux's bounds, like NewRTO(0, 0, 0).
type RTO struct {
	min, max, initial time.Duration // 0 for the defaults

	srtt     time.Duration // SRTT
	rttvar   time.Duration // RTTVAR
	rto      time.Duration // SRTT + max(G, K*RTTVAR), before clamping and backoff
	backoffs int
	sampled  bool
}

// NewRTO returns an estimator whose timeout stays within [min, max] and
// starts at initial. A zero or negative argument means Linux's value
// (DefaultRTOMin, DefaultRTOMax, DefaultRTOInitial); a max below min is
// raised to min. After the SYN or SYN-ACK was retransmitted and no RTT
// was measured, RFC 6298 5.7 starts data transfer with initial = 3 s.
func NewRTO(min, max, initial time.Duration) RTO {
	return RTO{min: min, max: max, initial: initial}
}

// bounds returns min and max with the defaults filled in.
func (r *RTO) bounds() (lo, hi time.Duration) {
	lo, hi = r.min, r.max
	if lo <= 0 {
		lo = DefaultRTOMin
	}
	if hi <= 0 {
		hi = DefaultRTOMax
	}
	return lo, max(hi, lo)
}

// Sample takes one round-trip time measurement into the estimate (RFC
// 6298 2.2, 2.3) and clears the backoff: a new measurement collapses a
// backed-off timeout (RFC 6298 5, after rule 5.7). A negative rtt is
// ignored.
//
// The first measurement R sets SRTT = R and RTTVAR = R/2; each later one
// R' sets RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'| and then SRTT = 7/8 SRTT +
// 1/8 R' (alpha = 1/8, beta = 1/4). Either way RTO = SRTT + max(G,
// 4*RTTVAR), with G = 1 ms.
func (r *RTO) Sample(rtt time.Duration) {
	if rtt < 0 {
		return
	}
	if !r.sampled {
		r.srtt = rtt
		r.rttvar = rtt / 2
		r.sampled = true
	} else {
		// RTTVAR first, with the old SRTT (RFC 6298 2.3). Written as
		// increments, none of which can overflow.
		delta := r.srtt - rtt
		if delta < 0 {
			delta = -delta
		}
		r.rttvar += (delta - r.rttvar) / 4
		r.srtt += (rtt - r.srtt) / 8
	}
	const k = 4
	variance := rtoGranularity
	if r.rttvar > variance/k {
		variance = r.rttvar * k
		if r.rttvar > math.MaxInt64/k {
			variance = math.MaxInt64
		}
	}
	r.rto = r.srtt + variance
	if r.rto < r.srtt { // overflow
		r.rto = math.MaxInt64
	}
	r.backoffs = 0
}

// Timeout returns the retransmission timeout: the estimate (or the initial
// value before any measurement, RFC 6298 2.1), raised to min (2.4),
// doubled for each Backoff since the last Sample (5.5), and limited to
// max (2.5).
func (r *RTO) Timeout() time.Duration {
	lo, hi := r.bounds()
	d := r.rto
	if !r.sampled {
		d = r.initial
		if d <= 0 {
			d = DefaultRTOInitial
		}
	}
	d = min(max(d, lo), hi)
	for i := 0; i < r.backoffs && d < hi; i++ {
		if d > hi/2 {
			return hi
		}
		d *= 2
	}
	return d
}

// Backoff doubles the timeout, after the retransmission timer expired
// (RFC 6298 5.5), until the next Sample. The timeout stops at max, but
// Backoffs keeps counting, for the caller's limit on retransmissions.
func (r *RTO) Backoff() {
	if r.backoffs < math.MaxInt {
		r.backoffs++
	}
}

// SRTT returns the smoothed round-trip time, 0 before any Sample.
func (r *RTO) SRTT() time.Duration { return r.srtt }

// RTTVar returns the round-trip time variation, 0 before any Sample.
func (r *RTO) RTTVar() time.Duration { return r.rttvar }

// HasSample reports whether any round-trip time has been measured.
func (r *RTO) HasSample() bool { return r.sampled }

// Backoffs returns how many times Backoff was called since the last
// Sample: the number of consecutive expirations of the retransmission
// timer.
func (r *RTO) Backoffs() int { return r.backoffs }
