package stacknet

import (
	"net"
	"net/netip"
	"syscall"
	"time"
)

var (
	_ net.Conn       = (*UDPConn)(nil)
	_ net.PacketConn = (*UDPConn)(nil)
)

// The *net.OpError values below carry the same Op, Net, Source and Addr
// as *net.UDPConn's on Linux, and the same system-call names inside.

func (c *UDPConn) opErr(op string, addr net.Addr, err error) error {
	if op == "read" || op == "write" {
		if addr == nil {
			addr = c.remoteAddr()
		}
	}
	return opError(op, c.network, c.laddr, addr, err)
}

func (c *UDPConn) remoteAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raddr
}

// Read reads one datagram from the connected peer into b, truncating it
// silently if b is too short. A zero-length b returns at once, as on
// Linux.
func (c *UDPConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		if c.isClosed() {
			return 0, c.opErr("read", nil, errClosed)
		}
		return 0, nil
	}
	n, _, _, err := c.recv(b, "read")
	if err != nil {
		return n, c.opErr("read", nil, err)
	}
	return n, nil
}

// ReadFrom reads one datagram into b and returns its sender as a
// *net.UDPAddr. A datagram longer than b is truncated silently.
func (c *UDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.ReadFromUDP(b)
	if addr == nil {
		return n, nil, err
	}
	return n, addr, err
}

// ReadFromUDP is ReadFrom with a typed address.
func (c *UDPConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// ReadFromUDPAddrPort is ReadFrom returning a netip.AddrPort; it does not
// allocate.
func (c *UDPConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, from, _, err := c.recv(b, "recvfrom")
	if err != nil {
		return n, netip.AddrPort{}, c.opErr("read", nil, err)
	}
	return n, from, nil
}

// ReadMsgUDPAddrPort reads one datagram; flags has syscall.MSG_TRUNC set
// when it was truncated. The stack delivers no control messages, so oobn
// is always 0.
func (c *UDPConn) ReadMsgUDPAddrPort(b, oob []byte) (n, oobn, flags int, addr netip.AddrPort, err error) {
	n, addr, trunc, err := c.recv(b, "recvmsg")
	if err != nil {
		// Package net returns the zeroed sockaddr it passed in: 0.0.0.0:0.
		return n, 0, 0, netip.AddrPortFrom(netip.IPv4Unspecified(), 0), c.opErr("read", nil, err)
	}
	if trunc {
		flags |= syscall.MSG_TRUNC
	}
	return n, 0, flags, addr, nil
}

// Write sends b as one datagram to the connected peer.
func (c *UDPConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	remote, connected := c.remote, c.connected
	c.mu.Unlock()
	if !connected {
		switch {
		case c.isClosed():
			return 0, c.opErr("write", nil, errClosed)
		case c.wdl.expired():
			return 0, c.opErr("write", nil, errDeadline)
		}
		return 0, c.opErr("write", nil, sysErr("write", syscall.EDESTADDRREQ))
	}
	n, err := c.send(b, remote, "write", true)
	if err != nil {
		return n, c.opErr("write", nil, err)
	}
	return n, nil
}

// WriteTo sends b as one datagram to addr, which must be a *net.UDPAddr:
// any other address gives a *net.OpError with EINVAL. On a connected
// socket it fails with net.ErrWriteToConnected, as package net's does.
func (c *UDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	a, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, opError("write", c.network, c.laddr, addr, syscall.EINVAL)
	}
	return c.WriteToUDP(b, a)
}

// WriteToUDP is WriteTo with a typed address.
func (c *UDPConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	n, err := c.writeToUDP(b, addr)
	if err != nil {
		var a net.Addr
		if addr != nil {
			a = addr
		}
		return n, opError("write", c.network, c.laddr, a, err)
	}
	return n, nil
}

// writeToUDP checks in the order package net does: connected, missing
// address, address family, then the socket itself.
func (c *UDPConn) writeToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	if c.isConnected() {
		return 0, net.ErrWriteToConnected
	}
	if addr == nil {
		return 0, errMissingAddress
	}
	ip := addr.IP
	if len(ip) == 0 {
		ip = net.IPv4zero // as package net: no IP means 0.0.0.0
	}
	ip4 := ip.To4()
	if ip4 == nil {
		return 0, &net.AddrError{Err: "non-IPv4 address", Addr: ip.String()}
	}
	return c.send(b, netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip4)), uint16(addr.Port)), "sendto", false)
}

