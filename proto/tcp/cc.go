package tcp

import (
	"math"
	"time"
)

// Congestion control (cc.go, newreno.go, cubic.go).
//
// A CongestionControl decides how much data a connection may have in
// flight: the congestion window, cwnd, and the slow start threshold,
// ssthresh (RFC 5681 2, 3.1). It is a pure component like the rest of
// the package: the TCP state machine tells it what happened (an ACK
// that advanced SND.UNA, loss detected by duplicate ACKs or SACK, a
// retransmission timeout, a restart after idle) and the time, and reads
// CWND back. It owns no timer, reads no clock, starts no goroutine and
// never allocates once made.
//
// The division of labour follows Linux's: the congestion control owns
// cwnd outside loss recovery and the size of the reduction when loss is
// detected, while the state machine owns loss detection and what to send
// during recovery. On entering recovery the window drops to ssthresh and
// stays there until recovery ends (RFC 6675 5 step 4.2, RFC 9438 4.6);
// the machine sends while its estimate of the data in the network (RFC
// 6675's pipe, or for a peer without SACK, FlightSize less one SMSS per
// duplicate ACK, which is RFC 5681 3.2's and RFC 6582 3.2's inflation
// and deflation written the other way round) is below CWND, or paces the
// reduction with Proportional Rate Reduction (RFC 6937) towards Ssthresh.
// No ACK that arrives during recovery reaches the congestion control.
//
// Every window is counted in bytes, and growth uses Appropriate Byte
// Counting (RFC 3465): the bytes an ACK acknowledges, not the ACK
// itself. The window grows only while the connection is limited by cwnd
// rather than by the application or the receiver (RFC 9438 5.8, Linux's
// tcp_is_cwnd_limited), so an idle or application-limited connection
// cannot build a window it never used (RFC 7661).
//
// Two algorithms are provided:
//
//   - NewReno (newreno.go): RFC 5681 slow start (with RFC 3465's L =
//     2*SMSS, 1*SMSS after a timeout) and congestion avoidance (one SMSS
//     per window of bytes acknowledged), and the RFC 5681 / RFC 6582
//     responses to loss (ssthresh = max(FlightSize/2, 2*SMSS)) and to a
//     timeout (cwnd = 1 SMSS).
//   - CUBIC (cubic.go), the default, as in Linux: RFC 9438, with
//     W_cubic(t) = C*(t-K)^3 + W_max, C = 0.4, beta_cubic = 0.7 (so
//     ssthresh = max(0.7*FlightSize, 2*SMSS)), fast convergence, the
//     Reno-friendly region, the timeout rule of 4.8, and HyStart++ (RFC
//     9406) in the first slow start, where Linux uses HyStart++'s
//     predecessor, hybrid slow start.
//
// Both restart an idle connection as Linux does with
// net.ipv4.tcp_slow_start_after_idle = 1 (RFC 5681 4.1, halving per RTO
// idle as in RFC 2861), and keep cwnd the same number of segments when
// the MSS changes, as Linux does by counting cwnd in packets.
//
// Left out: ECN (RFC 3168, RFC 8511) has no response of its own; a
// caller can treat ECN-Echo as loss, calling OnEnterRecovery and
// OnExitRecovery once a window (RFC 3168 6.1.2), though RFC 9438 4.6
// would let CUBIC go below 2*SMSS for it. Undoing a reduction found
// spurious (RFC 9438 4.9, RFC 4015, F-RTO RFC 5682, DSACK RFC 3708) is
// not offered. There is no pacing, so HyStart++ runs with its non-paced
// limit L = 8 segments.

// Algorithm names a congestion control algorithm.
type Algorithm uint8

// The algorithms NewCongestionControl makes.
const (
	CUBIC   Algorithm = iota // RFC 9438, the default, as in Linux
	NewReno                  // RFC 5681 and RFC 6582
)

// String returns the algorithm's name as Linux spells it in
// net.ipv4.tcp_congestion_control and TCP_CONGESTION: "cubic" or "reno".
func (a Algorithm) String() string {
	switch a {
	case CUBIC:
		return "cubic"
	case NewReno:
		return "reno"
	}
	return "unknown"
}

