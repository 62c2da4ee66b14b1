package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// These tests talk to the kernel, in network namespaces they create and
// remove, over TAP interfaces they make with the tap command.

// requireRoot skips a test that is not running as root, or fails it when
// CI=true: there these tests must run.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	msg := "needs root to create network namespaces and TAP interfaces; run `sudo go test -exec sudo ./cmd/stacknet`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: failing rather than skipping)")
	}
	t.Skip(msg)
}

// testNS is a network namespace made for one test, with its loopback up.
// The kernel removes it, and the interfaces in it, once its handle is
// closed and no thread is in it.
type testNS struct{ h netns.NsHandle }

func newTestNS(t *testing.T) *testNS {
	t.Helper()
	requireRoot(t)
	ns := &testNS{h: -1}
	err := onNewThread(func() error {
		h, err := netns.New()
		if err != nil {
			return fmt.Errorf("creating a network namespace: %w", err)
		}
		ns.h = h
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		return err
	})
	if ns.h >= 0 {
		t.Cleanup(func() { ns.h.Close() })
	}
	if err != nil {
		if os.Getenv("CI") != "true" && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)) {
			t.Skipf("%v (needs CAP_SYS_ADMIN: a container may need --privileged)", err)
		}
		t.Fatal(err)
	}
	return ns
}

// do runs f on a fresh OS thread inside the namespace. Sockets and fds f
// opens stay in the namespace and work from any goroutine afterwards.
func (ns *testNS) do(f func() error) error {
	return onNewThread(func() error {
		if err := netns.Set(ns.h); err != nil {
			return fmt.Errorf("entering the namespace: %w", err)
		}
		return f()
	})
}

// onNewThread runs f on a new goroutine locked to its OS thread, which is
// never unlocked: when the goroutine ends, the runtime ends the thread,
// so that a thread left in another namespace, or with fewer capabilities,
// is never reused.
func onNewThread(f func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ch <- f()
	}()
	return <-ch
}

