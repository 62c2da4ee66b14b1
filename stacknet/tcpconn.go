package stacknet

import (
	"io"
	"math"
	"net"
	"syscall"
	"time"

	"github.com/stacknet/stacknet/proto/tcp"
)

var (
	_ net.Conn      = (*TCPConn)(nil)
	_ io.ReaderFrom = (*TCPConn)(nil)
	_ io.WriterTo   = (*TCPConn)(nil)
)

// The *net.OpError values below carry the same Op, Net, Source and Addr
// as *net.TCPConn's on Linux (net.go and tcpsock.go of package net), and
// the same system-call names inside.

func (c *TCPConn) opErr(op string, err error) error {
	laddr, raddr := c.addrs()
	return opError(op, c.network(), laddr, raddr, err)
}

// connSetErr is the error of a deadline setter, or of SetReadBuffer or
// SetWriteBuffer: net.conn's setters put no Source and the local address
// as Addr.
func (c *TCPConn) connSetErr(err error) error {
	laddr, _ := c.addrs()
	return opError("set", c.network(), nil, laddr, err)
}

// setErr is the error of a SetXxx option call: Op "set", Source the
// local address and Addr the remote one, as TCPConn's own setters fill
// them (the deadline setters of net.conn fill them otherwise).
func (c *TCPConn) setErr(err error) error { return c.opErr("set", err) }

// Read reads data into b. After the peer's FIN, once the data before it
// is read, it returns io.EOF itself, every time. A reset is reported once
// as ECONNRESET; reads after that return io.EOF, as on Linux.
func (c *TCPConn) Read(b []byte) (int, error) {
	n, err := c.read(b)
	if err != nil && err != io.EOF {
		return n, c.opErr("read", err)
	}
	return n, err
}

func (c *TCPConn) read(b []byte) (int, error) {
	if len(b) == 0 {
		// Package net returns at once, after checking the socket is open.
		if c.isClosed() {
			return 0, errClosed
		}
		return 0, nil
	}
	for {
		c.mu.Lock()
		if c.closedLocked() {
			c.mu.Unlock()
			c.passOn(false) // for the next blocked reader
			return 0, errClosed
		}
		// As package net's poller: a deadline that has passed fails the
		// call even when data is waiting.
		if c.deadlineExpired(false) {
			c.mu.Unlock()
			return 0, errDeadline
		}
		n, err := c.tc.Read(b, c.s.now())
		c.rearmLocked()
		if n > 0 {
			more := c.tc.Readable() > 0
			c.mu.Unlock()
			if more {
				c.passOn(false) // another reader may take the rest
			}
			return n, nil
		}
		if err != nil {
			if err != io.EOF {
				if c.errTaken {
					// Linux: the error is reported once (sock_error);
					// then the socket is shut down both ways: EOF.
					err = io.EOF
				} else {
					c.errTaken = true
					err = sysErr("read", errnoOf(err))
				}
			}
			c.mu.Unlock()
			c.passOn(false)
			return 0, err
		}
		w := c.waitersLocked()
		c.mu.Unlock()
		select {
		case <-w.rwake:
		case <-w.rdl.wait():
		}
	}
}

// passOn leaves a wake-up token for the next blocked reader (or writer),
// if any call ever waited.
func (c *TCPConn) passOn(write bool) {
	switch w := c.waiters.Load(); {
	case w == nil:
	case write:
		signal(w.wwake)
	default:
		signal(w.rwake)
	}
}

// Write writes b, blocking while the send buffer is full, and returns
// once all of b is queued. Concurrent Writes each land whole. A Write
// that reaches its deadline returns how much it queued. After the
// connection was reset, the first Write reports ECONNRESET unless a Read
// did, and later ones EPIPE; after CloseWrite, EPIPE.
func (c *TCPConn) Write(b []byte) (int, error) {
	n, err := c.write(b)
	if err != nil {
		return n, c.opErr("write", err)
	}
	return n, nil
}

