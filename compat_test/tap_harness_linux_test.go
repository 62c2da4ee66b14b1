package compat_test

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/stacknet/stacknet/stacknet"
)

// Tests of the TAP worlds' own machinery (tap_linux_test.go).

var tapRoles = []struct {
	name        string
	stackServes bool
}{{"tap-client", false}, {"tap-server", true}}

// TestTAPWorldSetUp checks what the TAP worlds rely on in the kernel's
// namespace: a FIFO qdisc on the TAP interface, and the ICMP rate limits
// lifted.
func TestTAPWorldSetUp(t *testing.T) {
	for _, r := range tapRoles {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			e := newTAPEnv(t, r.stackServes)
			var roots []string
			got := map[string]string{}
			if err := e.k.Do(func() error {
				l, err := netlink.LinkByName(e.k.Name)
				if err != nil {
					return err
				}
				qs, err := netlink.QdiscList(l)
				if err != nil {
					return err
				}
				for _, q := range qs {
					if q.Attrs().Parent == netlink.HANDLE_ROOT {
						roots = append(roots, q.Type())
					}
				}
				// /proc/sys/net shows the namespace of the thread that
				// reads it.
				for _, sc := range kernelSysctls {
					b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(sc.key, ".", "/"))
					if err != nil {
						return err
					}
					got[sc.key] = strings.TrimSpace(string(b))
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(roots, []string{"pfifo"}) {
				t.Errorf("root qdiscs of %s: %v, want [pfifo]", e.k.Name, roots)
			}
			for _, sc := range kernelSysctls {
				if got[sc.key] != sc.value {
					t.Errorf("%s = %q, want %q", sc.key, got[sc.key], sc.value)
				}
			}
		})
	}
}

// TestTAPWaitReadable checks that WaitReadable finds the peer of each end
// of a connection, and returns only once all the peer sent is queued:
// the receiver's queue (SIOCINQ, or Info's Readable) holds it all.
func TestTAPWaitReadable(t *testing.T) {
	const size = 48 << 10 // in several segments, within either receive buffer
	for _, r := range tapRoles {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			e := newTAPEnv(t, r.stackServes)
			p := newTCPPair(t, e)
			for _, dir := range []struct {
				name string
				w, r net.Conn
			}{{"client to server", p.cli, p.srv}, {"server to client", p.srv, p.cli}} {
				if got := e.peerOf(dir.r); got != dir.w {
					t.Fatalf("%s: peerOf(%v->%v) = %v, want the writer", dir.name, dir.r.LocalAddr(), dir.r.RemoteAddr(), got)
				}
				mustWriteAll(t, dir.w, make([]byte, size))
				e.WaitReadable(t, dir.r)
				if n := readable(t, dir.r); n != size {
					t.Errorf("%s: %d bytes queued after WaitReadable, want %d", dir.name, n, size)
				}
				readN(t, dir.r, size)
			}
			e.settle(t)
		})
	}
}

// readable returns how many bytes are queued for reading on c.
func readable(t *testing.T, c net.Conn) int {
	t.Helper()
	switch c := c.(type) {
	case *stacknet.TCPConn:
		return c.Info().Readable
	case syscall.Conn:
		sc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var ierr error
		if err := sc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || ierr != nil {
			t.Fatal(err, ierr)
		}
		return n
	}
	t.Fatalf("%T: cannot tell what is queued", c)
	return 0
}

// TestTAPUnansweredFromKernel checks the tap-server world's Unanswered: a
// permanent neighbour entry, so that the kernel sends its SYNs and does
// not fail the dial for want of an ARP answer; the dial lasts until its
// context ends.
func TestTAPUnansweredFromKernel(t *testing.T) {
	e := newTAPEnv(t, true)
	addr := e.Unanswered(t)
	neigh, err := e.k.Neighbours()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(neigh, func(n netlink.Neigh) bool { return n.IP.Equal(net.ParseIP(unansweredAddr)) })
	if i < 0 || neigh[i].State != netlink.NUD_PERMANENT || neigh[i].HardwareAddr.String() != nobodysMAC.String() {
		t.Fatalf("no permanent neighbour entry %s at %s: %v", unansweredAddr, nobodysMAC, neigh)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c, err := e.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		t.Fatalf("dial to %s was answered", addr)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("dial to %s: %v, want the context's deadline", addr, err)
	}
}
