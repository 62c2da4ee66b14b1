package arp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/stacknet/stacknet/proto/ether"
)

var (
	macA = ether.Addr{0x02, 0x00, 0x5e, 0x00, 0x02, 0x01}
	macB = ether.Addr{0x02, 0x00, 0x5e, 0x00, 0x02, 0x02}
)

// arpPayload reads a golden frame and returns what follows its Ethernet
// header, checking that the frame is an ARP one.
func arpPayload(t *testing.T, name string) []byte {
	t.Helper()
	frame := readHex(t, name)
	h, err := ether.Parse(frame)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if h.Type != ether.TypeARP {
		t.Fatalf("%s: type %v", name, h.Type)
	}
	return frame[h.Len:]
}

type fields struct {
	op       uint16
	sha, tha ether.Addr
	spa, tpa netip.Addr
}

func TestParseGolden(t *testing.T) {
	tests := []struct {
		file    string
		want    fields
		wantErr error
		str     string
	}{
		{
			file: "request.hex",
			want: fields{OpRequest, macA, ether.Addr{}, ip1, ip2},
			str:  "hrd: 0x0001, pro: 0x0800, hln: 6, pln: 4, op: 1 (request), sha: 02:00:5e:00:02:01, spa: 192.0.2.1, tha: 00:00:00:00:00:00, tpa: 192.0.2.2",
		},
		{
			file: "reply.hex",
			want: fields{OpReply, macB, macA, ip2, ip1},
			str:  "hrd: 0x0001, pro: 0x0800, hln: 6, pln: 4, op: 2 (reply), sha: 02:00:5e:00:02:02, spa: 192.0.2.2, tha: 02:00:5e:00:02:01, tpa: 192.0.2.1",
		},
		{
			// RFC 5227 2.1.1: a probe's sender protocol address is zero.
			file: "probe.hex",
			want: fields{OpRequest, macA, ether.Addr{}, netip.IPv4Unspecified(), ip2},
		},
		{
			// RFC 5227 2.3: an announcement has SPA == TPA.
			file: "announcement.hex",
			want: fields{OpRequest, macA, ether.Addr{}, ip1, ip1},
		},
		{file: "ieee802.hex", wantErr: ErrUnsupported},
		{file: "ipv6-pro.hex", wantErr: ErrUnsupported},
		{file: "rarp.hex", wantErr: ErrOp},
		{file: "short.hex", wantErr: ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := arpPayload(t, tt.file)
			p, err := Parse(b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if p != nil {
					t.Errorf("Parse returned %d bytes with an error", len(p))
				}
				return
			}
			if len(p) != PacketLen || &p[0] != &b[0] {
				t.Errorf("Parse returned %d bytes, not a view of the input's first %d", len(p), PacketLen)
			}
			got := fields{p.Op(), p.SHA(), p.THA(), p.SPA(), p.TPA()}
			if got != tt.want {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
			// Put writes the same bytes.
			out := make([]byte, PacketLen)
			Put(out, tt.want.op, tt.want.sha, tt.want.spa, tt.want.tha, tt.want.tpa)
			if !bytes.Equal(out, b[:PacketLen]) {
				t.Errorf("Put wrote\n% x\nwant\n% x", out, b[:PacketLen])
			}
			if tt.str != "" && p.String() != tt.str {
				t.Errorf("String:\n got %q\nwant %q", p.String(), tt.str)
			}
		})
	}
}

func TestParseFieldChecks(t *testing.T) {
	valid := arpPayload(t, "request.hex")[:PacketLen]
	tests := []struct {
		name    string
		at      int
		val     byte
		wantErr error
	}{
		{"hrd 0x0101", 0, 1, ErrUnsupported},
		{"pro 0x0801", 3, 1, ErrUnsupported},
		{"hln 8", 4, 8, ErrUnsupported},
		{"pln 16", 5, 16, ErrUnsupported},
		{"op 0", 7, 0, ErrOp},
		{"op 3", 7, 3, ErrOp},
		{"op 0x0101", 6, 1, ErrOp},
		{"op 2", 7, 2, nil},
		{"sha anything", 8, 0xff, nil},
	}
	for _, tt := range tests {
		b := bytes.Clone(valid)
		b[tt.at] = tt.val
		if _, err := Parse(b); !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: Parse error = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
	for n := range PacketLen {
		if _, err := Parse(valid[:n]); !errors.Is(err, ErrShort) {
			t.Errorf("Parse(%d bytes) error = %v, want ErrShort", n, err)
		}
	}
}

func TestParseIgnoresTrailer(t *testing.T) {
	frame := readHex(t, "request.hex")
	b := frame[ether.HeaderLen:] // 46 bytes: the packet and the padding
	for i := PacketLen; i < len(b); i++ {
		b[i] = 0xa5
	}
	p, err := Parse(b)
	if err != nil || len(p) != PacketLen {
		t.Fatalf("Parse = %d bytes, %v", len(p), err)
	}
}

func TestParseAllocs(t *testing.T) {
	for _, name := range []string{"request.hex", "rarp.hex", "short.hex"} {
		b := arpPayload(t, name)
		if n := testing.AllocsPerRun(100, func() { _, _ = Parse(b) }); n != 0 {
			t.Errorf("%s: Parse allocates %v times", name, n)
		}
	}
	p, err := Parse(arpPayload(t, "reply.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		_, _, _, _, _ = p.Op(), p.SHA(), p.SPA(), p.THA(), p.TPA()
	}); n != 0 {
		t.Errorf("accessors allocate %v times", n)
	}
}

func TestPutMappedAddress(t *testing.T) {
	a, b := make([]byte, PacketLen), make([]byte, PacketLen)
	Put(a, OpReply, macA, ip1, macB, ip2)
	Put(b, OpReply, macA, netip.AddrFrom16(ip1.As16()), macB, netip.AddrFrom16(ip2.As16()))
	if !bytes.Equal(a, b) {
		t.Errorf("IPv4-mapped addresses encode differently:\n% x\n% x", a, b)
	}
}

func TestPutShortPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Put into 27 bytes did not panic")
		}
	}()
	Put(make([]byte, PacketLen-1), OpRequest, macA, ip1, ether.Addr{}, ip2)
}

func BenchmarkParse(b *testing.B) {
	pkt := make([]byte, PacketLen)
	Put(pkt, OpReply, macA, ip1, macB, ip2)
	b.ReportAllocs()
	for b.Loop() {
		p, err := Parse(pkt)
		if err != nil || p.SPA() != ip1 {
			b.Fatal(err)
		}
	}
}
