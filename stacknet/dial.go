package stacknet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"github.com/stacknet/stacknet/link"
)

// Dial connects to address on the named network, as net.Dial does.
// Networks: "tcp", "tcp4", "udp" and "udp4". Addresses are IPv4 literals or "localhost"
// with a port, such as "192.0.2.1:53", or, if Config.DNSServers is set,
// names that the stack looks up over itself (see LookupNetIP), such as
// "name.test:80"; each of the name's addresses is tried in turn.
func (s *Stack) Dial(network, address string) (net.Conn, error) {
	return s.DialContext(context.Background(), network, address)
}

// DialContext is Dial with a context. A TCP dial waits for the handshake
// as long as ctx allows; cancelled, it fails with a *net.OpError wrapping
// context.Canceled, and past ctx's deadline with an "i/o timeout" that
// matches context.DeadlineExceeded, as package net's does. A UDP dial
// sends nothing, so ctx is only checked before the socket is bound.
// Either connection outlives ctx.
func (s *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "udp", "udp4", "tcp", "tcp4":
	default:
		return nil, opError("dial", network, nil, nil, net.UnknownNetworkError(network))
	}
	if address == "" {
		return nil, opError("dial", network, nil, nil, errMissingAddress)
	}
	raddr, err := resolveAddr(network, address, false)
	if err != nil {
		var dnsErr *net.DNSError
		if len(s.cfg.DNSServers) > 0 && errors.As(err, &dnsErr) {
			// A name: look it up over the stack (resolve.go).
			return s.dialName(ctx, network, address)
		}
		return nil, opError("dial", network, nil, nil, err)
	}
	return s.dialResolved(ctx, network, raddr)
}