func (c *TCPConn) write(b []byte) (int, error) {
	// One Write at a time. A Write waiting here is released when the
	// one under way returns, which a close or the deadline, shared by
	// both, makes it do.
	c.wmu.Lock()
	defer c.wmu.Unlock()
	nn := 0
	for {
		c.mu.Lock()
		if c.closedLocked() {
			c.mu.Unlock()
			c.passOn(true) // for a dial or handshake waiter
			return nn, errClosed
		}
		if c.deadlineExpired(true) {
			c.mu.Unlock()
			return nn, errDeadline
		}
		n, err := c.tc.Write(b[nn:], c.s.now())
		c.rearmLocked()
		nn += n
		if err != nil {
			switch {
			case err == tcp.ErrClosedWrite:
				err = sysErr("write", syscall.EPIPE)
			case err == tcp.ErrNotConnected:
				err = sysErr("write", syscall.ENOTCONN)
			case c.errTaken:
				err = sysErr("write", syscall.EPIPE)
			default:
				// Linux (sk_stream_error): the pending error first,
				// consumed; EPIPE from then on.
				c.errTaken = true
				err = sysErr("write", errnoOf(err))
			}
			c.mu.Unlock()
			return nn, err
		}
		if nn == len(b) {
			c.mu.Unlock()
			return nn, nil
		}
		w := c.waitersLocked()
		c.mu.Unlock()
		select {
		case <-w.wwake:
		case <-w.wdl.wait():
		}
	}
}

// Close closes the connection: a FIN follows the data written, or, if
// data received was left unread or SetLinger(0) was called, a RST
// (RFC 9293 3.10.4, RFC 2525 2.17). Unless SetLinger set a time, it does
// not block: the connection finishes in the background, through
// TIME-WAIT. Every blocked call returns net.ErrClosed; a second Close
// returns an error wrapping it.
func (c *TCPConn) Close() error {
	c.mu.Lock()
	if c.closedLocked() {
		c.mu.Unlock()
		return c.opErr("close", errClosed)
	}
	c.closed = true
	var ev tcp.Events
	if !c.dead {
		ev = c.tc.Close(c.linger == 0, c.s.now())
	}
	fx := c.settleLocked(ev)
	var lingered chan struct{}
	if c.linger > 0 && !c.dead && finUnacked(c.state) {
		lingered = make(chan struct{})
		c.lingered = lingered
	}
	linger := time.Duration(c.linger) * time.Second
	c.mu.Unlock()
	c.closeUser()
	c.apply(fx)
	if lingered != nil {
		c.waitLinger(lingered, linger)
	}
	return nil
}

// finUnacked reports whether a connection in state st sent a FIN not yet
// acknowledged (Linux's sk_stream_closing).
func finUnacked(st tcp.State) bool {
	return st == tcp.FinWait1 || st == tcp.Closing || st == tcp.LastAck
}

// waitLinger blocks as Linux's close(2) with SO_LINGER does
// (sk_stream_wait_close): until lingered is closed, because the FIN was
// acknowledged or the connection ended (settleLocked), or until d passes
// on the stack's clock.
func (c *TCPConn) waitLinger(lingered chan struct{}, d time.Duration) {
	expired := make(chan struct{})
	t := c.s.timers.NewTimer(func() { close(expired) })
	t.Reset(d)
	select {
	case <-lingered:
	case <-expired:
	}
	t.Stop()
	c.mu.Lock()
	c.lingered = nil
	c.mu.Unlock()
}

// CloseWrite shuts down the writing side (shutdown(SHUT_WR)): a FIN
// follows the data written; the peer reads EOF, and may still send.
func (c *TCPConn) CloseWrite() error {
	return c.shutdown(func(now time.Time) tcp.Events { return c.tc.CloseWrite(now) })
}

