package tcp

import (
	"io"
	"time"
)

// The user calls of RFC 9293 3.10: OPEN, SEND, RECEIVE, CLOSE, ABORT, and
// the socket options.

// start fixes the TS clock's epoch if the Config left it zero.
func (c *Conn) start(now time.Time) {
	if c.cfg.TSEpoch.IsZero() {
		c.cfg.TSEpoch = now
	}
}

// Open starts an active open: sends a SYN and enters SYN-SENT.
func (c *Conn) Open(now time.Time) Events {
	if c.state != Closed || c.sndMax != c.iss {
		return 0
	}
	c.start(now)
	c.state = SynSent
	c.sndNxt, c.sndMax = c.iss.Add(1), c.iss.Add(1)
	c.sendSYN(false, now)
	c.rttTiming, c.rttSeq, c.rttAt = true, c.sndNxt, now
	c.armRTO(now)
	return 0
}

// AcceptSYN starts a passive open from syn, a SYN that reached a listener:
// records the peer's options, sends the SYN-ACK and enters SYN-RECEIVED.
func (c *Conn) AcceptSYN(syn *Segment, now time.Time) Events {
	if c.state != Closed || c.sndMax != c.iss || syn.Flags&(SYN|ACK|RST) != SYN {
		return 0
	}
	c.start(now)
	c.passive = true
	c.irs = syn.Seq
	c.rq.reset(c.rq.Capacity(), syn.Seq.Add(1))
	c.rcvAdv, c.lastAck = syn.Seq.Add(1), syn.Seq.Add(1)
	c.peerOptions(&syn.Options, now)
	c.sndWnd = int(syn.Window) // RFC 7323 2.2: not scaled in a SYN
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = syn.Seq, c.iss
	c.sndNxt, c.sndMax = c.iss.Add(1), c.iss.Add(1)
	c.lastRecvAt = now
	c.state = SynReceived
	c.sendSYN(true, now)
	c.rttTiming, c.rttSeq, c.rttAt = true, c.sndNxt, now
	c.armRTO(now)
	return 0
}

// AcceptCookie makes the connection ESTABLISHED from ack, the ACK that
// returned a valid SYN cookie, with what the cookie kept of the SYN, and
// then processes the rest of ack (its data, FIN) as Input would. The ISS
// is SEG.ACK-1, whatever Config.ISS says.
func (c *Conn) AcceptCookie(p SynParams, ack *Segment, now time.Time) Events {
	if c.state != Closed || c.sndMax != c.iss || ack.Flags&(SYN|ACK|RST) != ACK {
		return 0
	}
	c.start(now)
	c.passive = true
	c.iss = ack.Ack.Add(-1)
	c.sndUna, c.sndNxt, c.sndMax, c.sqSeq = ack.Ack, ack.Ack, ack.Ack, ack.Ack
	c.recover, c.highRxt, c.sndSml = ack.Ack, ack.Ack, ack.Ack
	c.irs = ack.Seq.Add(-1)
	c.rq.reset(c.rq.Capacity(), ack.Seq)
	o := Options{MSS: p.MSS, HasMSS: p.MSS != 0, WScale: p.WScale, HasWScale: p.HasWScale,
		SACKPermitted: p.SACKPermitted, TS: p.TS && ack.Options.TS, TSVal: ack.Options.TSVal}
	c.peerOptions(&o, now)
	// The SYN-ACK offered the unscaled window of a SYN-ACK.
	c.rcvAdv = ack.Seq.Add(min(c.rq.Window(), 0xffff))
	c.lastAck = ack.Seq
	c.sndWnd = int(ack.Window) << c.sndWScale
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = ack.Seq, ack.Ack
	if c.tsOK && ack.Options.TSEcr != 0 {
		c.tsSample(ack.Options.TSEcr, now)
	}
	c.established(now)
	ev := EvEstablished | EvWritable
	ev |= c.inputSync(ack, now)
	c.idleCheck(now)
	return ev
}

// Write queues as much of p as the send buffer has room for and sends
// what the windows allow (Nagle's rule unless NoDelay). It returns how
// much it queued, and ErrClosedWrite after CloseWrite or Close, Err()
// after a failure, ErrNotConnected before the handshake completes.
// (See Conn for the errors exactly.)
func (c *Conn) Write(p []byte, now time.Time) (int, error) {
	if err := c.writeErr(); err != nil {
		return 0, err
	}
	n := c.sq.Write(p)
	if n > 0 {
		c.output(now)
		c.idleCheck(now)
	}
	return n, nil
}

// writeErr is why Write can take nothing, or nil.
func (c *Conn) writeErr() error {
	if c.err != nil {
		if !c.errReported {
			c.errReported = true
			return c.err
		}
		return ErrClosedWrite
	}
	if c.writeClosed {
		return ErrClosedWrite
	}
	switch c.state {
	case Established, CloseWait:
		return nil
	case SynSent, SynReceived:
		return ErrNotConnected
	case Closed:
		if c.sndMax == c.iss {
			return ErrNotConnected // never opened
		}
	}
	return ErrClosedWrite
}

