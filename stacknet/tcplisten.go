package stacknet

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/stacknet/stacknet/proto/tcp"
)

// TCPListener is a TCP listening socket on a Stack. It implements
// net.Listener, with the methods of *net.TCPListener, and behaves as one
// does on Linux: connections in SYN-RECEIVED wait in a SYN queue apart
// from the accept queue of established connections that the backlog
// bounds; when the SYN queue is full, SYNs are answered with SYN cookies
// (RFC 4987 3.6); when the accept queue is full, new SYNs and the ACKs
// that would complete a handshake are dropped, so that the peer tries
// again later.
type TCPListener struct {
	s       *Stack
	network string
	local   netip.AddrPort // as bound; the address may be 0.0.0.0
	addr    *net.TCPAddr
	backlog int // the accept queue's bound
	synMax  int // the SYN queue's bound

	mu         sync.Mutex
	closed     bool
	syn        map[*TCPConn]struct{} // the SYN queue
	queue      []*TCPConn            // the accept queue, from head
	head       int
	cookieSent time.Time // when a SYN cookie was last sent

	ready chan struct{} // a connection may be waiting in the queue
	done  chan struct{} // closed by Close
	dl    deadline
}

// cookieValid is how long after the last SYN cookie was sent an ACK to
// the listener is checked for one (Linux's TCP_SYNCOOKIE_VALID is 2
// minutes; cookies here live up to 192 s).
const cookieValid = 192 * time.Second

// listenTCP binds a listener at local (port 0: an ephemeral one).
func (s *Stack) listenTCP(network string, local netip.AddrPort, backlog int) (*TCPListener, error) {
	synMax := s.cfg.TCP.SynBacklog
	if synMax == 0 {
		synMax = backlog
	}
	l := &TCPListener{
		s:       s,
		network: network,
		backlog: backlog,
		synMax:  synMax,
		syn:     make(map[*TCPConn]struct{}),
		ready:   make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	t := &s.tcp
	t.mu.Lock()
	if local.Port() == 0 {
		port, ok := s.freeListenPortLocked(local.Addr())
		if !ok {
			t.mu.Unlock()
			// Linux: bind to port 0 finds no port: EADDRINUSE.
			return nil, sysErr("bind", syscall.EADDRINUSE)
		}
		local = netip.AddrPortFrom(local.Addr(), port)
	} else if t.portListenedLocked(local.Addr(), local.Port()) || t.bound[local.Port()] > 0 {
		t.mu.Unlock()
		return nil, sysErr("bind", syscall.EADDRINUSE)
	}
	l.local = local
	l.addr = net.TCPAddrFromAddrPort(local)
	t.lns[local] = l
	t.mu.Unlock()
	if err := s.register(l); err != nil {
		s.tcp.removeListener(l)
		return nil, err
	}
	return l, nil
}

// freeListenPortLocked picks an ephemeral port that no listener and no
// connection of this stack uses, from a random start in the range, as
// Linux's inet_csk_find_open_port does. s.tcp.mu is held.
func (s *Stack) freeListenPortLocked(a netip.Addr) (uint16, bool) {
	t := &s.tcp
	first, n := s.ephemeralRange()
	start := rand.Uint32() % n
	for i := range n {
		port := uint16(first + (start+i)%n)
		if !t.portListenedLocked(a, port) && t.bound[port] == 0 && !t.portInUseLocked(port) {
			return port, true
		}
	}
	return 0, false
}

// portInUseLocked reports whether any connection has port as its local
// port. s.tcp.mu is held.
func (t *tcpStack) portInUseLocked(port uint16) bool {
	for k := range t.conns {
		if k.lport == port {
			return true
		}
	}
	return false
}

func (t *tcpStack) removeListener(l *TCPListener) {
	t.mu.Lock()
	if t.lns[l.local] == l {
		delete(t.lns, l.local)
	}
	t.mu.Unlock()
}

// input handles a segment for the listener with no connection of its
// own (RFC 9293 3.10.7.2, LISTEN); false means the listener is closed.
func (l *TCPListener) input(k tcpKey, local, remote netip.AddrPort, seg *tcp.Segment) bool {
	s := l.s
	switch {
	case seg.Flags&tcp.RST != 0:
		// "An incoming RST segment could not be valid since it could not
		// have been sent in response to anything sent by this
		// incarnation of the connection. An incoming RST should be
		// ignored."
		return !l.isClosed()
	case seg.Flags&tcp.ACK != 0:
		if seg.Flags&tcp.SYN == 0 && l.cookieACK(k, local, remote, seg) {
			return true
		}
		if l.isClosed() {
			return false
		}
		// "Any acknowledgment is bad if it arrives on a connection still
		// in the LISTEN state. An acceptable reset segment should be
		// formed for any arriving ACK-bearing segment."
		s.tcpReset(local, remote, seg)
		return true
	case seg.Flags&tcp.SYN != 0:
		if seg.Flags&tcp.FIN != 0 {
			// Linux drops a SYN with FIN set (tcp_rcv_state_process).
			add(&s.stats.TCP.ListenDrops)
			return !l.isClosed()
		}
		return l.synReceived(k, local, remote, seg)
	}
	// "Any other control or text-bearing segment (not containing SYN)
	// must have an ACK and thus would be discarded by the ACK processing."
	return !l.isClosed()
}

func (l *TCPListener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// acceptQueueFull reports whether the accept queue holds its backlog.
func (l *TCPListener) acceptQueueFull() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)-l.head >= l.backlog
}