// CloseRead shuts down the reading side (shutdown(SHUT_RD)): Read
// returns io.EOF once what is queued is read. As on Linux, nothing is
// sent, and data that still arrives is acknowledged.
func (c *TCPConn) CloseRead() error {
	return c.shutdown(func(time.Time) tcp.Events {
		c.tc.CloseRead()
		return tcp.EvReadable
	})
}

func (c *TCPConn) shutdown(f func(time.Time) tcp.Events) error {
	c.mu.Lock()
	switch {
	case c.closedLocked():
		c.mu.Unlock()
		return c.opErr("close", errClosed)
	case c.dead || c.state == tcp.TimeWait:
		// Linux (inet_shutdown): a socket in CLOSE is not connected,
		// and a socket that reached TIME-WAIT is in CLOSE, the
		// TIME-WAIT being kept by a mini-socket of its own
		// (tcp_time_wait).
		c.mu.Unlock()
		return c.opErr("close", sysErr("shutdown", syscall.ENOTCONN))
	}
	fx := c.settleLocked(f(c.s.now()))
	c.mu.Unlock()
	c.apply(fx)
	return nil
}

// LocalAddr returns the local address, a *net.TCPAddr.
func (c *TCPConn) LocalAddr() net.Addr {
	laddr, _ := c.addrs()
	return laddr
}

// RemoteAddr returns the peer's address, a *net.TCPAddr.
func (c *TCPConn) RemoteAddr() net.Addr {
	_, raddr := c.addrs()
	return raddr
}

// SetDeadline sets the read and write deadlines; they apply to calls
// already blocked.
func (c *TCPConn) SetDeadline(t time.Time) error {
	return c.setDeadline(t, true, true)
}

// SetReadDeadline sets the read deadline; it applies to reads already
// blocked.
func (c *TCPConn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(t, true, false)
}

// SetWriteDeadline sets the write deadline; it applies to writes already
// blocked. A Write that times out returns how much it queued.
func (c *TCPConn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(t, false, true)
}

func (c *TCPConn) setDeadline(t time.Time, read, write bool) error {
	c.mu.Lock()
	if c.closedLocked() {
		c.mu.Unlock()
		return c.connSetErr(errClosed)
	}
	if c.waiters.Load() == nil && t.IsZero() {
		// No deadline, and none to clear.
		c.mu.Unlock()
		return nil
	}
	// Under c.mu, so that Close, which stops the deadlines once it set
	// c.closed, either finds them or comes first.
	w := c.waitersLocked()
	if read {
		w.rdl.set(t)
	}
	if write {
		w.wdl.set(t)
	}
	c.mu.Unlock()
	return nil
}

// setOption runs f on the open machine, or fails as a setsockopt on a
// closed socket does: with the error fail makes of net.ErrClosed.
func (c *TCPConn) setOption(fail func(error) error, f func(now time.Time) tcp.Events) error {
	c.mu.Lock()
	if c.closedLocked() {
		c.mu.Unlock()
		return fail(errClosed)
	}
	fx := c.settleLocked(f(c.s.now()))
	c.mu.Unlock()
	c.apply(fx)
	return nil
}

// SetNoDelay turns Nagle's algorithm off (true, the default Go sets on
// every connection) or on.
func (c *TCPConn) SetNoDelay(noDelay bool) error {
	return c.setOption(c.setErr, func(now time.Time) tcp.Events { return c.tc.SetNoDelay(noDelay, now) })
}

// SetKeepAlive turns keepalive probes on or off. Go turns them on for
// every connection it dials or accepts: 15 s idle, 15 s apart, 9 probes.
func (c *TCPConn) SetKeepAlive(keepalive bool) error {
	return c.setKeepAlive(func(ka *tcp.KeepAlive) { ka.Enable = keepalive })
}

// setKeepAlive changes the keepalive settings with f: one setsockopt.
func (c *TCPConn) setKeepAlive(f func(*tcp.KeepAlive)) error {
	return c.setOption(c.setErr, func(now time.Time) tcp.Events {
		f(&c.ka)
		c.tc.SetKeepAlive(c.ka, now)
		return 0
	})
}

