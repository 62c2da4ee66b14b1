package tcp

import "time"

// What a connection sends and when: headers and options, the window it
// advertises, segmentation with Nagle's rule and sender SWS avoidance,
// and the ACKs, RSTs and probes.

// tsVal is the TSval sent at now: milliseconds since TSEpoch, rounded as
// ISNGen.TSClock rounds them, plus TSOffset (RFC 7323 5.4).
func (c *Conn) tsVal(now time.Time) uint32 {
	return uint32(ticks(now.Sub(c.cfg.TSEpoch), TSTick)) + c.cfg.TSOffset
}

// ports fills the ports of c.f.
func (c *Conn) ports() {
	c.f.SrcPort, c.f.DstPort = c.cfg.Local.Port(), c.cfg.Remote.Port()
}

// emit sends one segment of a synchronized (or synchronizing) connection:
// seq, flags, the payload p1+p2, with ACK, window and options filled in
// as the connection's state says. Every segment that carries ACK carries
// RCV.NXT and the current window, and takes the place of a pending ACK.
func (c *Conn) emit(seq Seq, flags Flags, p1, p2 []byte, now time.Time) {
	c.f = Fields{Seq: seq, Flags: flags}
	if n := len(p1) + len(p2); n > c.sndMSS {
		c.f.GSOSize = c.sndMSS // only sizeGoal makes such a segment
	}
	c.ports()
	c.o = Options{}
	if flags&ACK != 0 {
		c.f.Ack = c.rq.RcvNxt()
		c.lastAck = c.f.Ack
		c.f.Window = c.selectWindow()
		c.ackPending, c.ackNow, c.dackAt = false, false, time.Time{}
	}
	if c.tsOK {
		// RFC 7323 3.2: TSecr is TS.Recent on every segment with ACK.
		c.o.TS, c.o.TSVal, c.o.TSEcr = true, c.tsVal(now), c.tsRecent
	}
	if c.sackOK && flags&ACK != 0 && flags&RST == 0 {
		c.sackBlocks(len(p1) + len(p2))
	}
	c.out.Emit(&c.f, &c.o, p1, p2)
}

// segBudget is the most options and payload one segment may carry: the
// MSS of the path, of which the timestamps take their share in sndMSS.
func (c *Conn) segBudget() int {
	if c.tsOK {
		return c.sndMSS + tsOptLen
	}
	return c.sndMSS
}

// sackBlocks puts the D-SACK block, if any, then the SACK blocks of the
// out-of-order data held in c.o (RFC 2018 4, RFC 2883 4), as many as fit
// beside payload octets of data: a segment never grows past the MSS for
// its SACK blocks, which would make IP fragment it. A full-sized data
// segment thus carries none (RFC 2018 3 lets a sender include fewer); the
// immediate ACKs that out-of-order data brings carry them all.
func (c *Conn) sackBlocks(payload int) {
	n := 0
	if b, ok := c.rq.TakeDSACK(); ok {
		c.o.SACK[0] = b
		n = 1
	}
	n += c.rq.SACKBlocks(c.o.SACK[n:])
	c.o.NumSACK = n
	for c.o.NumSACK > 0 && OptionsLen(&c.o)+payload > c.segBudget() {
		c.o.NumSACK--
	}
}

// synOptions fills c.o with the options of our SYN (syn) or SYN-ACK: MSS,
// SACK-permitted, timestamps and window scale, on a SYN-ACK only those
// the peer offered (RFC 7323 2.2, 3.2; RFC 2018 2).
func (c *Conn) synOptions(synAck bool, now time.Time) {
	c.o = Options{MSS: uint16(min(c.cfg.MSS, 0xffff)), HasMSS: true}
	if synAck {
		c.o.SACKPermitted = c.sackOK
		if c.tsOK {
			c.o.TS, c.o.TSVal, c.o.TSEcr = true, c.tsVal(now), c.tsRecent
		}
		if c.wscaleOK {
			c.o.WScale, c.o.HasWScale = c.offerWScale, true
		}
		return
	}
	c.o.SACKPermitted = !c.cfg.NoSACK
	if !c.cfg.NoTimestamps {
		c.o.TS, c.o.TSVal = true, c.tsVal(now)
	}
	if !c.cfg.NoWScale {
		c.o.WScale, c.o.HasWScale = c.offerWScale, true
	}
}

