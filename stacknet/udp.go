package stacknet

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/icmp"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/udp"
)

// udpOverhead is what each queued datagram is charged against the receive
// buffer beyond its length, so that a flood of tiny datagrams is bounded
// too (Linux charges a buffer's true size in the same way).
const udpOverhead = 256

// UDPConn is a UDP socket on a Stack. It implements net.Conn and
// net.PacketConn, with the methods of *net.UDPConn, and behaves as a
// *net.UDPConn does on Linux.
type UDPConn struct {
	s       *Stack
	network string
	local   netip.AddrPort // as bound; the address may be 0.0.0.0
	laddr   net.Addr       // *net.UDPAddr, for errors and LocalAddr

	rdl, wdl deadline
	done     chan struct{} // closed by Close
	readable chan struct{} // a datagram or an error may be waiting

	mu        sync.Mutex
	remote    netip.AddrPort // valid once connected
	raddr     net.Addr       // *net.UDPAddr, or nil when not connected
	closed    bool
	queue     []udpDatagram // a ring: head, count
	head, n   int
	queued    int // bytes charged against rcvbuf
	rcvbuf    int
	softErr   syscall.Errno // a pending error from ICMP, returned once
	connected bool
}

type udpDatagram struct {
	pb   *packetBuf
	n    int
	from netip.AddrPort
}

// newUDPConn binds a socket at local and, if remote is valid, connects it.
func (s *Stack) newUDPConn(network string, local, remote netip.AddrPort) (*UDPConn, error) {
	c := &UDPConn{
		s:        s,
		network:  network,
		done:     make(chan struct{}),
		readable: make(chan struct{}, 1),
		rcvbuf:   s.cfg.UDPReceiveBuffer,
	}
	bound, err := s.udp.Bind(local, c)
	if err != nil {
		switch {
		case errors.Is(err, udp.ErrAddrInUse):
			return nil, sysErr("bind", syscall.EADDRINUSE)
		case errors.Is(err, udp.ErrNoPorts) && remote.IsValid():
			// Linux: an implicit bind by connect finds no port: EAGAIN.
			return nil, sysErr("connect", syscall.EAGAIN)
		case errors.Is(err, udp.ErrNoPorts):
			// Linux: bind to port 0 finds no port: EADDRINUSE.
			return nil, sysErr("bind", syscall.EADDRINUSE)
		}
		return nil, err
	}
	c.local = bound
	c.laddr = net.UDPAddrFromAddrPort(bound)
	// Registered only once bound, so that Stack.Close, which may run at
	// any moment, always finds a socket it can release whole.
	if err := s.register(c); err != nil {
		s.udp.Unbind(bound, c)
		return nil, err
	}
	if remote.IsValid() {
		c.remote, c.connected = remote, true
		c.raddr = net.UDPAddrFromAddrPort(remote)
		if remote.Port() == 0 {
			// Linux's getpeername fails for port 0, so package net keeps
			// the address it resolved, with its 16-byte IP.
			c.raddr = resolvedUDPAddr(remote)
		}
		if err := s.udp.Connect(bound, c, remote); err != nil {
			c.release()
			return nil, err
		}
	}
	return c, nil
}

// udpInput delivers a UDP datagram for this host to its socket (RFC 768).
func (s *Stack) udpInput(i *Interface, h ipv4.Header, bcast bool) {
	u, err := udp.Parse(h.Payload())
	if err != nil {
		add(&s.stats.UDP.InErrors)
		add(&s.stats.UDP.InBadLength)
		return
	}
	if err := u.Verify(h.Src4(), h.Dst4()); err != nil {
		add(&s.stats.UDP.InErrors)
		add(&s.stats.UDP.InCsumErrors)
		return
	}
	if s.tracing() {
		s.trace("udp input", i, u.String())
	}
	dst := netip.AddrPortFrom(h.Dst(), u.DstPort())
	src := netip.AddrPortFrom(h.Src(), u.SrcPort())
	c, ok := s.udp.Lookup(dst, src)
	if !ok {
		add(&s.stats.UDP.NoPorts)
		if !bcast {
			s.sendICMPError(h, icmp.TypeDestUnreach, icmp.CodePortUnreach, 0)
		}
		return
	}
	if c.enqueue(u.Payload(), src) {
		add(&s.stats.UDP.InDatagrams)
	} else {
		add(&s.stats.UDP.InErrors)
		add(&s.stats.UDP.RcvbufErrors)
	}
}

// enqueue copies a datagram into the receive queue, unless the receive
// buffer is full.
func (c *UDPConn) enqueue(p []byte, from netip.AddrPort) bool {
	c.mu.Lock()
	// As Linux (__udp_enqueue_schedule_skb): the datagram is dropped only
	// if what is already queued exceeds the buffer, so an empty socket
	// always takes one.
	if c.closed || c.queued > c.rcvbuf {
		c.mu.Unlock()
		return false
	}
	if c.n == len(c.queue) {
		c.grow()
	}
	pb := c.s.bufs.get(len(p))
	copy(pb.b, p)
	c.queue[(c.head+c.n)%len(c.queue)] = udpDatagram{pb: pb, n: len(p), from: from}
	c.n++
	c.queued += len(p) + udpOverhead
	c.mu.Unlock()
	c.wake()
	return true
}

