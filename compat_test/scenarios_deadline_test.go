package compat_test

import (
	"testing"
	"time"
)

// Deadlines: past, future, and changed while a read is blocked.

var _ = register(
	scenario{name: "ReadDeadlineInPastWithDataQueued", run: deadlinePast},
	scenario{name: "ReadDeadlineInFutureExpires", run: deadlineExpires},
	scenario{name: "ReadDeadlineExtendedWhileBlocked", run: func(t *testing.T, e env) {
		deadlineChangedWhileBlocked(t, e, func(time.Time) time.Time { return time.Now().Add(time.Hour) })
	}},
	scenario{name: "ReadDeadlineClearedWhileBlocked", run: func(t *testing.T, e env) {
		deadlineChangedWhileBlocked(t, e, func(time.Time) time.Time { return time.Time{} })
	}},
	scenario{name: "ReadDeadlineShortenedWhileBlocked", run: deadlineShortened},
	scenario{name: "ReadDeadlineClearedAfterTimeout", run: deadlineClearedAfterTimeout},
	scenario{name: "WriteDeadlineInPast", run: writeDeadlinePast},
)

// A read deadline in the past fails a read at once, even with a datagram
// queued; the datagram stays queued. It does not affect writes.
func deadlinePast(t *testing.T, e env) {
	p := newPair(t, e)
	mustWrite(t, p.cli, []byte("queued"))
	e.WaitQueued(t, p.srv)
	if err := p.srv.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, from, err := p.srv.ReadFrom(buf)
	e.Note("ReadFrom.n", n)
	e.NoteAddr("ReadFrom.from", from)
	e.NoteErr("ReadFrom", err)
	n, _, flags, ap, err := asUDPConn(t, p.srv).ReadMsgUDPAddrPort(buf, nil)
	e.Note("ReadMsgUDPAddrPort.n,flags", []int{n, flags})
	e.Note("ReadMsgUDPAddrPort.addr", describeAddrPort(ap))
	e.NoteErr("ReadMsgUDPAddrPort", err)

	if err := p.cli.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err = p.cli.Read(buf)
	e.Note("Read.n", n)
	e.NoteErr("Read", err)
	n, err = p.cli.Write([]byte("write unaffected"))
	e.Note("Write.n", n)
	e.NoteErr("Write", err)

	guardDeadline(t, p.srv)
	n, _, err = p.srv.ReadFrom(buf)
	e.Note("after.data", string(buf[:n]))
	e.NoteErr("after", err)
}