// sendSYN sends the SYN of an active open, or the SYN-ACK (with synAck)
// of a passive or simultaneous one, at ISS. The window of a SYN is never
// scaled (RFC 7323 2.2).
func (c *Conn) sendSYN(synAck bool, now time.Time) {
	c.f = Fields{Seq: c.iss, Flags: SYN, Window: uint16(min(c.rq.Window(), 0xffff))}
	c.ports()
	if synAck {
		c.f.Flags |= ACK
		c.f.Ack = c.rq.RcvNxt()
		c.lastAck = c.f.Ack
		c.rcvAdv = c.f.Ack.Add(int(c.f.Window))
	}
	c.synOptions(synAck, now)
	c.out.Emit(&c.f, &c.o, nil, nil)
}

// sendAck sends an ACK now, at SND.NXT.
func (c *Conn) sendAck(now time.Time) {
	c.emit(c.ackSeq(), ACK, nil, nil, now)
}

// ackSeq is the sequence number of a segment without data: SND.MAX, not
// SND.NXT, which a retransmission timeout moves back to SND.UNA, where
// the peer, having received more, would find the segment old and drop it
// unread, ACK and all (RFC 9293 3.10.7.4, first check). As Linux's
// tcp_acceptable_seq, it stays within the peer's window.
func (c *Conn) ackSeq() Seq {
	if end := c.sndUna.Add(c.sndWnd); end.LessThan(c.sndMax) {
		return end
	}
	return c.sndMax
}

// sendReset sends <SEQ=seq><CTL=RST> with no options, the RST that
// answers a segment (RFC 9293 3.10.7), or with ACK <SEQ=seq><ACK=ack>.
func (c *Conn) sendReset(f Fields) {
	c.f = f
	c.ports()
	c.out.Emit(&c.f, nil, nil, nil)
}

// sendActiveReset sends the RST of an abort on a synchronized connection:
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>, as Linux's
// tcp_send_active_reset (RFC 9293 3.10.5 has no ACK; RFC 2525 2.17).
func (c *Conn) sendActiveReset(now time.Time) {
	c.f = Fields{Seq: c.sndMax, Ack: c.rq.RcvNxt(), Flags: RST | ACK}
	c.ports()
	c.o = Options{}
	if c.tsOK {
		c.o.TS, c.o.TSVal, c.o.TSEcr = true, c.tsVal(now), c.tsRecent
	}
	c.out.Emit(&c.f, &c.o, nil, nil)
}

// sendOOWAck sends an ACK answering an unacceptable segment, a challenge
// ACK (RFC 5961 3.2, 4.2, 5.2) or a PAWS rejection (RFC 7323 5.3), unless
// one was sent less than 500 ms ago (RFC 5961 7; Linux's
// tcp_invalid_ratelimit). Segments with data or a FIN are always
// answered, as Linux's tcp_oow_rate_limited (SEG.SEQ != end_seq): they
// are not part of an ACK loop, and a lost ACK would leave the peer
// retransmitting.
func (c *Conn) sendOOWAck(seg *Segment, now time.Time) {
	if len(seg.Payload) == 0 && seg.Flags&FIN == 0 || seg.Flags&SYN != 0 {
		if !c.oowAt.IsZero() && now.Sub(c.oowAt) < oowRateLimit {
			return
		}
		c.oowAt = now
	}
	c.sendAck(now)
}

// selectWindow is the window field of a segment with ACK, and records
// the right edge it advertises. RFC 1122 4.2.3.3 (receiver SWS
// avoidance): the right edge moves only by at least min(RcvBuf/2, MSS),
// and RFC 9293 3.8.6 (SHLD-14): it never moves left. RFC 7323 2.3: the
// window is shifted right by our scale, rounding up rather than shrink,
// as Linux does: a peer that has sent up to an edge may send its pure
// ACKs from there (Linux's tcp_acceptable_seq), and an edge moved back
// behind data it sent would have us drop them as old. Rounding up can set
// the edge past the buffer by less than a unit of the scale per ACK; the
// receive queue is told the edge (Promise) and holds what comes up to it.
func (c *Conn) selectWindow() uint16 {
	nxt := c.rq.RcvNxt()
	free := c.rq.Window()
	cur := max(int(c.rcvAdv.Diff(nxt)), 0)
	wnd := free
	if free-cur < min(c.rq.Capacity()/2, c.rcvMSS) {
		wnd = cur
	}
	wnd = max(wnd, cur)
	shift := c.rcvWScale
	field := wnd >> shift
	if field<<shift < cur {
		field++
	}
	field = min(field, 0xffff)
	c.rcvAdv = c.rcvAdv.Max(nxt.Add(field << shift))
	c.rq.Promise(c.rcvAdv)
	return uint16(field)
}

