package stacknet

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/tcp"
	"github.com/stacknet/stacknet/timers"
)

// This file joins a TCPConn to its machine, the pure tcp.Conn: every call
// into the machine is made under the connection's mutex; the segments it
// emits are built and sent synchronously on the calling goroutine; after
// each call the connection's one timer is re-armed to the machine's
// deadline, the stack's counters follow the state it moved to, and the
// goroutines waiting on the connection are woken as the Events say.

// TCPConn is a TCP connection on a Stack. It implements net.Conn, with
// the methods of *net.TCPConn, and behaves as a *net.TCPConn does on
// Linux.
type TCPConn struct {
	s       *Stack
	key     tcpKey // the 4-tuple: see local and remote
	tcp4    bool   // made for network "tcp4", not "tcp": see network
	passive bool   // made by a listener
	r       route  // cached at the open, as Linux caches a socket's dst

	mu       sync.Mutex
	tc       *tcp.Conn
	timer    timers.Timer
	armed    int64        // the deadline the timer is armed for, in Unix ns; 0 if none
	ln       *TCPListener // the listener, while in SYN-RECEIVED
	state    tcp.State    // as last seen, for the counters
	retrans  uint64       // the machine's Retransmits, as last counted in the stack's stats
	closed   bool         // Close was called, or the stack closed
	dead     bool         // the machine reached CLOSED: out of the table
	errTaken bool         // the machine's error was reported once (sk_err consumed)
	linger   int32        // SetLinger's value: -1 unless set
	ka       tcp.KeepAlive
	lingered chan struct{} // closed when a Close lingering for its FIN's ACK may return
	laddr    *net.TCPAddr  // made when first asked for (addrs)
	raddr    *net.TCPAddr

	// waiters is what blocked calls wait on, made by the first call that
	// has to (see tcpWaiters): an idle connection pays for none of it.
	waiters atomic.Pointer[tcpWaiters]
	wmu     sync.Mutex // held by the Write under way: Writes land whole
}

// Go's defaults for every connection it dials or accepts
// (net.newTCPConn): TCP_NODELAY, and keepalive after 15 s idle, every
// 15 s, 9 probes.
var goKeepAlive = tcp.KeepAlive{Enable: true, Idle: 15 * time.Second, Interval: 15 * time.Second, Count: 9}

// newTCPConn makes a connection whose machine is yet to be made.
func (s *Stack) newTCPConn(network string, r route, passive bool) *TCPConn {
	c := &TCPConn{
		s:       s,
		tcp4:    network == "tcp4",
		r:       r,
		passive: passive,
		linger:  -1,
		ka:      goKeepAlive,
	}
	c.timer.Init(s.timers, c.onTimer)
	return c
}

// network is the network the connection was made for, as its errors
// name it.
func (c *TCPConn) network() string {
	if c.tcp4 {
		return "tcp4"
	}
	return "tcp"
}

// setAddrs records the 4-tuple, before c is published.
func (c *TCPConn) setAddrs(local, remote netip.AddrPort) {
	c.key = makeTCPKey(local, remote)
}

// local is the local address and port.
func (c *TCPConn) local() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(c.key.laddr), c.key.lport)
}

// remote is the peer's address and port.
func (c *TCPConn) remote() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(c.key.raddr), c.key.rport)
}

// addrs returns the addresses as *net.TCPAddr, made on first use so that
// a connection nobody asks pays nothing for them.
func (c *TCPConn) addrs() (laddr, raddr *net.TCPAddr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.laddr == nil {
		c.laddr = net.TCPAddrFromAddrPort(c.local())
		c.raddr = net.TCPAddrFromAddrPort(c.remote())
	}
	return c.laddr, c.raddr
}

// routeMSS is the MSS for a route: its MTU less the IPv4 and TCP headers.
func routeMSS(r *route) int {
	return min(r.mtu, ipv4.MaxDatagram) - ipv4.HeaderLen - tcp.HeaderLen
}

