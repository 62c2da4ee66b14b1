package tcp

import "time"

// Segment arrival (RFC 9293 3.10.7), for every state but CLOSED and
// LISTEN, which are the caller's.

// Input processes one segment addressed to this connection (RFC 9293
// 3.10.7).
func (c *Conn) Input(seg *Segment, now time.Time) Events {
	var ev Events
	switch c.state {
	case Closed, Listen:
		return 0
	case SynSent:
		ev = c.inputSynSent(seg, now)
	case TimeWait:
		ev = c.inputTimeWait(seg, now)
	default:
		ev = c.inputSync(seg, now)
	}
	c.idleCheck(now)
	return ev
}

// peerOptions takes in the options of the peer's SYN or SYN-ACK: an
// option is used only if both ends offer it (RFC 7323 2.2, 3.2; RFC
// 2018 2), and the MSS option only counts in a SYN (RFC 9293 3.7.1).
func (c *Conn) peerOptions(o *Options, now time.Time) {
	c.peerMSS = defaultPeerMSS
	if o.HasMSS {
		c.peerMSS = max(int(o.MSS), minSndMSS)
	}
	c.wscaleOK = !c.cfg.NoWScale && o.HasWScale
	c.sndWScale, c.rcvWScale = 0, 0
	if c.wscaleOK {
		c.sndWScale, c.rcvWScale = min(o.WScale, MaxWScale), c.offerWScale
	}
	c.sackOK = !c.cfg.NoSACK && o.SACKPermitted
	c.tsOK = !c.cfg.NoTimestamps && o.TS
	if c.tsOK {
		c.tsRecent, c.tsRecentAt = o.TSVal, now
	}
	c.setMSS()
	c.rcvMSS = min(c.sndMSS, defaultPeerMSS)
}

// setMSS computes the effective send MSS: min(our MSS, the peer's) less
// the timestamps option when it is in use (Linux's mss_cache).
func (c *Conn) setMSS() {
	m := min(c.cfg.MSS, c.peerMSS)
	if c.tsOK {
		m -= tsOptLen
	}
	c.sndMSS = max(m, minSndMSS)
}

// inputSynSent is RFC 9293 3.10.7.3, SYN-SENT.
func (c *Conn) inputSynSent(seg *Segment, now time.Time) Events {
	if seg.Flags&ACK != 0 && !seg.Ack.InRange(c.iss.Add(1), c.sndNxt.Add(1)) {
		// "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless
		// the RST bit is set, if so drop the segment and return)".
		if seg.Flags&RST == 0 {
			c.sendReset(Fields{Seq: seg.Ack, Flags: RST})
		}
		return 0
	}
	if seg.Flags&RST != 0 {
		if seg.Flags&ACK == 0 {
			return 0 // RFC 9293: a RST without an acceptable ACK is dropped
		}
		return c.die(ErrRefused)
	}
	if seg.Flags&SYN == 0 {
		return 0
	}
	c.irs = seg.Seq
	c.rq.reset(c.rq.Capacity(), seg.Seq.Add(1))
	c.rcvAdv = seg.Seq.Add(1)
	c.lastAck = c.rcvAdv
	c.peerOptions(&seg.Options, now)
	c.sndWnd = int(seg.Window) // RFC 7323 2.2: a SYN's window is not scaled
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = seg.Seq, seg.Ack
	c.lastRecvAt = now
	if seg.Flags&ACK == 0 {
		// Simultaneous open (RFC 9293 3.5, figure 8): answer with a
		// SYN-ACK and wait for the ACK of our SYN.
		c.state = SynReceived
		c.sendSYN(true, now)
		return 0
	}
	c.sndUna = seg.Ack
	c.synRTT(seg, now)
	c.established(now)
	c.sendAck(now)
	c.output(now)
	return EvEstablished | EvWritable
}

// synRTT takes an RTT sample from the ACK of our SYN or SYN-ACK: from the
// echoed timestamp, or, by Karn's rule, only if it was not retransmitted.
func (c *Conn) synRTT(seg *Segment, now time.Time) {
	if c.tsOK && seg.Options.TS && seg.Options.TSEcr != 0 {
		c.tsSample(seg.Options.TSEcr, now)
	} else if !c.synRetransmitted && c.rttTiming {
		c.rto.Sample(now.Sub(c.rttAt))
	}
	c.rttTiming = false
}

// tsSample takes an RTT sample from an echoed TSval (RFC 7323 4.1).
func (c *Conn) tsSample(ecr uint32, now time.Time) time.Duration {
	d := int32(c.tsVal(now) - ecr)
	if d < 0 {
		return 0
	}
	rtt := time.Duration(d) * TSTick
	c.rto.Sample(rtt)
	return rtt
}