// runIn runs the command line on a thread in ns.
func (ns *testNS) runIn(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := -1
	if err := ns.do(func() error {
		code = runContext(ctx, args, &stdout, &stderr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func TestTapCreateDelete(t *testing.T) {
	ns := newTestNS(t)
	ctx := context.Background()
	code, out, errOut := ns.runIn(t, ctx, "tap", "create", "tap0", "--mtu", "1400", "--kernel-addr", "192.0.2.1/24")
	if code != exitOK {
		t.Fatalf("tap create: exit %d; stderr:\n%s", code, errOut)
	}
	wantContains(t, "tap create output", out, "created TAP interface tap0; the kernel's side is 192.0.2.1/24 and up",
		"next: stacknet run --tap tap0 --addr 192.0.2.2/24")

	err := ns.do(func() error {
		l, err := netlink.LinkByName("tap0")
		if err != nil {
			return err
		}
		if l.Type() != "tuntap" || l.Attrs().MTU != 1400 || l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("tap0 is a %s interface, MTU %d, flags %v; want tuntap, 1400, up", l.Type(), l.Attrs().MTU, l.Attrs().Flags)
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		if len(addrs) != 1 || addrs[0].IPNet.String() != "192.0.2.1/24" {
			t.Errorf("tap0's addresses: %v, want 192.0.2.1/24", addrs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{args: []string{"tap", "create", "tap0"}, code: exitFail, stderr: `creating TAP device "tap0": an interface of that name exists`},
		{args: []string{"tap", "delete", "lo"}, code: exitFail, stderr: `interface "lo" is not a TAP interface (its type is device)`},
		{args: []string{"tap", "delete", "tap0"}, code: exitOK, stdout: "deleted interface tap0"},
		{args: []string{"tap", "delete", "tap0"}, code: exitFail, stderr: `interface "tap0" does not exist`},
		{args: []string{"tap", "create", "tap1"}, code: exitOK, stdout: "it is down and has no address"},
		{args: []string{"tap", "delete", "tap1"}, code: exitOK, stdout: "deleted interface tap1"},
	} {
		code, out, errOut := ns.runIn(t, ctx, tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", tc.args, code, tc.code, errOut)
		}
		if tc.stdout != "" {
			wantContains(t, fmt.Sprint(tc.args, " stdout"), out, tc.stdout)
		}
		if tc.stderr != "" {
			wantContains(t, fmt.Sprint(tc.args, " stderr"), errOut, tc.stderr)
		}
	}
	err = ns.do(func() error {
		if _, err := netlink.LinkByName("lo"); err != nil {
			t.Errorf("lo is gone after a refused tap delete: %v", err)
		}
		if _, err := netlink.LinkByName("tap0"); err == nil {
			t.Error("tap0 is still there after tap delete")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNeedsRoot drops CAP_NET_ADMIN and CAP_NET_RAW on one thread and
// checks that the commands say that they need root.
func TestNeedsRoot(t *testing.T) {
	ns := newTestNS(t)
	// A command that unexpectedly works must not run forever.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if code, _, errOut := ns.runIn(t, ctx, "tap", "create", "tap0"); code != exitOK {
		t.Fatalf("tap create: exit %d; stderr:\n%s", code, errOut)
	}
	for _, args := range [][]string{
		{"tap", "create", "tap1"},
		{"tap", "delete", "tap0"},
		{"run", "--packet", "lo", "--addr", "192.0.2.2/24"},
	} {
		var stdout, stderr bytes.Buffer
		code := -1
		err := ns.do(func() error {
			if err := dropNetCaps(); err != nil {
				return err
			}
			code = runContext(ctx, args, &stdout, &stderr)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if code != exitFail {
			t.Errorf("%v without CAP_NET_ADMIN: exit %d, want %d; stderr:\n%s", args, code, exitFail, stderr.String())
		}
		wantContains(t, fmt.Sprint(args, " stderr"), stderr.String(), "needs root or CAP_NET_", "this needs root: run it with sudo")
	}
	if code, _, errOut := ns.runIn(t, ctx, "tap", "delete", "tap0"); code != exitOK {
		t.Errorf("tap delete: exit %d; stderr:\n%s", code, errOut)
	}
}

// dropNetCaps removes CAP_NET_ADMIN and CAP_NET_RAW from the calling
// thread's effective set. The thread must be locked and never unlocked.
func dropNetCaps() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	for _, c := range []int{unix.CAP_NET_ADMIN, unix.CAP_NET_RAW} {
		data[c/32].Effective &^= 1 << (c % 32)
	}
	return unix.Capset(&hdr, &data[0])
}

// TestRunTAP runs the README's tutorial: a stack on tap0 that the kernel
// pings and sends UDP to, until it is stopped.
func TestRunTAP(t *testing.T) {
	ns := newTestNS(t)
	if code, _, errOut := ns.runIn(t, context.Background(), "tap", "create", "tap0", "--kernel-addr", "192.0.2.1/24"); code != exitOK {
		t.Fatalf("tap create: exit %d; stderr:\n%s", code, errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &watchWriter{}
	running := out.wait("stacknet: running")
	ticked := out.wait("stacknet: counters at ")
	var stderr bytes.Buffer
	exited := make(chan int, 1)
	go func() {
		code := -1
		ns.do(func() error {
			code = runContext(ctx, []string{"run", "--tap", "tap0", "--addr", "192.0.2.2/24", "--udp-echo", ":7", "--stats-interval", "10ms"}, out, &stderr)
			return nil
		})
		exited <- code
	}()
	select {
	case <-running:
	case code := <-exited:
		t.Fatalf("run exited with %d before it was running; stderr:\n%s\nstdout:\n%s", code, stderr.String(), out.String())
	case <-time.After(time.Minute):
		t.Fatalf("run is not running after a minute; stdout:\n%s", out.String())
	}

	msg := []byte("hello from the kernel")
	err := ns.do(func() error {
		if err := kernelPing(netip4(192, 0, 2, 2)); err != nil {
			return fmt.Errorf("the kernel's ping: %w", err)
		}
		c, err := net.Dial("udp", "192.0.2.2:7")
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(msg); err != nil {
			return err
		}
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		if err != nil {
			return fmt.Errorf("the kernel's UDP echo: %w", err)
		}
		if !bytes.Equal(buf[:n], msg) {
			return fmt.Errorf("UDP echo came back as %q, want %q", buf[:n], msg)
		}
		return nil
	})
	if err == nil {
		select {
		case <-ticked: // the counters are printed every 10ms
		case code := <-exited:
			t.Fatalf("run exited with %d before it printed its counters; stderr:\n%s", code, stderr.String())
		}
	}
	cancel()
	code := <-exited
	if err != nil {
		t.Fatal(err)
	}
	if code != exitOK {
		t.Errorf("run exited %d after it was stopped; stderr:\n%s", code, stderr.String())
	}
	wantContains(t, "run output", out.String(),
		"tap0   inet 192.0.2.2/24", "UDP echo server on 0.0.0.0:7",
		fmt.Sprintf("udp echo got %d bytes from 192.0.2.1:", len(msg)),
		"stacknet: stopping\nsummary:\n  UDP:     1 datagrams received, 1 sent\n  packets: ", "  drops:   0 ",
		"counters:\n", "  ICMP:\n", "echo replies sent", "  UDP:\n")
	if code, _, errOut := ns.runIn(t, context.Background(), "tap", "delete", "tap0"); code != exitOK {
		t.Errorf("tap delete: exit %d; stderr:\n%s", code, errOut)
	}
}

// TestPingTAP pings the kernel from a stack with the ping command.
func TestPingTAP(t *testing.T) {
	t.Parallel() // ARP gives up on the missing host after 7s
	ns := newTestNS(t)
	if code, _, errOut := ns.runIn(t, context.Background(), "tap", "create", "tap0", "--kernel-addr", "192.0.2.1/24"); code != exitOK {
		t.Fatalf("tap create: exit %d; stderr:\n%s", code, errOut)
	}
	code, out, errOut := ns.runIn(t, context.Background(), "ping", "--tap", "tap0", "--addr", "192.0.2.2/24",
		"--count", "3", "--interval", "10ms", "--timeout", "5s", "192.0.2.1")
	if code != exitOK {
		t.Fatalf("ping: exit %d; stderr:\n%s\nstdout:\n%s", code, errOut, out)
	}
	wantContains(t, "ping output", out,
		"PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.",
		"64 bytes from 192.0.2.1: icmp_seq=1 time=", "64 bytes from 192.0.2.1: icmp_seq=3 time=",
		"3 packets transmitted, 3 received, 0% packet loss", "rtt min/avg/max/mdev = ")
	// An address with no host behind it: ARP gets no answer.
	code, out, _ = ns.runIn(t, context.Background(), "ping", "--tap", "tap0", "--addr", "192.0.2.2/24",
		"--count", "1", "--timeout", "10s", "192.0.2.99")
	if code != exitFail {
		t.Errorf("ping of a missing host: exit %d, want %d", code, exitFail)
	}
	wantContains(t, "ping output", out, "From 192.0.2.2 icmp_seq=1 Destination Host Unreachable", "1 packets transmitted, 0 received, +1 errors, 100% packet loss")
}

func netip4(a, b, c, d byte) net.IP { return net.IPv4(a, b, c, d) }

// kernelPing sends the kernel's echo request to dst from a raw socket
// and waits for the reply. The calling thread is in the namespace.
func kernelPing(dst net.IP) error {
	c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return err
	}
	defer c.Close()
	const id, seq = 0x5a5a, 1
	req := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("stacknet test")}}
	b, err := req.Marshal(nil)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(b, &net.IPAddr{IP: dst}); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq && from.(*net.IPAddr).IP.Equal(dst) {
			return nil
		}
	}
}

// watchWriter is a writer, safe for concurrent use, that tells when what
// was written contains a string.
type watchWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	waiting map[string]chan struct{}
}

// wait returns a channel that is closed once the output contains s.
func (w *watchWriter) wait(s string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(w.buf.String(), s) {
		close(ch)
		return ch
	}
	if w.waiting == nil {
		w.waiting = make(map[string]chan struct{})
	}
	w.waiting[s] = ch
	return ch
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	for s, ch := range w.waiting {
		if strings.Contains(w.buf.String(), s) {
			close(ch)
			delete(w.waiting, s)
		}
	}
	return n, err
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
