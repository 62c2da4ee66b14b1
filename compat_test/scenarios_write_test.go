package compat_test

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
)

// Sending: bad destinations, connected and unconnected sockets, sizes.

var _ = register(
	scenario{name: "WriteToNonUDPAddr", run: writeToNonUDPAddr},
	scenario{name: "WriteToNilUDPAddr", run: writeToNilUDPAddr},
	scenario{name: "WriteToOnConnected", run: writeToOnConnected},
	scenario{name: "WriteToUDPAddrPortOnConnected", run: writeToAddrPortOnConnected},
	scenario{name: "WriteToUDPAddrPortInvalid", run: writeToAddrPortInvalid},
	scenario{name: "WriteToIPv6OnIPv4Socket", run: writeToIPv6},
	scenario{name: "WriteToPortZero", run: writeToPortZero},
	scenario{name: "WriteToUnspecifiedAddr", run: writeToUnspecified},
	scenario{name: "DialUnspecifiedAddr", run: dialUnspecified},
	scenario{name: "DialUnspecifiedAddrPortZero", run: dialUnspecifiedPortZero},
	scenario{name: "WriteOnUnconnected", run: writeOnUnconnected},
	scenario{name: "OversizeDatagram", run: oversize},
	scenario{name: "LargestDatagram", run: largest},
)

// WriteTo with an address that is not a *net.UDPAddr fails with EINVAL
// inside a *net.OpError, whether the socket is connected or not.
func writeToNonUDPAddr(t *testing.T, e env) {
	p := newPair(t, e)
	tcp := &net.TCPAddr{IP: net.ParseIP(e.ServerAddr()), Port: 9}
	for _, c := range []struct {
		name string
		pc   net.PacketConn
	}{{"unconnected", p.srv}, {"connected", p.cli.(net.PacketConn)}} {
		n, err := c.pc.WriteTo([]byte("x"), tcp)
		e.Note(c.name+".TCPAddr.n", n)
		e.NoteErr(c.name+".TCPAddr", err)
		n, err = c.pc.WriteTo([]byte("x"), nil)
		e.Note(c.name+".nil.n", n)
		e.NoteErr(c.name+".nil", err)
		n, err = c.pc.WriteTo([]byte("x"), (*net.TCPAddr)(nil))
		e.Note(c.name+".(*TCPAddr)(nil).n", n)
		e.NoteErr(c.name+".(*TCPAddr)(nil)", err)
	}
}

// WriteTo and WriteToUDP with a nil *net.UDPAddr.
func writeToNilUDPAddr(t *testing.T, e env) {
	p := newPair(t, e)
	for _, c := range []struct {
		name string
		c    udpConn
	}{{"unconnected", asUDPConn(t, p.srv)}, {"connected", asUDPConn(t, p.cli)}} {
		n, err := c.c.WriteTo([]byte("x"), (*net.UDPAddr)(nil))
		e.Note(c.name+".WriteTo.n", n)
		e.NoteErr(c.name+".WriteTo", err)
		n, err = c.c.WriteToUDP([]byte("x"), nil)
		e.Note(c.name+".WriteToUDP.n", n)
		e.NoteErr(c.name+".WriteToUDP", err)
	}
}

// WriteTo and WriteToUDP on a connected socket fail with
// net.ErrWriteToConnected, even to the connected peer.
func writeToOnConnected(t *testing.T, e env) {
	p := newPair(t, e)
	c := asUDPConn(t, p.cli)
	peer := p.srv.LocalAddr().(*net.UDPAddr)
	n, err := c.WriteTo([]byte("x"), peer)
	e.Note("WriteTo(peer).n", n)
	e.NoteErr("WriteTo(peer)", err)
	other := &net.UDPAddr{IP: net.ParseIP(e.ServerAddr()), Port: 9}
	n, err = c.WriteToUDP([]byte("x"), other)
	e.Note("WriteToUDP(other).n", n)
	e.NoteErr("WriteToUDP(other)", err)
	n, err = c.Write([]byte("still works"))
	e.Note("Write.n", n)
	e.NoteErr("Write", err)
}

// WriteToUDPAddrPort and WriteMsgUDPAddrPort on a connected socket.
func writeToAddrPortOnConnected(t *testing.T, e env) {
	p := newPair(t, e)
	c := asUDPConn(t, p.cli)
	peer := p.srv.LocalAddr().(*net.UDPAddr).AddrPort()
	n, err := c.WriteToUDPAddrPort([]byte("x"), peer)
	e.Note("WriteToUDPAddrPort(peer).n", n)
	e.NoteErr("WriteToUDPAddrPort(peer)", err)
	n, err = c.WriteToUDPAddrPort([]byte("x"), netip.AddrPort{})
	e.Note("WriteToUDPAddrPort(zero).n", n)
	e.NoteErr("WriteToUDPAddrPort(zero)", err)
	n, oobn, err := c.WriteMsgUDPAddrPort([]byte("msg"), nil, netip.AddrPort{})
	e.Note("WriteMsgUDPAddrPort(zero).n,oobn", []int{n, oobn})
	e.NoteErr("WriteMsgUDPAddrPort(zero)", err)
	n, oobn, err = c.WriteMsgUDPAddrPort([]byte("x"), nil, peer)
	e.Note("WriteMsgUDPAddrPort(peer).n,oobn", []int{n, oobn})
	e.NoteErr("WriteMsgUDPAddrPort(peer)", err)
	buf := make([]byte, 64)
	n, _, err = p.srv.ReadFrom(buf)
	e.Note("server got", string(buf[:n]))
	e.NoteErr("server", err)
}