// ParseAlgorithm returns the algorithm Linux calls name ("cubic" or
// "reno"), and false for any other name.
func ParseAlgorithm(name string) (Algorithm, bool) {
	switch name {
	case "cubic":
		return CUBIC, true
	case "reno":
		return NewReno, true
	}
	return 0, false
}

// NewCongestionControl returns a new instance of alg, ready for Init.
// An Algorithm other than the constants above gets CUBIC.
func NewCongestionControl(alg Algorithm) CongestionControl {
	if alg == NewReno {
		return new(reno)
	}
	return new(cubic)
}

// InfiniteSsthresh is ssthresh before the first congestion event: "set
// arbitrarily high (e.g., to the size of the largest possible advertised
// window)" (RFC 5681 3.1). It is Linux's TCP_INFINITE_SSTHRESH.
const InfiniteSsthresh = math.MaxInt32

// maxCWND caps the window at the largest window a peer can advertise,
// 2^30 octets (RFC 7323 2.3): more could never be used, and the cap keeps
// the arithmetic on windows far from overflow, even in a 32-bit int.
const maxCWND = 1 << 30

// InitialWindow is the initial window for a sender maximum segment size
// (RFC 6928 2): min(10*MSS, max(2*MSS, 14600)) bytes, ten segments of up
// to 1460 bytes. Linux instead uses ten segments whatever the MSS
// (TCP_INIT_CWND), which is more for an MSS above 1460.
func InitialWindow(mss int) int {
	return min(10*mss, max(2*mss, 14600))
}

// Ack describes an acknowledgment that advanced SND.UNA outside loss
// recovery, for CongestionControl.OnAck.
type Ack struct {
	// Acked is the number of bytes newly acknowledged: how far this ACK
	// moved SND.UNA (RFC 3465 2: the bytes, not the segments). An Ack
	// with Acked <= 0 is ignored.
	Acked int

	// InFlight is the data outstanding just before this ACK: FlightSize
	// (RFC 5681 2), or RFC 6675's pipe where SACK is in use. The window
	// grows only when InFlight shows it was the limit (RFC 9438 5.8, RFC
	// 7661): in slow start when InFlight is more than half of cwnd, in
	// congestion avoidance when less than one SMSS of cwnd was unused.
	InFlight int

	// RTT is the round-trip time measured from this ACK under Karn's rule
	// or from the Timestamps option (RFC 6298 3, RFC 7323 4), or 0 when
	// the ACK gives none.
	RTT time.Duration

	// SndUna and SndNxt are SND.UNA after this ACK and SND.NXT before
	// anything is sent in answer to it (RFC 9293 3.3.1). HyStart++ counts
	// rounds with them (RFC 9406 4.2): a round ends when SND.UNA passes
	// the SND.NXT recorded when it began. With both left zero there is
	// only ever one round and HyStart++ never leaves slow start early,
	// which is plain RFC 5681 slow start.
	SndUna, SndNxt Seq
}