// Linux's bounds on the keepalive options (MAX_TCP_KEEPIDLE,
// MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT).
const (
	maxKeepAliveSecs  = 32767
	maxKeepAliveCount = 127
)

// setKeepAliveSecs is package net's setKeepAliveIdle and
// setKeepAliveInterval, f setting the field: 0 means Go's 15 s, a
// negative d changes nothing (not even looking at the socket), and d is
// rounded up to whole seconds, passed to the kernel as a C int, and
// refused with EINVAL outside [1, 32767] s.
func (c *TCPConn) setKeepAliveSecs(d time.Duration, f func(*tcp.KeepAlive, time.Duration)) error {
	switch {
	case d == 0:
		d = 15 * time.Second
	case d < 0:
		return nil
	}
	secs := int32((d + time.Second - 1) / time.Second)
	if secs < 1 || secs > maxKeepAliveSecs {
		return c.invalidOption()
	}
	return c.setKeepAlive(func(ka *tcp.KeepAlive) { f(ka, time.Duration(secs)*time.Second) })
}

// SetUserTimeout sets TCP_USER_TIMEOUT (RFC 5482): how long transmitted
// data may stay unacknowledged before the connection fails with
// ETIMEDOUT, whatever the retransmission count says; 0 turns it off.
// Package net has no such method (it takes SyscallConn and setsockopt);
// a negative d is refused with EINVAL, as Linux refuses it.
func (c *TCPConn) SetUserTimeout(d time.Duration) error {
	if d < 0 {
		return c.invalidOption()
	}
	return c.setOption(c.setErr, func(time.Time) tcp.Events {
		c.tc.SetUserTimeout(d)
		return 0
	})
}

// invalidOption is a setsockopt that Linux refuses with EINVAL, once it
// found the socket open.
func (c *TCPConn) invalidOption() error {
	if c.isClosed() {
		return c.setErr(errClosed)
	}
	return c.setErr(sysErr("setsockopt", syscall.EINVAL))
}

// SetKeepAlivePeriod sets how long the connection stays idle before the
// first keepalive probe (TCP_KEEPIDLE; as in package net since Go 1.23
// the interval is left alone). It is rounded up to whole seconds; 0
// means 15 s and a negative period changes nothing.
func (c *TCPConn) SetKeepAlivePeriod(d time.Duration) error {
	return c.setKeepAliveSecs(d, func(ka *tcp.KeepAlive, d time.Duration) { ka.Idle = d })
}

// SetKeepAliveConfig configures keepalive probes as package net does on
// Linux, one option after the other (SO_KEEPALIVE, TCP_KEEPIDLE,
// TCP_KEEPINTVL, TCP_KEEPCNT), stopping at the first error: zero fields
// take Go's defaults (15 s, 15 s, 9) and negative ones leave the setting
// alone.
func (c *TCPConn) SetKeepAliveConfig(config net.KeepAliveConfig) error {
	if err := c.SetKeepAlive(config.Enable); err != nil {
		return err
	}
	if err := c.setKeepAliveSecs(config.Idle, func(ka *tcp.KeepAlive, d time.Duration) { ka.Idle = d }); err != nil {
		return err
	}
	if err := c.setKeepAliveSecs(config.Interval, func(ka *tcp.KeepAlive, d time.Duration) { ka.Interval = d }); err != nil {
		return err
	}
	switch n := config.Count; {
	case n < 0:
		return nil
	case n == 0:
		n = 9
		fallthrough
	case n <= maxKeepAliveCount:
		return c.setKeepAlive(func(ka *tcp.KeepAlive) { ka.Count = n })
	}
	return c.invalidOption()
}

