package tcp

import "time"

// The timers, multiplexed onto one Deadline: retransmission (RTO, SYN and
// SYN-ACK), persist, delayed ACK, keepalive, TIME-WAIT and the orphan
// FIN-WAIT-2 timeout, and the release of idle buffers.

// due reports whether the timer t is armed and has expired at now.
func due(t, now time.Time) bool { return !t.IsZero() && !now.Before(t) }

// Timer runs whatever timers are due at now: retransmission, delayed ACK,
// persist, keepalive, TIME-WAIT, SYN-RECEIVED and user timeout.
func (c *Conn) Timer(now time.Time) Events {
	if c.state == Closed {
		return 0
	}
	var ev Events
	if due(c.closeAt, now) {
		// TIME-WAIT's 2 MSL, or an orphan's FIN-WAIT-2 (tcp_fin_timeout).
		return c.closeSilently()
	}
	if due(c.rtxAt, now) {
		c.rtxAt = time.Time{}
		if c.persist {
			ev |= c.onPersist(now)
		} else {
			ev |= c.onRTO(now)
		}
		if c.state == Closed {
			return ev
		}
	}
	if due(c.dackAt, now) {
		c.dackAt = time.Time{}
		if c.ackPending {
			c.sendAck(now)
		}
	}
	if due(c.kaAt, now) {
		c.kaAt = time.Time{}
		ev |= c.onKeepAlive(now)
		if c.state == Closed {
			return ev
		}
	}
	if due(c.reclaimAt, now) {
		c.reclaimAt = time.Time{}
		c.reclaim(now)
	}
	c.idleCheck(now)
	return ev
}

// timeoutErr is the error of a connection that timed out: the soft error
// from ICMP if one was recorded, else ErrTimedOut (Linux's tcp_write_err).
func (c *Conn) timeoutErr() error {
	if c.softErr != nil {
		return c.softErr
	}
	return ErrTimedOut
}

// onRTO handles the expiry of the retransmission timer (RFC 6298 5.4-5.6).
func (c *Conn) onRTO(now time.Time) Events {
	switch c.state {
	case SynSent, SynReceived:
		limit := c.cfg.SynRetries
		if c.state == SynReceived {
			limit = c.cfg.SynAckRetries
		}
		if c.retries >= limit {
			if c.state == SynReceived && c.passive {
				return c.closeSilently() // Linux drops the request quietly
			}
			return c.die(c.timeoutErr())
		}
		c.retries++
		c.retransmits++
		c.rto.Backoff()
		c.synRetransmitted, c.rttTiming = true, false
		c.sendSYN(c.state == SynReceived, now)
		c.armRTO(now)
		return 0
	}
	if c.sndUna == c.sndMax {
		return 0 // nothing outstanding
	}
	retransmitted := !c.firstRtxAt.IsZero() // Linux: the first expiry never times out
	if !retransmitted {
		c.firstRtxAt = c.rtxArmedAt
	}
	if c.sndWnd == 0 && !c.orphan {
		// Linux's tcp_retransmit_timer: the receiver shrank its window
		// to zero under data in flight. The retransmissions are
		// zero-window probes and are not counted; the connection times
		// out only when nothing has arrived for twice the largest RTO
		// (tcp_rtx_probe0_timed_out), or by the user timeout.
		limit := 2 * DefaultRTOMax
		if ut := c.cfg.UserTimeout; ut > 0 {
			if retransmitted && now.Sub(c.firstRtxAt) > ut {
				return c.die(c.timeoutErr())
			}
			limit = min(limit, ut)
		}
		if now.Sub(c.lastRecvAt) > limit && now.Sub(c.firstRtxAt) > limit {
			return c.die(c.timeoutErr())
		}
	} else if ut := c.cfg.UserTimeout; ut > 0 {
		if retransmitted && now.Sub(c.firstRtxAt) >= ut {
			return c.die(c.timeoutErr())
		}
		c.retries++
	} else {
		if c.retries >= c.cfg.Retries2 {
			// Linux's tcp_write_timeout: no RST, the connection just dies.
			return c.die(c.timeoutErr())
		}
		c.retries++
	}
	c.cc.OnTimeout(int(c.sndMax.Diff(c.sndUna)), now)
	c.rto.Backoff()
	// RFC 6582 4 (after a timeout), RFC 6298 5.4: go back to SND.UNA and
	// send again in slow start, skipping what the peer SACKed.
	c.inRecovery, c.dupAcks = false, 0
	c.recover = c.sndMax
	c.highRxt = c.sndUna
	c.rttTiming = false
	c.sndNxt = c.sndUna
	c.output(now)
	if c.rtxAt.IsZero() {
		c.armRTO(now)
	}
	return 0
}

