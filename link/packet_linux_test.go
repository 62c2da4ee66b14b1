package link_test

import (
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/link/linktest"
)

func TestPacketARPExchange(t *testing.T) {
	t.Parallel()
	v := linktest.NewKernelVeth(t, netip.MustParsePrefix("198.51.100.1/24"), 0)
	dev := v.Dev
	if dev.Name() != v.Name || dev.MTU() != 1500 || dev.Kind() != link.Ethernet {
		t.Errorf("Name %q MTU %d Kind %v; want %q 1500 ethernet", dev.Name(), dev.MTU(), dev.Kind(), v.Name)
	}
	kmac := kernelMAC(t, v.Do, v.Peer)
	if bytes.Equal(dev.HardwareAddr(), kmac) {
		t.Errorf("the device has the kernel's MAC %v", kmac)
	}
	checkARPExchange(t, dev, kmac, v.KernelAddr.Addr(), netip.MustParseAddr("198.51.100.2"), v.Neighbours)
}

// Our own frames are not read back: the socket sees them leave the
// interface, but ReadFrames must skip them.
func TestPacketSkipsOwnFrames(t *testing.T) {
	t.Parallel()
	v := linktest.NewKernelVeth(t, netip.MustParsePrefix("198.51.100.1/24"), 0)
	// An ARP request for an address nobody has gets no answer; the ARP
	// exchange after it must be the first ARP frame read.
	silent := arpRequest(v.Dev.HardwareAddr(), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.77"))
	if n, err := v.Dev.WriteFrames([][]byte{silent, silent}); n != 2 || err != nil {
		t.Fatalf("WriteFrames = %d, %v", n, err)
	}
	req := arpRequest(v.Dev.HardwareAddr(), netip.MustParseAddr("198.51.100.2"), v.KernelAddr.Addr())
	if n, err := v.Dev.WriteFrames([][]byte{req}); n != 1 || err != nil {
		t.Fatalf("WriteFrames = %d, %v", n, err)
	}
	guard := time.AfterFunc(20*time.Second, func() { v.Dev.Close() }) // against waiting for ever
	defer guard.Stop()
	bufs := [][]byte{make([]byte, 1514), make([]byte, 1514), make([]byte, 1514), make([]byte, 1514)}
	sizes := make([]int, len(bufs))
	for {
		n, err := v.Dev.ReadFrames(bufs, sizes)
		if err != nil {
			t.Fatalf("waiting for the ARP reply: %v (device stats %+v)", err, v.Dev.Stats())
		}
		for i := range n {
			f := bufs[i][:sizes[i]]
			if len(f) < 14 || f[12] != 0x08 || f[13] != 0x06 {
				continue // not ARP
			}
			if _, ok := parseARPReply(f); !ok {
				t.Fatalf("read back an ARP frame that is not the kernel's reply: % x", f)
			}
			return
		}
	}
}

func TestPacketJumboMTU(t *testing.T) {
	t.Parallel()
	v := linktest.NewKernelVeth(t, netip.Prefix{}, 9000)
	if v.Dev.MTU() != 9000 {
		t.Errorf("MTU = %d, want 9000", v.Dev.MTU())
	}
	// A frame over the MTU is refused by the kernel: dropped and counted.
	if n, err := v.Dev.WriteFrames([][]byte{make([]byte, 9014+100)}); n != 1 || err != nil {
		t.Errorf("WriteFrames(oversized) = %d, %v; want 1, nil", n, err)
	}
	if s := v.Dev.Stats(); s.Drops != 1 {
		t.Errorf("Stats = %+v, want 1 drop", s)
	}
}

func TestPacketCloseUnblocksRead(t *testing.T) {
	t.Parallel()
	v := linktest.NewKernelVeth(t, netip.Prefix{}, 0)
	checkCloseUnblocksRead(t, v.Dev)
}

func TestOpenPacketErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ifname string
		want   string
		wantIs error
	}{
		{"missing", "snmissing0", `interface "snmissing0" does not exist`, fs.ErrNotExist},
		{"empty", "", "empty interface name", nil},
		{"too long", "abcdefghijklmnop", "longer than 15 bytes", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev, err := link.OpenPacket(tt.ifname)
			if err == nil {
				dev.Close()
				t.Fatal("OpenPacket succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
}

// A batch written by one call arrives whole and in order, read with
// recvmmsg into a batch of buffers.
func TestPacketBatches(t *testing.T) {
	t.Parallel()
	v := linktest.NewKernelVeth(t, netip.Prefix{}, 0)
	var kside *link.Packet
	if err := v.Do(func() (err error) { kside, err = link.OpenPacket(v.Peer); return err }); err != nil {
		t.Fatal(err)
	}
	defer kside.Close()
	const batch = 16
	frames := make([][]byte, batch)
	for i := range frames {
		frames[i] = experimental(v.Dev.HardwareAddr(), byte(i))
	}
	if n, err := kside.WriteFrames(frames); n != batch || err != nil {
		t.Fatalf("WriteFrames = %d, %v", n, err)
	}
	guard := time.AfterFunc(20*time.Second, func() { v.Dev.Close() }) // against waiting for ever
	defer guard.Stop()
	bufs := make([][]byte, 2*batch)
	for i := range bufs {
		bufs[i] = make([]byte, 1514)
	}
	sizes := make([]int, len(bufs))
	next := 0
	for next < batch {
		n, err := v.Dev.ReadFrames(bufs, sizes)
		if err != nil {
			t.Fatalf("after %d frames: %v (device stats %+v, sender's %+v)", next, err, v.Dev.Stats(), kside.Stats())
		}
		for i := range n {
			if bytes.Equal(bufs[i][:sizes[i]], frames[next]) {
				next++
			}
		}
	}
	if s := v.Dev.Stats(); s.RxFrames < batch {
		t.Errorf("Stats = %+v, want at least %d frames received", s, batch)
	}
}