// dataEnd is the sequence number after the last octet written.
func (c *Conn) dataEnd() Seq { return c.sqSeq.Add(c.sq.Len()) }

// finQueued reports whether a FIN follows the data and may be sent: the
// application closed the sending side and the state allows the FIN.
func (c *Conn) finQueued() bool {
	if !c.writeClosed {
		return false
	}
	switch c.state {
	case FinWait1, Closing, LastAck:
		return true
	}
	return false
}

// canSend reports whether the state lets data or a FIN be sent.
func (c *Conn) canSend() bool {
	switch c.state {
	case Established, CloseWait, FinWait1, Closing, LastAck:
		return true
	}
	return false
}

// inFlight is the data taken to be in the network: RFC 6675's pipe in
// SACK recovery, else FlightSize less what SACK or duplicate ACKs
// (NewReno) say has left it.
func (c *Conn) inFlight() int {
	if c.inRecovery && c.sackOK && c.sb != nil {
		return c.sb.Pipe(c.sndUna, c.sndMax, c.highRxt, c.sndMSS)
	}
	flight := int(c.sndNxt.Diff(c.sndUna))
	if flight <= 0 {
		return 0
	}
	if c.sackOK && c.sb != nil {
		if c.sb.HighestSacked().LessEq(c.sndNxt) {
			flight -= c.sb.SackedBytes()
		}
	} else if !c.sackOK && c.dupAcks > 0 {
		flight -= min(c.dupAcks*c.sndMSS, flight)
		if c.inRecovery && c.highRxt.GreaterThan(c.sndUna) {
			flight += c.sndMSS // the retransmission is in flight too
		}
	}
	return max(flight, 0)
}

// cwndAvail is how much more cwnd lets the sender have in flight. RFC
// 3042's limited transmit (one new segment for each of the first two
// duplicate ACKs) comes from inFlight, which counts each duplicate ACK,
// or the SACKed data, as gone from the network, as Linux's
// tcp_packets_in_flight does; adding the two segments to cwnd as well
// would let four out.
func (c *Conn) cwndAvail() int {
	return c.cc.CWND() - c.inFlight()
}

// output sends what the windows, Nagle's rule and the state allow: lost
// data first in recovery, then data from SND.NXT, and the FIN after it.
func (c *Conn) output(now time.Time) {
	if !c.canSend() {
		return
	}
	if c.inRecovery && c.sackOK {
		c.sackRecoverySend(now)
	}
	for c.sendNext(now) {
	}
	c.armPersist(now)
}

// sendNext sends the next segment from SND.NXT if it may go now, and
// reports whether it sent one.
func (c *Conn) sendNext(now time.Time) bool {
	if c.sndNxt.LessThan(c.sndMax) {
		return c.resendNext(now)
	}
	end := c.dataEnd()
	avail := max(int(end.Diff(c.sndNxt)), 0)
	// The FIN goes after the last octet, once (sndNxt passes it).
	sendFin := c.finQueued() && c.sndNxt.LessEq(end)
	if avail == 0 && !sendFin {
		return false
	}
	n := c.sizeGoal(avail)
	if n > 0 {
		if wnd := int(c.sndUna.Add(c.sndWnd).Diff(c.sndNxt)); wnd < n {
			// Sender SWS avoidance (RFC 1122 4.2.3.4) as Linux's
			// tcp_snd_wnd_test: no segment cut short by the window; the
			// ACKs of what is in flight, or the persist timer, which
			// sends what the window takes, move things on.
			return false
		}
		if c.cwndAvail() < n {
			return false
		}
		if n < c.sndMSS && n == avail && c.nagle() {
			return false
		}
	}
	flags := ACK
	if n > 0 && c.sndNxt.Add(n) == end {
		flags |= PSH // the segment empties the unsent data
	}
	if sendFin && c.sndNxt.Add(n) == end {
		flags |= FIN
	}
	c.sendData(c.sndNxt, n, flags, now)
	return true
}