// maxTSOSegment is the most payload one TCP segment for a device with
// link.OffloadTSO carries: an IPv4 datagram of the largest total length,
// less the IPv4 header and a TCP header with the most options.
const maxTSOSegment = ipv4.MaxDatagram - ipv4.HeaderLen - tcp.HeaderLen - 40

// machineConfig is the configuration of a connection from local to
// remote along r, opened at now.
func (s *Stack) machineConfig(local, remote netip.AddrPort, r *route, now time.Time) tcp.Config {
	t := &s.cfg.TCP
	mss, maxSeg := routeMSS(r), 0
	if r.ifc.offload&link.OffloadTSO != 0 {
		maxSeg = maxTSOSegment
	}
	return tcp.Config{
		MaxSegment:    maxSeg,
		Local:         local,
		Remote:        remote,
		ISS:           s.tcp.isn.ISN(local, remote, now),
		TSEpoch:       s.tcp.isn.TSEpoch(),
		TSOffset:      s.tcp.isn.TSOffset(local, remote),
		MSS:           mss,
		SendBuffer:    t.SendBuffer,
		RecvBuffer:    t.ReceiveBuffer,
		RecvBufferMax: t.ReceiveBufferMax,
		Congestion:    t.Congestion,
		NoDelay:       true,
		KeepAlive:     goKeepAlive,
		NoWScale:      t.NoWScale,
		NoSACK:        t.NoSACK,
		NoTimestamps:  t.NoTimestamps,
		TimeWait:      t.TimeWait,
		SynRetries:    t.SynRetries,
		UserTimeout:   t.UserTimeout,
	}
}

// tcpEmitter is a TCPConn seen as its machine's Emitter, so that Emit is
// not one of TCPConn's methods.
type tcpEmitter TCPConn

// Emit sends a segment of the machine's, under the connection's mutex.
func (e *tcpEmitter) Emit(f *tcp.Fields, o *tcp.Options, p1, p2 []byte) {
	c := (*TCPConn)(e)
	c.s.tcpOutput(&c.r, netip.AddrFrom4(c.key.laddr), netip.AddrFrom4(c.key.raddr), f, o, p1, p2)
}

// effects is what a call into the machine leaves to do once the mutex is
// released.
type effects struct {
	ev    tcp.Events
	ln    *TCPListener // the listener to tell of an establishment or a failure
	estab bool         // the connection left SYN-RECEIVED for the listener's queue
	dead  bool         // the connection reached CLOSED
}

// settleLocked follows a call into the machine that returned ev: it
// re-arms the timer, counts state changes, and says what to do after
// the mutex is released. c.mu is held.
func (c *TCPConn) settleLocked(ev tcp.Events) effects {
	c.rearmLocked()
	var fx effects
	fx.ev = ev
	st := c.tc.State()
	old := c.state
	if st != old {
		c.state = st
		c.countTransition(old, st)
	}
	if c.ln != nil && (ev&tcp.EvEstablished != 0 || st != tcp.SynReceived && st != tcp.Closed) {
		fx.ln, fx.estab = c.ln, true
		c.ln = nil
	}
	if !c.dead && (ev&tcp.EvClosed != 0 || st == tcp.Closed && old != tcp.Closed) {
		c.dead = true
		fx.dead = true
		if c.ln != nil {
			fx.ln = c.ln
			c.ln = nil
		}
	}
	if c.lingered != nil && (c.dead || !finUnacked(st)) {
		close(c.lingered)
		c.lingered = nil
	}
	return fx
}

