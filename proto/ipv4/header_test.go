package ipv4

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/stacknet/stacknet/proto/checksum"
)

func TestParseGolden(t *testing.T) {
	tests := []struct {
		file    string
		wantErr error
		check   func(t *testing.T, h Header)
	}{
		{file: "plain", check: func(t *testing.T, h Header) {
			want := []struct {
				name      string
				got, want any
			}{
				{"Version", h.Version(), uint8(4)},
				{"HeaderLen", h.HeaderLen(), 20},
				{"TOS", h.TOS(), uint8(0)},
				{"TotalLen", h.TotalLen(), 36},
				{"ID", h.ID(), uint16(0x1c46)},
				{"DF", h.DF(), true},
				{"MF", h.MF(), false},
				{"FragOffset", h.FragOffset(), 0},
				{"IsFragment", h.IsFragment(), false},
				{"TTL", h.TTL(), uint8(64)},
				{"Protocol", h.Protocol(), ProtoUDP},
				{"Src", h.Src(), netip.MustParseAddr("192.0.2.1")},
				{"Dst", h.Dst(), netip.MustParseAddr("198.51.100.2")},
				{"Src4", h.Src4(), [4]byte{192, 0, 2, 1}},
				{"Dst4", h.Dst4(), [4]byte{198, 51, 100, 2}},
				{"len(Options)", len(h.Options()), 0},
				{"len(Payload)", len(h.Payload()), 16},
				{"payload tail", string(h.Payload()[8:]), "stacknet"},
			}
			for _, w := range want {
				if w.got != w.want {
					t.Errorf("%s = %v, want %v", w.name, w.got, w.want)
				}
			}
		}},
		{file: "options", check: func(t *testing.T, h Header) {
			if h.HeaderLen() != 32 || h.TOS() != 0xb8 || h.TTL() != 1 || h.DF() || h.IsFragment() {
				t.Errorf("fields: %v", h)
			}
			sameBytes(t, "options", h.Options(), []byte{0x94, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0})
			sameBytes(t, "payload", h.Payload(), []byte("optdata!"))
		}},
		{file: "frag0", check: func(t *testing.T, h Header) {
			if !h.IsFragment() || !h.MF() || h.FragOffset() != 0 || len(h.Payload()) != 16 {
				t.Errorf("fields: %v", h)
			}
		}},
		{file: "frag1", check: func(t *testing.T, h Header) {
			if !h.IsFragment() || !h.MF() || h.FragOffset() != 16 || len(h.Payload()) != 8 {
				t.Errorf("fields: %v", h)
			}
		}},
		{file: "frag2", check: func(t *testing.T, h Header) {
			if !h.IsFragment() || h.MF() || h.FragOffset() != 24 || len(h.Payload()) != 8 {
				t.Errorf("fields: %v", h)
			}
		}},
		{file: "whole", check: func(t *testing.T, h Header) {
			if h.IsFragment() || h.Protocol() != ProtoICMP || h.TotalLen() != 52 {
				t.Errorf("fields: %v", h)
			}
		}},
		{file: "padded", check: func(t *testing.T, h Header) {
			if len(h) != 36 || cap(h) < 46 {
				t.Errorf("len %d cap %d, want the view cut to 36", len(h), cap(h))
			}
		}},
		{file: "short", wantErr: ErrShort},
		{file: "bad-version", wantErr: ErrVersion},
		{file: "bad-ihl-short", wantErr: ErrHeaderLength},
		{file: "bad-ihl-long", wantErr: ErrHeaderLength},
		{file: "bad-totallen-long", wantErr: ErrTotalLength},
		{file: "bad-totallen-short", wantErr: ErrTotalLength},
		{file: "bad-checksum", wantErr: ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := readHex(t, tt.file)
			h, err := Parse(b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse: err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if h != nil {
					t.Errorf("Parse returned a view with error %v", err)
				}
				return
			}
			if &h[0] != &b[0] {
				t.Error("Parse copied the datagram")
			}
			tt.check(t, h)
		})
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	b := readHex(t, "options")
	bad := readHex(t, "bad-checksum")
	if n := testing.AllocsPerRun(100, func() {
		if _, err := Parse(b); err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(bad); err == nil {
			t.Fatal("bad checksum accepted")
		}
	}); n != 0 {
		t.Errorf("Parse allocates %v times", n)
	}
}

