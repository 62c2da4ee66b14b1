package link_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/vishvananda/netlink"
)

// Helpers for the tests that talk to the kernel through a TAP or
// PF_PACKET device. They build and parse ARP by hand, so that the devices
// are tested on their own.

// arpRequest returns an Ethernet broadcast frame carrying an ARP request
// (RFC 826) from (mac, ip) for target.
func arpRequest(mac net.HardwareAddr, ip, target netip.Addr) []byte {
	f := make([]byte, 14+28)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], 0x0806) // EtherType ARP
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:], 1)      // ar$hrd: Ethernet
	binary.BigEndian.PutUint16(a[2:], 0x0800) // ar$pro: IPv4
	a[4], a[5] = 6, 4                         // ar$hln, ar$pln
	binary.BigEndian.PutUint16(a[6:], 1)      // ar$op: request
	copy(a[8:14], mac)                        // ar$sha
	s, tg := ip.As4(), target.As4()
	copy(a[14:18], s[:])  // ar$spa
	copy(a[24:28], tg[:]) // ar$tpa; ar$tha stays zero
	return f
}

// arpReply is what the tests check of an ARP reply.
type arpReply struct {
	dst, sender net.HardwareAddr
	spa, tpa    netip.Addr
}

// parseARPReply returns the ARP reply f carries, if it carries one.
func parseARPReply(f []byte) (arpReply, bool) {
	if len(f) < 14+28 || binary.BigEndian.Uint16(f[12:]) != 0x0806 {
		return arpReply{}, false
	}
	a := f[14:]
	if binary.BigEndian.Uint16(a[0:]) != 1 || binary.BigEndian.Uint16(a[2:]) != 0x0800 ||
		a[4] != 6 || a[5] != 4 || binary.BigEndian.Uint16(a[6:]) != 2 {
		return arpReply{}, false
	}
	return arpReply{
		dst:    net.HardwareAddr(f[0:6]),
		sender: net.HardwareAddr(a[8:14]),
		spa:    netip.AddrFrom4([4]byte(a[14:18])),
		tpa:    netip.AddrFrom4([4]byte(a[24:28])),
	}, true
}

// checkARPExchange asks the kernel at kernelAddr, through dev, for its MAC
// address, and checks its reply and that the kernel learned ours. Other
// frames the kernel sends meanwhile (IPv6 router solicitations, MLD
// reports) are skipped.
func checkARPExchange(t *testing.T, dev link.Device, kernelMAC net.HardwareAddr, kernelAddr, ourAddr netip.Addr, neighbours func() ([]netlink.Neigh, error)) {
	t.Helper()
	mac := dev.HardwareAddr()
	if n, err := dev.WriteFrames([][]byte{arpRequest(mac, ourAddr, kernelAddr)}); n != 1 || err != nil {
		t.Fatalf("WriteFrames = %d, %v; want 1, nil", n, err)
	}
	// Not a test of speed: only a guard against waiting for ever if the
	// kernel never answers.
	guard := time.AfterFunc(20*time.Second, func() { dev.Close() })
	defer guard.Stop()
	bufs := [][]byte{make([]byte, dev.MTU()+14), make([]byte, dev.MTU()+14)}
	sizes := make([]int, 2)
	var reply arpReply
	for found := false; !found; {
		n, err := dev.ReadFrames(bufs, sizes)
		if err != nil {
			t.Fatalf("waiting for the ARP reply: %v (device stats %+v)", err, dev.(link.StatsReporter).Stats())
		}
		for i := range n {
			if r, ok := parseARPReply(bufs[i][:sizes[i]]); ok && r.spa == kernelAddr {
				reply, found = r, true
				break
			}
		}
	}
	if !bytes.Equal(reply.dst, mac) || reply.tpa != ourAddr {
		t.Errorf("ARP reply to %v (%v), want to %v (%v)", reply.dst, reply.tpa, mac, ourAddr)
	}
	if !bytes.Equal(reply.sender, kernelMAC) {
		t.Errorf("ARP reply says %v is at %v, but the kernel's interface has %v", kernelAddr, reply.sender, kernelMAC)
	}
	// RFC 826: the target of a request merges the sender into its table.
	neighs, err := neighbours()
	if err != nil {
		t.Fatalf("Neighbours: %v", err)
	}
	learned := false
	for _, n := range neighs {
		if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == ourAddr && bytes.Equal(n.HardwareAddr, mac) {
			learned = true
		}
	}
	if !learned {
		t.Errorf("kernel neighbour table %v has no entry %v at %v", neighs, ourAddr, mac)
	}
	if s := dev.(link.StatsReporter).Stats(); s.TxFrames != 1 || s.TxBytes != 42 || s.RxFrames == 0 {
		t.Errorf("Stats = %+v, want 1 frame of 42 bytes sent and some received", s)
	}
}

// checkCloseUnblocksRead checks that Close makes a ReadFrames blocked in
// the runtime's poller return ErrClosed.
func checkCloseUnblocksRead(t *testing.T, dev link.Device) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		bufs := [][]byte{make([]byte, dev.MTU()+14)}
		sizes := make([]int, 1)
		for {
			if _, err := dev.ReadFrames(bufs, sizes); err != nil {
				done <- err
				return
			}
		}
	}()
	waitBlockedInRead(t)
	if err := dev.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; err != link.ErrClosed {
		t.Errorf("blocked ReadFrames returned %v, want exactly link.ErrClosed", err)
	}
	if n, err := dev.WriteFrames([][]byte{make([]byte, 60)}); n != 0 || !errors.Is(err, link.ErrClosed) {
		t.Errorf("WriteFrames after Close = %d, %v; want 0, ErrClosed", n, err)
	}
}

// waitBlockedInRead waits until some goroutine is parked in the poller
// under a ReadFrames call, so that Close is seen to wake it rather than
// merely to stop a later call. A guard fails the test after a minute.
func waitBlockedInRead(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		n := runtime.Stack(buf, true)
		for g := range strings.SplitSeq(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "runtime_pollWait") && strings.Contains(g, ").ReadFrames(") {
				return
			}
		}
	}
	t.Fatal("no goroutine blocked in ReadFrames")
}

// kernelMAC returns the MAC address of the interface name in the
// namespace do runs in.
func kernelMAC(t *testing.T, do func(func() error) error, name string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	err := do(func() error {
		ifi, err := net.InterfaceByName(name)
		if err == nil {
			mac = ifi.HardwareAddr
		}
		return err
	})
	if err != nil {
		t.Fatalf("looking up %s in the namespace: %v", name, err)
	}
	return mac
}
