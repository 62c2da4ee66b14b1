// Compatibility of stacknet's UDP and TCP sockets with package net's,
// scenario by scenario.
//
// # Method
//
// stacknet promises that its sockets behave as package net's do on Linux.
// This package checks the promise empirically. Each scenario is a function
// func(t *testing.T, e env) that drives sockets through the env interface
// and records what it observes with e.Note, e.NoteErr and e.NoteAddr. The
// server side is where it listens (ListenPacket, Listen), the client side
// where it dials (Dial, ClientListenPacket). It runs in up to four worlds:
//
//   - "net": the standard library on the kernel's loopback interface; the
//     peer the scenario talks to listens on 127.0.0.1. This is the
//     reference.
//   - "pipe": two stacknet Stacks joined by link.Pipe(1500), a client at
//     192.0.2.1/24 and a server at 192.0.2.2/24; scenarios listen on the
//     server stack and dial from the client stack.
//   - "tap-client": the client side is a stacknet Stack on a TAP device at
//     192.0.2.1/24; the server side is the Linux kernel, at 192.0.2.2/24
//     on the TAP interface's other end, in a network namespace made for
//     the run (tap_linux_test.go). stacknet dials a real, independent
//     peer.
//   - "tap-server": the reverse: the kernel, in the namespace at
//     192.0.2.1/24, dials a stacknet Stack listening at 192.0.2.2/24.
//
// The TAP worlds exist only on Linux, and need root: without it they skip
// (and fail when CI=true, as every test that needs root does). Each run
// of a scenario in a TAP world gets its own namespace, TAP device and
// Stack, so scenarios running in parallel share nothing.
//
// The outcome of each world is compared with the net world's with
// cmp.Diff, and any difference fails the world's subtest: a difference is
// a stacknet bug unless the scenario says otherwise. In the TAP worlds
// one side of each scenario is the kernel itself, so those worlds also
// check that what stacknet sends and answers on a real wire makes the
// kernel's sockets behave as they do against another kernel. A scenario
// that diverges in a TAP world but not in the pipe world usually points
// at stacknet's behaviour on the wire rather than at its sockets' API.
//
// # What is recorded, and how it is normalised
//
// Addresses and port numbers differ between the worlds by construction, so
// an outcome never holds one. Instead:
//
//   - An address is recorded by its dynamic type, the nil-ness of the
//     interface and of the pointer in it (net.Addr(nil) and
//     (*net.UDPAddr)(nil) are different answers), the class of its IP
//     (unspecified v4 or v6, IPv4, IPv4-mapped IPv6, IPv6) and the length
//     of its IP slice, and whether its port is zero.
//   - An error is recorded as its message, with every IP address except
//     0.0.0.0 replaced by "IP" and every port except 0 by "PORT" (so
//     "read udp 127.0.0.1:4242->127.0.0.1:9: read: connection refused"
//     becomes "read udp IP:PORT->IP:PORT: read: connection refused"); as
//     its chain, each link described by its exported type and the fields
//     that matter (Op, Net, Syscall, the types of Source and Addr, the
//     errno's name); as the list of sentinels and errnos errors.Is finds
//     in it; and as Timeout() when it is a net.Error.
//   - A link whose type is unexported (package net's canceledError and
//     timeoutError, errors.New's errorString) is recorded as "opaque" with
//     its message, and an address of an unexported type (package net's
//     addrPortUDPAddr) as "opaque" with its Network and String: callers
//     cannot name such a type, so stacknet may use its own, but it must
//     not use an exported one in its place, since errors.As and type
//     assertions would then answer differently.
//
// A scenario may also assert facts of its own (t.Errorf), which then hold
// in every world.
//
// A scenario whose divergence is accepted, because stacknet cannot or
// should not copy package net there, carries the reason in its skip
// field (the pipe world) or in its tapSkip field (by TAP world), and is
// skipped in that world; COMPAT_NOSKIP=1 runs it anyway. A skip can also
// name a stacknet bug the scenario shows, until it is fixed. The net
// world always runs; go test -v prints each scenario's outcome there.
//
// # Synchronisation
//
// No scenario sleeps to let something happen. A goroutine that must be
// blocked in a read before the scenario goes on is waited for by reading
// its state from runtime.Stack (waitBlocked); an ICMP error that must have
// reached a socket is waited for with poll(2) POLLERR on the kernel's
// socket and with the stack's InErrorsDelivered counter on stacknet's
// (env.WaitPendingError); datagrams in flight are waited for with poll(2)
// POLLIN on loopback, or with a marker datagram sent each way after them
// through the Pipe or the TAP device, both of which deliver in order
// (env.WaitQueued); TCP data in flight is waited for on loopback with
// POLLIN, through the Pipe with markers, and through the TAP device by
// polling the sender's send queue until the receiver has acknowledged all
// of it: SIOCOUTQ on the kernel's socket, TCPConn.Info on stacknet's
// (tcpEnv.WaitReadable). Timeouts appear only as generous failure guards
// and as the deadlines under test.
//
// TestHarnessKernelAgainstItself runs every scenario twice in the kernel
// world and requires equal outcomes, which shows that nothing varying
// (a port, a count) leaks through the normalisation.
package compat_test