// established enters ESTABLISHED from SYN-SENT or SYN-RECEIVED.
func (c *Conn) established(now time.Time) {
	c.state = Established
	iw := 0
	if c.synRetransmitted {
		// RFC 6928 2, RFC 5681 3.1: one segment after a lost SYN or
		// SYN-ACK; RFC 6298 5.7: 3 s until an RTT is measured.
		iw = c.sndMSS
		if !c.rto.HasSample() {
			c.rto = NewRTO(0, 0, synTimeoutFallback)
		}
	}
	c.cc.Init(c.sndMSS, iw, now)
	c.retries = 0
	c.rtxAt = time.Time{}
	c.lastRecvAt = now
	c.rcvSpaceAt = now
	if c.cfg.KeepAlive.Enable {
		c.kaAt = now.Add(c.cfg.KeepAlive.Idle)
	}
	if c.writeClosed {
		c.state = FinWait1 // CloseWrite or Close came during the handshake
	}
}

// acceptable is RFC 9293 3.10.7.4's test of a segment's sequence number
// against the window we advertised. With a zero window a segment at
// RCV.NXT is let in for its ACK, URG and RST, its text dropped.
func (c *Conn) acceptable(seg *Segment) bool {
	nxt := c.rq.RcvNxt()
	wnd := uint32(max(int(c.rcvAdv.Diff(nxt)), 0))
	n := seg.Len()
	switch {
	case wnd == 0:
		return seg.Seq == nxt
	case n == 0:
		return seg.Seq.InWindow(nxt, wnd)
	default:
		return seg.Seq.InWindow(nxt, wnd) || seg.Seq.Add(n-1).InWindow(nxt, wnd)
	}
}

// pawsReject is RFC 7323 5.3: a segment whose TSval is older than
// TS.Recent is an old duplicate, unless TS.Recent is more than 24 days
// old (5.5). As Linux's tcp_paws_discard, a TSval one tick older is let
// in (TCP_PAWS_WINDOW), and so is a reordered duplicate ACK
// (tcp_disordered_ack).
func (c *Conn) pawsReject(seg *Segment, now time.Time) bool {
	if !c.tsOK || !seg.Options.TS || seg.Flags&RST != 0 || c.tsRecent == 0 {
		return false
	}
	age := int32(c.tsRecent - seg.Options.TSVal)
	if age <= pawsWindow {
		return false
	}
	if now.Sub(c.tsRecentAt) > tsRecentMaxAge {
		return false
	}
	return !c.disorderedAck(seg, age)
}

// disorderedAck is Linux's tcp_disordered_ack: a pure duplicate ACK at
// RCV.NXT that would not update the window, with a TSval older than
// TS.Recent by less than about an RTO, is an ACK overtaken by later
// ones, not an old duplicate: PAWS lets it through.
func (c *Conn) disorderedAck(seg *Segment, age int32) bool {
	if seg.Flags&(ACK|SYN|FIN) != ACK || len(seg.Payload) != 0 ||
		seg.Seq != c.rq.RcvNxt() || seg.Ack != c.sndUna {
		return false
	}
	if c.sndWl1.LessThan(seg.Seq) {
		return false
	}
	if wnd := int(seg.Window) << c.sndWScale; seg.Seq == c.sndWl1 && (wnd > c.sndWnd || wnd == 0) {
		return false
	}
	return int64(age) <= int64(c.rto.Timeout()/time.Millisecond)*1024/1000
}

// updateTSRecent is RFC 7323 4.3: TS.Recent follows the TSval of
// segments that cover Last.ACK.sent.
func (c *Conn) updateTSRecent(seg *Segment, now time.Time) {
	if c.tsOK && seg.Options.TS && seg.Seq.LessEq(c.lastAck) &&
		int32(seg.Options.TSVal-c.tsRecent) >= 0 {
		c.tsRecent, c.tsRecentAt = seg.Options.TSVal, now
	}
}