// Read takes up to len(p) bytes of in-order data, and sends a window
// update if that opened the window enough (RFC 1122 4.2.3.3). It returns
// (0, nil) when nothing is there yet, (0, io.EOF) after the peer's FIN
// once the data before it is read, and (0, Err()) after a failure.
// (See Conn for the errors exactly.)
func (c *Conn) Read(p []byte, now time.Time) (int, error) {
	if n := c.rq.Read(p); n > 0 {
		c.rcvCopied += n
		c.autoTune(now)
		c.windowUpdate(now)
		c.idleCheck(now)
		return n, nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Linux's tcp_recvmsg: the end of the stream (SOCK_DONE, set by the
	// peer's FIN) comes before a pending error, which it leaves
	// unreported; then the error, once (sock_error); then the shut read
	// side (RCV_SHUTDOWN, which tcp_done sets on a failure too).
	if c.finRcvd {
		return 0, io.EOF
	}
	if c.err != nil {
		if !c.errReported {
			c.errReported = true
			return 0, c.err
		}
		return 0, io.EOF
	}
	if c.readClosed || c.state == Closed && c.sndMax != c.iss {
		return 0, io.EOF
	}
	return 0, nil
}

// windowUpdate sends an ACK after a Read if the window opened enough to
// tell the peer, as Linux's __tcp_cleanup_rbuf: when the window left is
// at most half the buffer and the one to offer is at least twice it.
func (c *Conn) windowUpdate(now time.Time) {
	switch c.state {
	case Established, FinWait1, FinWait2:
	default:
		return
	}
	if c.finRcvd {
		return
	}
	nxt := c.rq.RcvNxt()
	cur := max(int(c.rcvAdv.Diff(nxt)), 0)
	if 2*cur > c.rq.Capacity() {
		return
	}
	free := c.rq.Window()
	if free-cur < min(c.rq.Capacity()/2, c.rcvMSS) {
		return // RFC 1122 4.2.3.3: not worth a silly window
	}
	if free >= 2*cur && free > cur {
		c.sendAck(now)
	}
}

// autoTune is Linux's receive buffer auto-tuning (dynamic right-sizing,
// tcp_rcv_space_adjust): once per round trip, if the application read
// more than the buffer can carry in two round trips, the buffer grows to
// twice what it read, up to RecvBufferMax.
func (c *Conn) autoTune(now time.Time) {
	if !c.autotune {
		return
	}
	rtt := c.rto.SRTT()
	if rtt <= 0 {
		rtt = c.rcvRTT
	}
	if rtt <= 0 {
		rtt = 10 * time.Millisecond
	}
	if now.Sub(c.rcvSpaceAt) < rtt {
		return
	}
	want := 2 * c.rcvCopied
	if want > c.rq.Capacity() {
		c.rq.Grow(min(want, c.cfg.RecvBufferMax))
	}
	c.rcvCopied = 0
	c.rcvSpaceAt = now
}

// CloseWrite queues a FIN after the data written (RFC 9293 3.10.4): the
// half-close of shutdown(SHUT_WR).
func (c *Conn) CloseWrite(now time.Time) Events {
	if c.writeClosed || c.state == Closed {
		return 0
	}
	c.writeClosed = true
	c.closeWriteState()
	c.output(now)
	return EvWritable
}

// closeWriteState makes the state change of a CLOSE on the sending side
// (RFC 9293 3.10.4): ESTABLISHED to FIN-WAIT-1, CLOSE-WAIT to LAST-ACK.
// In SYN-SENT and SYN-RECEIVED the FIN waits for ESTABLISHED.
func (c *Conn) closeWriteState() {
	switch c.state {
	case Established:
		c.state = FinWait1
	case CloseWait:
		c.state = LastAck
	}
}

// Close is the application's close(2): with unread data, or with linger
// zero, it aborts (sends RST, RFC 9293 3.10.4 and RFC 2525 2.17);
// otherwise it sends a FIN after the data written, and any data arriving
// afterwards is answered with RST (Linux). The Conn lives on through
// FIN-WAIT and TIME-WAIT until EvClosed. In SYN-SENT it just enters
// CLOSED, as Linux does.
func (c *Conn) Close(linger0 bool, now time.Time) Events {
	if c.orphan || c.state == Closed {
		c.orphan, c.readClosed = true, true
		return 0
	}
	c.orphan, c.readClosed = true, true
	switch c.state {
	case SynSent:
		return c.closeSilently()
	case TimeWait:
		return 0
	}
	if linger0 || c.rq.Readable() > 0 {
		return c.Abort(now)
	}
	if c.state == FinWait2 {
		c.closeAt = now.Add(finTimeout)
	}
	if !c.writeClosed {
		c.writeClosed = true
		c.closeWriteState()
		c.output(now)
	}
	return EvWritable | EvReadable
}

// CloseRead is shutdown(SHUT_RD): from now on Read returns io.EOF once
// nothing is queued. As on Linux, data that arrives is still acknowledged
// and may still be read, and nothing is sent; but once the sending side
// is closed too (FIN-WAIT-1, FIN-WAIT-2), new data is answered with RST
// and fails the connection with ErrReset, as after Close.
func (c *Conn) CloseRead() { c.readClosed = true }

// Abort sends a RST if synchronized and enters CLOSED at once (RFC 9293
// 3.10.5, ABORT). Err is ErrAborted afterwards.
func (c *Conn) Abort(now time.Time) Events {
	switch c.state {
	case Closed:
		return 0
	case SynReceived, Established, FinWait1, FinWait2, CloseWait, Closing, LastAck:
		c.sendActiveReset(now)
	}
	return c.die(ErrAborted)
}

// SoftError records an error from ICMP (RFC 1122 4.2.3.9, RFC 5461).
// In SYN-SENT and SYN-RECEIVED any error fails the connection with err,
// as Linux's tcp_v4_err does whatever icmp_err_convert's "fatal" class
// (hard) says; otherwise err is kept and reported instead of ErrTimedOut
// if the connection later times out. hard is kept for the facade's
// other protocols and does not change what TCP does.
func (c *Conn) SoftError(err error, hard bool, now time.Time) Events {
	if c.state == Closed || err == nil {
		return 0
	}
	if c.state == SynSent || c.state == SynReceived {
		return c.die(err)
	}
	c.softErr = err
	return 0
}

// PathMTU lowers the path MTU after an ICMP fragmentation-needed (RFC 1191
// 6.3) and retransmits what no longer fits. An MTU that would raise the
// MSS is ignored.
func (c *Conn) PathMTU(mtu int, now time.Time) Events {
	if c.state == Closed {
		return 0
	}
	m := min(mtu-40, c.cfg.MSS, c.peerMSS)
	if c.tsOK {
		m -= tsOptLen
	}
	m = max(m, minSndMSS)
	if m >= c.sndMSS {
		return 0
	}
	c.sndMSS = m
	c.rcvMSS = min(c.rcvMSS, m)
	if c.state == SynSent || c.state == SynReceived {
		return 0
	}
	c.cc.SetMSS(m)
	if c.sndUna != c.sndMax {
		// Linux's tcp_simple_retransmit: what was sent in segments too
		// big is sent again, without a congestion response.
		c.sndNxt = c.sndUna
		c.rttTiming = false
		c.output(now)
	}
	return 0
}

// SetNoDelay, SetKeepAlive, SetUserTimeout, SetSendBuffer and
// SetRecvBuffer change the Config's settings on a live connection as the
// socket options do on Linux. SetRecvBuffer turns autotuning off.
func (c *Conn) SetNoDelay(on bool, now time.Time) Events {
	c.cfg.NoDelay = on
	if on {
		c.output(now) // Linux pushes what Nagle held back
	}
	return 0
}

// SetKeepAlive changes the keepalive settings; zero fields take Linux's
// defaults. Enabling it on a live connection starts the idle time from
// the last segment received.
func (c *Conn) SetKeepAlive(k KeepAlive, now time.Time) {
	c.cfg.KeepAlive = keepAliveDefaults(k)
	c.kaAt = time.Time{}
	if !k.Enable || !c.synchronized() || c.state == TimeWait {
		return
	}
	c.kaAt = c.lastRecvAt.Add(c.cfg.KeepAlive.Idle)
	if c.kaAt.Before(now) {
		c.kaAt = now
	}
}

// SetUserTimeout sets TCP_USER_TIMEOUT (RFC 5482); 0 turns it off.
func (c *Conn) SetUserTimeout(d time.Duration) { c.cfg.UserTimeout = max(d, 0) }

// SetSendBuffer sets the most data held for sending; it does not drop
// what is held beyond it.
func (c *Conn) SetSendBuffer(n int, now time.Time) Events {
	if n <= 0 {
		return 0
	}
	c.cfg.SendBuffer = n
	c.sq.limit = n
	if c.Writable() > 0 {
		return EvWritable
	}
	return 0
}

// SetRecvBuffer sets the receive buffer and turns autotuning off. Before
// Open or AcceptSYN it also sets the window scale offered; afterwards the
// buffer only grows, since the window already offered must not shrink
// (RFC 9293 3.8.6).
func (c *Conn) SetRecvBuffer(n int, now time.Time) Events {
	if n <= 0 {
		return 0
	}
	n = min(n, MaxRecvCapacity)
	c.autotune = false
	if c.state == Closed && c.sndMax == c.iss {
		c.cfg.RecvBuffer, c.cfg.RecvBufferMax = n, n
		if !c.cfg.NoWScale {
			c.offerWScale = WScaleFor(n)
		}
		c.rq.reset(n, c.rq.RcvNxt())
		return 0
	}
	c.cfg.RecvBufferMax = max(c.cfg.RecvBufferMax, n)
	if n > c.rq.Capacity() {
		c.rq.Grow(n)
		c.windowUpdate(now)
	}
	return 0
}
