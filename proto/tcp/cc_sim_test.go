package tcp

import (
	"testing"
	"time"
)

// linkSim is a deterministic model of one bulk TCP flow through a
// bottleneck: a drop-tail queue of buffer packets served one packet per
// serve, behind a base round-trip time delay. The sender is a SACK sender
// in the manner of RFC 6675: every ACK tells it exactly which segment
// arrived, a segment is lost once three segments sent after it have
// arrived (DupThresh), recovery sends while pipe < cwnd, retransmitting
// before sending new data, and ends once SND.UNA passes the SND.NXT of
// its start (RFC 6582's "recover"). A retransmission timer (RFC 6298,
// with the RTO estimator) covers what recovery cannot. Everything is
// computed from the parameters: there is no randomness and no clock.
type linkSim struct {
	cc     CongestionControl
	rto    RTO
	mss    int
	serve  time.Duration // time the bottleneck takes to send one packet
	delay  time.Duration // base RTT, without queueing
	buffer int           // packets the queue holds

	now     time.Time
	lastDep time.Time // when the bottleneck finishes its last packet
	txs     []simTx   // transmissions, in the order their ACKs arrive
	txHead  int
	segs    []simSeg // per segment number
	una     int      // first segment not acknowledged
	nxt     int      // next new segment
	pipe    int      // transmissions counted in flight (RFC 6675 pipe)
	retxQ   []int    // segments marked lost and not yet retransmitted
	drops   []simDrop
	rtoAt   time.Time // zero while the timer is off

	recovery bool // fast recovery
	loss     bool // recovery after a timeout
	recover  int  // segment number recovery waits for SND.UNA to reach

	delivered int        // segments delivered, first copies only
	events    []simEvent // losses, recovery exits, timeouts
	afterAck  func(*linkSim, time.Duration)
}

type simTx struct {
	seg     int
	sent    time.Time
	at      time.Time // when its ACK arrives, or would have
	dropped bool
	retx    bool
	counted bool // in pipe
}

type simSeg struct {
	sacked bool // arrived
	queued bool // in retxQ
}

// simDrop is a dropped transmission waiting for DupThresh later arrivals
// to reveal it.
type simDrop struct {
	seg     int
	counted bool
	left    int
}

type simEventKind uint8

const (
	simLoss simEventKind = iota // OnEnterRecovery
	simExit                     // OnExitRecovery
	simRTO                      // OnTimeout
)

type simEvent struct {
	kind               simEventKind
	at                 time.Time
	flight             int // FlightSize passed to OnEnterRecovery or OnTimeout
	cwndBefore, cwndAt int // cwnd before the call, and after it
}

func newLinkSim(alg Algorithm, mss int, serve, delay time.Duration, buffer int) *linkSim {
	s := &linkSim{
		cc:     NewCongestionControl(alg),
		mss:    mss,
		serve:  serve,
		delay:  delay,
		buffer: buffer,
		now:    ccT0,
	}
	s.cc.Init(mss, 0, s.now)
	s.fill()
	return s
}

// bdp returns the bandwidth-delay product in packets.
func (s *linkSim) bdp() int { return int(s.delay / s.serve) }

// send transmits segment seg through the bottleneck.
func (s *linkSim) send(seg int, retx bool) {
	tx := simTx{seg: seg, sent: s.now, retx: retx, counted: true}
	start := s.now
	if s.lastDep.After(start) {
		start = s.lastDep
	}
	queued := int((start.Sub(s.now) + s.serve - 1) / s.serve) // waiting or in service
	if queued > s.buffer {
		tx.dropped = true
		tx.at = start.Add(s.delay)
	} else {
		s.lastDep = start.Add(s.serve)
		tx.at = s.lastDep.Add(s.delay)
	}
	s.txs = append(s.txs, tx)
	s.pipe++
	if s.rtoAt.IsZero() {
		s.rtoAt = s.now.Add(s.rto.Timeout()) // RFC 6298 5.1
	}
}

// fill sends while pipe leaves room for a full segment in cwnd,
// retransmissions first (RFC 6675 5 NextSeg).
func (s *linkSim) fill() {
	for (s.pipe+1)*s.mss <= s.cc.CWND() {
		if len(s.retxQ) > 0 {
			seg := s.retxQ[0]
			s.retxQ = s.retxQ[1:]
			s.segs[seg].queued = false
			if !s.segs[seg].sacked {
				s.send(seg, true)
			}
			continue
		}
		s.segs = append(s.segs, simSeg{})
		s.send(s.nxt, false)
		s.nxt++
	}
}