// sizeGoal is how much of avail octets the next new segment carries: one
// MSS, or under TCP segmentation offload (Config.MaxSegment) as many
// whole MSS-sized segments as the send window and cwnd take, or all of
// avail when they take it, as Linux's tcp_write_xmit sizes a TSO frame.
// When they take less than one MSS the usual one-segment rules apply.
func (c *Conn) sizeGoal(avail int) int {
	n := min(avail, c.sndMSS)
	if c.cfg.MaxSegment <= c.sndMSS || avail <= c.sndMSS {
		return n
	}
	wnd := int(c.sndUna.Add(c.sndWnd).Diff(c.sndNxt))
	room := min(c.cfg.MaxSegment/c.sndMSS*c.sndMSS, wnd, c.cwndAvail())
	if avail <= room {
		return avail
	}
	return max(room/c.sndMSS*c.sndMSS, n)
}

// resendNext sends again the next segment from SND.NXT below SND.MAX,
// after a timeout or a smaller path MTU sent SND.NXT back (go-back-N),
// skipping what the peer SACKed. Congestion control limits it, Nagle's
// rule does not, and the receive window only beyond SND.UNA.
func (c *Conn) resendNext(now time.Time) bool {
	if c.sb != nil && !c.sb.Empty() {
		if st, _, ok := c.sb.NextSegUnsacked(c.sndUna, c.sndNxt, c.sndMSS); ok {
			c.sndNxt = st.Max(c.sndNxt)
		} else {
			c.sndNxt = c.sndNxt.Max(c.sb.HighestSacked()).Min(c.sndMax)
		}
		if !c.sndNxt.LessThan(c.sndMax) {
			return c.sndNxt == c.sndMax // on to new data
		}
	}
	end := c.dataEnd()
	n := min(int(c.sndMax.Diff(c.sndNxt)), c.sndMSS, max(int(end.Diff(c.sndNxt)), 0))
	if c.sb != nil && !c.sb.Empty() {
		if st, l, ok := c.sb.NextSegUnsacked(c.sndUna, c.sndNxt, c.sndMSS); ok && st == c.sndNxt {
			n = min(n, l)
		}
	}
	fin := c.finQueued() && c.sndNxt.Add(n) == end && c.sndMax.GreaterThan(end)
	if n == 0 && !fin {
		c.sndNxt = c.sndMax
		return true
	}
	if c.cwndAvail() < max(n, 1) {
		return false
	}
	if c.sndNxt != c.sndUna && int(c.sndUna.Add(c.sndWnd).Diff(c.sndNxt)) < n {
		return false
	}
	flags := ACK
	if n > 0 && c.sndNxt.Add(n) == end {
		flags |= PSH
	}
	if fin {
		flags |= FIN
	}
	c.sendData(c.sndNxt, n, flags, now)
	return true
}

// nagle reports whether Nagle's rule (RFC 896, RFC 1122 4.2.3.4) holds
// back a segment shorter than the MSS: not with NoDelay or once the
// sending side is closed, and, in Minshall's variant that Linux uses,
// only while an earlier short segment is unacknowledged.
func (c *Conn) nagle() bool {
	if c.cfg.NoDelay || c.writeClosed {
		return false
	}
	// Linux's tcp_minshall_check: the short segment must lie in
	// (SND.UNA, SND.NXT], so that one sent more than 2^31 octets ago
	// does not look unacknowledged again.
	return c.sndSml.GreaterThan(c.sndUna) && c.sndSml.LessEq(c.sndNxt)
}

