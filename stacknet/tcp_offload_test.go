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
