package compat_test

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// hostPort joins an IP address and a port.
func hostPort(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }

// portOf is the port of a *net.UDPAddr.
func portOf(t *testing.T, a net.Addr) int {
	t.Helper()
	u, ok := a.(*net.UDPAddr)
	if !ok || u == nil {
		t.Fatalf("address %v (%T) is not a *net.UDPAddr", a, a)
	}
	return u.Port
}

// listen opens a server socket or fails the test.
func listen(t *testing.T, e env, network, address string) net.PacketConn {
	t.Helper()
	pc, err := e.ListenPacket(network, address)
	if err != nil {
		t.Fatalf("ListenPacket(%q, %q): %v", network, address, err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// dial connects a client socket or fails the test.
func dial(t *testing.T, e env, network, address string) net.Conn {
	t.Helper()
	c, err := e.Dial(network, address)
	if err != nil {
		t.Fatalf("Dial(%q, %q): %v", network, address, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// guardDeadline sets a read and write deadline that only a failed
// scenario reaches.
func guardDeadline(t *testing.T, c interface{ SetDeadline(time.Time) error }) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(guard)); err != nil {
		t.Fatal(err)
	}
}

// pair is a server socket and a client socket connected to it, which have
// exchanged one datagram, so that each knows the other's address (and, in
// the stacknet world, the link-layer addresses are resolved).
type pair struct {
	srv     net.PacketConn
	cli     net.Conn
	cliAddr net.Addr // the client's address, as the server saw it
}

func newPair(t *testing.T, e env) pair {
	t.Helper()
	srv := listen(t, e, "udp", hostPort(e.ServerAddr(), 0))
	cli := dial(t, e, "udp", srv.LocalAddr().String())
	guardDeadline(t, srv)
	guardDeadline(t, cli)
	if _, err := cli.Write([]byte("hello")); err != nil {
		t.Fatalf("client Write: %v", err)
	}
	buf := make([]byte, 64)
	n, from, err := srv.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("server ReadFrom: %q, %v", buf[:n], err)
	}
	return pair{srv: srv, cli: cli, cliAddr: from}
}

// closedPort returns host:port of a server-side UDP port that nothing
// listens on. The port is outside the ephemeral range, so that no socket
// bound to port 0 meanwhile (in a parallel scenario, or another process on
// the same kernel) can take it; it is checked free by binding it.
func closedPort(t *testing.T, e env) string {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000) // below 32768, where ephemeral ports start
		pc, err := e.ListenPacket("udp", hostPort(e.ServerAddr(), port))
		if err != nil {
			continue // in use
		}
		a := pc.LocalAddr().String()
		if err := pc.Close(); err != nil {
			t.Fatal(err)
		}
		return a
	}
	t.Fatal("found no free port in [20000, 32000)")
	return ""
}

// closedClientPort returns a UDP port that nothing on the client side
// listens on, on any of its addresses (it is checked free by binding it
// on 0.0.0.0), chosen as closedPort chooses.
func closedClientPort(t *testing.T, e env) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		pc, err := e.ClientListenPacket("udp4", hostPort("0.0.0.0", port))
		if err != nil {
			continue // in use
		}
		if err := pc.Close(); err != nil {
			t.Fatal(err)
		}
		return port
	}
	t.Fatal("found no free port in [20000, 32000)")
	return 0
}

// mustWriteTo sends one datagram or fails the test.
func mustWriteTo(t *testing.T, pc net.PacketConn, b []byte, to net.Addr) {
	t.Helper()
	if n, err := pc.WriteTo(b, to); err != nil || n != len(b) {
		t.Fatalf("WriteTo %d bytes: %d, %v", len(b), n, err)
	}
}

// mustWrite sends one datagram on a connected socket or fails the test.
func mustWrite(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if n, err := c.Write(b); err != nil || n != len(b) {
		t.Fatalf("Write %d bytes: %d, %v", len(b), n, err)
	}
}

// readResult is what a read returned.
type readResult struct {
	n    int
	addr net.Addr
	err  error
	data []byte
}