// CongestionControl is a congestion control algorithm for one
// connection. Each method is called by the connection's state machine
// with the current time; none of them blocks, reads a clock or
// allocates. Windows are in bytes.
type CongestionControl interface {
	// Init starts the algorithm when the connection is established, with
	// the sender maximum segment size (SMSS, RFC 5681 2) and an initial
	// window iw in bytes. iw <= 0 means InitialWindow(mss) (RFC 6928);
	// after the SYN or SYN-ACK was retransmitted the caller passes mss,
	// one segment (RFC 5681 3.1, RFC 6928 2). ssthresh starts at
	// InfiniteSsthresh. Init may be called again to start afresh.
	Init(mss, iw int, now time.Time)

	// OnAck grows the window for an ACK that advanced SND.UNA, in slow
	// start while cwnd < ssthresh and in congestion avoidance after (RFC
	// 5681 3.1). It is not called for duplicate ACKs, nor for ACKs during
	// loss recovery, including the one that ends it (see OnExitRecovery).
	OnAck(a Ack, now time.Time)

	// OnEnterRecovery is called once when loss detected by duplicate ACKs
	// or SACK starts fast retransmit and loss recovery (RFC 5681 3.2 step
	// 2, RFC 6582 3.2 step 2, RFC 6675 5 step 4), with FlightSize before
	// the retransmission. It sets ssthresh from inFlight and cwnd to
	// ssthresh, never below 2*SMSS: FlightSize/2 for NewReno (RFC 5681
	// equation 4), FlightSize*0.7 for CUBIC (RFC 9438 4.6). Further loss
	// in the same window of data is part of the same recovery and is not
	// reported (RFC 6582 3.2: "recover").
	OnEnterRecovery(inFlight int, now time.Time)

	// OnExitRecovery is called for the full ACK that ends recovery, the
	// one that acknowledges all data outstanding when it began (RFC 6582
	// 3.2 step 3). It sets cwnd to ssthresh: the second of RFC 6582's
	// choices, and Linux's. The caller should not send what that allows
	// in one burst.
	OnExitRecovery(now time.Time)

	// OnTimeout is called when the retransmission timer expires (RFC 6298
	// 5.4-5.6), with FlightSize before the retransmission. It sets cwnd
	// to one SMSS, the loss window (RFC 5681 3.1), and ssthresh to
	// max(FlightSize/2, 2*SMSS) (RFC 5681 equation 4; FlightSize*0.7 for
	// CUBIC, RFC 9438 4.8). The reduction is made once per congestion
	// episode: a timeout during recovery, or a second one with no OnAck
	// in between, keeps ssthresh (RFC 5681 3.1: it "is held constant"),
	// and ends recovery. Slow start follows.
	OnTimeout(inFlight int, now time.Time)

	// OnIdle is called when the connection is about to send new data with
	// nothing in flight, idle being the time since it last sent data and
	// rto the current retransmission timeout (RTO.Timeout). When idle
	// exceeds rto the window restarts as Linux's
	// tcp_slow_start_after_idle does (RFC 5681 4.1, RFC 2861 3): ssthresh
	// rises to at least 3/4 of cwnd, and cwnd is halved for every further
	// rto of idleness, down to no less than the restart window
	// min(IW, cwnd). CUBIC also takes the idle time out of its clock
	// (RFC 9438 5.8), however short it was.
	OnIdle(idle, rto time.Duration, now time.Time)

	// SetMSS changes the SMSS, after a change of path MTU (RFC 1191, RFC
	// 8899). cwnd and ssthresh keep the same number of segments, as in
	// Linux, which counts them in packets.
	SetMSS(mss int)

	// CWND is the congestion window in bytes: the most data the sender
	// may have in flight (RFC 5681 2).
	CWND() int

	// Ssthresh is the slow start threshold in bytes, InfiniteSsthresh
	// until the first congestion event (RFC 5681 3.1).
	Ssthresh() int

	// Algorithm is the algorithm, for TCP_CONGESTION.
	Algorithm() Algorithm
}

// window is the state and the rules NewReno and CUBIC share: RFC 5681
// slow start with RFC 3465 byte counting, the timeout and idle-restart
// rules, and the bookkeeping of recovery.
type window struct {
	mss      int // SMSS
	iw       int // the initial window, for the restart window (RFC 5681 4.1)
	cwnd     int
	ssthresh int

	recovery bool // between OnEnterRecovery and OnExitRecovery or OnTimeout
	timedOut bool // OnTimeout with no OnAck since: hold ssthresh (RFC 5681 3.1)
	afterRTO bool // in the slow start that follows a timeout (RFC 3465 2.3)
}

// init sets the window up for a new connection.
func (w *window) init(mss, iw int) {
	mss = max(mss, 1)
	if iw <= 0 {
		iw = InitialWindow(mss)
	}
	*w = window{
		mss:      mss,
		iw:       min(max(iw, mss), maxCWND),
		ssthresh: InfiniteSsthresh,
	}
	w.cwnd = w.iw
}

// CWND returns the congestion window in bytes.
func (w *window) CWND() int { return w.cwnd }

// Ssthresh returns the slow start threshold in bytes.
func (w *window) Ssthresh() int { return w.ssthresh }

// inSlowStart reports whether slow start applies: cwnd < ssthresh (RFC
// 5681 3.1 leaves cwnd == ssthresh to the implementation; this is
// Linux's choice).
func (w *window) inSlowStart() bool { return w.cwnd < w.ssthresh }