// synReceived starts a passive open for a SYN: a connection in the SYN
// queue, or, when that is full, a SYN-ACK carrying a SYN cookie.
func (l *TCPListener) synReceived(k tcpKey, local, remote netip.AddrPort, seg *tcp.Segment) bool {
	s := l.s
	now := s.now()
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return false
	case len(l.queue)-l.head >= l.backlog:
		// Linux (tcp_conn_request): with the accept queue full, a SYN is
		// dropped, cookies or not.
		l.mu.Unlock()
		add(&s.stats.TCP.ListenOverflows)
		add(&s.stats.TCP.ListenDrops)
		return true
	case len(l.syn) >= l.synMax:
		if s.cfg.TCP.NoSynCookies {
			l.mu.Unlock()
			add(&s.stats.TCP.ListenDrops)
			return true
		}
		l.cookieSent = now
		l.mu.Unlock()
		l.sendCookie(local, remote, seg, now)
		return true
	}
	r, err := s.findRoute(remote.Addr())
	if err != nil {
		l.mu.Unlock()
		add(&s.stats.TCP.ListenDrops)
		return true
	}
	c := s.newTCPConn(l.network, r, true)
	c.setAddrs(local, remote)
	// c is locked before the SYN queue makes it visible, so that a Close
	// of the listener that finds it there waits for its machine, and so
	// aborts it: unlocked, the abort could come first and leave c in the
	// table, never to leave. (l.mu before c.mu is safe here only because
	// nobody else can know c yet: elsewhere c.mu comes first.)
	c.mu.Lock()
	l.syn[c] = struct{}{}
	l.mu.Unlock()

	if !s.tcp.insertChild(c, k) {
		c.mu.Unlock()
		l.forget(c)
		return true
	}
	c.ln = l
	cfg := s.machineConfig(local, remote, &r, now)
	c.tc = tcp.NewConn(&cfg, (*tcpEmitter)(c))
	fx := c.settleLocked(c.tc.AcceptSYN(seg, now))
	c.mu.Unlock()
	c.apply(fx)
	return true
}

// forget takes c out of the SYN queue.
func (l *TCPListener) forget(c *TCPConn) {
	l.mu.Lock()
	delete(l.syn, c)
	l.mu.Unlock()
}

