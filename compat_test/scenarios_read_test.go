package compat_test

import (
	"bytes"
	"net"
	"net/netip"
	"syscall"
	"testing"
)

// Receiving: truncation, zero lengths, datagram boundaries and the
// addresses reads return.

var _ = register(
	scenario{name: "ReadFromTruncatesSilently", run: readFromTruncates},
	scenario{name: "ReadOnConnectedTruncatesSilently", run: readConnectedTruncates},
	scenario{name: "ReadMsgUDPAddrPortTruncFlag", run: readMsgTrunc},
	scenario{name: "ZeroLengthReadOnConnected", run: zeroLengthRead},
	scenario{name: "ZeroLengthDatagram", run: zeroLengthDatagram},
	scenario{name: "ZeroLengthReadFromConsumesDatagram", run: zeroLengthReadFrom},
	scenario{name: "DatagramBoundariesAndOrder", run: datagramBoundaries},
	scenario{name: "ReceivedAddressForms", run: receivedAddressForms},
	scenario{name: "ConnectedIgnoresOtherSenders", run: connectedFilters},
)

// ReadFrom with a short buffer returns len(buf) and no error; the rest of
// the datagram is gone.
func readFromTruncates(t *testing.T, e env) {
	p := newPair(t, e)
	mustWrite(t, p.cli, []byte("0123456789"))
	mustWrite(t, p.cli, []byte("xy"))
	buf := make([]byte, 4)
	n, from, err := p.srv.ReadFrom(buf)
	e.Note("first.n", n)
	e.Note("first.data", string(buf[:n]))
	e.NoteAddr("first.from", from)
	e.NoteErr("first", err)
	if n != len(buf) || err != nil {
		t.Errorf("ReadFrom of a 10-byte datagram into 4 bytes: %d, %v; want 4, nil", n, err)
	}
	buf = make([]byte, 64)
	n, _, err = p.srv.ReadFrom(buf)
	e.Note("second.data", string(buf[:n]))
	e.NoteErr("second", err)
	if string(buf[:n]) != "xy" {
		t.Errorf("the next ReadFrom got %q, want %q: the truncated rest was not discarded", buf[:n], "xy")
	}
}

// Read on a connected socket truncates the same way.
func readConnectedTruncates(t *testing.T, e env) {
	p := newPair(t, e)
	mustWriteTo(t, p.srv, []byte("0123456789"), p.cliAddr)
	mustWriteTo(t, p.srv, []byte("xy"), p.cliAddr)
	buf := make([]byte, 4)
	n, err := p.cli.Read(buf)
	e.Note("first.n", n)
	e.Note("first.data", string(buf[:n]))
	e.NoteErr("first", err)
	buf = make([]byte, 64)
	n, err = p.cli.Read(buf)
	e.Note("second.data", string(buf[:n]))
	e.NoteErr("second", err)
}

type msgReader interface {
	ReadMsgUDPAddrPort(b, oob []byte) (n, oobn, flags int, addr netip.AddrPort, err error)
}

// ReadMsgUDPAddrPort sets MSG_TRUNC in flags when it truncates, and not
// otherwise.
func readMsgTrunc(t *testing.T, e env) {
	p := newPair(t, e)
	mr, ok := p.srv.(msgReader)
	e.Note("has ReadMsgUDPAddrPort", ok)
	if !ok {
		return
	}
	mustWrite(t, p.cli, []byte("0123456789"))
	mustWrite(t, p.cli, []byte("abc"))
	oob := make([]byte, 128)
	for _, step := range []string{"truncated", "whole"} {
		buf := make([]byte, 4)
		n, oobn, flags, addr, err := mr.ReadMsgUDPAddrPort(buf, oob)
		e.Note(step+".n", n)
		e.Note(step+".oobn", oobn)
		e.Note(step+".MSG_TRUNC", flags&syscall.MSG_TRUNC != 0)
		e.Note(step+".otherflags", flags&^syscall.MSG_TRUNC)
		e.Note(step+".addr", describeAddrPort(addr))
		e.NoteErr(step, err)
	}
}

// A zero-length Read on a connected socket returns (0, nil) at once, even
// with nothing queued, and does not consume a datagram.
func zeroLengthRead(t *testing.T, e env) {
	p := newPair(t, e)
	n, err := p.cli.Read(nil)
	e.Note("empty queue.n", n)
	e.NoteErr("empty queue", err)
	mustWriteTo(t, p.srv, []byte("data"), p.cliAddr)
	// The datagram may still be on its way; either way the zero-length
	// read returns at once and leaves it queued.
	n, err = p.cli.Read([]byte{})
	e.Note("zero.n", n)
	e.NoteErr("zero", err)
	buf := make([]byte, 64)
	n, err = p.cli.Read(buf)
	e.Note("next.data", string(buf[:n]))
	e.NoteErr("next", err)
}