// countTransition keeps the counters of RFC 4022 as Linux keeps them.
func (c *TCPConn) countTransition(old, st tcp.State) {
	sc := &c.s.stats.TCP
	est := func(s tcp.State) bool { return s == tcp.Established || s == tcp.CloseWait }
	switch {
	case !est(old) && est(st):
		add(&sc.CurrEstab)
	case est(old) && !est(st):
		sub(&sc.CurrEstab)
	}
	switch {
	case st == tcp.Closed && est(old):
		add(&sc.EstabResets)
	case st == tcp.Closed && (old == tcp.SynSent || old == tcp.SynReceived):
		add(&sc.AttemptFails)
	}
	if c.passive && (old == tcp.SynReceived || old == tcp.Closed) && st != tcp.Closed && st != tcp.SynReceived {
		// Linux counts a passive open when the handshake completes and
		// the child socket is made (tcp_create_openreq_child).
		add(&sc.PassiveOpens)
	}
}

// rearmLocked runs after every call into the machine: it adds the
// segments the machine retransmitted to the stack's stats, and arms the
// timer for the machine's deadline if it changed.
func (c *TCPConn) rearmLocked() {
	if r := c.tc.Retransmits(); r != c.retrans {
		// The machine counts what it retransmits; the stack's stats
		// take the difference since the last call.
		addN(&c.s.stats.TCP.RetransSegs, int(r-c.retrans))
		c.retrans = r
	}
	d := c.tc.Deadline()
	var at int64 // d in Unix ns; 0 for none
	if !d.IsZero() && !c.dead {
		at = d.UnixNano()
	}
	if at == c.armed {
		return
	}
	c.armed = at
	if at == 0 {
		c.timer.Stop()
	} else {
		c.timer.ResetAt(d)
	}
}

// apply does what a call into the machine left to do: it wakes the
// waiters, hands an established child to its listener's queue, and takes
// a closed connection out of the tables.
func (c *TCPConn) apply(fx effects) {
	if w := c.waiters.Load(); w != nil {
		if fx.ev&(tcp.EvReadable|tcp.EvError|tcp.EvClosed) != 0 {
			signal(w.rwake)
		}
		if fx.ev&(tcp.EvWritable|tcp.EvEstablished|tcp.EvError|tcp.EvClosed) != 0 || fx.dead {
			signal(w.wwake)
		}
	}
	if fx.ln != nil {
		if fx.estab {
			fx.ln.childEstablished(c)
		} else {
			fx.ln.childFailed(c)
		}
	}
	if fx.dead {
		c.s.tcp.removeConn(c)
		c.timer.Stop()
	}
}

// signal leaves a token in a wake-up channel of capacity one.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// onTimer is the connection's timer callback.
func (c *TCPConn) onTimer() {
	c.mu.Lock()
	c.armed = 0
	if c.tc == nil || c.dead {
		c.mu.Unlock()
		return
	}
	fx := c.settleLocked(c.tc.Timer(c.s.now()))
	c.mu.Unlock()
	c.apply(fx)
}

// input delivers a segment; false means the connection is gone and the
// segment is to be treated as reaching no connection.
func (c *TCPConn) input(seg *tcp.Segment) bool {
	c.mu.Lock()
	if c.tc == nil || c.dead {
		c.mu.Unlock()
		return false
	}
	if ln := c.ln; ln != nil && c.state == tcp.SynReceived && seg.Flags&(tcp.ACK|tcp.SYN|tcp.RST) == tcp.ACK && ln.acceptQueueFull() {
		// Linux (tcp_check_req, tcp_abort_on_overflow=0): the ACK that
		// would complete the handshake finds the accept queue full and
		// is dropped; the peer retransmits, or the SYN-ACK timer does.
		c.mu.Unlock()
		add(&c.s.stats.TCP.ListenOverflows)
		add(&c.s.stats.TCP.ListenDrops)
		return true
	}
	if c.state == tcp.TimeWait && c.tc.TimeWaitReuse(seg) && c.s.tcp.listener(c.local()) != nil {
		// RFC 9293 3.6.1, RFC 6191, Linux's TCP_TW_SYN: a new SYN
		// beyond the old incarnation ends TIME-WAIT silently and goes to
		// the listener.
		c.dead = true
		c.mu.Unlock()
		fx := effects{dead: true}
		c.apply(fx)
		return false
	}
	fx := c.settleLocked(c.tc.Input(seg, c.s.now()))
	c.mu.Unlock()
	c.apply(fx)
	return true
}