import (
	"context"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/stacknet"
)

// env is one world a scenario runs in.
type env interface {
	// ListenPacket opens a socket on the server side.
	ListenPacket(network, address string) (net.PacketConn, error)
	// ClientListenPacket opens an unconnected socket on the client side.
	ClientListenPacket(network, address string) (net.PacketConn, error)
	// Dial and DialContext connect a socket from the client side.
	Dial(network, address string) (net.Conn, error)
	DialContext(ctx context.Context, network, address string) (net.Conn, error)

	// ServerAddr is the IP address the server side listens on: 127.0.0.1
	// for the kernel, 192.0.2.2 for stacknet.
	ServerAddr() string
	// ClientAddr is the client side's IP address.
	ClientAddr() string
	// NonLocalAddr is an IP address that belongs to neither side.
	NonLocalAddr() string

	// WaitPendingError returns once an ICMP error has reached c, a
	// connected client socket, without consuming the error.
	WaitPendingError(t *testing.T, c net.Conn)
	// WaitQueued returns once every datagram sent before the call to pc
	// has been delivered to pc's receive queue (or dropped there).
	WaitQueued(t *testing.T, pc net.PacketConn)

	// Note records a value of the outcome under key.
	Note(key string, v any)
	// NoteErr records an error (or its absence) under key.
	NoteErr(key string, err error)
	// NoteAddr records an address's shape under key.
	NoteAddr(key string, a net.Addr)
}

// entry is one line of an outcome.
type entry struct {
	Key, Val string
}

// recorder keeps the outcome of one run of a scenario.
type recorder struct {
	mu      sync.Mutex
	entries []entry
}

func (r *recorder) add(key, val string) {
	r.mu.Lock()
	r.entries = append(r.entries, entry{key, val})
	r.mu.Unlock()
}

func (r *recorder) outcome() []entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.entries)
}

func (r *recorder) Note(key string, v any) { r.add(key, normalise(sprint(v))) }

func (r *recorder) NoteErr(key string, err error) {
	if err == nil {
		r.add(key+".err", "<nil>")
		return
	}
	d := describeErr(err)
	r.add(key+".err", d.msg)
	r.add(key+".chain", d.chain)
	r.add(key+".is", d.is)
	if d.timeout != "" {
		r.add(key+".timeout", d.timeout)
	}
}

func (r *recorder) NoteAddr(key string, a net.Addr) { r.add(key, describeAddr(a)) }

// Guard is the failure guard for anything that should happen promptly:
// a scenario that waits this long has failed.
const guard = 10 * time.Second

// kernelEnv is the standard library on the loopback interface.
type kernelEnv struct {
	recorder
	t *testing.T
}

func (e *kernelEnv) track(c interface{ Close() error }) {
	e.t.Cleanup(func() { c.Close() })
}

func (e *kernelEnv) ListenPacket(network, address string) (net.PacketConn, error) {
	pc, err := net.ListenPacket(network, address)
	if err == nil {
		e.track(pc)
	}
	return pc, err
}

func (e *kernelEnv) ClientListenPacket(network, address string) (net.PacketConn, error) {
	return e.ListenPacket(network, address)
}

func (e *kernelEnv) Dial(network, address string) (net.Conn, error) {
	return e.DialContext(context.Background(), network, address)
}

func (e *kernelEnv) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, address)
	if err == nil {
		e.track(c)
	}
	return c, err
}

func (*kernelEnv) ServerAddr() string   { return "127.0.0.1" }
func (*kernelEnv) ClientAddr() string   { return "127.0.0.1" }
func (*kernelEnv) NonLocalAddr() string { return "198.51.100.7" }

// WaitPendingError polls the socket for POLLERR, which a UDP socket
// reports while sk_err is set, without clearing it (as SO_ERROR would).
func (e *kernelEnv) WaitPendingError(t *testing.T, c net.Conn) {
	t.Helper()
	pollFor(t, c, 0, unix.POLLERR, "no ICMP error reached the socket")
}