// A zero-length datagram is sent and received: n is 0, the address set.
func zeroLengthDatagram(t *testing.T, e env) {
	p := newPair(t, e)
	n, err := p.cli.Write(nil)
	e.Note("Write.n", n)
	e.NoteErr("Write", err)
	buf := make([]byte, 64)
	n, from, err := p.srv.ReadFrom(buf)
	e.Note("ReadFrom.n", n)
	e.NoteAddr("ReadFrom.from", from)
	e.NoteErr("ReadFrom", err)

	n, err = p.srv.WriteTo([]byte{}, p.cliAddr)
	e.Note("WriteTo.n", n)
	e.NoteErr("WriteTo", err)
	n, err = p.cli.Read(buf)
	e.Note("Read.n", n)
	e.NoteErr("Read", err)
}

// A ReadFrom with an empty buffer consumes a datagram: the next ReadFrom
// gets the one after.
func zeroLengthReadFrom(t *testing.T, e env) {
	p := newPair(t, e)
	mustWrite(t, p.cli, []byte("first"))
	mustWrite(t, p.cli, []byte("second"))
	n, from, err := p.srv.ReadFrom(nil)
	e.Note("empty.n", n)
	e.NoteAddr("empty.from", from)
	e.NoteErr("empty", err)
	buf := make([]byte, 64)
	n, _, err = p.srv.ReadFrom(buf)
	e.Note("next.data", string(buf[:n]))
	e.NoteErr("next", err)
}

// Datagrams keep their boundaries and, on one path, their order.
func datagramBoundaries(t *testing.T, e env) {
	p := newPair(t, e)
	sizes := []int{1, 1472, 2, 1473, 3, 9000}
	for i, size := range sizes {
		mustWrite(t, p.cli, bytes.Repeat([]byte{byte('a' + i)}, size))
	}
	buf := make([]byte, 65536)
	for i, size := range sizes {
		n, _, err := p.srv.ReadFrom(buf)
		if err != nil {
			e.NoteErr("ReadFrom", err)
			return
		}
		want := bytes.Repeat([]byte{byte('a' + i)}, size)
		e.Note("datagram "+string(rune('a'+i))+" intact", bytes.Equal(buf[:n], want))
	}
}

// The sender's address comes back in the forms each method promises.
func receivedAddressForms(t *testing.T, e env) {
	p := newPair(t, e)
	e.NoteAddr("ReadFrom (from newPair)", p.cliAddr)
	e.Note("ReadFrom equals the client's LocalAddr", p.cliAddr.String() == p.cli.LocalAddr().String())
	type udpReader interface {
		ReadFromUDP(b []byte) (int, *net.UDPAddr, error)
		ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	}
	r, ok := p.srv.(udpReader)
	e.Note("has ReadFromUDP and ReadFromUDPAddrPort", ok)
	if !ok {
		return
	}
	buf := make([]byte, 64)
	mustWrite(t, p.cli, []byte("a"))
	_, ua, err := r.ReadFromUDP(buf)
	e.NoteAddr("ReadFromUDP", ua)
	e.NoteErr("ReadFromUDP", err)
	mustWrite(t, p.cli, []byte("b"))
	_, ap, err := r.ReadFromUDPAddrPort(buf)
	e.Note("ReadFromUDPAddrPort", describeAddrPort(ap))
	e.Note("ReadFromUDPAddrPort equals the client's LocalAddr", ap.String() == p.cli.LocalAddr().String())
	e.NoteErr("ReadFromUDPAddrPort", err)
}

// A connected socket receives only from its peer: a datagram from another
// port is dropped, not queued.
func connectedFilters(t *testing.T, e env) {
	p := newPair(t, e)
	other := listen(t, e, "udp", hostPort(e.ServerAddr(), 0))
	mustWriteTo(t, other, []byte("stranger"), p.cliAddr)
	mustWriteTo(t, p.srv, []byte("peer"), p.cliAddr)
	buf := make([]byte, 64)
	n, err := p.cli.Read(buf)
	e.Note("Read.data", string(buf[:n]))
	e.NoteErr("Read", err)
}