func TestPutHeaderRoundTrip(t *testing.T) {
	tests := []Fields{
		{TotalLen: 20, TTL: 64, Protocol: ProtoTCP, Src: testSrc, Dst: testDst},
		{TOS: 0xff, TotalLen: MaxDatagram, ID: 0xffff, Flags: FlagDF, TTL: 255, Protocol: 255,
			Src: netip.MustParseAddr("255.255.255.255"), Dst: netip.MustParseAddr("0.0.0.0")},
		{TotalLen: 1500, ID: 7, Flags: FlagMF, FragOff: 8 * 0x1fff, TTL: 1, Protocol: ProtoUDP,
			Src: netip.MustParseAddr("::ffff:192.0.2.9"), Dst: testDst},
		// Bits of Flags other than DF and MF are not written.
		{TotalLen: 20, Flags: 0xffff, FragOff: 8, Src: testSrc, Dst: testDst},
	}
	for _, f := range tests {
		b := make([]byte, max(f.TotalLen, HeaderLen))
		PutHeader(b, f)
		h, err := Parse(b)
		if err != nil {
			t.Fatalf("%+v: Parse: %v", f, err)
		}
		flags := f.Flags & (FlagDF | FlagMF)
		if h.HeaderLen() != HeaderLen || h.TOS() != f.TOS || h.TotalLen() != f.TotalLen || h.ID() != f.ID ||
			h.FlagsOffset()&^offMask != flags || h.FragOffset() != f.FragOff || h.TTL() != f.TTL ||
			h.Protocol() != f.Protocol || h.Src() != f.Src.Unmap() || h.Dst() != f.Dst.Unmap() {
			t.Errorf("PutHeader(%+v) parsed back as %v", f, h)
		}
	}
}

func randomFields(r *rand.Rand, payload int) Fields {
	var src, dst [4]byte
	for i := range src {
		src[i], dst[i] = byte(r.Uint32()), byte(r.Uint32())
	}
	return Fields{
		TOS:      uint8(r.Uint32()),
		TotalLen: HeaderLen + payload,
		ID:       uint16(r.Uint32()),
		Flags:    uint16(r.Uint32()) & (FlagDF | FlagMF),
		FragOff:  r.IntN(offMask+1) * 8,
		TTL:      uint8(r.Uint32()),
		Protocol: uint8(r.Uint32()),
		Src:      netip.AddrFrom4(src),
		Dst:      netip.AddrFrom4(dst),
	}
}

// compareGopacket checks that the header fields of g are those of h.
func compareGopacket(t *testing.T, h Header, g *layers.IPv4) {
	t.Helper()
	if g.Version != h.Version() || int(g.IHL)*4 != h.HeaderLen() || g.TOS != h.TOS() ||
		int(g.Length) != h.TotalLen() || g.Id != h.ID() || uint16(g.Flags)<<13 != h.FlagsOffset()&^offMask ||
		int(g.FragOffset)*8 != h.FragOffset() || g.TTL != h.TTL() || uint8(g.Protocol) != h.Protocol() ||
		g.Checksum != h.Checksum() || !g.SrcIP.Equal(net.IP(h.Src().AsSlice())) ||
		!g.DstIP.Equal(net.IP(h.Dst().AsSlice())) {
		t.Errorf("gopacket has %+v\nParse has %v", g, h)
	}
}

// decodeGopacket decodes b with gopacket and checks it agrees with Parse.
func decodeGopacket(t *testing.T, h Header) {
	t.Helper()
	var g layers.IPv4
	if err := g.DecodeFromBytes(h, gopacket.NilDecodeFeedback); err != nil {
		t.Fatalf("gopacket: %v", err)
	}
	compareGopacket(t, h, &g)
	sameBytes(t, "payload", g.Payload, h.Payload())
	sameBytes(t, "options", g.Contents[HeaderLen:], h.Options())
}

// TestGopacketDecodesPutHeader checks PutHeader against an independent
// decoder.
func TestGopacketDecodesPutHeader(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, name := range []string{"plain", "options", "frag0", "frag1", "frag2", "whole"} {
		h, err := Parse(readHex(t, name))
		if err != nil {
			t.Fatal(err)
		}
		decodeGopacket(t, h)
	}
	for range 1000 {
		n := r.IntN(64)
		f := randomFields(r, n)
		b := make([]byte, f.TotalLen)
		PutHeader(b, f)
		copy(b[HeaderLen:], pattern(n, byte(n)))
		h, err := Parse(b)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		decodeGopacket(t, h)
		// gopacket's checksum over our header agrees it is valid.
		if sum := gopacket.FoldChecksum(gopacket.ComputeChecksum(b[:HeaderLen], 0)); sum != 0 {
			t.Fatalf("gopacket checksum of %v: %#04x, want 0", h, sum)
		}
	}
}