// WaitQueued polls the socket for POLLIN. Delivery on the loopback
// interface is done by the sending system call, so a datagram that is
// queued tells that the ones sent before it are too.
func (e *kernelEnv) WaitQueued(t *testing.T, pc net.PacketConn) {
	t.Helper()
	pollFor(t, pc, unix.POLLIN, unix.POLLIN, "nothing was queued on the socket")
}

// pollFor polls the kernel socket under c, asking for events, until one
// of want is reported, failing t with failure after the guard time.
func pollFor(t *testing.T, c any, events, want int16, failure string) {
	t.Helper()
	sc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(guard)
	for time.Now().Before(end) {
		var revents int16
		var perr error
		err := sc.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: events}}
			_, perr = unix.Poll(fds, 10)
			revents = fds[0].Revents
		})
		if err != nil {
			t.Fatal(err)
		}
		if perr != nil && perr != unix.EINTR {
			t.Fatal(perr)
		}
		if revents&want != 0 {
			return
		}
	}
	t.Fatalf("%s within %v", failure, guard)
}

// stackEnv is two stacknet Stacks joined by a Pipe.
type stackEnv struct {
	recorder
	t              *testing.T
	client, server *stacknet.Stack
	delivered      uint64 // ICMP errors delivered to the client's sockets so far
}

var (
	clientPrefix = "192.0.2.1/24"
	serverPrefix = "192.0.2.2/24"
)

func newStackEnv(t *testing.T) *stackEnv {
	t.Helper()
	dc, ds := link.Pipe(1500)
	e := &stackEnv{t: t}
	e.client = newStack(t, dc, clientPrefix)
	e.server = newStack(t, ds, serverPrefix)
	return e
}

func newStack(t *testing.T, dev link.Device, prefix string) *stacknet.Stack {
	t.Helper()
	s, err := stacknet.New(stacknet.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Stack.Close: %v", err)
		}
	})
	if _, err := s.AddInterface(dev, mustPrefix(prefix)); err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *stackEnv) ListenPacket(network, address string) (net.PacketConn, error) {
	return e.server.ListenPacket(network, address)
}

func (e *stackEnv) ClientListenPacket(network, address string) (net.PacketConn, error) {
	return e.client.ListenPacket(network, address)
}

func (e *stackEnv) Dial(network, address string) (net.Conn, error) {
	return e.client.Dial(network, address)
}

func (e *stackEnv) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return e.client.DialContext(ctx, network, address)
}

func (*stackEnv) ServerAddr() string   { return "192.0.2.2" }
func (*stackEnv) ClientAddr() string   { return "192.0.2.1" }
func (*stackEnv) NonLocalAddr() string { return "198.51.100.7" }

// WaitPendingError waits for the client stack's count of ICMP errors
// delivered to a socket to go up: it goes up after the error is recorded
// on the socket.
func (e *stackEnv) WaitPendingError(t *testing.T, _ net.Conn) {
	t.Helper()
	waitICMPDelivered(t, e.client, &e.delivered)
}

// waitICMPDelivered waits for s's count of ICMP errors delivered to a
// socket to go above *delivered, and records the new count there.
func waitICMPDelivered(t *testing.T, s *stacknet.Stack, delivered *uint64) {
	t.Helper()
	end := time.Now().Add(guard)
	for time.Now().Before(end) {
		if n := s.Stats().ICMP.InErrorsDelivered; n > *delivered {
			*delivered = n
			return
		}
		time.Sleep(time.Millisecond) // polling a condition, not waiting for it to come true
	}
	t.Fatalf("no ICMP error reached the socket within %v", guard)
}