// onPersist handles the persist timer (RFC 9293 3.8.6.1, RFC 1122
// 4.2.2.17): as Linux's tcp_write_wakeup, it sends new data if the
// window takes any, else a zero-window probe, the segment at SND.UNA-1
// that the peer must acknowledge. A peer that answers keeps the
// connection alive however long its window stays shut; Retries2
// unanswered probes (or the user timeout) end it.
func (c *Conn) onPersist(now time.Time) Events {
	c.persist = false
	avail := int(c.dataEnd().Diff(c.sndNxt))
	finOnly := avail <= 0 && c.finQueued() && !c.sndMax.GreaterThan(c.dataEnd())
	if c.sndUna != c.sndMax || avail <= 0 && !finOnly {
		return 0
	}
	if ut := c.cfg.UserTimeout; ut > 0 && c.probes > 0 && now.Sub(c.probeStart) >= ut {
		return c.die(c.timeoutErr())
	}
	if c.probes >= c.cfg.Retries2 {
		return c.die(c.timeoutErr())
	}
	if c.probes == 0 {
		c.probeStart = now
	}
	c.probes++
	c.persistN++
	if wnd := int(c.sndUna.Add(c.sndWnd).Diff(c.sndNxt)); wnd > 0 && avail > 0 {
		// Linux's tcp_write_wakeup pushes what the window takes.
		c.sendData(c.sndNxt, min(wnd, c.sndMSS, avail), ACK|PSH, now)
		return 0
	}
	if finOnly {
		c.sendData(c.sndNxt, 0, ACK|FIN, now)
		return 0
	}
	c.emit(c.sndUna.Add(-1), ACK, nil, nil, now)
	c.armPersist(now)
	return 0
}

// onKeepAlive handles the keepalive timer (RFC 9293 3.8.4, RFC 1122
// 4.2.3.6), as Linux's tcp_keepalive_timer: after Idle with nothing
// received and nothing in flight, a probe at SND.UNA-1 every Interval;
// after Count unanswered (or the user timeout), RST and ErrTimedOut.
func (c *Conn) onKeepAlive(now time.Time) Events {
	k := c.cfg.KeepAlive
	if !k.Enable {
		return 0
	}
	switch c.state {
	case Established, CloseWait, FinWait1, FinWait2, Closing, LastAck:
	default:
		return 0
	}
	if c.sndUna != c.sndMax || c.sq.Len() > int(c.sndMax.Diff(c.sqSeq)) {
		c.kaAt = now.Add(k.Idle) // data in flight or waiting: the RTO watches
		return 0
	}
	elapsed := now.Sub(c.lastRecvAt)
	if elapsed < k.Idle {
		c.kaAt = c.lastRecvAt.Add(k.Idle)
		return 0
	}
	ut := c.cfg.UserTimeout
	if ut > 0 && elapsed >= ut && c.probes > 0 || ut <= 0 && c.probes >= k.Count {
		c.sendActiveReset(now)
		return c.die(c.timeoutErr())
	}
	c.probes++
	c.emit(c.sndUna.Add(-1), ACK, nil, nil, now)
	c.kaAt = now.Add(k.Interval)
	return 0
}

// idleCheck notes when the buffers were last in use and arms the
// release of buffers that hold nothing. The timer is armed once and
// pushed back lazily when it fires (as Linux's keepalive timer), so that
// busy connections do not move their Deadline on every segment.
func (c *Conn) idleCheck(now time.Time) {
	if c.state == Closed {
		return
	}
	if c.sq.Len() > 0 || c.rq.Readable() > 0 || c.rq.HasOutOfOrder() {
		c.bufUsedAt = now
		return
	}
	if c.reclaimAt.IsZero() && (c.sq.Cap() > 0 || c.rq.Allocated() > 0) {
		c.reclaimAt = now.Add(reclaimDelay)
	}
}

// reclaim gives back the memory of empty buffers, if they were not used
// for reclaimDelay.
func (c *Conn) reclaim(now time.Time) {
	if c.sq.Len() > 0 || c.rq.Readable() > 0 || c.rq.HasOutOfOrder() {
		return // idleCheck arms the timer again once they are empty
	}
	if at := c.bufUsedAt.Add(reclaimDelay); now.Before(at) {
		c.reclaimAt = at
		return
	}
	c.sq.Release()
	c.rq.Release()
	if c.sb != nil && c.sb.Empty() && !c.inRecovery {
		c.sb = nil
	}
}

// stopTimers disarms every timer.
func (c *Conn) stopTimers() {
	c.rtxAt, c.dackAt, c.kaAt, c.closeAt, c.reclaimAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	c.persist = false
}

// closeSilently enters CLOSED without an error: the end of a close, or a
// passive open given up.
func (c *Conn) closeSilently() Events {
	c.state = Closed
	c.stopTimers()
	c.sq.Discard(c.sq.Len())
	c.sq.Release()
	c.rq.Release()
	return EvClosed | EvReadable | EvWritable
}

// die enters CLOSED with err (kept if one is already recorded).
func (c *Conn) die(err error) Events {
	if c.err == nil {
		c.err = err
	}
	return c.closeSilently() | EvError
}
