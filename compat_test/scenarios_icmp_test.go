package compat_test

import (
	"net"
	"testing"
	"time"
)

// ICMP errors reported to connected sockets: a datagram to a closed port
// draws a port unreachable, which Linux records on the socket and returns,
// once, from the next call that looks.

var _ = register(
	scenario{name: "RefusedReturnedOnceByRead", run: refusedRead},
	scenario{name: "RefusedReturnedByNextWrite", run: refusedWrite},
	scenario{name: "RefusedNotReportedUnconnected", run: refusedUnconnected},
)

// dialClosed dials a closed server port.
func dialClosed(t *testing.T, e env) net.Conn {
	// Resolve the link first, so the stacknet world's first datagram is
	// not held for ARP.
	newPair(t, e)
	c := dial(t, e, "udp", closedPort(t, e))
	guardDeadline(t, c)
	return c
}

// Write succeeds; the next Read returns ECONNREFUSED; the one after that
// blocks as usual, and writes work again.
func refusedRead(t *testing.T, e env) {
	c := dialClosed(t, e)
	n, err := c.Write([]byte("anyone?"))
	e.Note("Write.n", n)
	e.NoteErr("Write", err)
	e.WaitPendingError(t, c)
	buf := make([]byte, 64)
	n, err = c.Read(buf)
	e.Note("Read.n", n)
	e.NoteErr("Read", err)
	if err := c.SetReadDeadline(time.Now().Add(30 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, err = c.Read(buf)
	e.Note("second Read.n", n)
	e.NoteErr("second Read", err)
	n, err = c.Write([]byte("again"))
	e.Note("second Write.n", n)
	e.NoteErr("second Write", err)
	// That datagram draws a new error; ReadFrom reports it too.
	e.WaitPendingError(t, c)
	guardDeadline(t, c)
	n, a, err := c.(net.PacketConn).ReadFrom(buf)
	e.Note("ReadFrom.n", n)
	e.NoteAddr("ReadFrom.addr", a)
	e.NoteErr("ReadFrom", err)
}

// A pending error is returned by the next Write too, once.
func refusedWrite(t *testing.T, e env) {
	c := dialClosed(t, e)
	mustWrite(t, c, []byte("anyone?"))
	e.WaitPendingError(t, c)
	n, err := c.Write([]byte("x"))
	e.Note("Write.n", n)
	e.NoteErr("Write", err)
	// The error is gone: a short read deadline runs out.
	if err := c.SetReadDeadline(time.Now().Add(30 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, err = c.Read(make([]byte, 64))
	e.Note("Read.n", n)
	e.NoteErr("Read", err)
}

// An unconnected socket is not told about port unreachables: its next
// read just waits.
func refusedUnconnected(t *testing.T, e env) {
	newPair(t, e)
	dst := closedPort(t, e)
	pc, err := e.ClientListenPacket("udp", hostPort(e.ClientAddr(), 0))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	a, err := net.ResolveUDPAddr("udp", dst)
	if err != nil {
		t.Fatal(err)
	}
	n, err := pc.WriteTo([]byte("anyone?"), a)
	e.Note("WriteTo.n", n)
	e.NoteErr("WriteTo", err)
	// A connected socket to the same port, dialled after, collects the
	// error for its own datagram: once it has, the unconnected one's has
	// come back too, and was dropped.
	c := dial(t, e, "udp", dst)
	guardDeadline(t, c)
	mustWrite(t, c, []byte("anyone?"))
	e.WaitPendingError(t, c)
	if err := pc.SetReadDeadline(time.Now().Add(30 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, from, err := pc.ReadFrom(make([]byte, 64))
	e.Note("ReadFrom.n", n)
	e.NoteAddr("ReadFrom.from", from)
	e.NoteErr("ReadFrom", err)
	n, err = pc.WriteTo([]byte("again"), a)
	e.Note("second WriteTo.n", n)
	e.NoteErr("second WriteTo", err)
}