// WaitQueued sends a marker datagram each way through the Pipe and waits
// for it. Each stack's frames travel one FIFO and are delivered, in order,
// by one reader goroutine, so once a marker is read everything sent before
// it has been delivered too. The Pipe must not be full (it holds 1024
// frames): a marker it drops fails the scenario.
func (e *stackEnv) WaitQueued(t *testing.T, _ net.PacketConn) {
	t.Helper()
	for _, dir := range []struct {
		from, to *stacknet.Stack
		toAddr   string
	}{{e.client, e.server, e.ServerAddr()}, {e.server, e.client, e.ClientAddr()}} {
		rx, err := dir.to.ListenPacket("udp", hostPort(dir.toAddr, 0))
		if err != nil {
			t.Fatal(err)
		}
		tx, err := dir.from.ListenPacket("udp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		passMarker(t, tx, rx)
	}
}

// passMarker sends a marker datagram from tx to rx, waits for it, and
// closes both: on a FIFO path, what tx's side sent before has then been
// delivered too.
func passMarker(t *testing.T, tx, rx net.PacketConn) {
	t.Helper()
	defer tx.Close()
	defer rx.Close()
	if _, err := tx.WriteTo([]byte("marker"), rx.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	guardDeadline(t, rx)
	if _, _, err := rx.ReadFrom(make([]byte, 16)); err != nil {
		t.Fatalf("marker: %v", err)
	}
}

// scenario is one behaviour to compare.
type scenario struct {
	name string
	run  func(t *testing.T, e env)
	// skip, when set, says why the scenario's divergence in the pipe
	// world is accepted, or names the stacknet bug it shows.
	skip string
	// tapSkip says the same for the TAP worlds, by world name
	// ("tap-client", "tap-server").
	tapSkip map[string]string
}

// skipIn returns why the scenario is skipped in world w, or "".
// skipIn is the reason the scenario is skipped in world w, if any.
func (sc scenario) skipIn(w string) string {
	if w == "pipe" {
		return sc.skip
	}
	return sc.tapSkip[w]
}

// scenarios is the table, filled by the scenarios_*_test.go files.
var scenarios []scenario

func register(s ...scenario) bool {
	scenarios = append(scenarios, s...)
	return true
}

// TestUDPCompat runs every scenario in every world and compares.
func TestUDPCompat(t *testing.T) { runSuite(t, "UDP", scenarios) }

// runSuite checks a table of scenarios (enough of them, no name twice,
// skips only for worlds that exist), then runs each in every world, in
// parallel, comparing each world's outcome with package net's.
func runSuite(t *testing.T, kind string, table []scenario) {
	if len(table) < 25 {
		t.Fatalf("only %d %s scenarios registered", len(table), kind)
	}
	names := map[string]bool{}
	for _, sc := range table {
		if names[sc.name] {
			t.Fatalf("scenario %q registered twice", sc.name)
		}
		names[sc.name] = true
		checkTAPSkips(t, sc.name, sc.tapSkip)
	}
	for _, sc := range table {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runWorlds(t, sc.run, sc.skipIn)
		})
	}
}

// recordingEnv is an env that keeps its outcome.
type recordingEnv interface {
	env
	outcome() []entry
}

// world is a world compared with the net world: its name, which is the
// name of its subtest, and how to make its env for one run of one
// scenario (it may skip t, when the world cannot run here).
type world struct {
	name   string
	newEnv func(t *testing.T) recordingEnv
}

// worlds are the worlds compared with the net world: the pipe world, and
// the TAP worlds where they exist (tapWorlds, on Linux).
func worlds() []world {
	return append([]world{{"pipe", func(t *testing.T) recordingEnv { return newStackEnv(t) }}}, tapWorlds()...)
}

// checkTAPSkips fails t if a scenario's tapSkip names a world that does
// not exist, so that a typo cannot leave a world's skip unused.
func checkTAPSkips(t *testing.T, scenario string, tapSkip map[string]string) {
	t.Helper()
	for w := range tapSkip {
		if w != "tap-client" && w != "tap-server" {
			t.Errorf("scenario %q: tapSkip names no TAP world: %q", scenario, w)
		}
	}
}

// runWorlds runs a scenario in the net world and then in each other
// world, each in a subtest named after it, and fails a world's subtest if
// its outcome differs from the net world's. skip returns why a world's
// divergence is accepted, or "".
func runWorlds(t *testing.T, run func(t *testing.T, e env), skip func(world string) string) {
	var want []entry
	if !t.Run("net", func(t *testing.T) {
		e := &kernelEnv{t: t}
		run(t, e)
		want = e.outcome()
	}) {
		return
	}
	if testing.Verbose() {
		t.Logf("net outcome:\n%s", formatOutcome(want))
	}
	for _, w := range worlds() {
		t.Run(w.name, func(t *testing.T) {
			if reason := skip(w.name); reason != "" && os.Getenv("COMPAT_NOSKIP") == "" {
				t.Skip("divergence: " + reason + " (COMPAT_NOSKIP=1 runs it)")
			}
			e := w.newEnv(t)
			run(t, e)
			if t.Failed() {
				return
			}
			if diff := cmp.Diff(want, e.outcome()); diff != "" {
				t.Errorf("stacknet diverges from package net (-net +%s):\n%s", w.name, diff)
			}
		})
	}
}

// stacknetServes reports whether e's server side is a stacknet Stack.
func stacknetServes(e env) bool {
	s, ok := e.(interface{ stacknetServes() bool })
	return ok && s.stacknetServes()
}

func (*stackEnv) stacknetServes() bool { return true }

func formatOutcome(o []entry) string {
	var b []byte
	for _, e := range o {
		b = append(b, "  "+e.Key+" = "+e.Val+"\n"...)
	}
	return string(b)
}