// markLost queues seg for retransmission unless it arrived or is queued.
func (s *linkSim) markLost(seg int) {
	if seg >= s.una && !s.segs[seg].sacked && !s.segs[seg].queued {
		s.segs[seg].queued = true
		s.retxQ = append(s.retxQ, seg)
	}
}

func (s *linkSim) event(kind simEventKind, flight, before int) {
	s.events = append(s.events, simEvent{kind, s.now, flight, before, s.cc.CWND()})
}

// run simulates until d has passed since the start.
func (s *linkSim) run(d time.Duration) {
	until := ccT0.Add(d)
	for {
		haveTx := s.txHead < len(s.txs)
		if !s.rtoAt.IsZero() && (!haveTx || s.rtoAt.Before(s.txs[s.txHead].at)) {
			if s.rtoAt.After(until) {
				return
			}
			s.now = s.rtoAt
			s.timeout()
			continue
		}
		if !haveTx || s.txs[s.txHead].at.After(until) {
			return
		}
		tx := s.txs[s.txHead]
		s.txHead++
		if s.txHead > 4096 && s.txHead > len(s.txs)/2 {
			s.txs = s.txs[:copy(s.txs, s.txs[s.txHead:])]
			s.txHead = 0
		}
		s.now = tx.at
		s.arrive(tx)
	}
}

// arrive processes the ACK of transmission tx, or its absence.
func (s *linkSim) arrive(tx simTx) {
	if tx.dropped {
		s.drops = append(s.drops, simDrop{tx.seg, tx.counted, 3})
		return
	}
	pipeBefore := s.pipe
	if tx.counted {
		s.pipe--
	}
	if !s.segs[tx.seg].sacked {
		s.segs[tx.seg].sacked = true
		s.delivered++
	}
	// DupThresh arrivals after a drop reveal it (RFC 6675 IsLost).
	lost := false
	kept := s.drops[:0]
	for _, d := range s.drops {
		if d.left--; d.left > 0 {
			kept = append(kept, d)
			continue
		}
		if d.counted {
			s.pipe--
		}
		s.markLost(d.seg)
		lost = true
	}
	s.drops = kept

	var rtt time.Duration
	if !tx.retx { // Karn's rule
		rtt = s.now.Sub(tx.sent)
		s.rto.Sample(rtt)
	}
	oldUna := s.una
	for s.una < s.nxt && s.segs[s.una].sacked {
		s.una++
	}
	acked := (s.una - oldUna) * s.mss
	if acked > 0 {
		s.rtoAt = s.now.Add(s.rto.Timeout()) // RFC 6298 5.3
		if s.una == s.nxt {
			s.rtoAt = time.Time{} // RFC 6298 5.2
		}
	}

	exited := false
	if s.recovery && s.una >= s.recover {
		before := s.cc.CWND()
		s.cc.OnExitRecovery(s.now)
		s.recovery = false
		exited = true
		s.event(simExit, 0, before)
	}
	if s.loss && s.una >= s.recover {
		s.loss = false
	}
	switch {
	case lost && !s.recovery && !s.loss:
		before, flight := s.cc.CWND(), (s.nxt-oldUna)*s.mss
		s.cc.OnEnterRecovery(flight, s.now)
		s.recovery = true
		s.recover = s.nxt
		s.event(simLoss, flight, before)
	case !s.recovery && !exited && acked > 0:
		s.cc.OnAck(Ack{
			Acked:    acked,
			InFlight: pipeBefore * s.mss,
			RTT:      rtt,
			SndUna:   Seq(uint32(s.una * s.mss)),
			SndNxt:   Seq(uint32(s.nxt * s.mss)),
		}, s.now)
	}
	s.fill()
	if s.afterAck != nil {
		s.afterAck(s, rtt)
	}
}

// timeout is the expiry of the retransmission timer (RFC 6298 5.4-5.6):
// every segment not known to have arrived is presumed lost and resent
// from SND.UNA in slow start.
func (s *linkSim) timeout() {
	before, flight := s.cc.CWND(), (s.nxt-s.una)*s.mss
	s.cc.OnTimeout(flight, s.now)
	s.rto.Backoff()
	s.event(simRTO, flight, before)
	s.recovery = false
	s.loss = true
	s.recover = s.nxt
	s.pipe = 0
	for i := s.txHead; i < len(s.txs); i++ {
		s.txs[i].counted = false
	}
	for i := range s.drops {
		s.drops[i].counted = false
	}
	for _, seg := range s.retxQ {
		s.segs[seg].queued = false
	}
	s.retxQ = s.retxQ[:0]
	for seg := s.una; seg < s.nxt; seg++ {
		s.markLost(seg)
	}
	s.rtoAt = s.now.Add(s.rto.Timeout())
	s.fill()
}