// TestParseDecodesGopacket checks Parse against an independent encoder,
// options included.
func TestParseDecodesGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	optionSets := []struct {
		opts []layers.IPv4Option
		wire []byte
	}{
		{nil, nil},
		{[]layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}},
			[]byte{0x94, 4, 0, 0}},
		{[]layers.IPv4Option{{OptionType: 1}, {OptionType: 0x83, OptionLength: 7, OptionData: []byte{4, 192, 0, 2, 1}}, {OptionType: 0}},
			[]byte{1, 0x83, 7, 4, 192, 0, 2, 1, 0, 0, 0, 0}},
		{[]layers.IPv4Option{{OptionType: 0x44, OptionLength: 38, OptionData: append([]byte{5, 0}, make([]byte, 34)...)}},
			append([]byte{0x44, 38, 5, 0}, make([]byte, 36)...)},
	}
	for i := range 1000 {
		n := r.IntN(100)
		f := randomFields(r, n)
		g := &layers.IPv4{
			Version: 4, TOS: f.TOS, Id: f.ID, Flags: layers.IPv4Flag(f.Flags >> 13),
			FragOffset: uint16(f.FragOff / 8), TTL: f.TTL, Protocol: layers.IPProtocol(f.Protocol),
			SrcIP: f.Src.AsSlice(), DstIP: f.Dst.AsSlice(), Options: optionSets[i%len(optionSets)].opts,
		}
		buf := gopacket.NewSerializeBuffer()
		err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			g, gopacket.Payload(pattern(n, 1)))
		if err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		h, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse of gopacket's % x: %v", b, err)
		}
		compareGopacket(t, h, g)
		sameBytes(t, "options", h.Options(), optionSets[i%len(optionSets)].wire)
		sameBytes(t, "payload", h.Payload(), pattern(n, 1))
	}
}

func TestDecTTL(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var opts [40]byte
	for i := range 2000 {
		f := randomFields(r, 0)
		nopt := 4 * r.IntN(11)
		for j := range opts[:nopt] {
			opts[j] = byte(r.Uint32())
		}
		h := build(t, f, opts[:nopt], nil)
		// Every TTL from 255 down to 0, and the wrap to 255, on every
		// header: the incremental update must equal a full recompute.
		if i%10 == 0 {
			h[8] = 255
			h.SetChecksum()
		}
		for range int(h.TTL()) + 1 {
			ttl := h.TTL()
			h.DecTTL()
			if h.TTL() != ttl-1 {
				t.Fatalf("TTL %d became %d", ttl, h.TTL())
			}
			if checksum.Sum(h[:h.HeaderLen()], 0) != 0xffff {
				t.Fatalf("checksum invalid after DecTTL from %d: %v", ttl, h)
			}
			want := Header(bytes.Clone(h))
			want.SetChecksum()
			if h.Checksum() != want.Checksum() {
				t.Fatalf("DecTTL from %d: checksum %#04x, full recompute %#04x", ttl, h.Checksum(), want.Checksum())
			}
			if _, err := Parse(h); err != nil {
				t.Fatalf("Parse after DecTTL from %d: %v", ttl, err)
			}
		}
	}
}

func TestString(t *testing.T) {
	h, err := Parse(readHex(t, "frag1"))
	if err != nil {
		t.Fatal(err)
	}
	s := h.String()
	for _, want := range []string{"v: 4", "hl: 5 (20)", "total: 28", "id: 48879", "flags=1", "offset=16",
		"ttl: 64", "protocol: 1", "src: 192.0.2.7", "dst: 198.51.100.9"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %q, missing %q", s, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"plain", "options", "frag0", "whole", "padded", "short", "bad-version",
		"bad-ihl-short", "bad-ihl-long", "bad-totallen-long", "bad-totallen-short", "bad-checksum"} {
		f.Add(readHex(f, name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err != nil {
			if h != nil {
				t.Fatalf("error %v with a view", err)
			}
			for _, e := range []error{ErrShort, ErrVersion, ErrHeaderLength, ErrTotalLength, ErrChecksum} {
				if err == e {
					return
				}
			}
			t.Fatalf("unexpected error %v", err)
		}
		if h.Version() != 4 || h.TotalLen() != len(h) || len(h) > len(b) ||
			h.HeaderLen() < HeaderLen || h.HeaderLen() > h.TotalLen() {
			t.Fatalf("accepted inconsistent %v (input %d bytes)", h, len(b))
		}
		// No accessor panics on an accepted datagram.
		_ = h.String()
		_, _, _ = h.Options(), h.Payload(), h.IsFragment()
		c := Header(bytes.Clone(h))
		c[8]++ // any header change, then a fresh checksum
		c.SetChecksum()
		if _, err := Parse(c); err != nil {
			t.Fatalf("Parse after SetChecksum: %v", err)
		}
		if c[8] != 0 {
			c.DecTTL()
			if _, err := Parse(c); err != nil {
				t.Fatalf("Parse after DecTTL: %v", err)
			}
		}
	})
}
