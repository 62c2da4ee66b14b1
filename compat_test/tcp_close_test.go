package compat_test

import (
	"net"
	"testing"
	"time"
)

// TCP: half-close, reset, and what Close does to blocked and later calls.

var _ = registerTCP(
	tcpScenario{name: "TCPCloseWriteClientToServer", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		closeWrite(t, e, p.cli, p.srv)
	}},
	tcpScenario{name: "TCPCloseWriteServerToClient", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		closeWrite(t, e, p.srv, p.cli)
	}},
	tcpScenario{name: "TCPCloseReadClient", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		closeRead(t, e, p.cli, p.srv)
	}},
	tcpScenario{name: "TCPCloseReadServer", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		closeRead(t, e, p.srv, p.cli)
	}},
	tcpScenario{name: "TCPZeroByteReadWrite", run: tcpZeroByte},
	tcpScenario{name: "TCPPeerCloseGivesEOF", run: tcpPeerClose},
	tcpScenario{name: "TCPCloseUnblocksRead", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		b := goRead(read(p.cli, 64))
		if !b.waitParked(t) {
			t.Fatalf("Read returned before Close: %+v", b.res)
		}
		e.NoteErr("Close", p.cli.Close())
		noteRead(e, "blocked Read", b.wait(t))
	}},
	tcpScenario{name: "TCPCloseUnblocksAccept", run: func(t *testing.T, e tcpEnv) {
		l := tcpListen(t, e)
		b := goRead(accept(t, l))
		if !b.waitParked(t) {
			t.Fatalf("Accept returned before Close: %+v", b.res)
		}
		e.NoteErr("Close", l.Close())
		noteRead(e, "blocked Accept", b.wait(t))
	}},
	tcpScenario{name: "TCPCloseUnblocksWriteWithFullBuffer", run: tcpCloseUnblocksWrite},
	tcpScenario{name: "TCPResetSeenByReadThenWrite", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		reset(t, e, p.srv, p.cli)
	}},
	tcpScenario{name: "TCPLingerZeroClientResetsServer", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		reset(t, e, p.cli, p.srv)
	}},
	tcpScenario{name: "TCPCloseWithUnreadDataResets", run: tcpCloseUnread},
	tcpScenario{name: "TCPDoubleClose", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		e.NoteErr("conn.first", p.cli.Close())
		e.NoteErr("conn.second", p.cli.Close())
		e.NoteErr("listener.first", p.l.Close())
		e.NoteErr("listener.second", p.l.Close())
	}},
	tcpScenario{name: "TCPMethodsAfterClose", run: tcpAfterClose},
	tcpScenario{name: "TCPListenerCloseResetsPending", run: tcpListenerClosePending},
	tcpScenario{name: "TCPAcceptAfterClose", run: func(t *testing.T, e tcpEnv) {
		l := tcpListen(t, e)
		e.NoteErr("Close", l.Close())
		c, err := l.Accept()
		e.Note("Accept.conn is nil", c == nil)
		e.NoteErr("Accept", err)
		e.NoteAddr("Addr", l.Addr())
		e.NoteErr("SetDeadline", l.(interface{ SetDeadline(time.Time) error }).SetDeadline(time.Now()))
	}},
)

// closeWrite: the writer's CloseWrite gives the reader its data, then
// io.EOF every time; the reverse direction still works; the writer's
// further writes fail with EPIPE.
func closeWrite(t *testing.T, e tcpEnv, w, r net.Conn) {
	mustWriteAll(t, w, []byte("before FIN"))
	e.NoteErr("CloseWrite", asTCPConn(t, w).CloseWrite())
	data, err := readAll(r)
	e.Note("reader.data", string(data))
	e.NoteErr("reader", err)
	n, err := r.Read(make([]byte, 8))
	noteN(e, "reader again", n, err)
	mustWriteAll(t, r, []byte("reply"))
	e.Note("writer reads reply", string(readN(t, w, 5)))
	n, err = w.Write([]byte("after FIN"))
	noteN(e, "writer Write after CloseWrite", n, err)
	e.NoteErr("CloseWrite again", asTCPConn(t, w).CloseWrite())
	e.NoteErr("reader Close", r.Close())
	data, err = readAll(w)
	e.Note("writer.data after peer Close", string(data))
	e.NoteErr("writer after peer Close", err)
}

// closeRead: after CloseRead, reads return io.EOF at once, and writes
// still reach the peer.
func closeRead(t *testing.T, e tcpEnv, c, peer net.Conn) {
	e.NoteErr("CloseRead", asTCPConn(t, c).CloseRead())
	n, err := c.Read(make([]byte, 8))
	noteN(e, "Read", n, err)
	n, err = c.Read(make([]byte, 8))
	noteN(e, "Read again", n, err)
	mustWriteAll(t, c, []byte("still writing"))
	e.Note("peer reads", string(readN(t, peer, len("still writing"))))
}

// Zero-byte reads and writes return 0, nil on an open connection, even
// with data queued or after the peer's FIN, and leave the data queued.
func tcpZeroByte(t *testing.T, e tcpEnv) {
	p := newTCPPair(t, e)
	n, err := p.cli.Read(nil)
	noteN(e, "Read(nil)", n, err)
	n, err = p.cli.Read([]byte{})
	noteN(e, "Read(empty)", n, err)
	n, err = p.cli.Write(nil)
	noteN(e, "Write(nil)", n, err)
	mustWriteAll(t, p.srv, []byte("data"))
	e.WaitReadable(t, p.cli)
	n, err = p.cli.Read(nil)
	noteN(e, "Read(nil) with data", n, err)
	e.NoteErr("srv CloseWrite", asTCPConn(t, p.srv).CloseWrite())
	data, err := readAll(p.cli)
	e.Note("data", string(data))
	e.NoteErr("after FIN", err)
	n, err = p.cli.Read(nil)
	noteN(e, "Read(nil) after FIN", n, err)
	e.NoteErr("Close", p.cli.Close())
	n, err = p.cli.Read(nil)
	noteN(e, "Read(nil) after Close", n, err)
	n, err = p.cli.Write(nil)
	noteN(e, "Write(nil) after Close", n, err)
}

