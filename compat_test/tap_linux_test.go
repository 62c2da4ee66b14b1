package compat_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/stacknet/stacknet/link/linktest"
	"github.com/stacknet/stacknet/proto/tcp"
	"github.com/stacknet/stacknet/stacknet"
)

// The TAP worlds: stacknet against the Linux kernel's own UDP and TCP,
// through a TAP device whose other end is in a network namespace made for
// each run of each scenario (linktest.NewKernelTAP), so that runs share
// nothing: no ports, no neighbour entries, no ICMP rate limits, no
// counters. A namespace, its TAP device and a Stack take a few
// milliseconds to make.
//
// In "tap-client" the server side is the kernel at 192.0.2.2 and the
// client side a Stack at 192.0.2.1; in "tap-server" the kernel, at
// 192.0.2.1, is the client side and the Stack, at 192.0.2.2, the server
// side. The kernel's sockets are made on a thread inside the namespace
// (Kernel.Do) and then used from any goroutine, as package net's.
//
// The path is in order both ways, which WaitQueued and settle rely on: a
// frame the Stack writes to the TAP device is taken through the kernel's
// receive path within the write(2) (tun_get_user, netif_receive_skb); a
// frame the kernel sends goes through a FIFO queueing discipline (set to
// pfifo here, whatever net.core.default_qdisc is) into the TAP device's
// ring, which the Stack's interface goroutine reads and processes, frame
// by frame, in order.

// kernelSysctls are set in each namespace before any traffic. Linux rate
// limits ICMP errors per destination (net.ipv4.icmp_ratelimit: one per
// second after a burst of 6) and overall (icmp_msgs_per_sec and
// icmp_msgs_burst); on loopback, the net world, the first limit does not
// apply (icmpv4_xrlim_allow), so here it is turned off, and the second
// raised, or a port unreachable a scenario waits for might not come.
var kernelSysctls = []struct{ key, value string }{
	{"net.ipv4.icmp_ratelimit", "0"},
	{"net.ipv4.icmp_msgs_per_sec", "100000"},
	{"net.ipv4.icmp_msgs_burst", "100000"},
}

// unansweredAddr is an address on the TAP device's subnet that no host
// has. In the tap-server world the kernel gets a permanent neighbour
// entry for it, with nobodysMAC, an address from the range RFC 7042 2.1.2
// sets aside for documentation: its SYNs to it then leave, reach the
// Stack, which drops frames not for its own MAC, and go unanswered.
const unansweredAddr = "192.0.2.99"

var nobodysMAC = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x99}

// tapWorlds are the TAP worlds. Without root they skip (linktest), and
// fail when CI=true.
func tapWorlds() []world {
	return []world{
		{"tap-client", func(t *testing.T) recordingEnv { return newTAPEnv(t, false) }},
		{"tap-server", func(t *testing.T) recordingEnv { return newTAPEnv(t, true) }},
	}
}

// tapEnv is a TAP world: a Stack on a TAP device and the kernel at its
// other end, one of them the client side and the other the server side.
type tapEnv struct {
	recorder
	t           *testing.T
	k           *linktest.Kernel
	s           *stacknet.Stack
	stackServes bool // tap-server: the Stack is the server side
	// server and client are the sides' socket makers.
	server, client side
	delivered      uint64 // ICMP errors delivered to the Stack's sockets so far

	mu    sync.Mutex
	conns []net.Conn // the TCP connections made on either side, dialled or accepted
}

// newTAPEnv makes a namespace with a TAP device, configures the kernel's
// end and puts a Stack on the other.
func newTAPEnv(t *testing.T, stackServes bool) *tapEnv {
	t.Helper()
	kernelPrefix, stackPrefix := serverPrefix, clientPrefix
	if stackServes {
		kernelPrefix, stackPrefix = clientPrefix, serverPrefix
	}
	e := &tapEnv{t: t, stackServes: stackServes}
	e.k = linktest.NewKernelTAP(t, mustPrefix(kernelPrefix), 1500)
	for _, sc := range kernelSysctls {
		if err := e.k.Sysctl(sc.key, sc.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.k.Do(func() error {
		l, err := netlink.LinkByName(e.k.Name)
		if err != nil {
			return err
		}
		return netlink.QdiscReplace(&netlink.GenericQdisc{
			QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Parent: netlink.HANDLE_ROOT, Handle: netlink.MakeHandle(1, 0)},
			QdiscType:  "pfifo",
		})
	}); err != nil {
		t.Fatalf("setting a pfifo qdisc on %s: %v", e.k.Name, err)
	}
	e.s = newStack(t, e.k.Dev, stackPrefix)
	e.server, e.client = kernelSide{e}, stackSide{e}
	if stackServes {
		e.server, e.client = stackSide{e}, kernelSide{e}
	}
	return e
}

func (e *tapEnv) stacknetServes() bool { return e.stackServes }

func (e *tapEnv) ListenPacket(network, address string) (net.PacketConn, error) {
	return e.server.listenPacket(network, address)
}

func (e *tapEnv) ClientListenPacket(network, address string) (net.PacketConn, error) {
	return e.client.listenPacket(network, address)
}

func (e *tapEnv) Dial(network, address string) (net.Conn, error) {
	return e.DialContext(context.Background(), network, address)
}

func (e *tapEnv) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return e.client.dial(ctx, network, address)
}