// sendData sends n octets from seq with flags (FIN counts one more) and
// does the bookkeeping of a transmission: SND.NXT and SND.MAX,
// retransmission counts, RTT timing (Karn), restart after idle and the
// retransmission timer.
func (c *Conn) sendData(seq Seq, n int, flags Flags, now time.Time) {
	if seq == c.sndMax && c.sndUna == c.sndMax && n > 0 {
		// RFC 5681 4.1: new data with nothing in flight after idle.
		if !c.lastSendAt.IsZero() {
			c.cc.OnIdle(now.Sub(c.lastSendAt), c.rto.Timeout(), now)
		}
	}
	off := int(seq.Diff(c.sqSeq))
	p1, p2 := c.sq.Slice(off, n)
	c.emit(seq, flags, p1, p2, now)
	l := n
	if flags&FIN != 0 {
		l++
	}
	end := seq.Add(l)
	if seq.LessThan(c.sndMax) {
		c.retransmits++
		if c.rttTiming && seq.LessThan(c.rttSeq) {
			c.rttTiming = false // Karn's rule: the sample would be ambiguous
		}
	} else if !c.rttTiming && !c.tsOK {
		c.rttTiming, c.rttSeq, c.rttAt = true, end, now
	}
	if n > 0 && n < c.sndMSS {
		c.sndSml = end
	}
	if n > 0 {
		c.lastSendAt = now
	}
	if end.GreaterThan(c.sndNxt) {
		c.sndNxt = end
	}
	// Linux's max_packets_out: the largest flight of the round, by
	// which congestion control judges whether cwnd was the limit.
	if out := int(c.sndNxt.Diff(c.sndUna)); out > c.maxOut || c.sndUna.GreaterEq(c.maxOutSeq) {
		c.maxOut, c.maxOutSeq = out, c.sndNxt
	}
	if c.sndNxt.GreaterThan(c.sndMax) {
		c.sndMax = c.sndNxt
	}
	if c.rtxAt.IsZero() || c.persist {
		c.armRTO(now)
	}
}

// retransmitAt sends again up to n octets from seq, at most to the
// highest sequence sent, with the FIN if it ends there.
func (c *Conn) retransmitAt(seq Seq, n int, now time.Time) int {
	end := c.dataEnd()
	n = min(n, max(int(end.Diff(seq)), 0))
	flags := ACK
	if c.finQueued() && seq.Add(n) == end && c.sndMax.GreaterThan(end) {
		flags |= FIN
	}
	if n == 0 && flags&FIN == 0 {
		return 0
	}
	if seq.Add(n) == end {
		flags |= PSH
	}
	c.sendData(seq, n, flags, now)
	return n
}

// ackNeeded sends the ACK owed now if it must go at once, or arms the
// delayed ACK timer (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2: at most
// DelayedAck, Linux's 40 ms; RFC 5681 4.2: at least every second
// full-sized segment).
func (c *Conn) ackNeeded(now time.Time) {
	if !c.ackPending {
		return
	}
	if c.ackNow || c.quickAcks > 0 || int(c.rq.RcvNxt().Diff(c.lastAck)) > c.rcvMSS {
		if c.quickAcks > 0 {
			c.quickAcks--
		}
		c.sendAck(now)
		return
	}
	if c.dackAt.IsZero() {
		c.dackAt = now.Add(c.cfg.DelayedAck)
	}
}

// armPersist starts the persist timer when data waits for a window that
// is closed (RFC 9293 3.8.6.1) and nothing is in flight to bring an ACK.
func (c *Conn) armPersist(now time.Time) {
	if c.sndUna != c.sndMax || !c.rtxAt.IsZero() {
		return
	}
	unsent := int(c.dataEnd().Diff(c.sndNxt)) > 0 || c.finQueued() && !c.sndMax.GreaterThan(c.dataEnd())
	if !unsent {
		return
	}
	c.persist = true
	if c.probes == 0 {
		c.probeStart = now
	}
	d := c.rto.Timeout()
	for i := 0; i < c.persistN && d < DefaultRTOMax; i++ {
		d *= 2
	}
	c.rtxAt = now.Add(min(d, DefaultRTOMax))
}

// armRTO (re)starts the retransmission timer (RFC 6298 5.1, 5.3).
func (c *Conn) armRTO(now time.Time) {
	c.persist = false
	d := c.rto.Timeout()
	if ut := c.cfg.UserTimeout; ut > 0 && !c.firstRtxAt.IsZero() {
		// Linux's tcp_clamp_rto_to_user_timeout: fire no later than the
		// user timeout.
		d = max(min(d, c.firstRtxAt.Add(ut).Sub(now)), time.Millisecond)
	}
	c.rtxAt = now.Add(d)
	c.rtxArmedAt = now
}
