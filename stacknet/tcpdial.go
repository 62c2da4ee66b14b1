package stacknet

import (
	"context"
	"net"
	"net/netip"
	"syscall"

	"github.com/stacknet/stacknet/proto/tcp"
)

// DialTCP connects from laddr (the zero value picks the route's source
// address and an ephemeral port) to raddr, waiting for the handshake as
// ctx allows. Errors are *net.OpError{Op: "dial", Net: "tcp"} with the
// addresses and errno package net gives on Linux: ECONNREFUSED,
// ETIMEDOUT, EHOSTUNREACH, ENETUNREACH inside an *os.SyscallError for
// "connect"; EADDRINUSE and EADDRNOTAVAIL for "bind".
func (s *Stack) DialTCP(ctx context.Context, laddr, raddr netip.AddrPort) (*TCPConn, error) {
	return s.dialTCP(ctx, "tcp", laddr, raddr)
}

// resolvedTCPAddr is an address as net.ResolveTCPAddr returns it, with
// the 16-byte IP of net.ParseIP: package net's dial and listen errors
// carry addresses of this form.
func resolvedTCPAddr(ap netip.AddrPort) *net.TCPAddr {
	a16 := ap.Addr().As16()
	return &net.TCPAddr{IP: net.IP(a16[:]), Port: int(ap.Port())}
}

// tcpListenAddr is laddr as package net's listen errors carry it: as
// resolvedTCPAddr makes it, but with no IP, printed ":port", if laddr has
// no address.
func tcpListenAddr(laddr netip.AddrPort) *net.TCPAddr {
	a := resolvedTCPAddr(laddr)
	if !laddr.Addr().IsValid() {
		a.IP = nil
	}
	return a
}

func (s *Stack) dialTCP(ctx context.Context, network string, laddr, raddr netip.AddrPort) (*TCPConn, error) {
	fail := func(err error) (*TCPConn, error) {
		return nil, dialError(network, laddr, raddr, resolvedTCPAddr, err)
	}
	ra, err := dialAddr(ctx, raddr)
	if err != nil {
		return fail(err)
	}
	raddr = ra
	if laddr, err = dialLocal(laddr); err != nil {
		return fail(err)
	}
	dst := dialDst(laddr, raddr)
	if dst.Addr().IsMulticast() || dst.Addr() == limitedBroadcast || s.ifaces.Load().isBroadcast(dst.Addr()) {
		// Linux (tcp_v4_connect): a broadcast or multicast route is no
		// route for TCP.
		return fail(sysErr("connect", syscall.ENETUNREACH))
	}
	r, local, err := s.dialRoute(laddr, dst)
	if err != nil {
		return fail(err)
	}

	c := s.newTCPConn(network, r, false)
	c.mu.Lock()
	local, err = s.insertConn(c, local, dst)
	if err != nil {
		c.mu.Unlock()
		if err == errClosed {
			return fail(err)
		}
		if err == syscall.EADDRINUSE {
			return fail(sysErr("bind", syscall.EADDRINUSE))
		}
		return fail(sysErr("connect", err.(syscall.Errno)))
	}
	c.setAddrs(local, dst)
	now := s.now()
	cfg := s.machineConfig(local, dst, &r, now)
	c.tc = tcp.NewConn(&cfg, (*tcpEmitter)(c))
	add(&s.stats.TCP.ActiveOpens)
	fx := c.settleLocked(c.tc.Open(now))
	c.mu.Unlock()
	c.apply(fx)

	for {
		c.mu.Lock()
		st, err := c.tc.State(), c.tc.Err()
		closed := c.closedLocked()
		var w *tcpWaiters
		if st != tcp.SynSent && st != tcp.SynReceived && st != tcp.Closed && !closed {
			// Nobody else knows c yet, so nobody waits on the waiters
			// the handshake needed: an idle connection need not keep
			// them.
			c.waiters.Store(nil)
		} else {
			w = c.waitersLocked()
		}
		c.mu.Unlock()
		switch {
		case closed:
			c.destroy()
			return fail(errClosed)
		case st != tcp.SynSent && st != tcp.SynReceived && st != tcp.Closed:
			return c, nil
		case err != nil || st == tcp.Closed:
			c.destroy()
			if err == nil {
				err = tcp.ErrTimedOut
			}
			// The machine reports a reset in SYN-SENT as ErrRefused and
			// one in SYN-RECEIVED (simultaneous open) as ErrReset, as
			// Linux's tcp_reset does: ECONNREFUSED and ECONNRESET.
			return fail(sysErr("connect", errnoOf(err)))
		}
		select {
		case <-w.wwake:
		case <-ctx.Done():
			// Linux sends nothing when a socket in SYN-SENT is closed;
			// Abort sends a RST only if synchronized.
			c.destroy()
			return fail(mapContextErr(ctx.Err()))
		}
	}
}

// Listen announces on the local address, as net.Listen does. Networks:
// "tcp" and "tcp4". An empty host or 0.0.0.0 listens on every address;
// port 0 (or an empty address) picks an ephemeral port. The accept queue
// holds Config.TCP.ListenBacklog connections (4096 unless set).
func (s *Stack) Listen(network, address string) (net.Listener, error) {
	switch network {
	case "tcp", "tcp4":
	case "udp", "udp4":
		// Package net resolves the address, then finds it is not one a
		// stream listener takes.
		a, err := resolveAddr(network, address, true)
		if err != nil {
			return nil, opError("listen", network, nil, nil, err)
		}
		return nil, opError("listen", network, nil, udpListenAddr(a), &net.AddrError{Err: "unexpected address type", Addr: address})
	default:
		return nil, opError("listen", network, nil, nil, net.UnknownNetworkError(network))
	}
	laddr, err := resolveAddr(network, address, true)
	if err != nil {
		return nil, opError("listen", network, nil, nil, err)
	}
	l, err := s.listenTCPAddr(network, laddr)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// ListenTCP listens at laddr. An address of the zero value
// (netip.Addr{}) or 0.0.0.0 listens on every address; port 0 picks an
// ephemeral port.
func (s *Stack) ListenTCP(laddr netip.AddrPort) (*TCPListener, error) {
	return s.listenTCPAddr("tcp", laddr)
}

func (s *Stack) listenTCPAddr(network string, laddr netip.AddrPort) (*TCPListener, error) {
	fail := func(err error) (*TCPListener, error) {
		return nil, opError("listen", network, nil, tcpListenAddr(laddr), err)
	}
	a, err := s.bindAddr(laddr.Addr())
	if err != nil {
		return fail(err)
	}
	backlog := s.cfg.TCP.ListenBacklog
	if backlog == 0 {
		backlog = defaultListenBacklog
	}
	l, err := s.listenTCP(network, netip.AddrPortFrom(a, laddr.Port()), backlog)
	if err != nil {
		return fail(err)
	}
	return l, nil
}