func (e *tapEnv) Listen(network, address string) (net.Listener, error) {
	return e.server.listen(network, address)
}

func (*tapEnv) ServerAddr() string { return "192.0.2.2" }
func (*tapEnv) ClientAddr() string { return "192.0.2.1" }

// NonLocalAddr is on neither side and on no route: the one scenario that
// uses it binds it, which fails on either side as loopback's kernel
// fails.
func (*tapEnv) NonLocalAddr() string { return "198.51.100.7" }

// kernelAddr and stackAddr are the addresses of the two ends.
func (e *tapEnv) kernelAddr() string {
	if e.stackServes {
		return e.ClientAddr()
	}
	return e.ServerAddr()
}

func (e *tapEnv) stackAddr() string {
	if e.stackServes {
		return e.ServerAddr()
	}
	return e.ClientAddr()
}

// WaitPendingError waits as the net world does when the kernel is the
// client (poll(2) POLLERR), and as the pipe world does when the Stack is
// (its InErrorsDelivered counter).
func (e *tapEnv) WaitPendingError(t *testing.T, c net.Conn) {
	t.Helper()
	if e.stackServes {
		pollFor(t, c, 0, unix.POLLERR, "no ICMP error reached the socket")
		return
	}
	waitICMPDelivered(t, e.s, &e.delivered)
}

// WaitQueued sends a marker datagram from the Stack to the kernel and
// one back, and waits for each: the path is in order both ways (see the
// top of the file), so once a marker is read, everything sent before it
// the same way has been delivered.
func (e *tapEnv) WaitQueued(t *testing.T, _ net.PacketConn) {
	t.Helper()
	kernel, stack := side(kernelSide{e}), side(stackSide{e})
	for _, dir := range []struct {
		from, to side
		toAddr   string
	}{{stack, kernel, e.kernelAddr()}, {kernel, stack, e.stackAddr()}} {
		rx, err := dir.to.listenPacket("udp4", hostPort(dir.toAddr, 0))
		if err != nil {
			t.Fatal(err)
		}
		tx, err := dir.from.listenPacket("udp4", ":0")
		if err != nil {
			t.Fatal(err)
		}
		passMarker(t, tx, rx)
	}
}

// WaitReadable waits until c's peer, which the env made, has nothing
// unacknowledged or unsent: what it sent is then queued on c, since a
// TCP acknowledges only data it has queued. Through the TAP device
// nothing is delivered within the sending call, as on loopback.
func (e *tapEnv) WaitReadable(t *testing.T, c net.Conn) {
	t.Helper()
	peer := e.peerOf(c)
	if peer == nil {
		t.Fatalf("WaitReadable: the env made no peer of %v->%v", c.LocalAddr(), c.RemoteAddr())
	}
	if !waitSent(t, peer) {
		t.Fatalf("WaitReadable: the peer of %v->%v is closed: what it sent cannot be told", c.LocalAddr(), c.RemoteAddr())
	}
}

// settle waits until every open TCP connection the env made has had all
// it sent acknowledged.
func (e *tapEnv) settle(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	conns := slices.Clone(e.conns)
	e.mu.Unlock()
	for _, c := range conns {
		waitSent(t, c)
	}
}

// Unanswered, where the kernel serves, is a kernel listener with a full
// accept queue, as in the net world. Where the Stack serves, the dialling
// kernel must see its SYNs leave and go unanswered: an address on the
// subnet that no host holds would do in the first few seconds, but then
// the kernel's ARP for it fails and its connect(2) with EHOSTUNREACH,
// which is not what a dial to an unanswering server sees. So the kernel
// is given a permanent neighbour entry for unansweredAddr, whose frames
// the Stack drops as not its own; the SYNs then go unanswered for good.
func (e *tapEnv) Unanswered(t *testing.T) string {
	t.Helper()
	if !e.stackServes {
		return fullAcceptQueue(t, e)
	}
	if err := e.k.Do(func() error {
		l, err := netlink.LinkByName(e.k.Name)
		if err != nil {
			return err
		}
		return netlink.NeighSet(&netlink.Neigh{
			LinkIndex:    l.Attrs().Index,
			Family:       netlink.FAMILY_V4,
			State:        netlink.NUD_PERMANENT,
			IP:           net.ParseIP(unansweredAddr),
			HardwareAddr: nobodysMAC,
		})
	}); err != nil {
		t.Fatalf("adding a neighbour entry for %s: %v", unansweredAddr, err)
	}
	return hostPort(unansweredAddr, 80)
}

// trackTCP records c if it is a TCP connection, for WaitReadable and
// settle.
func (e *tapEnv) trackTCP(c net.Conn) {
	switch c.(type) {
	case *net.TCPConn, *stacknet.TCPConn:
		e.mu.Lock()
		e.conns = append(e.conns, c)
		e.mu.Unlock()
	}
}