// background is a read running on its own goroutine.
type background struct {
	id   uint64        // the goroutine's id
	done chan struct{} // closed when res is set
	res  readResult
}

// goRead runs read on a new goroutine.
func goRead(read func() readResult) *background {
	b := &background{done: make(chan struct{})}
	ids := make(chan uint64, 1)
	go func() {
		ids <- goid()
		b.res = read()
		close(b.done)
	}()
	b.id = <-ids
	return b
}

// wait returns the read's result, failing the test if it does not come
// within the guard time.
func (b *background) wait(t *testing.T) readResult {
	t.Helper()
	select {
	case <-b.done:
		return b.res
	case <-time.After(guard):
		t.Fatalf("read did not return within %v", guard)
		return readResult{}
	}
}

// returned reports whether the read has returned.
func (b *background) returned() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// waitBlocked waits until the read is parked inside the socket: in the
// kernel world in the poller ("IO wait") or on the read lock, in
// stacknet's in a select. It
// reads the goroutine's state from runtime.Stack, so it needs no sleep to
// be sure. It returns false if the read returned instead.
func (b *background) waitBlocked(t *testing.T) bool {
	t.Helper()
	return b.waitIn(t, "read", func(state, g string) bool {
		// The kernel world parks a reader in the poller, or, behind
		// another reader, on the descriptor's read lock; stacknet's
		// parks in recv's select.
		return state == "IO wait" && strings.Contains(g, "runtime_pollWait") ||
			state == "semacquire" && strings.Contains(g, "(*fdMutex).rwlock") ||
			state == "select" && strings.Contains(g, "(*UDPConn).recv")
	})
}

// waitIn waits until parked, given the state and the stack trace of b's
// goroutine as runtime.Stack prints them, says the call is blocked. A
// call that b's goroutine makes inside a network namespace (linktest's
// Kernel.Do, as the TAP worlds' kernel side dials) runs on a goroutine
// that Do starts while b's waits for it, so that goroutine is looked at
// too. It reads the goroutine's state rather than sleeping, and returns
// false if the call returned instead; what names the call in the
// failure.
func (b *background) waitIn(t *testing.T, what string, parked func(state, g string) bool) bool {
	t.Helper()
	end := time.Now().Add(guard)
	buf := make([]byte, 1<<20)
	id := strconv.FormatUint(b.id, 10)
	header := "goroutine " + id + " ["
	inNamespace := "created by github.com/stacknet/stacknet/link/linktest.inNewThread in goroutine " + id + "\n"
	for time.Now().Before(end) {
		if b.returned() {
			return false
		}
		n := runtime.Stack(buf, true)
		if n == len(buf) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if !strings.HasPrefix(g, header) && !strings.Contains(g, inNamespace) {
				continue
			}
			_, state, _ := strings.Cut(g, " [")
			state, _, _ = strings.Cut(state, "]")
			state, _, _ = strings.Cut(state, ",")
			if parked(state, g) {
				return true
			}
		}
		runtime.Gosched()
	}
	t.Fatalf("%s did not block within %v", what, guard)
	return false
}

// goid returns the calling goroutine's id.
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	s := strings.TrimPrefix(string(buf[:n]), "goroutine ")
	s, _, _ = strings.Cut(s, " ")
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		panic("cannot parse goroutine id from " + string(buf[:n]))
	}
	return id
}

// readFrom is a read for goRead.
func readFrom(pc net.PacketConn, size int) func() readResult {
	return func() readResult {
		buf := make([]byte, size)
		n, a, err := pc.ReadFrom(buf)
		return readResult{n: n, addr: a, err: err, data: bytes.Clone(buf[:n])}
	}
}

// read is a read on a connected socket for goRead.
func read(c net.Conn, size int) func() readResult {
	return func() readResult {
		buf := make([]byte, size)
		n, err := c.Read(buf)
		return readResult{n: n, err: err, data: bytes.Clone(buf[:n])}
	}
}

// noteRead records a read's result.
func noteRead(e env, key string, r readResult) {
	e.Note(key+".n", r.n)
	e.NoteAddr(key+".addr", r.addr)
	e.NoteErr(key, r.err)
}