// utilisation is the share of the bottleneck's capacity that delivered
// new data over the time simulated.
func (s *linkSim) utilisation() float64 {
	return float64(s.delivered) * float64(s.serve) / float64(s.now.Sub(ccT0))
}

// cycle is one tooth of a sawtooth: from the end of one recovery to the
// next loss.
type cycle struct {
	start, end         time.Time
	cwndStart, cwndEnd int     // cwnd at recovery exit, and just before the next reduction
	lossCWND           int     // cwnd just before the reduction that preceded start
	lossFlight         int     // FlightSize at that reduction
	rounds             int     // round trips in between
	minCWND            int     // the least cwnd in between
	target             float64 // a window to time the climb to
	reachedAt          time.Time
	samples            []cwndSample // every 10 ms from start
}

type cwndSample struct {
	at   time.Duration // since the cycle's start
	cwnd int
}

// cwndAt returns cwnd at d after the cycle's start, to within the 10 ms
// of its samples.
func (c *cycle) cwndAt(d time.Duration) int {
	cwnd := c.cwndStart
	for _, s := range c.samples {
		if s.at > d {
			break
		}
		cwnd = s.cwnd
	}
	return cwnd
}

// sawtooth runs s for d and returns the cycles that start after warmup.
// target, if not nil, is called at each loss with cwnd just before the
// reduction and returns a window for the following cycle's reachedAt.
func sawtooth(s *linkSim, d, warmup time.Duration, target func(lossCWND int) float64) []cycle {
	var cycles []cycle
	var cur *cycle
	var goal float64
	lossCWND, lossFlight, seen, roundEnd := 0, 0, 0, 0
	s.afterAck = func(s *linkSim, _ time.Duration) {
		for ; seen < len(s.events); seen++ {
			e := s.events[seen]
			switch e.kind {
			case simLoss:
				lossCWND, lossFlight = e.cwndBefore, e.flight
				if target != nil {
					goal = target(e.cwndBefore)
				}
				if cur != nil {
					cur.end, cur.cwndEnd = e.at, e.cwndBefore
					if cur.start.Sub(ccT0) >= warmup {
						cycles = append(cycles, *cur)
					}
				}
				cur = nil
			case simExit:
				cur = &cycle{start: e.at, cwndStart: e.cwndAt, lossCWND: lossCWND, lossFlight: lossFlight, minCWND: e.cwndAt, target: goal}
				roundEnd = s.nxt
			case simRTO:
				cur = nil
			}
		}
		if cur == nil {
			return
		}
		if s.una >= roundEnd {
			cur.rounds++
			roundEnd = s.nxt
		}
		cur.minCWND = min(cur.minCWND, s.cc.CWND())
		if at := s.now.Sub(cur.start); len(cur.samples) == 0 || at-cur.samples[len(cur.samples)-1].at >= 10*time.Millisecond {
			cur.samples = append(cur.samples, cwndSample{at, s.cc.CWND()})
		}
		if cur.reachedAt.IsZero() && cur.target > 0 && float64(s.cc.CWND()) >= cur.target {
			cur.reachedAt = s.now
		}
	}
	s.run(d)
	return cycles
}

// timeouts counts the retransmission timeouts after warmup.
func (s *linkSim) timeouts(warmup time.Duration) int {
	n := 0
	for _, e := range s.events {
		if e.kind == simRTO && e.at.Sub(ccT0) >= warmup {
			n++
		}
	}
	return n
}

// TestLinkSimConservation checks the model itself: every segment is
// delivered exactly once in order of arrival, the pipe never goes
// negative, and the flow finishes what it sent.
func TestLinkSimConservation(t *testing.T) {
	for _, alg := range ccAlgorithms {
		s := newLinkSim(alg, 1000, time.Millisecond, 20*time.Millisecond, 10)
		s.afterAck = func(s *linkSim, _ time.Duration) {
			if s.pipe < 0 {
				t.Fatalf("%v: pipe %d", alg, s.pipe)
			}
		}
		s.run(20 * time.Second)
		if s.delivered > s.nxt || s.una > s.delivered {
			t.Fatalf("%v: %d delivered of %d sent, SND.UNA at %d", alg, s.delivered, s.nxt, s.una)
		}
		for seg := range s.una {
			if !s.segs[seg].sacked {
				t.Fatalf("%v: segment %d below SND.UNA never arrived", alg, seg)
			}
		}
		if s.delivered < 15000 { // 20,000 at full rate
			t.Errorf("%v: only %d segments delivered", alg, s.delivered)
		}
	}
}