func (c *UDPConn) grow() {
	q := make([]udpDatagram, max(16, 2*len(c.queue)))
	for j := 0; j < c.n; j++ {
		q[j] = c.queue[(c.head+j)%len(c.queue)]
	}
	c.queue, c.head = q, 0
}

// wake tells one blocked reader to look again.
func (c *UDPConn) wake() {
	select {
	case c.readable <- struct{}{}:
	default:
	}
}

// udpError records an ICMP error for the connected socket it concerns,
// to be returned by its next Read or Write, as Linux does.
func (s *Stack) udpError(local, remote netip.AddrPort, errno syscall.Errno) bool {
	c, ok := s.udp.Lookup(local, remote)
	if !ok {
		return false
	}
	c.mu.Lock()
	hit := c.connected && c.remote == remote && !c.closed
	if hit {
		c.softErr = errno
	}
	c.mu.Unlock()
	if hit {
		c.wake()
	}
	return hit
}

// recv takes one datagram into p, blocking as the read deadline allows.
// It returns the bare error that the caller wraps in a *net.OpError.
func (c *UDPConn) recv(p []byte, sysName string) (n int, from netip.AddrPort, trunc bool, err error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, from, false, errClosed
		}
		if c.rdl.expired() {
			c.mu.Unlock()
			return 0, from, false, errDeadline
		}
		// Linux reports a pending error before queued data (__skb_recv_udp).
		if c.softErr != 0 {
			e := c.softErr
			c.softErr = 0
			c.mu.Unlock()
			return 0, from, false, sysErr(sysName, e)
		}
		if c.n > 0 {
			d := c.queue[c.head]
			c.queue[c.head] = udpDatagram{}
			c.head = (c.head + 1) % len(c.queue)
			c.n--
			c.queued -= d.n + udpOverhead
			more := c.n > 0
			c.mu.Unlock()
			n = copy(p, d.pb.b[:d.n])
			c.s.bufs.put(d.pb)
			if more {
				c.wake()
			}
			return n, d.from, n < d.n, nil
		}
		c.mu.Unlock()
		select {
		case <-c.readable:
		case <-c.rdl.wait():
		case <-c.done:
		}
	}
}

// send sends p to dst as one datagram; toPeer says dst is the connected
// peer rather than an address given with the call.
func (c *UDPConn) send(p []byte, dst netip.AddrPort, sysName string, toPeer bool) (int, error) {
	s := c.s
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	// In Linux's order: the argument checks of udp_sendmsg, then a
	// pending error (sock_alloc_send_pskb), which is consumed once.
	switch {
	case closed:
		return 0, errClosed
	case c.wdl.expired():
		return 0, errDeadline
	case len(p) > udp.MaxPayload:
		return 0, sysErr(sysName, syscall.EMSGSIZE)
	case dst.Port() == 0 && !toPeer:
		// Linux: sendto port 0 is invalid; a socket connected to port 0
		// may send there.
		return 0, sysErr(sysName, syscall.EINVAL)
	}
	if e := c.takeSoftErr(); e != 0 {
		return 0, sysErr(sysName, e)
	}
	if dst.Addr().IsUnspecified() {
		// Linux routes 0.0.0.0 to this host: the bound address, or the
		// loopback (ip_route_output_key_hash_rcu).
		if a := c.local.Addr(); !a.IsUnspecified() {
			dst = netip.AddrPortFrom(a, dst.Port())
		} else {
			dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), dst.Port())
		}
	}
	r, err := s.findRoute(dst.Addr())
	if err != nil {
		return 0, sysErr(sysName, err.(syscall.Errno))
	}
	src := c.local.Addr()
	if src.IsUnspecified() {
		src = r.src
	}
	if src.IsLoopback() && r.ifc.kind != link.IP {
		// Linux: a loopback source never leaves by another interface.
		return 0, sysErr(sysName, syscall.EINVAL)
	}
	n := udp.HeaderLen + len(p)
	pb := s.bufs.get(headroom + n)
	b := pb.b[headroom : headroom+n]
	copy(b[udp.HeaderLen:], p)
	udp.Put(b, src.As4(), dst.Addr().As4(), c.local.Port(), dst.Port())
	add(&s.stats.UDP.OutDatagrams)
	if s.tracing() {
		s.trace("udp output", r.ifc, udp.Header(b).String())
	}
	s.send(&r, pb, ipv4.ProtoUDP, src, dst.Addr(), n)
	return len(p), nil
}

// takeSoftErr consumes the pending error, if there is still one.
func (c *UDPConn) takeSoftErr() syscall.Errno {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.softErr
	c.softErr = 0
	return e
}

// release closes the socket: it wakes every blocked call and frees the
// queue and the port.
func (c *UDPConn) release() bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.closed = true
	for c.n > 0 {
		c.s.bufs.put(c.queue[c.head].pb)
		c.queue[c.head] = udpDatagram{}
		c.head = (c.head + 1) % len(c.queue)
		c.n--
	}
	c.queued = 0
	c.mu.Unlock()
	close(c.done)
	c.rdl.stop()
	c.wdl.stop()
	c.s.udp.Unbind(c.local, c)
	c.s.unregister(c)
	return true
}

func (c *UDPConn) stackClosed() { c.release() }
