package compat_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TCP dial and listen: refusal, cancellation, addresses, the accept
// queue, and io.Copy through ReadFrom and WriteTo.

var _ = registerTCP(
	tcpScenario{name: "TCPDialRefused", run: func(t *testing.T, e tcpEnv) {
		c, err := e.Dial("tcp", closedTCPPort(t, e))
		e.Note("conn is nil", c == nil)
		e.NoteErr("Dial", err)
	}},
	tcpScenario{name: "TCPDialContextCancelledBefore", run: func(t *testing.T, e tcpEnv) {
		l := tcpListen(t, e)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c, err := e.DialContext(ctx, "tcp", l.Addr().String())
		e.Note("conn is nil", c == nil)
		e.NoteErr("DialContext", err)
	}},
	tcpScenario{name: "TCPDialContextCancelledDuring", run: func(t *testing.T, e tcpEnv) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b := goRead(dialCtx(t, e, ctx, e.Unanswered(t)))
		if !b.waitParked(t) {
			t.Fatalf("dial returned: %+v", b.res)
		}
		cancel()
		noteRead(e, "DialContext", b.wait(t))
	}},
	tcpScenario{name: "TCPDialContextDeadline", run: func(t *testing.T, e tcpEnv) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		r := goRead(dialCtx(t, e, ctx, e.Unanswered(t))).wait(t)
		// Package net itself answers two ways, by which of two timers
		// fires first: the socket's deadline, set to the context's (the
		// chain ends in os.ErrDeadlineExceeded), or the context (an
		// unexported error that is context.DeadlineExceeded). What is
		// recorded is what both share.
		e.NoteAddr("DialContext.addr", r.addr)
		if r.err == nil {
			t.Fatal("DialContext to an unanswered address succeeded")
		}
		e.Note("DialContext.err", r.err)
		e.Note("DialContext.first link", describeLink(r.err))
		e.Note("DialContext is a deadline", errors.Is(r.err, os.ErrDeadlineExceeded) != errors.Is(r.err, context.DeadlineExceeded))
		var ne net.Error
		e.Note("DialContext.Timeout", errors.As(r.err, &ne) && ne.Timeout())
	}},
	tcpScenario{name: "TCPAddrTypes", run: func(t *testing.T, e tcpEnv) {
		p := newTCPPair(t, e)
		e.NoteAddr("listener Addr", p.l.Addr())
		e.NoteAddr("client LocalAddr", p.cli.LocalAddr())
		e.NoteAddr("client RemoteAddr", p.cli.RemoteAddr())
		e.NoteAddr("server LocalAddr", p.srv.LocalAddr())
		e.NoteAddr("server RemoteAddr", p.srv.RemoteAddr())
		e.Note("ends agree", p.cli.LocalAddr().String() == p.srv.RemoteAddr().String() &&
			p.cli.RemoteAddr().String() == p.srv.LocalAddr().String() &&
			p.l.Addr().String() == p.srv.LocalAddr().String())
		e.Note("networks", []string{p.l.Addr().Network(), p.cli.LocalAddr().Network(), p.srv.RemoteAddr().Network()})
		for _, a := range []string{":0", "0.0.0.0:0"} {
			wl, err := e.Listen("tcp4", a)
			if err != nil {
				t.Fatal(err)
			}
			e.NoteAddr("tcp4 "+a+" listener Addr", wl.Addr())
			wl.Close()
		}
		// Listen("tcp", ":0" or "0.0.0.0:0") is where the worlds cannot
		// agree: package net opens a dual-stack IPv6 socket there and
		// reports [::], while stacknet has no IPv6 (see its package doc)
		// and reports 0.0.0.0. Recorded: that the address is unspecified,
		// with a port; asserted where stacknet listens: that it is
		// 0.0.0.0.
		for _, a := range []string{":0", "0.0.0.0:0"} {
			wl, err := e.Listen("tcp", a)
			if err != nil {
				t.Fatal(err)
			}
			ta, ok := wl.Addr().(*net.TCPAddr)
			e.Note("tcp "+a+" listener Addr unspecified with port", ok && ta.IP.IsUnspecified() && ta.Port != 0)
			if stacknetServes(e) && (!ok || !ta.IP.Equal(net.IPv4zero)) {
				t.Errorf("stacknet's tcp %s listener Addr = %v, want 0.0.0.0:port (no IPv6)", a, wl.Addr())
			}
			wl.Close()
		}
	}},
	tcpScenario{name: "TCPListenAddressInUse", run: func(t *testing.T, e tcpEnv) {
		l := tcpListen(t, e)
		l2, err := e.Listen("tcp", l.Addr().String())
		e.Note("listener is nil", l2 == nil)
		e.NoteErr("Listen", err)
	}},
	tcpScenario{name: "TCPAcceptQueueBeforeAccept", run: tcpAcceptQueue},
	tcpScenario{name: "TCPIOCopyReadFromWriteTo", run: tcpIOCopy},
)

// Connections dialed before any Accept complete, carry data, and are
// accepted in the order they were dialed.
func tcpAcceptQueue(t *testing.T, e tcpEnv) {
	l := tcpListen(t, e)
	for i := range 3 {
		c := dial(t, e, "tcp", l.Addr().String())
		mustWriteAll(t, c, []byte{'0' + byte(i)})
		settle(t, e)
	}
	var order []byte
	for range 3 {
		order = append(order, readN(t, mustAccept(t, l), 1)...)
	}
	e.Note("accept order", string(order))
}

// io.Copy to a connection uses its ReadFrom, from one its WriteTo; an
// echo of 3 MiB through both comes back whole, ended by CloseWrite.
func tcpIOCopy(t *testing.T, e tcpEnv) {
	p := newTCPPair(t, e)
	payload := bytes.Repeat([]byte("stacknet compat "), 3<<20/16)
	type result struct {
		n   int64
		err error
	}
	echoed := make(chan result, 1)
	go func() {
		var buf bytes.Buffer
		n, err := io.Copy(&buf, p.srv) // (*TCPConn).WriteTo
		if err != nil {
			echoed <- result{n, err}
			return
		}
		m, err := io.Copy(p.srv, &buf) // (*TCPConn).ReadFrom
		if err == nil {
			err = p.srv.(interface{ CloseWrite() error }).CloseWrite()
		}
		echoed <- result{n + m, err}
	}()
	var _ io.ReaderFrom = p.cli.(io.ReaderFrom)
	var _ io.WriterTo = p.cli.(io.WriterTo)
	n, err := io.Copy(p.cli, bytes.NewReader(payload))
	e.Note("client sent", n)
	e.NoteErr("client io.Copy", err)
	e.NoteErr("client CloseWrite", p.cli.(interface{ CloseWrite() error }).CloseWrite())
	got, err := readAll(p.cli)
	e.NoteErr("client read", err)
	e.Note("echo intact", len(got) == len(payload) && sha256.Sum256(got) == sha256.Sum256(payload))
	select {
	case r := <-echoed:
		e.Note("server copied", r.n)
		e.NoteErr("server", r.err)
	case <-time.After(guard):
		t.Fatal("server echo did not finish")
	}
}