// A read deadline in the future expires with a timeout error.
func deadlineExpires(t *testing.T, e env) {
	p := newPair(t, e)
	if err := p.srv.SetReadDeadline(time.Now().Add(30 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	r := goRead(readFrom(p.srv, 64)).wait(t)
	noteRead(e, "ReadFrom", r)
	if err := p.cli.SetReadDeadline(time.Now().Add(30 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	r = goRead(read(p.cli, 64)).wait(t)
	noteRead(e, "Read", r)
}

// deadlineChangedWhileBlocked blocks a read with a deadline d, moves the
// deadline to change(d) while it is blocked, lets d pass, and sends a
// datagram: the read must get it. If the read could not be seen blocked
// well before d (a very slow machine), it tries again with a later d.
func deadlineChangedWhileBlocked(t *testing.T, e env, change func(time.Time) time.Time) {
	p := newPair(t, e)
	for wait := 200 * time.Millisecond; ; wait *= 4 {
		if wait > guard {
			t.Fatalf("could not change the deadline of a blocked read before it passed")
		}
		d := time.Now().Add(wait)
		if err := p.srv.SetReadDeadline(d); err != nil {
			t.Fatal(err)
		}
		b := goRead(readFrom(p.srv, 64))
		if !b.waitBlocked(t) {
			b.wait(t)
			continue // the deadline passed first: try a longer one
		}
		if err := p.srv.SetReadDeadline(change(d)); err != nil {
			t.Fatal(err)
		}
		if !time.Now().Before(d) {
			// Changed too late to tell: the read may have timed out.
			// Unblock it and try again with a longer deadline.
			mustWrite(t, p.cli, []byte("unblock"))
			b.wait(t)
			continue
		}
		time.Sleep(time.Until(d) + 50*time.Millisecond) // let the old deadline pass
		e.Note("blocked past the old deadline", !b.returned())
		mustWrite(t, p.cli, []byte("late"))
		r := b.wait(t)
		e.Note("ReadFrom.data", string(r.data))
		e.NoteAddr("ReadFrom.from", r.addr)
		e.NoteErr("ReadFrom", r.err)
		return
	}
}

// A blocked read with no deadline returns a timeout when a deadline is
// set to soon, and at once when set in the past.
func deadlineShortened(t *testing.T, e env) {
	p := newPair(t, e)
	for _, tc := range []struct {
		name string
		d    func() time.Time
	}{
		{"soon", func() time.Time { return time.Now().Add(20 * time.Millisecond) }},
		{"past", func() time.Time { return time.Now().Add(-time.Second) }},
	} {
		if err := p.srv.SetReadDeadline(time.Time{}); err != nil {
			t.Fatal(err)
		}
		b := goRead(readFrom(p.srv, 64))
		if !b.waitBlocked(t) {
			t.Fatalf("%s: read with no deadline returned: %+v", tc.name, b.res)
		}
		if err := p.srv.SetReadDeadline(tc.d()); err != nil {
			t.Fatal(err)
		}
		noteRead(e, tc.name, b.wait(t))

		if err := p.cli.SetReadDeadline(time.Time{}); err != nil {
			t.Fatal(err)
		}
		b = goRead(read(p.cli, 64))
		if !b.waitBlocked(t) {
			t.Fatalf("%s: read with no deadline returned: %+v", tc.name, b.res)
		}
		if err := p.cli.SetReadDeadline(tc.d()); err != nil {
			t.Fatal(err)
		}
		noteRead(e, tc.name+" connected", b.wait(t))
	}
}

// After a timeout, clearing the deadline makes reads work again.
func deadlineClearedAfterTimeout(t *testing.T, e env) {
	p := newPair(t, e)
	if err := p.srv.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_, _, err := p.srv.ReadFrom(buf)
	e.NoteErr("expired", err)
	if err := p.srv.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, p.cli, []byte("again"))
	b := goRead(readFrom(p.srv, 64))
	r := b.wait(t)
	e.Note("cleared.data", string(r.data))
	e.NoteErr("cleared", r.err)
}

// A write deadline in the past fails Write and WriteTo with a timeout;
// SetDeadline sets the read and the write deadline.
func writeDeadlinePast(t *testing.T, e env) {
	p := newPair(t, e)
	past := time.Now().Add(-time.Second)
	if err := p.cli.SetWriteDeadline(past); err != nil {
		t.Fatal(err)
	}
	n, err := p.cli.Write([]byte("x"))
	e.Note("Write.n", n)
	e.NoteErr("Write", err)
	if err := p.srv.SetWriteDeadline(past); err != nil {
		t.Fatal(err)
	}
	n, err = p.srv.WriteTo([]byte("x"), p.cliAddr)
	e.Note("WriteTo.n", n)
	e.NoteErr("WriteTo", err)
	if err := p.srv.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	n, err = p.srv.WriteTo([]byte("x"), p.cliAddr)
	e.Note("WriteTo after clearing.n", n)
	e.NoteErr("WriteTo after clearing", err)
	// SetDeadline sets both.
	if err := p.cli.SetDeadline(past); err != nil {
		t.Fatal(err)
	}
	n, err = p.cli.Write([]byte("x"))
	e.Note("Write after SetDeadline.n", n)
	e.NoteErr("Write after SetDeadline", err)
	n, err = p.cli.Read(make([]byte, 8))
	e.Note("Read after SetDeadline.n", n)
	e.NoteErr("Read after SetDeadline", err)
}