// pathMTU lowers the connection's path MTU after an ICMP fragmentation
// needed about the segment with sequence number seq (RFC 1191 6.3).
func (c *TCPConn) pathMTU(seq tcp.Seq, mtu int) bool {
	// Linux's ip_rt_min_pmtu: a smaller next-hop MTU is taken as 552
	// (RFC 1191 leaves the floor to the host; 68 is legal but a
	// known attack, CVE-2004-0790 and RFC 5927 7.2).
	const minPMTU = 552
	c.mu.Lock()
	if c.tc == nil || c.dead || !c.seqInFlightLocked(seq) {
		c.mu.Unlock()
		add(&c.s.stats.TCP.InICMPOutOfWindow)
		return false
	}
	mtu = max(mtu, minPMTU)
	if mtu >= c.r.mtu {
		c.mu.Unlock()
		return true
	}
	c.r.mtu = mtu
	fx := c.settleLocked(c.tc.PathMTU(mtu, c.s.now()))
	c.mu.Unlock()
	c.apply(fx)
	return true
}

// icmpError records an error from ICMP about the segment with sequence
// number seq.
func (c *TCPConn) icmpError(seq tcp.Seq, errno syscall.Errno, hard bool) bool {
	c.mu.Lock()
	if c.tc == nil || c.dead || !c.seqInFlightLocked(seq) {
		c.mu.Unlock()
		add(&c.s.stats.TCP.InICMPOutOfWindow)
		return false
	}
	// Linux (tcp_v4_err): in SYN-SENT any ICMP error that reaches the
	// socket fails the connect with its errno; the machine does that.
	fx := c.settleLocked(c.tc.SoftError(errno, hard, c.s.now()))
	c.mu.Unlock()
	c.apply(fx)
	return true
}

// seqInFlightLocked reports whether seq is in SND.UNA..SND.NXT, as an
// ICMP error must quote to be believed (RFC 5927 4.1, Linux's
// tcp_v4_err).
func (c *TCPConn) seqInFlightLocked(seq tcp.Seq) bool {
	una, sndMax := c.tc.Sent()
	return seq.GreaterEq(una) && seq.LessEq(sndMax)
}

// destroy closes the connection for its user, if not yet, and aborts the
// machine: RST if synchronized (RFC 9293 3.10.5). It is how a failed or
// cancelled dial, a listener's close and the stack's close end a
// connection.
func (c *TCPConn) destroy() {
	c.mu.Lock()
	wasClosed := c.closed
	c.closed = true
	var fx effects
	if c.tc != nil {
		var ev tcp.Events
		if !c.dead {
			ev = c.tc.Abort(c.s.now())
		}
		fx = c.settleLocked(ev)
	} else if !c.dead {
		c.dead, fx.dead = true, true
	}
	c.mu.Unlock()
	if !wasClosed {
		c.closeUser()
	}
	c.apply(fx)
}

// closeUser wakes every blocked call, after c.closed was set: each passes
// the wake-up on as it returns.
func (c *TCPConn) closeUser() {
	if w := c.waiters.Load(); w != nil {
		signal(w.rwake)
		signal(w.wwake)
		w.rdl.stop()
		w.wdl.stop()
	}
}

// errnoOf maps an error of the machine to the errno Linux reports for it.
func errnoOf(err error) syscall.Errno {
	switch err {
	case tcp.ErrRefused:
		return syscall.ECONNREFUSED
	case tcp.ErrReset:
		return syscall.ECONNRESET
	case tcp.ErrTimedOut:
		return syscall.ETIMEDOUT
	case tcp.ErrClosedWrite:
		return syscall.EPIPE
	case tcp.ErrNotConnected:
		return syscall.ENOTCONN
	}
	if e, ok := err.(syscall.Errno); ok {
		return e
	}
	return syscall.EIO
}