// WriteToUDPAddrPort is WriteTo with a netip.AddrPort; it does not
// allocate.
func (c *UDPConn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	n, err := c.writeToAddrPort(b, addr, "sendto")
	if err != nil {
		return n, opError("write", c.network, c.laddr, addrPortUDPAddr{addr}, err)
	}
	return n, nil
}

func (c *UDPConn) writeToAddrPort(b []byte, addr netip.AddrPort, sysName string) (int, error) {
	if c.isConnected() {
		return 0, net.ErrWriteToConnected
	}
	if !addr.IsValid() {
		return 0, errMissingAddress
	}
	a := addr.Addr().Unmap()
	if !a.Is4() {
		return 0, nonIPv4(addr.Addr())
	}
	return c.send(b, netip.AddrPortFrom(a, addr.Port()), sysName, false)
}

// WriteMsgUDPAddrPort sends b to addr, or to the connected peer when addr
// is the zero value. Control messages are not supported: oob must be
// empty.
func (c *UDPConn) WriteMsgUDPAddrPort(b, oob []byte, addr netip.AddrPort) (n, oobn int, err error) {
	switch connected := c.isConnected(); {
	case len(oob) > 0:
		err = sysErr("sendmsg", syscall.EOPNOTSUPP)
	case connected && addr.IsValid():
		err = net.ErrWriteToConnected
	case connected:
		c.mu.Lock()
		remote := c.remote
		c.mu.Unlock()
		n, err = c.send(b, remote, "sendmsg", true)
	default:
		n, err = c.writeToAddrPort(b, addr, "sendmsg")
	}
	if err != nil {
		return n, 0, opError("write", c.network, c.laddr, addrPortUDPAddr{addr}, err)
	}
	return n, 0, nil
}

// Close closes the socket. Blocked reads return net.ErrClosed; a second
// Close returns an error wrapping net.ErrClosed.
func (c *UDPConn) Close() error {
	if !c.release() {
		return c.opErr("close", c.remoteAddr(), errClosed)
	}
	return nil
}

// LocalAddr returns the bound address as a *net.UDPAddr.
func (c *UDPConn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the connected peer as a *net.UDPAddr, or nil.
func (c *UDPConn) RemoteAddr() net.Addr { return c.remoteAddr() }

// SetDeadline sets the read and write deadlines.
func (c *UDPConn) SetDeadline(t time.Time) error {
	if c.isClosed() {
		return opError("set", c.network, nil, c.laddr, errClosed)
	}
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline sets the read deadline; it applies to reads already
// blocked.
func (c *UDPConn) SetReadDeadline(t time.Time) error {
	if c.isClosed() {
		return opError("set", c.network, nil, c.laddr, errClosed)
	}
	c.rdl.set(t)
	return nil
}

// SetWriteDeadline sets the write deadline.
func (c *UDPConn) SetWriteDeadline(t time.Time) error {
	if c.isClosed() {
		return opError("set", c.network, nil, c.laddr, errClosed)
	}
	c.wdl.set(t)
	return nil
}

// SetReadBuffer sets the receive buffer. As on Linux, the value is
// doubled for bookkeeping overhead, with a floor of 2304 bytes, and a
// negative value (an unsigned giant to the kernel) takes the maximum.
func (c *UDPConn) SetReadBuffer(bytes int) error {
	if c.isClosed() {
		return opError("set", c.network, nil, c.laddr, errClosed)
	}
	if bytes < 0 || bytes > maxSocketBuffer {
		bytes = maxSocketBuffer
	}
	c.mu.Lock()
	c.rcvbuf = max(2*bytes, 2304)
	c.mu.Unlock()
	return nil
}

// maxSocketBuffer is Linux's net.core.rmem_max and wmem_max.
const maxSocketBuffer = 212992

// SetWriteBuffer is accepted for compatibility: a send is never queued
// inside the socket, so there is no send buffer to size.
func (c *UDPConn) SetWriteBuffer(bytes int) error {
	if c.isClosed() {
		return opError("set", c.network, nil, c.laddr, errClosed)
	}
	return nil
}

func (c *UDPConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *UDPConn) isConnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}