// synParams is what a SYN asks for, as far as this stack will give it.
func (s *Stack) synParams(seg *tcp.Segment) tcp.SynParams {
	o := &seg.Options
	t := &s.cfg.TCP
	p := tcp.SynParams{
		MSS:           536, // RFC 9293 3.7.1: the default without the option
		HasWScale:     o.HasWScale && !t.NoWScale,
		WScale:        o.WScale,
		SACKPermitted: o.SACKPermitted && !t.NoSACK,
		TS:            o.TS && !t.NoTimestamps,
	}
	if o.HasMSS {
		p.MSS = o.MSS
	}
	return p
}

// rcvWScale is the window scale this stack offers, as the machine
// chooses it for the connection a cookie will make: the smallest shift
// that lets the largest receive buffer be advertised (RFC 7323 2.3,
// Linux's tcp_select_initial_window).
func (s *Stack) rcvWScale() uint8 {
	space, initial := s.cfg.TCP.ReceiveBufferMax, s.cfg.TCP.ReceiveBuffer
	if space == 0 {
		space = 6 << 20
	}
	if initial == 0 {
		initial = 128 << 10
	}
	return tcp.WScaleFor(min(max(space, initial), tcp.MaxRecvCapacity))
}

// sendCookie answers a SYN with a SYN-ACK whose ISS is a SYN cookie,
// keeping no state (RFC 4987 3.6).
func (l *TCPListener) sendCookie(local, remote netip.AddrPort, seg *tcp.Segment, now time.Time) {
	s := l.s
	p := s.synParams(seg)
	iss, tsval, ok := s.tcp.cookies.Make(local, remote, seg.Seq, p, now)
	r, err := s.findRoute(remote.Addr())
	if !ok || err != nil {
		add(&s.stats.TCP.ListenDrops)
		return
	}
	add(&s.stats.TCP.SyncookiesSent)
	o := tcp.Options{MSS: uint16(routeMSS(&r)), HasMSS: true, SACKPermitted: p.SACKPermitted}
	if p.HasWScale {
		o.WScale, o.HasWScale = s.rcvWScale(), true
	}
	if p.TS {
		o.TS, o.TSVal, o.TSEcr = true, tsval, seg.Options.TSVal
	}
	f := tcp.Fields{
		SrcPort: local.Port(), DstPort: remote.Port(),
		Seq: iss, Ack: seg.Seq.Add(1), Flags: tcp.SYN | tcp.ACK,
		Window: 65535, // RFC 7323 2.2: a SYN's window is never scaled
	}
	s.tcpOutput(&r, local.Addr(), remote.Addr(), &f, &o, nil, nil)
}

// cookieACK makes a connection from an ACK that returns a valid SYN
// cookie, if cookies were sent lately; it reports whether it took seg.
func (l *TCPListener) cookieACK(k tcpKey, local, remote netip.AddrPort, seg *tcp.Segment) bool {
	s := l.s
	now := s.now()
	l.mu.Lock()
	recent := !l.cookieSent.IsZero() && now.Sub(l.cookieSent) < cookieValid
	closed := l.closed
	full := len(l.queue)-l.head >= l.backlog
	l.mu.Unlock()
	if closed || !recent || seg.Flags&tcp.RST != 0 {
		return false
	}
	p, ok := s.tcp.cookies.Check(local, remote, seg.Seq.Add(-1), seg.Ack.Add(-1), seg.Options.TSEcr, seg.Options.TS, now)
	if !ok {
		add(&s.stats.TCP.SyncookiesFailed)
		return false
	}
	add(&s.stats.TCP.SyncookiesRecv)
	if full {
		add(&s.stats.TCP.ListenOverflows)
		add(&s.stats.TCP.ListenDrops)
		return true
	}
	r, err := s.findRoute(remote.Addr())
	if err != nil {
		add(&s.stats.TCP.ListenDrops)
		return true
	}
	c := s.newTCPConn(l.network, r, true)
	c.setAddrs(local, remote)
	c.mu.Lock()
	if !s.tcp.insertChild(c, k) {
		c.mu.Unlock()
		return true
	}
	c.ln = l
	cfg := s.machineConfig(local, remote, &r, now)
	cfg.ISS = seg.Ack.Add(-1)
	c.tc = tcp.NewConn(&cfg, (*tcpEmitter)(c))
	fx := c.settleLocked(c.tc.AcceptCookie(p, seg, now))
	c.mu.Unlock()
	c.apply(fx)
	return true
}