// WriteToUDPAddrPort and WriteMsgUDPAddrPort with the zero AddrPort on an
// unconnected socket.
func writeToAddrPortInvalid(t *testing.T, e env) {
	p := newPair(t, e)
	c := asUDPConn(t, p.srv)
	n, err := c.WriteToUDPAddrPort([]byte("x"), netip.AddrPort{})
	e.Note("WriteToUDPAddrPort.n", n)
	e.NoteErr("WriteToUDPAddrPort", err)
	n, oobn, err := c.WriteMsgUDPAddrPort([]byte("x"), nil, netip.AddrPort{})
	e.Note("WriteMsgUDPAddrPort.n,oobn", []int{n, oobn})
	e.NoteErr("WriteMsgUDPAddrPort", err)
}

// Sending to an IPv6 address from a socket bound to an IPv4 address.
func writeToIPv6(t *testing.T, e env) {
	p := newPair(t, e)
	c := asUDPConn(t, p.srv)
	v6 := &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 9}
	n, err := c.WriteTo([]byte("x"), v6)
	e.Note("WriteTo.n", n)
	e.NoteErr("WriteTo", err)
	n, err = c.WriteToUDPAddrPort([]byte("x"), v6.AddrPort())
	e.Note("WriteToUDPAddrPort.n", n)
	e.NoteErr("WriteToUDPAddrPort", err)
	// An IPv4-mapped IPv6 address is an IPv4 address.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(netip.MustParseAddr(e.ClientAddr()).As16()), uint16(portOf(t, p.cliAddr)))
	n, err = c.WriteToUDPAddrPort([]byte("mapped"), mapped)
	e.Note("WriteToUDPAddrPort(v4in6).n", n)
	e.NoteErr("WriteToUDPAddrPort(v4in6)", err)
	buf := make([]byte, 64)
	n, err = p.cli.Read(buf)
	e.Note("client got", string(buf[:n]))
	e.NoteErr("client", err)
}

// Sending to port 0 fails with EINVAL from sendto.
func writeToPortZero(t *testing.T, e env) {
	p := newPair(t, e)
	n, err := p.srv.WriteTo([]byte("x"), &net.UDPAddr{IP: net.ParseIP(e.ClientAddr()), Port: 0})
	e.Note("WriteTo.n", n)
	e.NoteErr("WriteTo", err)
}

// A destination of 0.0.0.0, or a *net.UDPAddr with no IP, means this
// host on Linux (RFC 1122 3.2.1.3 allows 0.0.0.0 only as a source, but
// Linux routes it to the sender's own address): the datagram is delivered
// locally.
func writeToUnspecified(t *testing.T, e env) {
	rx, err := e.ClientListenPacket("udp", hostPort(e.ClientAddr(), 0))
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	guardDeadline(t, rx)
	tx, err := e.ClientListenPacket("udp", hostPort(e.ClientAddr(), 0))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	port := portOf(t, rx.LocalAddr())
	for _, tc := range []struct {
		name string
		addr *net.UDPAddr
	}{
		{"no IP", &net.UDPAddr{Port: port}},
		{"0.0.0.0", &net.UDPAddr{IP: net.IPv4zero, Port: port}},
	} {
		n, err := tx.WriteTo([]byte(tc.name), tc.addr)
		e.Note(tc.name+".WriteTo.n", n)
		e.NoteErr(tc.name+".WriteTo", err)
		if err != nil {
			continue
		}
		buf := make([]byte, 64)
		n, _, err = rx.ReadFrom(buf)
		e.Note(tc.name+".received", string(buf[:n]))
		e.NoteErr(tc.name+".ReadFrom", err)
	}
}