// cwndLimited reports whether the window, rather than the application or
// the receiver, limited the sender with inFlight bytes outstanding (RFC
// 9438 5.8, RFC 7661). In slow start the window may grow while inFlight
// is more than half of it, because it doubles each round trip (Linux's
// tcp_is_cwnd_limited); otherwise only while no room for another
// full-sized segment was left unused.
func (w *window) cwndLimited(inFlight int) bool {
	if w.inSlowStart() && inFlight > w.cwnd/2 {
		return true
	}
	return inFlight > w.cwnd-w.mss
}

// slowStart grows cwnd for acked bytes acknowledged in slow start (RFC
// 5681 3.1 equation 2 with RFC 3465 2.2: cwnd += min(N, L*SMSS), L being
// limit segments), not beyond ssthresh. It returns the acknowledged bytes
// left over once cwnd reached ssthresh, which belong to congestion
// avoidance.
func (w *window) slowStart(acked, limit int) (rest int) {
	room := w.ssthresh - w.cwnd
	if acked > room {
		rest = acked - room
		acked = room
	}
	w.grow(min(acked, limit*w.mss))
	if !w.inSlowStart() {
		w.afterRTO = false
	}
	return rest
}

// slowStartLimit is L of RFC 3465 2.2 in segments: 2, but 1 in the slow
// start after a retransmission timeout, when one ACK can cover segments
// the receiver held out of order (RFC 3465 2.3).
func (w *window) slowStartLimit() int {
	if w.afterRTO {
		return 1
	}
	return 2
}

// grow adds n bytes to cwnd, up to maxCWND.
func (w *window) grow(n int) {
	if n > 0 {
		w.cwnd += min(n, maxCWND-w.cwnd)
	}
}

// reduce starts recovery with the given ssthresh, floored at 2*SMSS, and
// sets cwnd to it (RFC 5681 3.2 step 2, RFC 6675 5 step 4.2).
func (w *window) reduce(ssthresh int) {
	w.ssthresh = max(ssthresh, 2*w.mss)
	w.cwnd = w.ssthresh
	w.recovery = true
	w.afterRTO = false
}

// timeout applies RFC 5681 3.1 to a retransmission timeout: ssthresh set
// from the given value unless this episode already reduced it, and cwnd
// set to the loss window, one SMSS. It reports whether ssthresh was set.
func (w *window) timeout(ssthresh int) bool {
	first := !w.recovery && !w.timedOut
	if first {
		w.ssthresh = max(ssthresh, 2*w.mss)
	}
	w.cwnd = w.mss
	w.recovery = false
	w.timedOut = true
	w.afterRTO = true
	return first
}

// restart applies Linux's restart after idle (RFC 5681 4.1, RFC 2861 3)
// when idle exceeds rto, and reports whether cwnd was reduced.
func (w *window) restart(idle, rto time.Duration) bool {
	if w.recovery || rto <= 0 || idle <= rto {
		return false
	}
	// ssthresh remembers 3/4 of the window being given up, so that slow
	// start climbs quickly back to most of it.
	w.ssthresh = max(w.ssthresh, w.cwnd/2+w.cwnd/4)
	rw := min(w.iw, w.cwnd) // RFC 5681 4.1: RW = min(IW, cwnd)
	cwnd := w.cwnd
	for idle -= rto; idle > 0 && cwnd > rw; idle -= rto {
		cwnd /= 2
	}
	cwnd = max(cwnd, rw)
	reduced := cwnd < w.cwnd
	w.cwnd = cwnd
	return reduced
}

// setMSS changes the SMSS, scaling cwnd, ssthresh and the initial window
// to keep the same number of segments, and returns the ratio new/old for
// an algorithm's own byte counts.
func (w *window) setMSS(mss int) float64 {
	mss = max(mss, 1)
	old := w.mss
	if old <= 0 || mss == old {
		w.mss = mss
		return 1
	}
	scale := func(n int) int {
		return int(min(int64(n)*int64(mss)/int64(old), maxCWND))
	}
	w.mss = mss
	w.cwnd = max(scale(w.cwnd), mss)
	w.iw = max(scale(w.iw), mss)
	if w.ssthresh != InfiniteSsthresh {
		w.ssthresh = max(scale(w.ssthresh), 2*mss)
	}
	return float64(mss) / float64(old)
}