// The peer's Close gives the data then io.EOF; the first Write after it
// succeeds (the peer answers it with a RST, which is not waited for).
func tcpPeerClose(t *testing.T, e tcpEnv) {
	p := newTCPPair(t, e)
	mustWriteAll(t, p.srv, []byte("bye"))
	e.NoteErr("srv Close", p.srv.Close())
	data, err := readAll(p.cli)
	e.Note("data", string(data))
	e.NoteErr("Read", err)
	n, err := p.cli.Read(make([]byte, 8))
	noteN(e, "Read again", n, err)
	n, err = p.cli.Write([]byte("x"))
	noteN(e, "first Write", n, err)
}

// Close wakes a Write blocked on a full send buffer; it has written part
// of its data.
func tcpCloseUnblocksWrite(t *testing.T, e tcpEnv) {
	p := newTCPPair(t, e)
	b := goRead(write(p.cli, fillSendBuffer))
	if !b.waitParked(t) {
		t.Fatalf("Write returned before Close: n=%d err=%v", b.res.n, b.res.err)
	}
	e.NoteErr("Close", p.cli.Close())
	r := b.wait(t)
	e.Note("wrote part", r.n > 0 && r.n < len(fillSendBuffer))
	e.NoteErr("blocked Write", r.err)
}

// reset: SetLinger(0) and Close send a RST; the peer's Read sees
// ECONNRESET, its next Write EPIPE, its next Read io.EOF.
func reset(t *testing.T, e tcpEnv, closer, peer net.Conn) {
	e.NoteErr("SetLinger(0)", asTCPConn(t, closer).SetLinger(0))
	e.NoteErr("Close", closer.Close())
	n, err := peer.Read(make([]byte, 8))
	noteN(e, "Read", n, err)
	n, err = peer.Write([]byte("x"))
	noteN(e, "Write", n, err)
	n, err = peer.Read(make([]byte, 8))
	noteN(e, "Read again", n, err)
	n, err = peer.Write([]byte("x"))
	noteN(e, "Write again", n, err)
	e.NoteErr("peer Close", peer.Close())
}

// Close with received data left unread sends a RST instead of a FIN
// (RFC 2525 2.17): the peer's Read sees ECONNRESET.
func tcpCloseUnread(t *testing.T, e tcpEnv) {
	p := newTCPPair(t, e)
	mustWriteAll(t, p.cli, []byte("never read"))
	e.WaitReadable(t, p.srv)
	mustWriteAll(t, p.srv, []byte("sent before Close"))
	e.NoteErr("Close", p.srv.Close())
	data, err := readAll(p.cli)
	e.Note("data", string(data))
	e.NoteErr("Read", err)
}

// Every method after Close.
func tcpAfterClose(t *testing.T, e tcpEnv) {
	p := newTCPPair(t, e)
	c := asTCPConn(t, p.cli)
	e.NoteErr("Close", c.Close())
	n, err := c.Read(make([]byte, 8))
	noteN(e, "Read", n, err)
	n, err = c.Write([]byte("x"))
	noteN(e, "Write", n, err)
	e.NoteErr("CloseRead", c.CloseRead())
	e.NoteErr("CloseWrite", c.CloseWrite())
	e.NoteErr("SetDeadline", c.SetDeadline(time.Now()))
	e.NoteErr("SetReadDeadline", c.SetReadDeadline(time.Now()))
	e.NoteErr("SetWriteDeadline", c.SetWriteDeadline(time.Time{}))
	e.NoteErr("SetLinger", c.SetLinger(0))
	e.NoteErr("SetNoDelay", c.SetNoDelay(false))
	e.NoteErr("SetKeepAlive", c.SetKeepAlive(true))
	e.NoteErr("SetKeepAlivePeriod", c.SetKeepAlivePeriod(time.Minute))
	e.NoteErr("SetReadBuffer", c.SetReadBuffer(4096))
	e.NoteErr("SetWriteBuffer", c.SetWriteBuffer(4096))
	e.NoteAddr("LocalAddr", c.LocalAddr())
	e.NoteAddr("RemoteAddr", c.RemoteAddr())
}

// Closing a listener resets the connections that completed the handshake
// but were not accepted: their clients' Reads see ECONNRESET.
func tcpListenerClosePending(t *testing.T, e tcpEnv) {
	l := tcpListen(t, e)
	var clients []net.Conn
	for range 2 {
		c := dial(t, e, "tcp", l.Addr().String())
		guardDeadline(t, c)
		clients = append(clients, c)
	}
	mustWriteAll(t, clients[1], []byte("queued before Close"))
	settle(t, e)
	e.NoteErr("listener Close", l.Close())
	for i, c := range clients {
		n, err := c.Read(make([]byte, 8))
		noteN(e, "pending client "+sprint(i)+" Read", n, err)
		n, err = c.Read(make([]byte, 8))
		noteN(e, "pending client "+sprint(i)+" Read again", n, err)
	}
}