// SetLinger sets what Close does with data not yet sent or acknowledged.
// With sec < 0 (the default) it is sent in the background and Close
// returns at once. With sec == 0 it is discarded and Close sends a RST.
// With sec > 0, as on Linux (SO_LINGER, sk_stream_wait_close), Close
// blocks until the FIN it sends is acknowledged, the connection fails,
// or sec seconds pass on the stack's clock; it returns nil either way,
// and the connection goes on in the background.
func (c *TCPConn) SetLinger(sec int) error {
	return c.setOption(c.setErr, func(time.Time) tcp.Events {
		c.linger = int32(min(max(sec, -1), math.MaxInt32))
		return 0
	})
}

// socketBuffer is the buffer size Linux sets for SO_RCVBUF or SO_SNDBUF
// of bytes: doubled for bookkeeping, within [floor, 2*maxSocketBuffer]
// (a negative value is a giant unsigned one to the kernel).
func socketBuffer(bytes, floor int) int {
	if bytes < 0 || bytes > maxSocketBuffer {
		bytes = maxSocketBuffer
	}
	return max(2*bytes, floor)
}

// SetReadBuffer sets the receive buffer as SO_RCVBUF does on Linux: the
// value doubled, between 2304 bytes and twice net.core.rmem_max; receive
// autotuning is off from then on.
func (c *TCPConn) SetReadBuffer(bytes int) error {
	return c.setOption(c.connSetErr, func(now time.Time) tcp.Events {
		return c.tc.SetRecvBuffer(socketBuffer(bytes, 2304), now)
	})
}

// SetWriteBuffer sets the send buffer as SO_SNDBUF does on Linux: the
// value doubled, between 4608 bytes and twice net.core.wmem_max.
func (c *TCPConn) SetWriteBuffer(bytes int) error {
	return c.setOption(c.connSetErr, func(now time.Time) tcp.Events {
		return c.tc.SetSendBuffer(socketBuffer(bytes, 4608), now)
	})
}

// MultipathTCP reports whether the connection uses MPTCP: never.
func (c *TCPConn) MultipathTCP() (bool, error) { return false, nil }

// Info returns a snapshot of the connection's TCP state, in the manner
// of Linux's TCP_INFO.
func (c *TCPConn) Info() tcp.Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tc.Info()
}

// ReadFrom copies from r until EOF, implementing io.ReaderFrom as
// package net's does without splice or sendfile: an error other than
// io.EOF comes in a *net.OpError with Op "readfrom".
func (c *TCPConn) ReadFrom(r io.Reader) (int64, error) {
	pb := c.s.bufs.get(copyBufLen)
	n, err := io.CopyBuffer(tcpWriterOnly{c}, r, pb.b)
	c.s.bufs.put(pb)
	if err != nil && err != io.EOF {
		err = c.opErr("readfrom", err)
	}
	return n, err
}

// WriteTo copies to w until EOF, implementing io.WriterTo: an error
// comes in a *net.OpError with Op "writeto".
func (c *TCPConn) WriteTo(w io.Writer) (int64, error) {
	pb := c.s.bufs.get(copyBufLen)
	n, err := io.CopyBuffer(w, tcpReaderOnly{c}, pb.b)
	c.s.bufs.put(pb)
	if err != nil && err != io.EOF {
		err = c.opErr("writeto", err)
	}
	return n, err
}

// copyBufLen is the buffer of ReadFrom and WriteTo: the largest packet
// buffer, so each Write may fill many segments.
const copyBufLen = 64 << 10

// tcpWriterOnly and tcpReaderOnly hide ReadFrom and WriteTo from
// io.Copy, which would otherwise call them again.
type tcpWriterOnly struct{ c *TCPConn }

func (w tcpWriterOnly) Write(b []byte) (int, error) { return w.c.Write(b) }

type tcpReaderOnly struct{ c *TCPConn }

func (r tcpReaderOnly) Read(b []byte) (int, error) { return r.c.Read(b) }

// isClosed reports whether the connection is closed for its user.
func (c *TCPConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closedLocked()
}

// closedLocked reports whether the connection is closed for its user: by
// Close, or by the stack's. c.mu is held.
func (c *TCPConn) closedLocked() bool {
	return c.closed || c.s.tcp.down.Load()
}