// Dial("udp", "0.0.0.0:port") connects to this host. Linux routes a
// destination of 0.0.0.0, from a socket not bound to an address, to
// 127.0.0.1 from 127.0.0.1 (ip_route_output_key_hash_rcu) and connects
// the socket there, so RemoteAddr, which package net takes from
// getpeername(2), is 127.0.0.1:port, not 0.0.0.0:port. To a closed port,
// the datagram draws a port unreachable from the host itself, which the
// next Read returns, naming 127.0.0.1; to an open one, on any address of
// the same host, it arrives, and the reply comes back.
func dialUnspecified(t *testing.T, e env) {
	c, err := e.Dial("udp", hostPort("0.0.0.0", closedClientPort(t, e)))
	e.Note("closed.conn is nil", c == nil)
	e.NoteErr("closed.Dial", err)
	if err != nil {
		return
	}
	defer c.Close()
	guardDeadline(t, c)
	noteDialled(e, "closed", c)
	n, err := c.Write([]byte("anyone?"))
	noteN(e, "closed.Write", n, err)
	if err != nil {
		return
	}
	e.WaitPendingError(t, c)
	n, err = c.Read(make([]byte, 64))
	noteN(e, "closed.Read", n, err)

	rx, err := e.ClientListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	guardDeadline(t, rx)
	c, err = e.Dial("udp", hostPort("0.0.0.0", portOf(t, rx.LocalAddr())))
	e.NoteErr("open.Dial", err)
	if err != nil {
		return
	}
	defer c.Close()
	guardDeadline(t, c)
	noteDialled(e, "open", c)
	mustWrite(t, c, []byte("to this host"))
	buf := make([]byte, 64)
	n, from, err := rx.ReadFrom(buf)
	e.Note("open.received", string(buf[:n]))
	e.NoteErr("open.ReadFrom", err)
	if err != nil {
		return
	}
	e.Note("open.from is the dialler's LocalAddr", from.String() == c.LocalAddr().String())
	mustWriteTo(t, rx, []byte("reply"), from)
	n, err = c.Read(buf)
	e.Note("open.reply", string(buf[:n]))
	e.NoteErr("open.Read", err)
}

// Dial("udp", "0.0.0.0:0"): connect(2) takes port 0 and routes 0.0.0.0
// to 127.0.0.1 as for any port, but getpeername(2) fails with ENOTCONN
// for a peer whose port is 0 (inet_getname), so package net's RemoteAddr
// is the address it dialled, as resolved: 0.0.0.0:0, with a 16-byte IP.
// Write sends to port 0.
func dialUnspecifiedPortZero(t *testing.T, e env) {
	c, err := e.Dial("udp", "0.0.0.0:0")
	e.NoteErr("Dial", err)
	if err != nil {
		return
	}
	defer c.Close()
	noteDialled(e, "Dial", c)
	n, err := c.Write([]byte("x"))
	noteN(e, "Write", n, err)
}

// noteDialled records a dialled socket's addresses, and whether each is
// 127.0.0.1 (which normalisation would hide).
func noteDialled(e env, key string, c net.Conn) {
	e.NoteAddr(key+".LocalAddr", c.LocalAddr())
	e.NoteAddr(key+".RemoteAddr", c.RemoteAddr())
	loopback := func(a net.Addr) bool {
		u, ok := a.(*net.UDPAddr)
		return ok && u != nil && u.IP.Equal(net.IPv4(127, 0, 0, 1))
	}
	e.Note(key+".LocalAddr is 127.0.0.1", loopback(c.LocalAddr()))
	e.Note(key+".RemoteAddr is 127.0.0.1", loopback(c.RemoteAddr()))
}

// Write on an unconnected socket fails with EDESTADDRREQ.
func writeOnUnconnected(t *testing.T, e env) {
	p := newPair(t, e)
	w, ok := p.srv.(interface{ Write([]byte) (int, error) })
	e.Note("has Write", ok)
	if !ok {
		return
	}
	n, err := w.Write([]byte("x"))
	e.Note("Write.n", n)
	e.NoteErr("Write", err)
	n, err = w.Write(nil)
	e.Note("Write(nil).n", n)
	e.NoteErr("Write(nil)", err)
}

// A datagram of 65508 bytes, one more than fits in an IPv4 datagram,
// fails with EMSGSIZE from every send method.
func oversize(t *testing.T, e env) {
	p := newPair(t, e)
	big := make([]byte, 65508)
	n, err := p.cli.Write(big)
	e.Note("Write.n", n)
	e.NoteErr("Write", err)
	n, err = p.srv.WriteTo(big, p.cliAddr)
	e.Note("WriteTo.n", n)
	e.NoteErr("WriteTo", err)
	n, err = asUDPConn(t, p.srv).WriteToUDPAddrPort(big, p.cliAddr.(*net.UDPAddr).AddrPort())
	e.Note("WriteToUDPAddrPort.n", n)
	e.NoteErr("WriteToUDPAddrPort", err)
	n, err = p.srv.WriteTo(make([]byte, 1<<20), p.cliAddr)
	e.Note("WriteTo(1MiB).n", n)
	e.NoteErr("WriteTo(1MiB)", err)
}

// A datagram of 65507 bytes, the largest, goes through whole.
func largest(t *testing.T, e env) {
	p := newPair(t, e)
	msg := bytes.Repeat([]byte("0123456789abcdef"), 65507/16+1)[:65507]
	n, err := p.cli.Write(msg)
	e.Note("Write.n", n)
	e.NoteErr("Write", err)
	buf := make([]byte, 70000)
	n, _, err = p.srv.ReadFrom(buf)
	e.Note("ReadFrom.n", n)
	e.Note("ReadFrom intact", bytes.Equal(buf[:n], msg))
	e.NoteErr("ReadFrom", err)
}
