package compat_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The TCP half of the suite. It reuses the UDP harness (the worlds, the
// recorder and its normalisation, runWorlds, goRead) and adds what TCP
// needs: a listener on the server side, an accepted pair, a wait for
// data queued on a stream socket, and the errnos TCP reports.

// tcpEnv is an env that can also listen for TCP connections.
type tcpEnv interface {
	env
	// Listen opens a TCP listener on the server side.
	Listen(network, address string) (net.Listener, error)
	// WaitReadable returns once everything the peer sent before the call
	// is queued on c.
	WaitReadable(t *testing.T, c net.Conn)
	// Unanswered returns host:port on the server side whose SYNs go
	// unanswered, so that a dial to it blocks until its context ends.
	Unanswered(t *testing.T) string
}

// The errnos of TCP join the errors.Is targets (at package init, before
// any test runs; UDP outcomes are unchanged, as no UDP error wraps them).
var _ = func() bool {
	errnos = append(errnos, syscall.ECONNRESET, syscall.EPIPE, syscall.ETIMEDOUT, syscall.ENOTCONN)
	return true
}()

func (e *kernelEnv) Listen(network, address string) (net.Listener, error) {
	l, err := net.Listen(network, address)
	if err == nil {
		e.track(l)
	}
	return l, err
}

// WaitReadable polls for POLLIN: on loopback the sending system call
// queues the data, so what was sent before is queued too.
func (e *kernelEnv) WaitReadable(t *testing.T, c net.Conn) {
	t.Helper()
	pollFor(t, c, unix.POLLIN, unix.POLLIN, "nothing was queued on the socket")
}

// Unanswered is a listener whose accept queue is full (fullAcceptQueue).
func (e *kernelEnv) Unanswered(t *testing.T) string {
	t.Helper()
	return fullAcceptQueue(t, e)
}

// fullAcceptQueue returns the address of a kernel listener on e's server
// side whose accept queue is full: it is listening with a backlog of 0
// (listen(2) again on a listening socket changes its backlog), which
// holds one connection, and one is made from e's client side. Linux drops
// the SYNs that arrive while the accept queue is full (tcp_conn_request).
func fullAcceptQueue(t *testing.T, e tcpEnv) string {
	t.Helper()
	l := tcpListen(t, e)
	sc, err := l.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var lerr error
	if err := sc.Control(func(fd uintptr) { lerr = unix.Listen(int(fd), 0) }); err != nil {
		t.Fatal(err)
	}
	if lerr != nil {
		t.Fatalf("listen(fd, 0): %v", lerr)
	}
	dial(t, e, "tcp", l.Addr().String())
	return l.Addr().String()
}

func (e *stackEnv) Listen(network, address string) (net.Listener, error) {
	return e.server.Listen(network, address)
}

// WaitReadable sends a marker each way through the Pipe (WaitQueued):
// segments are delivered in order on the interface's goroutine.
func (e *stackEnv) WaitReadable(t *testing.T, _ net.Conn) {
	t.Helper()
	e.WaitQueued(t, nil)
}

// Unanswered is an address on the Pipe's subnet that no stack holds: ARP
// gets no answer, so no SYN leaves. The mechanism differs from the kernel
// world's (a full accept queue), what the dialer sees does not.
func (e *stackEnv) Unanswered(*testing.T) string { return hostPort("192.0.2.99", 80) }

// tcpScenario is one TCP behaviour to compare.
type tcpScenario struct {
	name string
	run  func(t *testing.T, e tcpEnv)
	// skip and tapSkip are as in scenario: why a divergence is accepted,
	// or the stacknet bug it shows, in the pipe world and by TAP world.
	skip    string
	tapSkip map[string]string
}

// tcpScenarios is the table, filled by the tcp_*_test.go files.
var tcpScenarios []tcpScenario

func registerTCP(s ...tcpScenario) bool {
	tcpScenarios = append(tcpScenarios, s...)
	return true
}

func (sc tcpScenario) generic() func(*testing.T, env) {
	return func(t *testing.T, e env) { sc.run(t, e.(tcpEnv)) }
}

// TestTCPCompat runs every TCP scenario in every world and compares.
func TestTCPCompat(t *testing.T) {
	table := make([]scenario, len(tcpScenarios))
	for k, sc := range tcpScenarios {
		table[k] = scenario{name: sc.name, run: sc.generic(), skip: sc.skip, tapSkip: sc.tapSkip}
	}
	runSuite(t, "TCP", table)
}

// TestTCPHarnessKernelAgainstItself is TestHarnessKernelAgainstItself for
// the TCP scenarios.
func TestTCPHarnessKernelAgainstItself(t *testing.T) {
	for _, sc := range tcpScenarios {
		t.Run(sc.name, func(t *testing.T) {
			kernelTwice(t, func(t *testing.T, e *kernelEnv) { sc.run(t, e) })
		})
	}
}

// tcpListen opens a listener on the server side, on an ephemeral port.
func tcpListen(t *testing.T, e tcpEnv) net.Listener {
	t.Helper()
	l, err := e.Listen("tcp", hostPort(e.ServerAddr(), 0))
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	setListenerDeadline(t, l, time.Now().Add(guard))
	return l
}

func setListenerDeadline(t *testing.T, l net.Listener, d time.Time) {
	t.Helper()
	if err := l.(interface{ SetDeadline(time.Time) error }).SetDeadline(d); err != nil {
		t.Fatal(err)
	}
}

// mustAccept accepts a connection or fails the test.
func mustAccept(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	guardDeadline(t, c)
	return c
}

// tcpPair is a listener and a connection through it, from both ends.
type tcpPair struct {
	l        net.Listener
	cli, srv net.Conn
}

func newTCPPair(t *testing.T, e tcpEnv) tcpPair {
	t.Helper()
	l := tcpListen(t, e)
	cli := dial(t, e, "tcp", l.Addr().String())
	guardDeadline(t, cli)
	return tcpPair{l: l, cli: cli, srv: mustAccept(t, l)}
}

// tcpConn is the method set of *net.TCPConn that stacknet's TCPConn
// shares.
type tcpConn interface {
	net.Conn
	CloseRead() error
	CloseWrite() error
	SetLinger(sec int) error
	SetNoDelay(noDelay bool) error
	SetKeepAlive(keepalive bool) error
	SetKeepAlivePeriod(d time.Duration) error
	SetReadBuffer(bytes int) error
	SetWriteBuffer(bytes int) error
}

func asTCPConn(t *testing.T, c net.Conn) tcpConn {
	t.Helper()
	tc, ok := c.(tcpConn)
	if !ok {
		t.Fatalf("%T lacks methods of *net.TCPConn", c)
	}
	return tc
}

// closedTCPPort returns host:port of a server-side TCP port nobody
// listens on, below the ephemeral range (see closedPort).
func closedTCPPort(t *testing.T, e tcpEnv) string {
	t.Helper()
	for range 100 {
		p := 20000 + rand.IntN(12000)
		l, err := e.Listen("tcp", hostPort(e.ServerAddr(), p))
		if err != nil {
			continue
		}
		a := l.Addr().String()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return a
	}
	t.Fatal("found no free port in [20000, 32000)")
	return ""
}

// mustWriteAll writes b or fails the test.
func mustWriteAll(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if n, err := c.Write(b); err != nil || n != len(b) {
		t.Fatalf("Write %d bytes: %d, %v", len(b), n, err)
	}
}

// readAll reads until an error, returning the data and the error (io.EOF
// included, so that it can be recorded).
func readAll(c net.Conn) ([]byte, error) {
	var out []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

// readN reads exactly n bytes or fails the test.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	for got := 0; got < n; {
		m, err := c.Read(buf[got:])
		if err != nil {
			t.Fatalf("Read after %d of %d bytes: %v", got, n, err)
		}
		got += m
	}
	return buf
}