// childEstablished moves a connection that completed its handshake from
// the SYN queue to the accept queue.
func (l *TCPListener) childEstablished(c *TCPConn) {
	l.mu.Lock()
	delete(l.syn, c)
	if l.closed {
		l.mu.Unlock()
		c.destroy()
		return
	}
	l.queue = append(l.queue, c)
	l.mu.Unlock()
	signal(l.ready)
}

// childFailed forgets a connection that died in SYN-RECEIVED. Nobody
// will Accept it, so it is closed for its user too.
func (l *TCPListener) childFailed(c *TCPConn) {
	l.forget(c)
	c.mu.Lock()
	wasClosed := c.closed
	c.closed = true
	c.mu.Unlock()
	if !wasClosed {
		c.closeUser()
	}
}

// accept takes the first connection of the accept queue, waiting for one
// as the deadline allows.
func (l *TCPListener) accept() (*TCPConn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, errClosed
		}
		if l.dl.expired() {
			l.mu.Unlock()
			return nil, errDeadline
		}
		if l.head < len(l.queue) {
			c := l.queue[l.head]
			l.queue[l.head] = nil
			l.head++
			more := l.head < len(l.queue)
			if !more {
				l.queue, l.head = l.queue[:0], 0
			}
			l.mu.Unlock()
			if more {
				signal(l.ready)
			}
			return c, nil
		}
		l.mu.Unlock()
		select {
		case <-l.ready:
		case <-l.dl.wait():
		case <-l.done:
		}
	}
}

// release closes the listener: the port is freed, blocked Accepts return,
// and every connection not yet accepted is reset, as Linux's
// inet_csk_listen_stop does.
func (l *TCPListener) release() bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.closed = true
	pending := make([]*TCPConn, 0, len(l.syn)+len(l.queue)-l.head)
	pending = append(pending, l.queue[l.head:]...)
	for c := range l.syn {
		pending = append(pending, c)
	}
	clear(l.syn)
	l.queue, l.head = nil, 0
	l.mu.Unlock()
	close(l.done)
	l.dl.stop()
	l.s.tcp.removeListener(l)
	for _, c := range pending {
		c.destroy()
	}
	l.s.unregister(l)
	return true
}

func (l *TCPListener) stackClosed() { l.release() }

var _ net.Listener = (*TCPListener)(nil)

// Accept waits for the next connection and returns it as a net.Conn.
func (l *TCPListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptTCP waits for the next connection. After Close it returns a
// *net.OpError wrapping net.ErrClosed; past the deadline, one wrapping
// os.ErrDeadlineExceeded.
func (l *TCPListener) AcceptTCP() (*TCPConn, error) {
	c, err := l.accept()
	if err != nil {
		return nil, opError("accept", l.network, nil, l.addr, err)
	}
	return c, nil
}

// Close stops listening: blocked Accepts return net.ErrClosed, and the
// connections not yet accepted are reset. A second Close returns an error
// wrapping net.ErrClosed.
func (l *TCPListener) Close() error {
	if !l.release() {
		return opError("close", l.network, nil, l.addr, errClosed)
	}
	return nil
}

// Addr returns the listener's address, a *net.TCPAddr.
func (l *TCPListener) Addr() net.Addr { return l.addr }

// SetDeadline sets the deadline of Accept; it applies to an Accept
// already blocked. On a closed listener it returns net.ErrClosed itself,
// unwrapped, as package net's does.
func (l *TCPListener) SetDeadline(t time.Time) error {
	if l.isClosed() {
		return errClosed
	}
	l.dl.set(t)
	return nil
}
