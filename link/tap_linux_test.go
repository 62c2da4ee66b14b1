package link_test

import (
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/link/linktest"
	"github.com/vishvananda/netlink"
)

func TestTAPARPExchange(t *testing.T) {
	t.Parallel()
	k := linktest.NewKernelTAP(t, netip.MustParsePrefix("192.0.2.1/24"), 0)
	dev := k.Dev
	if dev.Name() != k.Name || dev.MTU() != 1500 || dev.Kind() != link.Ethernet {
		t.Errorf("Name %q MTU %d Kind %v; want %q 1500 ethernet", dev.Name(), dev.MTU(), dev.Kind(), k.Name)
	}
	kmac := kernelMAC(t, k.Do, k.Name)
	if bytes.Equal(dev.HardwareAddr(), kmac) {
		t.Errorf("the device has the kernel side's MAC %v; the stack is another host and needs its own", kmac)
	}
	checkARPExchange(t, dev, kmac, k.KernelAddr.Addr(), netip.MustParseAddr("192.0.2.2"), k.Neighbours)
}

func TestTAPMTU(t *testing.T) {
	t.Parallel()
	k := linktest.NewKernelTAP(t, netip.MustParsePrefix("192.0.2.1/24"), 9000)
	if k.Dev.MTU() != 9000 {
		t.Errorf("MTU = %d, want 9000", k.Dev.MTU())
	}
}

func TestTAPCloseUnblocksRead(t *testing.T) {
	t.Parallel()
	k := linktest.NewKernelTAP(t, netip.Prefix{}, 0)
	checkCloseUnblocksRead(t, k.Dev)
}

// Frames the kernel refuses are dropped and counted, not reported: a
// device does not promise delivery.
func TestTAPWriteDropsRunt(t *testing.T) {
	t.Parallel()
	k := linktest.NewKernelTAP(t, netip.MustParsePrefix("192.0.2.1/24"), 0)
	n, err := k.Dev.WriteFrames([][]byte{make([]byte, 5)})
	if n != 1 || err != nil {
		t.Fatalf("WriteFrames(5-byte frame) = %d, %v; want 1, nil", n, err)
	}
	if s := k.Dev.Stats(); s.Drops != 1 || s.TxFrames != 0 {
		t.Errorf("Stats = %+v, want 1 drop, 0 sent", s)
	}
}

func TestOpenTAPErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ifname   string
		want     []string // substrings of the message
		wantIs   error
		needRoot bool // only meaningful in the namespace, as root
	}{
		{
			name:   "missing",
			ifname: "sntapmissing9",
			want:   []string{`TAP device "sntapmissing9" does not exist`, "stacknet tap create sntapmissing9", "ip tuntap add dev sntapmissing9 mode tap"},
			wantIs: fs.ErrNotExist,
		},
		{name: "too long", ifname: "abcdefghijklmnop", want: []string{"longer than 15 bytes"}},
		{name: "slash", ifname: "a/b", want: []string{"invalid interface name"}},
		{name: "template", ifname: "tap%d", want: []string{"invalid interface name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev, err := link.OpenTAP(tt.ifname)
			if err == nil {
				dev.Close()
				t.Fatal("OpenTAP succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
}

// Errors that need an interface to exist, so root and a namespace.
func TestOpenTAPErrorsInNamespace(t *testing.T) {
	t.Parallel()
	k := linktest.NewKernelTAP(t, netip.Prefix{}, 0)
	tests := []struct {
		name   string
		ifname string
		want   string
	}{
		{"attached already", k.Name, "in use by another process"},
		{"not a TAP", "lo", "not a single-queue TAP device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := k.Do(func() error {
				dev, err := link.OpenTAP(tt.ifname)
				if err == nil {
					dev.Close()
				}
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("OpenTAP(%q) = %v, want an error saying %q", tt.ifname, err, tt.want)
			}
		})
	}
}

// OpenTAP("") lets the kernel create and name a TAP device, which goes
// away when closed.
func TestOpenTAPKernelName(t *testing.T) {
	t.Parallel()
	k := linktest.NewKernelTAP(t, netip.Prefix{}, 0)
	err := k.Do(func() error {
		dev, err := link.OpenTAP("")
		if err != nil {
			return err
		}
		name := dev.Name()
		if !strings.HasPrefix(name, "tap") || dev.MTU() != 1500 {
			t.Errorf("kernel-named device %q MTU %d, want tapN 1500", name, dev.MTU())
		}
		dev.Close()
		if dev, err := link.OpenTAP(name); err == nil {
			dev.Close()
			t.Errorf("%s still exists after Close", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTAPNetlinkHelpers(t *testing.T) {
	t.Parallel()
	k := linktest.NewKernelTAP(t, netip.Prefix{}, 0)
	err := k.Do(func() error {
		if err := link.CreateTAP(k.Name, 0); !errors.Is(err, fs.ErrExist) {
			t.Errorf("CreateTAP of an existing name = %v, want ErrExist", err)
		}
		if err := link.DeleteLink("snmissing0"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("DeleteLink of a missing name = %v, want ErrNotExist", err)
		}
		if err := link.ConfigureKernelSide(k.Name, netip.Prefix{}); err == nil {
			t.Errorf("ConfigureKernelSide with no address succeeded")
		}
		if err := link.CreateTAP("sntapextra", -1); err == nil {
			t.Errorf("CreateTAP with MTU -1 succeeded")
		}
		// A round trip: create with an MTU, attach, configure, delete.
		if err := link.CreateTAP("sntapextra", 1280); err != nil {
			return err
		}
		dev, err := link.OpenTAP("sntapextra")
		if err != nil {
			return err
		}
		if dev.MTU() != 1280 {
			t.Errorf("MTU = %d, want 1280", dev.MTU())
		}
		for _, p := range []string{"192.0.2.9/24", "192.0.2.9/24", "2001:db8::1/64"} {
			if err := link.ConfigureKernelSide("sntapextra", netip.MustParsePrefix(p)); err != nil {
				t.Errorf("ConfigureKernelSide(%s): %v", p, err)
			}
		}
		dev.Close()
		if err := link.DeleteLink("sntapextra"); err != nil {
			return err
		}
		if dev, err := link.OpenTAP("sntapextra"); !errors.Is(err, fs.ErrNotExist) {
			if err == nil {
				dev.Close()
			}
			t.Errorf("OpenTAP after DeleteLink = %v, want ErrNotExist", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The kernel side of the TAP gets a PF_PACKET device of its own, so that
// frames go both ways on demand, and the fast paths of both devices are
// measured.
func TestTAPAndPacketNoAllocs(t *testing.T) {
	k := linktest.NewKernelTAP(t, netip.Prefix{}, 0)
	var kside *link.Packet
	if err := k.Do(func() (err error) { kside, err = link.OpenPacket(k.Name); return err }); err != nil {
		t.Fatal(err)
	}
	defer kside.Close()
	for _, dir := range []struct {
		name     string
		from, to link.Device
	}{
		{"TAP to PF_PACKET", k.Dev, kside},
		{"PF_PACKET to TAP", kside, k.Dev},
	} {
		t.Run(dir.name, func(t *testing.T) {
			frames := [][]byte{experimental(dir.to.HardwareAddr(), 1), experimental(dir.to.HardwareAddr(), 2)}
			bufs := [][]byte{make([]byte, 1514), make([]byte, 1514)}
			sizes := make([]int, 2)
			allocs := testing.AllocsPerRun(100, func() {
				if n, err := dir.from.WriteFrames(frames); n != 2 || err != nil {
					t.Fatalf("WriteFrames = %d, %v", n, err)
				}
				// Skip whatever else the kernel sends (IPv6 router
				// solicitations, say) until both frames are in.
				for seen := 0; seen < 2; {
					n, err := dir.to.ReadFrames(bufs, sizes)
					if err != nil {
						t.Fatalf("ReadFrames: %v", err)
					}
					for i := range n {
						if sizes[i] == 60 && bytes.Equal(bufs[i][:sizes[i]], frames[seen]) {
							seen++
						}
					}
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per write and read of 2 frames, want 0", allocs)
			}
		})
	}
}

// experimental returns a minimum-size Ethernet frame to dst with the
// EtherType IEEE 802 sets aside for experiments (0x88B5), which the
// kernel ignores.
func experimental(dst []byte, tag byte) []byte {
	f := make([]byte, 60)
	copy(f, dst)
	f[12], f[13] = 0x88, 0xb5
	f[14] = tag
	return f
}

// With the kernel side down, frames are dropped (the wire is dead), not
// reported; once the interface is deleted, reads and writes say so.
func TestTAPDownAndDeleted(t *testing.T) {
	t.Parallel()
	k := linktest.NewKernelTAP(t, netip.MustParsePrefix("192.0.2.1/24"), 0)
	f := experimental(k.Dev.HardwareAddr(), 1)
	err := k.Do(func() error {
		l, err := netlink.LinkByName(k.Name)
		if err != nil {
			return err
		}
		return netlink.LinkSetDown(l)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := k.Dev.WriteFrames([][]byte{f}); n != 1 || err != nil {
		t.Errorf("WriteFrames while down = %d, %v; want 1, nil", n, err)
	}
	if s := k.Dev.Stats(); s.Drops != 1 {
		t.Errorf("Stats = %+v, want 1 drop", s)
	}
	if err := k.Do(func() error { return link.DeleteLink(k.Name) }); err != nil {
		t.Fatal(err)
	}
	bufs, sizes := [][]byte{make([]byte, 1514)}, []int{0}
	if n, err := k.Dev.ReadFrames(bufs, sizes); n != 0 || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "was deleted") {
		t.Errorf("ReadFrames after delete = %d, %v; want an error saying the device was deleted", n, err)
	}
	if n, err := k.Dev.WriteFrames([][]byte{f}); n != 0 || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFrames after delete = %d, %v; want an error saying the device was deleted", n, err)
	}
}

// A frame longer than the buffer it is read into is truncated to it, by
// both kernel devices.
func TestTAPAndPacketTruncate(t *testing.T) {
	t.Parallel()
	k := linktest.NewKernelTAP(t, netip.Prefix{}, 0)
	var kside *link.Packet
	if err := k.Do(func() (err error) { kside, err = link.OpenPacket(k.Name); return err }); err != nil {
		t.Fatal(err)
	}
	defer kside.Close()
	for _, dir := range []struct {
		name     string
		from, to link.Device
	}{
		{"read by TAP", kside, k.Dev},
		{"read by PF_PACKET", k.Dev, kside},
	} {
		t.Run(dir.name, func(t *testing.T) {
			f := make([]byte, 1000)
			copy(f, experimental(dir.to.HardwareAddr(), 7))
			for i := 60; i < len(f); i++ {
				f[i] = byte(i)
			}
			if n, err := dir.from.WriteFrames([][]byte{f}); n != 1 || err != nil {
				t.Fatalf("WriteFrames = %d, %v", n, err)
			}
			bufs, sizes := [][]byte{make([]byte, 100)}, []int{0}
			for {
				n, err := dir.to.ReadFrames(bufs, sizes)
				if err != nil {
					t.Fatal(err)
				}
				if n == 1 && bytes.Equal(bufs[0][:15], f[:15]) {
					break // ours; skip the kernel's own frames
				}
			}
			if sizes[0] != 100 || !bytes.Equal(bufs[0], f[:100]) {
				t.Errorf("read %d bytes, want the first 100 of the frame", sizes[0])
			}
		})
	}
}

// WriteFrames is safe for concurrent use: every writer's frames arrive,
// each writer's in order.
func TestTAPConcurrentWriters(t *testing.T) {
	t.Parallel()
	k := linktest.NewKernelTAP(t, netip.Prefix{}, 0)
	var kside *link.Packet
	if err := k.Do(func() (err error) { kside, err = link.OpenPacket(k.Name); return err }); err != nil {
		t.Fatal(err)
	}
	defer kside.Close()
	const writers, perWriter = 4, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				f := experimental(kside.HardwareAddr(), byte(w))
				f[15] = byte(i)
				if n, err := k.Dev.WriteFrames([][]byte{f}); n != 1 || err != nil {
					t.Errorf("WriteFrames = %d, %v", n, err)
				}
			}
		})
	}
	guard := time.AfterFunc(20*time.Second, func() { kside.Close() }) // against waiting for ever
	defer guard.Stop()
	next := make([]int, writers)
	bufs := make([][]byte, 8)
	for i := range bufs {
		bufs[i] = make([]byte, 1514)
	}
	sizes := make([]int, len(bufs))
	for got := 0; got < writers*perWriter; {
		n, err := kside.ReadFrames(bufs, sizes)
		if err != nil {
			t.Fatalf("after %d frames: %v", got, err)
		}
		for _, f := range bufs[:n] {
			if f[12] != 0x88 || f[13] != 0xb5 {
				continue // the kernel's own
			}
			w, i := int(f[14]), int(f[15])
			if w >= writers || i != next[w] {
				t.Fatalf("got frame %d of writer %d, want %d", i, w, next[min(w, writers-1)])
			}
			next[w]++
			got++
		}
	}
	wg.Wait()
	if s := k.Dev.Stats(); s.TxFrames != writers*perWriter || s.Drops != 0 {
		t.Errorf("Stats = %+v, want %d frames sent", s, writers*perWriter)
	}
}