// inputSync processes a segment in SYN-RECEIVED and the synchronized
// states but TIME-WAIT (RFC 9293 3.10.7.4).
func (c *Conn) inputSync(seg *Segment, now time.Time) Events {
	if c.state == SynReceived && seg.Flags&(SYN|RST|ACK) == SYN && seg.Seq == c.irs {
		// The peer's SYN again: our SYN-ACK was lost (Linux's
		// tcp_check_req answers with the SYN-ACK).
		c.sendSYN(true, now)
		return 0
	}
	if c.state == SynReceived && seg.Flags&(SYN|ACK|RST|FIN) == SYN|ACK && seg.Seq == c.irs &&
		len(seg.Payload) == 0 && seg.Ack == c.sndNxt {
		// Simultaneous open: the peer's SYN-ACK acknowledges our SYN; as
		// Linux does, take it as the ACK that completes the handshake.
		// Its SYN is a duplicate, which is acknowledged at once.
		ack := *seg
		ack.Flags &^= SYN
		ack.Seq = c.irs.Add(1)
		seg = &ack
		c.ackPending, c.ackNow = true, true
	}
	// RFC 7323 5.3: PAWS before the sequence number check.
	if c.pawsReject(seg, now) {
		c.sendOOWAck(seg, now)
		return 0
	}
	if seg.Flags&RST != 0 {
		return c.inputRST(seg, now)
	}
	if !c.acceptable(seg) {
		if c.sackOK {
			// Records the D-SACK of a duplicate (RFC 2883 4), its FIN
			// counted as Linux counts it.
			c.rq.Write(seg.Seq, seg.Payload)
			if fin := seg.Seq.Add(len(seg.Payload)); seg.Flags&FIN != 0 && fin.LessThan(c.rq.RcvNxt()) {
				c.rq.SetFIN(fin)
			}
		}
		c.sendOOWAck(seg, now) // for a SYN, RFC 5961 4.2's challenge ACK
		return 0
	}
	if seg.Flags&SYN != 0 {
		// RFC 5961 4.2: a SYN in a synchronized state, wherever its
		// sequence number, gets a challenge ACK and is dropped.
		c.sendOOWAck(seg, now)
		return 0
	}
	if seg.Flags&ACK == 0 {
		return 0
	}
	c.updateTSRecent(seg, now)
	c.lastRecvAt = now
	var ev Events
	if c.state == SynReceived {
		if !seg.Ack.InRange(c.sndUna.Add(1), c.sndNxt.Add(1)) {
			c.sendReset(Fields{Seq: seg.Ack, Flags: RST})
			return 0
		}
		c.synRTT(seg, now)
		c.sndUna = seg.Ack
		c.sndWnd = int(seg.Window) << c.sndWScale
		c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
		c.sndWl1, c.sndWl2 = seg.Seq, seg.Ack
		c.established(now)
		ev |= EvEstablished | EvWritable
	}
	aev, ok := c.processAck(seg, now)
	ev |= aev
	if !ok || c.state == Closed {
		return ev
	}
	ev |= c.inputText(seg, now)
	if c.state == Closed {
		return ev
	}
	c.output(now)
	c.ackNeeded(now)
	return ev
}

// inputRST is RFC 9293 3.10.7.4 second, with RFC 5961 3.2: a RST resets
// the connection only if its sequence number is exactly RCV.NXT; one
// elsewhere in the window gets a challenge ACK, and one outside it is
// dropped.
func (c *Conn) inputRST(seg *Segment, now time.Time) Events {
	nxt := c.rq.RcvNxt()
	exact := seg.Seq == nxt
	if !exact && seg.Seq == nxt.Add(-1) && c.finRcvd {
		// Linux's tcp_reset_check: after the peer's FIN, a RST at the
		// FIN's own number is also taken.
		exact = true
	}
	if !exact {
		if c.acceptable(seg) {
			c.sendOOWAck(seg, now)
		}
		return 0
	}
	switch {
	case c.state == SynReceived && c.passive:
		return c.closeSilently() // RFC 9293: back to LISTEN, which is the listener's
	case c.state == CloseWait:
		// Linux's tcp_reset: EPIPE in CLOSE-WAIT, where the peer already
		// said it has no more to send; only writing can fail now.
		return c.die(ErrClosedWrite)
	}
	// Linux's tcp_reset: ECONNRESET in every other state, SYN-RECEIVED
	// of a simultaneous open too (RFC 9293 says "connection refused"
	// there; Linux's socket is no longer in SYN-SENT).
	return c.die(ErrReset)
}

