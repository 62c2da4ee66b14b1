package compat_test

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// Close: what every method returns afterwards, and blocked reads.

var _ = register(
	scenario{name: "MethodsAfterCloseUnconnected", run: func(t *testing.T, e env) {
		p := newPair(t, e)
		afterClose(t, e, p.srv, p.cliAddr)
	}},
	scenario{name: "MethodsAfterCloseConnected", run: func(t *testing.T, e env) {
		p := newPair(t, e)
		afterClose(t, e, p.cli.(net.PacketConn), p.srv.LocalAddr())
	}},
	scenario{name: "SetDeadlineAfterClose", run: setDeadlineAfterClose},
	scenario{name: "DoubleClose", run: doubleClose},
	scenario{name: "CloseUnblocksReadFrom", run: func(t *testing.T, e env) {
		p := newPair(t, e)
		closeUnblocks(t, e, p.srv, readFrom(p.srv, 64))
	}},
	scenario{name: "CloseUnblocksRead", run: func(t *testing.T, e env) {
		p := newPair(t, e)
		closeUnblocks(t, e, p.cli, read(p.cli, 64))
	}},
	scenario{name: "CloseUnblocksEveryReader", run: closeUnblocksAll},
)

// udpConn is the method set of *net.UDPConn that stacknet's UDPConn
// shares.
type udpConn interface {
	net.Conn
	net.PacketConn
	ReadFromUDP(b []byte) (int, *net.UDPAddr, error)
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	ReadMsgUDPAddrPort(b, oob []byte) (n, oobn, flags int, addr netip.AddrPort, err error)
	WriteToUDP(b []byte, addr *net.UDPAddr) (int, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	WriteMsgUDPAddrPort(b, oob []byte, addr netip.AddrPort) (n, oobn int, err error)
	SetReadBuffer(bytes int) error
	SetWriteBuffer(bytes int) error
}

func asUDPConn(t *testing.T, c any) udpConn {
	t.Helper()
	u, ok := c.(udpConn)
	if !ok {
		t.Fatalf("%T lacks methods of *net.UDPConn", c)
	}
	return u
}

// afterClose closes c and calls each method on it.
func afterClose(t *testing.T, e env, pc net.PacketConn, peer net.Addr) {
	c := asUDPConn(t, pc)
	e.NoteErr("Close", c.Close())
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	e.Note("Read.n", n)
	e.NoteErr("Read", err)
	n, a, err := c.ReadFrom(buf)
	e.Note("ReadFrom.n", n)
	e.NoteAddr("ReadFrom.addr", a)
	e.NoteErr("ReadFrom", err)
	n, ua, err := c.ReadFromUDP(buf)
	e.Note("ReadFromUDP.n", n)
	e.NoteAddr("ReadFromUDP.addr", ua)
	e.NoteErr("ReadFromUDP", err)
	n, ap, err := c.ReadFromUDPAddrPort(buf)
	e.Note("ReadFromUDPAddrPort.n", n)
	e.Note("ReadFromUDPAddrPort.addr", describeAddrPort(ap))
	e.NoteErr("ReadFromUDPAddrPort", err)
	n, oobn, flags, ap, err := c.ReadMsgUDPAddrPort(buf, nil)
	e.Note("ReadMsgUDPAddrPort.n,oobn,flags", []int{n, oobn, flags})
	e.Note("ReadMsgUDPAddrPort.addr", describeAddrPort(ap))
	e.NoteErr("ReadMsgUDPAddrPort", err)
	n, err = c.Read(nil)
	e.Note("Read(nil).n", n)
	e.NoteErr("Read(nil)", err)

	n, err = c.Write([]byte("x"))
	e.Note("Write.n", n)
	e.NoteErr("Write", err)
	n, err = c.WriteTo([]byte("x"), peer)
	e.Note("WriteTo.n", n)
	e.NoteErr("WriteTo", err)
	n, err = c.WriteToUDP([]byte("x"), peer.(*net.UDPAddr))
	e.Note("WriteToUDP.n", n)
	e.NoteErr("WriteToUDP", err)
	n, err = c.WriteToUDPAddrPort([]byte("x"), peer.(*net.UDPAddr).AddrPort())
	e.Note("WriteToUDPAddrPort.n", n)
	e.NoteErr("WriteToUDPAddrPort", err)
	n, oobn, err = c.WriteMsgUDPAddrPort([]byte("x"), nil, peer.(*net.UDPAddr).AddrPort())
	e.Note("WriteMsgUDPAddrPort.n,oobn", []int{n, oobn})
	e.NoteErr("WriteMsgUDPAddrPort", err)
	n, err = c.WriteTo([]byte("x"), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1})
	e.Note("WriteTo(TCPAddr).n", n)
	e.NoteErr("WriteTo(TCPAddr)", err)

	e.NoteAddr("LocalAddr", c.LocalAddr())
	e.NoteAddr("RemoteAddr", c.RemoteAddr())
	e.NoteErr("SetReadBuffer", c.SetReadBuffer(4096))
	e.NoteErr("SetWriteBuffer", c.SetWriteBuffer(4096))
}

// Setting any deadline on a closed socket fails the same way.
func setDeadlineAfterClose(t *testing.T, e env) {
	p := newPair(t, e)
	for _, c := range []struct {
		name string
		c    interface {
			Close() error
			SetDeadline(time.Time) error
			SetReadDeadline(time.Time) error
			SetWriteDeadline(time.Time) error
		}
	}{{"unconnected", p.srv}, {"connected", p.cli}} {
		if err := c.c.Close(); err != nil {
			t.Fatal(err)
		}
		future := time.Now().Add(time.Hour)
		e.NoteErr(c.name+".SetDeadline", c.c.SetDeadline(future))
		e.NoteErr(c.name+".SetReadDeadline", c.c.SetReadDeadline(future))
		e.NoteErr(c.name+".SetWriteDeadline", c.c.SetWriteDeadline(time.Time{}))
	}
}

// The second Close fails with an error wrapping net.ErrClosed.
func doubleClose(t *testing.T, e env) {
	p := newPair(t, e)
	e.NoteErr("unconnected.first", p.srv.Close())
	e.NoteErr("unconnected.second", p.srv.Close())
	e.NoteErr("connected.first", p.cli.Close())
	e.NoteErr("connected.second", p.cli.Close())
}

// Close wakes a blocked read with net.ErrClosed inside a *net.OpError
// whose Op is "read".
func closeUnblocks(t *testing.T, e env, c interface{ Close() error }, r func() readResult) {
	b := goRead(r)
	if !b.waitBlocked(t) {
		t.Fatalf("read returned before Close: %+v", b.res)
	}
	e.NoteErr("Close", c.Close())
	noteRead(e, "blocked read", b.wait(t))
}

// Close wakes every blocked reader, not just one.
func closeUnblocksAll(t *testing.T, e env) {
	p := newPair(t, e)
	var bs []*background
	for range 3 {
		b := goRead(readFrom(p.srv, 64))
		if !b.waitBlocked(t) {
			t.Fatalf("read returned before Close: %+v", b.res)
		}
		bs = append(bs, b)
	}
	e.NoteErr("Close", p.srv.Close())
	for i, b := range bs {
		noteRead(e, "reader "+sprint(i), b.wait(t))
	}
}
