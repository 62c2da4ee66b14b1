package tcp

import "time"

// ACK processing (RFC 9293 3.10.7.4, fifth): SND.UNA and the send buffer,
// RTT samples, the send window, duplicate ACKs and congestion control,
// and the state changes an ACK of our FIN makes.

// processAck takes in the acknowledgment of seg, a segment with ACK that
// passed the sequence number checks, and reports whether processing goes
// on to the segment's text.
func (c *Conn) processAck(seg *Segment, now time.Time) (Events, bool) {
	ack := seg.Ack
	if ack.GreaterThan(c.sndMax) {
		// RFC 9293: an ACK of something not yet sent: send an ACK, drop
		// the segment (RFC 5961 5.2).
		c.sendOOWAck(seg, now)
		return 0, false
	}
	if ack.LessThan(c.sndUna.Add(-max(c.maxSndWnd, 1))) {
		// RFC 5961 5.2: older than the largest window could explain.
		c.sendOOWAck(seg, now)
		return 0, false
	}
	var ev Events
	c.probes = 0 // the peer answers: keepalive and zero-window probes
	newlySacked := 0
	if c.sackOK && ack.GreaterEq(c.sndUna) {
		k := min(max(seg.Options.NumSACK, 0), MaxSACKBlocks)
		if k > 0 && c.sb == nil {
			c.sb = new(Scoreboard) // taken at the first SACK, given back when idle
		}
		if c.sb != nil {
			newlySacked = c.sb.Update(ack, seg.Options.SACK[:k], c.sndMax)
		}
	}
	wnd := int(seg.Window) << c.sndWScale
	acked := int(ack.Diff(c.sndUna))
	switch {
	case acked > 0:
		ev |= c.newAck(seg, acked, now)
	case acked == 0 && c.sndUna != c.sndMax && len(seg.Payload) == 0 &&
		seg.Flags&(SYN|FIN) == 0 && (wnd == c.sndWnd || newlySacked > 0):
		// RFC 5681 2: a duplicate ACK (RFC 6675 2: or one with new SACK
		// information).
		c.dupAck(now)
	}
	// RFC 9293 3.10.7.4: update the send window if the segment is newer
	// than the one that last set it.
	if ack.GreaterEq(c.sndUna) && (c.sndWl1.LessThan(seg.Seq) || c.sndWl1 == seg.Seq && c.sndWl2.LessEq(ack)) {
		if wnd > c.sndWnd {
			ev |= EvWritable
		}
		c.sndWnd = wnd
		c.sndWl1, c.sndWl2 = seg.Seq, ack
		c.maxSndWnd = max(c.maxSndWnd, wnd)
		if wnd > 0 && c.persist {
			// The window opened: the persist timer is done.
			c.rtxAt, c.persist, c.persistN = time.Time{}, false, 0
		}
	}
	switch c.state {
	case FinWait1:
		if c.finAcked() {
			c.state = FinWait2
			if c.orphan {
				c.closeAt = now.Add(finTimeout)
			}
		}
	case Closing:
		if c.finAcked() {
			c.enterTimeWait(now)
		}
	case LastAck:
		if c.finAcked() {
			return ev | c.closeSilently(), false
		}
	}
	return ev, true
}