// inputText is RFC 9293 3.10.7.4 seventh and eighth: the segment's data
// and FIN.
func (c *Conn) inputText(seg *Segment, now time.Time) Events {
	var ev Events
	switch c.state {
	case Established, FinWait1, FinWait2:
	default:
		if seg.Len() > 0 {
			c.ackPending, c.ackNow = true, true // a retransmission: ACK again
		}
		return 0
	}
	nxt := c.rq.RcvNxt()
	if c.readClosed && c.state != Established && len(seg.Payload) > 0 && seg.Seq.Add(len(seg.Payload)).GreaterThan(nxt) {
		// Linux's tcp_rcv_state_process: new data in FIN-WAIT-1 or -2
		// for a socket whose reading side is shut (closed, or
		// shutdown(SHUT_RD)) is answered with RST and the connection
		// aborted (RFC 9293 3.10.7.4 ... RFC 1122 4.2.2.13).
		if f, ok := ResetFor(seg); ok {
			c.sendReset(f)
		}
		return c.die(ErrReset)
	}
	if n := len(seg.Payload); n > 0 {
		if n > c.rcvMSS {
			c.rcvMSS = min(n, c.cfg.MSS)
		}
		if c.tsOK && seg.Options.TS && seg.Options.TSEcr != 0 {
			// Linux's tcp_rcv_rtt_measure_ts: the receiver's RTT, for
			// auto-tuning when it sends no data to time.
			if d := int32(c.tsVal(now) - seg.Options.TSEcr); d >= 0 {
				rtt := max(time.Duration(d)*TSTick, time.Millisecond)
				if c.rcvRTT == 0 {
					c.rcvRTT = rtt
				} else {
					c.rcvRTT += (rtt - c.rcvRTT) / 8
				}
			}
		}
		hadOOO := c.rq.HasOutOfOrder()
		got := c.rq.Write(seg.Seq, seg.Payload)
		c.ackPending = true
		if got > 0 {
			ev |= EvReadable
			c.startQuickAck()
		}
		// RFC 5681 4.2, RFC 2883: ACK at once out-of-order data, a
		// segment that fills a hole, a duplicate, or data not all taken.
		if seg.Seq != nxt || hadOOO || got < n {
			c.ackNow = true
		}
	}
	if seg.Flags&FIN != 0 {
		c.rq.SetFIN(seg.Seq.Add(len(seg.Payload)))
		c.ackPending = true
		if !c.rq.FINReached() {
			c.ackNow = true // out of order
		}
	}
	if c.rq.FINReached() && !c.finRcvd {
		ev |= c.finReached(now)
	}
	return ev
}

// startQuickAck enters Linux's quick-ACK mode on the first data of the
// connection: the first segments are acknowledged at once, so that the
// peer's slow start is not held back by delayed ACKs.
func (c *Conn) startQuickAck() {
	if !c.quickStarted {
		c.quickStarted = true
		c.quickAcks = min(max(c.rq.Window()/(2*max(c.rcvMSS, 1)), 2), quickAckSegments)
	}
}

// finReached handles the peer's FIN once the data before it is in (RFC
// 9293 3.10.7.4, eighth).
func (c *Conn) finReached(now time.Time) Events {
	c.finRcvd = true
	c.ackPending = true
	switch c.state {
	case Established:
		// Linux's tcp_fin: the ACK of the FIN is delayed (pingpong mode),
		// to ride on the application's answer or its own FIN.
		c.state = CloseWait
		c.quickAcks = 0
		return EvReadable
	case FinWait1:
		c.ackNow = true
		if c.finAcked() {
			c.enterTimeWait(now)
		} else {
			c.state = Closing
		}
	case FinWait2:
		c.ackNow = true
		c.enterTimeWait(now)
	}
	return EvReadable
}

// finAcked reports whether our FIN was sent and acknowledged.
func (c *Conn) finAcked() bool {
	return c.writeClosed && c.sndUna.GreaterThan(c.dataEnd())
}

// enterTimeWait enters TIME-WAIT for 2 MSL (RFC 9293 3.6), stopping every
// other timer.
func (c *Conn) enterTimeWait(now time.Time) {
	c.state = TimeWait
	c.rtxAt, c.kaAt, c.persist = time.Time{}, time.Time{}, false
	c.closeAt = now.Add(c.cfg.TimeWait)
}

// inputTimeWait is RFC 9293 3.10.7.4 in TIME-WAIT: a RST is ignored
// (RFC 1337), a retransmitted FIN is acknowledged again and restarts the
// 2 MSL timer, anything else gets an ACK (rate limited).
func (c *Conn) inputTimeWait(seg *Segment, now time.Time) Events {
	if seg.Flags&RST != 0 {
		return 0
	}
	if c.pawsReject(seg, now) {
		c.sendOOWAck(seg, now)
		return 0
	}
	if seg.Flags&FIN != 0 && seg.Flags&SYN == 0 && seg.Seq.Add(len(seg.Payload)) == c.rq.RcvNxt().Add(-1) {
		c.updateTSRecent(seg, now)
		c.closeAt = now.Add(c.cfg.TimeWait)
		c.sendAck(now)
		return 0
	}
	c.sendOOWAck(seg, now)
	return 0
}

// TimeWaitReuse reports whether syn, a SYN for this connection's 4-tuple
// while it is in TIME-WAIT, may start a new incarnation (RFC 9293 3.6.1,
// RFC 6191): with timestamps, when its TSval is newer than TS.Recent;
// without, when its sequence number is beyond RCV.NXT. The caller then
// drops this Conn and gives the SYN to the listener. It is false in any
// other state and for a segment that is not a bare SYN.
func (c *Conn) TimeWaitReuse(syn *Segment) bool {
	if c.state != TimeWait || syn.Flags&(SYN|RST|ACK|FIN) != SYN {
		return false
	}
	if c.tsOK && syn.Options.TS {
		return int32(syn.Options.TSVal-c.tsRecent) > 0
	}
	return syn.Seq.GreaterThan(c.rq.RcvNxt())
}