// dialResolved is DialContext to the address raddr.
func (s *Stack) dialResolved(ctx context.Context, network string, raddr netip.AddrPort) (net.Conn, error) {
	if network == "tcp" || network == "tcp4" {
		c, err := s.dialTCP(ctx, network, netip.AddrPort{}, raddr)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := s.DialUDP(ctx, network, netip.AddrPort{}, raddr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialUDP connects a UDP socket from laddr (the zero value picks the
// route's source address and an ephemeral port) to raddr.
func (s *Stack) DialUDP(ctx context.Context, network string, laddr, raddr netip.AddrPort) (*UDPConn, error) {
	fail := func(err error) (*UDPConn, error) {
		return nil, dialError(network, laddr, raddr, resolvedUDPAddr, err)
	}
	dst, err := dialAddr(ctx, raddr)
	if err != nil {
		return fail(err)
	}
	if laddr, err = dialLocal(laddr); err != nil {
		return fail(err)
	}
	// From here on, errors carry where the datagrams go: 0.0.0.0 made
	// this host's address.
	raddr = dialDst(laddr, dst)
	_, local, err := s.dialRoute(laddr, raddr)
	if err != nil {
		return fail(err)
	}
	c, err := s.newUDPConn(network, local, raddr)
	if err != nil {
		return fail(err)
	}
	if dst.Port() == 0 {
		// Linux's getpeername fails for port 0, so package net keeps the
		// address as dialled, 0.0.0.0 included (newUDPConn saw it made
		// this host's).
		c.raddr = resolvedUDPAddr(dst)
	}
	return c, nil
}

// dialLocal checks a dial's local address: none, or IPv4, unmapped. The
// stack has no IPv6 address to bind.
func dialLocal(laddr netip.AddrPort) (netip.AddrPort, error) {
	if !laddr.IsValid() {
		return laddr, nil
	}
	if !laddr.Addr().Unmap().Is4() {
		return laddr, nonIPv4(laddr.Addr())
	}
	return netip.AddrPortFrom(laddr.Addr().Unmap(), laddr.Port()), nil
}

// ListenPacket announces on the local address, as net.ListenPacket does.
// Networks: "udp" and "udp4". An empty host or 0.0.0.0 listens on every
// address; port 0 (or an empty address) picks an ephemeral port.
func (s *Stack) ListenPacket(network, address string) (net.PacketConn, error) {
	switch network {
	case "udp", "udp4":
	case "tcp", "tcp4":
		// Package net resolves the address, then finds it is not one a
		// packet socket takes.
		a, err := resolveAddr(network, address, true)
		if err != nil {
			return nil, opError("listen", network, nil, nil, err)
		}
		ta := tcpListenAddr(a)
		return nil, opError("listen", network, nil, ta, &net.AddrError{Err: "unexpected address type", Addr: ta.String()})
	default:
		return nil, opError("listen", network, nil, nil, net.UnknownNetworkError(network))
	}
	laddr, err := resolveAddr(network, address, true)
	if err != nil {
		return nil, opError("listen", network, nil, nil, err)
	}
	c, err := s.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ListenUDP binds a UDP socket at laddr. An address of the zero value
// (netip.Addr{}) or 0.0.0.0 listens on every address.
func (s *Stack) ListenUDP(network string, laddr netip.AddrPort) (*UDPConn, error) {
	fail := func(err error) (*UDPConn, error) {
		return nil, opError("listen", network, nil, udpListenAddr(laddr), err)
	}
	a, err := s.bindAddr(laddr.Addr())
	if err != nil {
		return fail(err)
	}
	c, err := s.newUDPConn(network, netip.AddrPortFrom(a, laddr.Port()), netip.AddrPort{})
	if err != nil {
		return fail(err)
	}
	return c, nil
}

// dialError is the error of a failed dial from laddr (none if it is the
// zero value) to raddr: a *net.OpError carrying the addresses as addr
// makes them, resolvedUDPAddr or resolvedTCPAddr, as package net's dial
// does.
func dialError[A net.Addr](network string, laddr, raddr netip.AddrPort, addr func(netip.AddrPort) A, err error) error {
	var src net.Addr // untyped nil if there is no laddr
	if laddr.IsValid() {
		src = addr(laddr)
	}
	return opError("dial", network, src, addr(raddr), err)
}

// dialAddr makes the checks of a dial to raddr that come before any
// other: ctx is not done and raddr is IPv4. It returns raddr unmapped, or
// the error the dial's *net.OpError wraps.
func dialAddr(ctx context.Context, raddr netip.AddrPort) (netip.AddrPort, error) {
	if err := ctx.Err(); err != nil {
		return netip.AddrPort{}, mapContextErr(err)
	}
	if !raddr.Addr().Unmap().Is4() {
		return netip.AddrPort{}, nonIPv4(raddr.Addr())
	}
	return netip.AddrPortFrom(raddr.Addr().Unmap(), raddr.Port()), nil
}

// dialDst is where a dial from laddr to raddr goes: raddr, but for
// 0.0.0.0, which Linux routes to this host: the bound address, or the
// loopback.
func dialDst(laddr, raddr netip.AddrPort) netip.AddrPort {
	if !raddr.Addr().IsUnspecified() {
		return raddr
	}
	to := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	if laddr.IsValid() && !laddr.Addr().IsUnspecified() {
		to = laddr.Addr()
	}
	return netip.AddrPortFrom(to, raddr.Port())
}

// dialRoute finds the route of a dial from laddr to dst and its source
// address: laddr, or the route's source address (with laddr's port) if
// laddr is the zero value or 0.0.0.0. It fails as Linux's connect does,
// returning the error the dial's *net.OpError wraps: no route, a source
// address that is not this host's, or a loopback source on a route that
// leaves by another interface.
func (s *Stack) dialRoute(laddr, dst netip.AddrPort) (route, netip.AddrPort, error) {
	r, err := s.findRoute(dst.Addr())
	if err != nil {
		return route{}, netip.AddrPort{}, sysErr("connect", err.(syscall.Errno))
	}
	local := laddr
	switch {
	case !local.IsValid() || local.Addr().IsUnspecified():
		local = netip.AddrPortFrom(r.src, local.Port())
	case !s.isLocalAddr(local.Addr()) && !local.Addr().IsLoopback():
		return route{}, netip.AddrPort{}, sysErr("bind", syscall.EADDRNOTAVAIL)
	}
	if local.Addr().IsLoopback() && r.ifc.kind != link.IP {
		// Linux: a loopback source never leaves by another interface.
		return route{}, netip.AddrPort{}, sysErr("connect", syscall.EINVAL)
	}
	return r, local, nil
}

// bindAddr checks the address of a listen, as Linux's bind does, and
// returns it unmapped, or 0.0.0.0 for the zero value; or the error the
// listen's *net.OpError wraps.
func (s *Stack) bindAddr(a netip.Addr) (netip.Addr, error) {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return netip.IPv4Unspecified(), nil
	case !a.Is4():
		return netip.Addr{}, nonIPv4(a)
	case !a.IsUnspecified() && !s.isLocalAddr(a) && !a.IsLoopback() && !a.IsMulticast() &&
		a != limitedBroadcast && !s.ifaces.Load().isBroadcast(a):
		// Linux: bind to an address that is not ours fails.
		return netip.Addr{}, sysErr("bind", syscall.EADDRNOTAVAIL)
	}
	return a, nil
}

// resolveAddr parses "host:port" for the stack: host is an IPv4 literal,
// "localhost", or empty. An empty host gives the zero netip.Addr when
// listening (every address) and 127.0.0.1 when dialling, as package net
// does; an empty address is ":0" when listening.
func resolveAddr(network, address string, listen bool) (netip.AddrPort, error) {
	if listen && address == "" {
		return netip.AddrPort{}, nil
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := parsePort(network, portStr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var ip netip.Addr
	switch host {
	case "":
		if !listen {
			ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
	case "localhost":
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	default:
		ip, err = netip.ParseAddr(host)
		if err != nil {
			return netip.AddrPort{}, &net.DNSError{Err: "stacknet resolves no names yet: use an IP address", Name: host, IsNotFound: true}
		}
		ip = ip.Unmap()
		if !ip.Is4() {
			return netip.AddrPort{}, &net.AddrError{Err: "IPv6 is not supported by stacknet", Addr: host}
		}
	}
	return netip.AddrPortFrom(ip, port), nil
}

func parsePort(network, s string) (uint16, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(s, 10, 16); err == nil {
		return uint16(n), nil
	}
	p, err := net.LookupPort(network, s)
	if err != nil {
		return 0, err
	}
	return uint16(p), nil
}