// accept is an Accept for goRead: the result's addr is the accepted
// connection's RemoteAddr.
func accept(t *testing.T, l net.Listener) func() readResult {
	return func() readResult {
		c, err := l.Accept()
		if err != nil {
			return readResult{err: err}
		}
		t.Cleanup(func() { c.Close() })
		return readResult{addr: c.RemoteAddr()}
	}
}

// write is a Write for goRead: the result's n is how much was written.
func write(c net.Conn, b []byte) func() readResult {
	return func() readResult {
		n, err := c.Write(b)
		return readResult{n: n, err: err}
	}
}

// waitParked waits until the call on b's goroutine is parked inside a TCP
// socket: in the kernel world in the poller, in stacknet's in the select
// of a read, a write, an accept or a dial. It returns false if the call
// returned instead. (background.waitBlocked knows only UDP's recv.)
func (b *background) waitParked(t *testing.T) bool {
	t.Helper()
	return b.waitIn(t, "call", func(state, g string) bool {
		return state == "IO wait" && strings.Contains(g, "runtime_pollWait") ||
			state == "select" && (strings.Contains(g, "stacknet.(*TCPConn).read(") ||
				strings.Contains(g, "stacknet.(*TCPConn).write(") ||
				strings.Contains(g, "stacknet.(*TCPListener).accept(") ||
				strings.Contains(g, "stacknet.(*Stack).dialTCP("))
	})
}

// fillSendBuffer is larger than the send buffer plus the peer's receive
// window in either world, so a Write of it blocks while the peer does not
// read: send buffers are 4 MiB at most (tcp_wmem[2], TCPConfig's
// default), and receive autotuning grows a window only as the
// application reads, so an unread one stays near its initial 128 KiB.
var fillSendBuffer = bytes.Repeat([]byte("0123456789abcdef"), 32<<20/16)

// noteN records the n and error of a call on a connection.
func noteN(e env, key string, n int, err error) {
	e.Note(key+".n", n)
	e.NoteErr(key, err)
}

// dialCtx is DialContext for goRead.
func dialCtx(t *testing.T, e tcpEnv, ctx context.Context, addr string) func() readResult {
	return func() readResult {
		c, err := e.DialContext(ctx, "tcp", addr)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return readResult{addr: c.RemoteAddr()}
		}
		return readResult{err: err}
	}
}

// settle returns once every segment sent so far has been delivered. On
// loopback the kernel delivers within the sending system call, so there
// is nothing to wait for; the other worlds have a settle method.
func settle(t *testing.T, e tcpEnv) {
	t.Helper()
	if s, ok := e.(interface{ settle(*testing.T) }); ok {
		s.settle(t)
	}
}

// settle sends markers each way through the Pipe (WaitQueued).
func (e *stackEnv) settle(t *testing.T) {
	t.Helper()
	e.WaitQueued(t, nil)
}