// newAck handles an ACK that advances SND.UNA by acked.
func (c *Conn) newAck(seg *Segment, acked int, now time.Time) Events {
	ack := seg.Ack
	var rtt time.Duration
	if c.tsOK && seg.Options.TS && seg.Options.TSEcr != 0 {
		// RFC 7323 4.1: every ACK of new data gives a sample.
		rtt = c.tsSample(seg.Options.TSEcr, now)
	} else if c.rttTiming && ack.GreaterEq(c.rttSeq) {
		rtt = now.Sub(c.rttAt)
		c.rto.Sample(rtt)
		c.rttTiming = false
	}
	flight := c.inFlight()
	c.sndUna = ack
	if c.sndNxt.LessThan(ack) {
		c.sndNxt = ack
	}
	n := min(max(int(ack.Diff(c.sqSeq)), 0), c.sq.Len())
	c.sq.Discard(n)
	c.sqSeq = c.sqSeq.Add(n)
	c.retries = 0
	c.firstRtxAt = time.Time{}
	c.softErr = nil // Linux: something worked, forget the soft error
	if c.inRecovery {
		if ack.GreaterEq(c.recover) {
			// RFC 6582 3.2 step 3, RFC 6675 5: a full ACK ends recovery.
			c.inRecovery = false
			c.dupAcks = 0
			c.cc.OnExitRecovery(now)
		} else if !c.sackOK {
			// RFC 6582 3.2 step 4: a partial ACK; the next hole is lost
			// too: retransmit it at once. The duplicate ACKs it covers no
			// longer count as data that left the network.
			c.dupAcks = max(c.dupAcks-(acked+c.sndMSS-1)/c.sndMSS, 0)
			c.highRxt = ack.Add(c.retransmitAt(ack, c.sndMSS, now))
		}
	} else {
		c.dupAcks = 0
		c.cc.OnAck(Ack{Acked: acked, InFlight: max(flight, c.maxOut), RTT: rtt, SndUna: ack, SndNxt: c.sndMax}, now)
	}
	// RFC 6298 5.2, 5.3: stop the timer when everything is acknowledged,
	// else restart it.
	if c.sndUna == c.sndMax {
		if !c.persist {
			c.rtxAt = time.Time{}
		}
	} else {
		c.armRTO(now)
	}
	if n > 0 {
		return EvWritable
	}
	return 0
}

// dupAck counts a duplicate ACK and starts fast retransmit and recovery
// on the third (RFC 5681 3.2), or when SACK shows SND.UNA lost (RFC 6675
// 5), unless the ACK does not cover the last recovery's recover point
// (RFC 6582 3.2 step 1).
func (c *Conn) dupAck(now time.Time) {
	c.dupAcks++
	if c.inRecovery {
		return // output sends what the lower pipe allows
	}
	lost := c.dupAcks >= 3 || c.sackOK && c.sb != nil && c.sb.IsLost(c.sndUna, c.sndMSS)
	if !lost || c.sndUna.LessThan(c.recover) {
		return
	}
	c.enterRecovery(now)
}

// enterRecovery is fast retransmit (RFC 5681 3.2 steps 2 and 3, RFC 6582
// 3.2 step 2, RFC 6675 5 step 4).
func (c *Conn) enterRecovery(now time.Time) {
	c.inRecovery = true
	c.recover = c.sndMax
	c.cc.OnEnterRecovery(int(c.sndMax.Diff(c.sndUna)), now)
	c.highRxt = c.sndUna
	c.highRxt = c.sndUna.Add(c.retransmitAt(c.sndUna, c.sndMSS, now))
}

// sackRecoverySend is RFC 6675 5 step (C): while cwnd - pipe is at least
// one SMSS, send the segment NextSeg gives: a lost hole (rule 1), else
// new data (rule 2). Rules 3 and 4 (retransmitting holes not yet taken
// as lost, and the rescue retransmission) are left out, as in Linux:
// they put copies of data that may not be lost into the network.
func (c *Conn) sackRecoverySend(now time.Time) {
	for c.sb != nil {
		pipe := c.sb.Pipe(c.sndUna, c.sndMax, c.highRxt, c.sndMSS)
		if c.cc.CWND()-pipe < c.sndMSS {
			return
		}
		st, n, ok := c.sb.NextSeg(c.sndUna, c.sndMax, c.highRxt, c.sndMSS)
		if !ok {
			return // rule 2 is output's
		}
		if c.retransmitAt(st, n, now) == 0 {
			return
		}
		c.highRxt = st.Add(n)
	}
}
