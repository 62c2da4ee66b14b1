package stacknet

import (
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/ether"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/tcp"
)

// recordingDevice passes frames through and keeps the TCP checksums of
// those written, with the offloads of the device it wraps.
type recordingDevice struct {
	link.Device
	mu    sync.Mutex
	sums  []uint16
	valid []bool
}

func (d *recordingDevice) Offloads() link.Offload { return link.OffloadsOf(d.Device) }

func (d *recordingDevice) WriteFrames(frames [][]byte) (int, error) {
	d.mu.Lock()
	for _, f := range frames {
		if len(f) < ether.HeaderLen+ipv4.HeaderLen {
			continue
		}
		h, err := ipv4.Parse(f[ether.HeaderLen:])
		if err != nil || h.Protocol() != ipv4.ProtoTCP {
			continue
		}
		th, err := tcp.Parse(h.Payload())
		if err != nil {
			continue
		}
		d.sums = append(d.sums, th.Checksum())
		d.valid = append(d.valid, th.Verify(h.Src4(), h.Dst4()) == nil)
	}
	d.mu.Unlock()
	return d.Device.WriteFrames(frames)
}

// TestTCPChecksumOffload: over a link offering checksum offload the
// segments go out with the checksum field zero, as on Linux's lo, and are
// taken in all the same; over a plain link every segment carries a valid
// checksum.
func TestTCPChecksumOffload(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []link.PipeOption
		offload bool
	}{
		{"plain", nil, false},
		{"offload", []link.PipeOption{link.WithChecksumOffload()}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			da, db := link.Pipe(1500, tc.opts...)
			rec := &recordingDevice{Device: da}
			a, b := pairOn(t, Config{}, rec, db)
			ln, err := b.ListenTCP(netip.AddrPortFrom(addrB.Addr(), 80))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			msg := make([]byte, 100_000)
			for i := range msg {
				msg[i] = byte(i * 7)
			}
			done := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					done <- err
					return
				}
				defer c.Close()
				_, err = c.Write(msg)
				done <- err
			}()
			c, err := a.DialTCP(ctxTimeout(t, 10*time.Second), netip.AddrPort{}, netip.AddrPortFrom(addrB.Addr(), 80))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, err := io.ReadAll(c)
			if err != nil || string(got) != string(msg) {
				t.Fatalf("read %d bytes, %v; want the %d sent", len(got), err, len(msg))
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.sums) == 0 {
				t.Fatal("no TCP segment was written")
			}
			for k, sum := range rec.sums {
				if tc.offload && sum != 0 {
					t.Fatalf("segment %d: checksum %#04x, want 0 on an offloading link", k, sum)
				}
				if !tc.offload && !rec.valid[k] {
					t.Fatalf("segment %d: checksum %#04x does not verify", k, sum)
				}
			}
		})
	}
}

// TestTCPOffloadReassembledChecked: a device with checksum offload
// vouches for the segments it delivers, but not for one put together
// from IP fragments, which it never saw whole: such a segment's checksum
// is checked, and a wrong one dropped and counted.
func TestTCPOffloadReassembledChecked(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fragmented bool
		wantErrs   uint64
	}{
		{"whole", false, 0},
		{"fragmented", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			da, db := link.Pipe(1500, link.WithChecksumOffload())
			s, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ifc, err := s.AddInterface(db, addrB)
			if err != nil {
				t.Fatal(err)
			}
			dstMAC, _ := ether.AddrFrom(ifc.HardwareAddr())
			srcMAC := ether.Addr{0x02, 0, 0, 0, 0, 0x0a}
			// A SYN to a closed port, its checksum field zero (wrong).
			seg := make([]byte, tcp.HeaderLen+16)
			tcp.PutHeader(seg, tcp.Fields{SrcPort: 40000, DstPort: 9, Seq: 1, Flags: tcp.SYN, Window: 1000}, nil)
			pieces := [][2]int{{0, len(seg)}}
			if tc.fragmented {
				pieces = [][2]int{{0, 16}, {16, len(seg)}}
			}
			for _, p := range pieces {
				f := make([]byte, ether.HeaderLen+ipv4.HeaderLen+p[1]-p[0])
				ether.Put(f, dstMAC, srcMAC, ether.TypeIPv4)
				fl := uint16(0)
				if p[1] < len(seg) {
					fl = ipv4.FlagMF
				}
				ipv4.PutHeader(f[ether.HeaderLen:], ipv4.Fields{TotalLen: ipv4.HeaderLen + p[1] - p[0], ID: 7, Flags: fl,
					FragOff: p[0], TTL: 64, Protocol: ipv4.ProtoTCP, Src: addrA.Addr(), Dst: addrB.Addr()})
				copy(f[ether.HeaderLen+ipv4.HeaderLen:], seg[p[0]:p[1]])
				if _, err := da.WriteFrames([][]byte{f}); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for s.Stats().IP.InDelivers == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the segment was not delivered to TCP")
				}
				time.Sleep(time.Millisecond) // polling a counter
			}
			st := s.Stats().TCP
			if st.InCsumErrors != tc.wantErrs {
				t.Errorf("%d TCP checksum errors, want %d", st.InCsumErrors, tc.wantErrs)
			}
			if tc.wantErrs == 0 && st.InSegs == 0 {
				t.Error("the segment the device vouched for was not taken in")
			}
		})
	}
}
