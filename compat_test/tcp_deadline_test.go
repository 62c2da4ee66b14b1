package compat_test

import (
	"sync"
	"testing"
	"time"
)

// TCP deadlines: past, future, changed while blocked, set concurrently,
// on writes with a full send buffer and on Accept.

var _ = registerTCP(
	tcpScenario{name: "TCPReadDeadlineInPastWithDataQueued", run: tcpDeadlinePast},
	tcpScenario{name: "TCPReadDeadlineInFutureExpires", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		if err := p.cli.SetReadDeadline(time.Now().Add(30 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		noteRead(e, "Read", goRead(read(p.cli, 64)).wait(t))
		// The connection still works once the deadline is cleared.
		if err := p.cli.SetReadDeadline(time.Time{}); err != nil {
			t.Fatal(err)
		}
		mustWriteAll(t, p.srv, []byte("later"))
		noteRead(e, "Read after clearing", goRead(read(p.cli, 64)).wait(t))
	}},
	tcpScenario{name: "TCPReadDeadlineExtendedWhileBlocked", run: tcpDeadlineExtended},
	tcpScenario{name: "TCPReadDeadlineShortenedWhileBlocked", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		if err := p.cli.SetReadDeadline(time.Time{}); err != nil {
			t.Fatal(err)
		}
		b := goRead(read(p.cli, 64))
		if !b.waitParked(t) {
			t.Fatalf("Read returned: %+v", b.res)
		}
		if err := p.cli.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		noteRead(e, "blocked Read", b.wait(t))
	}},
	tcpScenario{name: "TCPConcurrentSetDeadline", run: tcpConcurrentSetDeadline},
	tcpScenario{name: "TCPWriteDeadlineInPast", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		if err := p.cli.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := p.cli.Write([]byte("x"))
		noteN(e, "Write", n, err)
		// Reads are not affected.
		mustWriteAll(t, p.srv, []byte("read ok"))
		e.Note("Read", string(readN(t, p.cli, len("read ok"))))
	}},
	tcpScenario{name: "TCPWriteDeadlineWithFullBuffer", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		if err := p.cli.SetWriteDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		r := goRead(write(p.cli, fillSendBuffer)).wait(t)
		e.Note("wrote part", r.n > 0 && r.n < len(fillSendBuffer))
		e.NoteErr("Write", r.err)
	}},
	tcpScenario{name: "TCPAcceptDeadline", run: func(t *testing.T, e tcpEnv) {
		l := tcpListen(t, e)
		setListenerDeadline(t, l, time.Now().Add(-time.Second))
		c, err := l.Accept()
		e.Note("past.conn is nil", c == nil)
		e.NoteErr("past", err)
		setListenerDeadline(t, l, time.Now().Add(30*time.Millisecond))
		noteRead(e, "future", goRead(accept(t, l)).wait(t))
		setListenerDeadline(t, l, time.Time{})
		dial(t, e, "tcp", l.Addr().String())
		noteRead(e, "cleared", goRead(accept(t, l)).wait(t))
	}},
)

// A read deadline in the past fails Read at once even with data queued;
// the data stays queued.
func tcpDeadlinePast(t *testing.T, e tcpEnv) {
	p := newTCPPair(t, e)
	mustWriteAll(t, p.srv, []byte("queued"))
	e.WaitReadable(t, p.cli)
	if err := p.cli.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := p.cli.Read(make([]byte, 64))
	noteN(e, "Read", n, err)
	n, err = p.cli.Write([]byte("w"))
	noteN(e, "Write unaffected", n, err)
	guardDeadline(t, p.cli)
	e.Note("after", string(readN(t, p.cli, len("queued"))))
}

// A Read blocked with a deadline d, extended while blocked, outlives d
// and gets the data sent after d. Retried with a longer d on a machine
// too slow to change it in time.
func tcpDeadlineExtended(t *testing.T, e tcpEnv) {
	p := newTCPPair(t, e)
	for wait := 200 * time.Millisecond; ; wait *= 4 {
		if wait > guard {
			t.Fatal("could not change the deadline of a blocked read before it passed")
		}
		d := time.Now().Add(wait)
		if err := p.cli.SetReadDeadline(d); err != nil {
			t.Fatal(err)
		}
		b := goRead(read(p.cli, 64))
		if !b.waitParked(t) {
			b.wait(t)
			continue
		}
		if err := p.cli.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if !time.Now().Before(d) {
			mustWriteAll(t, p.srv, []byte("u"))
			if r := b.wait(t); r.err == nil {
				// Got the byte: nothing left over.
			} else if _, err := p.cli.Read(make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		time.Sleep(time.Until(d) + 50*time.Millisecond) // let the old deadline pass
		e.Note("blocked past the old deadline", !b.returned())
		mustWriteAll(t, p.srv, []byte("late"))
		noteRead(e, "Read", b.wait(t))
		return
	}
}

// SetDeadline called many times from other goroutines while a Read is
// blocked leaves the Read blocked, and the last, past, deadline ends it.
func tcpConcurrentSetDeadline(t *testing.T, e tcpEnv) {
	p := newTCPPair(t, e)
	if err := p.cli.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	b := goRead(read(p.cli, 64))
	if !b.waitParked(t) {
		t.Fatalf("Read returned: %+v", b.res)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			for j := range 200 {
				d := time.Now().Add(time.Hour + time.Duration(j)*time.Millisecond)
				if j%2 == 0 {
					d = time.Time{}
				}
				if err := p.cli.SetDeadline(d); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		e.NoteErr("setter "+sprint(i), err)
	}
	e.Note("still blocked", !b.returned())
	if err := p.cli.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	noteRead(e, "blocked Read", b.wait(t))
}
