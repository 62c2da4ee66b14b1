package arp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/stacknet/stacknet/proto/ether"
)

// FuzzARPParse checks that Parse never panics, that a packet it accepts
// re-encodes with Put to the bytes it read, and that gopacket agrees.
func FuzzARPParse(f *testing.F) {
	for _, name := range goldenFiles(f) {
		frame := readHex(f, name)
		f.Add(frame[ether.HeaderLen:])
	}
	f.Add([]byte{})
	f.Add(make([]byte, PacketLen))
	f.Add([]byte{0, 1, 8, 0, 6, 4, 0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if p != nil {
				t.Fatal("packet returned with an error")
			}
			switch {
			case errors.Is(err, ErrShort):
				if len(b) >= PacketLen {
					t.Fatalf("ErrShort for %d bytes", len(b))
				}
			case errors.Is(err, ErrUnsupported), errors.Is(err, ErrOp):
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(p) != PacketLen || &p[0] != &b[0] {
			t.Fatalf("Parse returned %d bytes, not a view of the input", len(p))
		}
		if op := p.Op(); op != OpRequest && op != OpReply {
			t.Fatalf("accepted op %d", op)
		}
		out := make([]byte, PacketLen)
		Put(out, p.Op(), p.SHA(), p.SPA(), p.THA(), p.TPA())
		if !bytes.Equal(out, b[:PacketLen]) {
			t.Fatalf("re-encoded\n% x\nread\n% x", out, b[:PacketLen])
		}
		_ = p.String()

		var a layers.ARP
		if err := a.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("gopacket rejects a packet Parse accepts: %v", err)
		}
		sha, spa, tha, tpa := p.SHA(), p.SPA().As4(), p.THA(), p.TPA().As4()
		if uint16(a.AddrType) != binary.BigEndian.Uint16(b) || a.Protocol != layers.EthernetTypeIPv4 ||
			a.Operation != p.Op() ||
			!bytes.Equal(a.SourceHwAddress, sha[:]) || !bytes.Equal(a.SourceProtAddress, spa[:]) ||
			!bytes.Equal(a.DstHwAddress, tha[:]) || !bytes.Equal(a.DstProtAddress, tpa[:]) {
			t.Fatalf("gopacket reads %+v; Parse %v", a, p)
		}
	})
}