// peerOf returns the connection the env made whose ends are c's the other
// way round, or nil.
func (e *tapEnv) peerOf(c net.Conn) net.Conn {
	local, remote := endpoint(c.LocalAddr()), endpoint(c.RemoteAddr())
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.conns {
		if endpoint(p.LocalAddr()) == remote && endpoint(p.RemoteAddr()) == local {
			return p
		}
	}
	return nil
}

// endpoint is a TCP address as an unmapped netip.AddrPort.
func endpoint(a net.Addr) netip.AddrPort {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// waitSent waits until c has nothing in its send queue, unacknowledged
// or unsent. It returns false, at once, if c is a kernel socket that is
// closed, whose queue cannot be read.
func waitSent(t *testing.T, c net.Conn) bool {
	t.Helper()
	end := time.Now().Add(guard)
	for {
		n, ok := sendQueued(c)
		if !ok {
			return false
		}
		if n == 0 {
			return true
		}
		if time.Now().After(end) {
			t.Fatalf("%v->%v: %d bytes still unacknowledged after %v", c.LocalAddr(), c.RemoteAddr(), n, guard)
		}
		time.Sleep(time.Millisecond) // polling a condition, not waiting for it to come true
	}
}

// sendQueued returns how many bytes c has sent and not had acknowledged,
// or not sent yet: SIOCOUTQ for the kernel's sockets (write_seq -
// snd_una, which counts a FIN too), Info for the Stack's (nothing once
// the connection is closed). ok is false for a closed kernel socket.
func sendQueued(c net.Conn) (n int, ok bool) {
	switch c := c.(type) {
	case *stacknet.TCPConn:
		i := c.Info()
		if i.State == tcp.Closed {
			return 0, true
		}
		return i.Unacked + i.Unsent, true
	case *net.TCPConn:
		sc, err := c.SyscallConn()
		if err != nil {
			return 0, false
		}
		var ierr error
		if err := sc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err != nil || ierr != nil {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// side makes the sockets of one end of a TAP world.
type side interface {
	listenPacket(network, address string) (net.PacketConn, error)
	listen(network, address string) (net.Listener, error)
	dial(ctx context.Context, network, address string) (net.Conn, error)
}

// kernelSide makes package net's sockets inside the kernel's namespace.
// They are closed when the test ends.
type kernelSide struct{ e *tapEnv }

// errNotRun is returned when a call could not be run in the namespace
// (the test has been failed already).
var errNotRun = errors.New("compat: not run in the kernel's namespace")

// inKernel runs f on a thread in the kernel's namespace. Failing to get
// there fails the test with t.Errorf, since f may be called from any
// goroutine.
func (k kernelSide) inKernel(f func()) {
	if err := k.e.k.Do(func() error { f(); return nil }); err != nil {
		k.e.t.Errorf("running in the kernel's namespace: %v", err)
	}
}

func (k kernelSide) closeAtEnd(c interface{ Close() error }) {
	k.e.t.Cleanup(func() { c.Close() })
}

func (k kernelSide) listenPacket(network, address string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := errNotRun
	k.inKernel(func() { pc, err = net.ListenPacket(network, address) })
	if err == nil {
		k.closeAtEnd(pc)
	}
	return pc, err
}

func (k kernelSide) listen(network, address string) (net.Listener, error) {
	var l net.Listener
	err := errNotRun
	k.inKernel(func() { l, err = net.Listen(network, address) })
	if err != nil {
		return l, err
	}
	k.closeAtEnd(l)
	if tl, ok := l.(*net.TCPListener); ok {
		return &kernelListener{tl, k.e}, nil
	}
	return l, nil
}

func (k kernelSide) dial(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := errNotRun
	k.inKernel(func() {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, address)
	})
	if err == nil {
		k.closeAtEnd(c)
		k.e.trackTCP(c)
	}
	return c, err
}

// kernelListener is a kernel TCP listener that records the connections
// it accepts. Its other methods are *net.TCPListener's.
type kernelListener struct {
	*net.TCPListener
	e *tapEnv
}

func (l *kernelListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err != nil {
		return nil, err
	}
	l.e.trackTCP(c)
	return c, nil
}

// stackSide makes the Stack's sockets; Stack.Close closes them.
type stackSide struct{ e *tapEnv }

func (s stackSide) listenPacket(network, address string) (net.PacketConn, error) {
	return s.e.s.ListenPacket(network, address)
}

func (s stackSide) listen(network, address string) (net.Listener, error) {
	l, err := s.e.s.Listen(network, address)
	if tl, ok := l.(*stacknet.TCPListener); ok && err == nil {
		return &stackListener{tl, s.e}, nil
	}
	return l, err
}

func (s stackSide) dial(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := s.e.s.DialContext(ctx, network, address)
	if err == nil {
		s.e.trackTCP(c)
	}
	return c, err
}

// stackListener is a Stack's TCP listener that records the connections
// it accepts. Its other methods are *stacknet.TCPListener's.
type stackListener struct {
	*stacknet.TCPListener
	e *tapEnv
}

func (l *stackListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err != nil {
		return nil, err
	}
	l.e.trackTCP(c)
	return c, nil
}
