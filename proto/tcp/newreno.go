package tcp

import "time"

// reno is NewReno congestion control: RFC 5681 slow start and congestion
// avoidance with Appropriate Byte Counting (RFC 3465), and the window
// half of RFC 6582's fast recovery. Linux calls it "reno".
type reno struct {
	window
	bytesAcked int // RFC 3465 2.1: bytes acknowledged towards the next SMSS of growth
}

// Init implements CongestionControl.
func (r *reno) Init(mss, iw int, _ time.Time) {
	*r = reno{}
	r.init(mss, iw)
}

// Algorithm implements CongestionControl.
func (r *reno) Algorithm() Algorithm { return NewReno }

// OnAck implements CongestionControl.
func (r *reno) OnAck(a Ack, _ time.Time) {
	if a.Acked <= 0 || r.recovery {
		return
	}
	r.timedOut = false
	if !r.cwndLimited(a.InFlight) {
		return
	}
	acked := min(a.Acked, maxCWND) // no ACK covers more than a window
	if r.inSlowStart() {
		// RFC 5681 3.1 equation 2 with RFC 3465 2.2: cwnd += min(N, L*SMSS).
		acked = r.slowStart(acked, r.slowStartLimit())
		if acked == 0 {
			return
		}
	}
	// RFC 3465 2.1: congestion avoidance counts the bytes acknowledged,
	// and when they reach cwnd, cwnd grows by one SMSS: one segment per
	// round trip (RFC 5681 3.1 equation 3) however the ACKs are spaced.
	r.bytesAcked += acked
	if r.bytesAcked >= r.cwnd {
		// At most one SMSS per ACK; what is left over is carried, up to a
		// window's worth.
		r.bytesAcked = min(r.bytesAcked-r.cwnd, r.cwnd)
		r.grow(r.mss)
	}
}

// OnEnterRecovery implements CongestionControl: RFC 5681 3.2 step 2 and
// equation 4, ssthresh = max(FlightSize/2, 2*SMSS), and cwnd = ssthresh
// (RFC 6675 5 step 4.2).
func (r *reno) OnEnterRecovery(inFlight int, _ time.Time) {
	r.reduce(inFlight / 2)
	r.bytesAcked = 0
}

// OnExitRecovery implements CongestionControl: RFC 6582 3.2 step 3,
// cwnd = ssthresh.
func (r *reno) OnExitRecovery(_ time.Time) {
	if !r.recovery {
		return
	}
	r.recovery = false
	r.cwnd = r.ssthresh
	r.bytesAcked = 0
}

// OnTimeout implements CongestionControl: RFC 5681 3.1, ssthresh =
// max(FlightSize/2, 2*SMSS) and cwnd = 1 SMSS.
func (r *reno) OnTimeout(inFlight int, _ time.Time) {
	r.timeout(inFlight / 2)
	r.bytesAcked = 0
}

// OnIdle implements CongestionControl.
func (r *reno) OnIdle(idle, rto time.Duration, _ time.Time) {
	if r.restart(idle, rto) {
		r.bytesAcked = 0
	}
}

// SetMSS implements CongestionControl.
func (r *reno) SetMSS(mss int) {
	f := r.setMSS(mss)
	r.bytesAcked = int(float64(r.bytesAcked) * f)
}
