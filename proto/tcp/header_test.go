package tcp

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stacknet/stacknet/proto/checksum"
)

// Values shared by the golden segments (see the comments in testdata).
const (
	issC = Seq(0x1f3e5d7c) // the client's initial sequence number
	issS = Seq(0x7a6b5c4d) // the server's
	tsC  = 0x0a1b2c3d      // the client's first TS value
	tsS  = 0x5e6f7081      // the server's
)

// golden describes each golden segment that Parse accepts.
var golden = []struct {
	file      string
	f         Fields
	hl        int
	payload   string
	sum       uint16
	opts      Options
	optErr    error
	canonical bool // the options are laid out as PutOptions does
}{
	{"syn.hex", Fields{40000, 80, issC, 0, SYN, 64240, 0, 0}, 40, "", 0x1135,
		Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, TSVal: tsC, WScale: 7, HasWScale: true}, nil, true},
	{"syn-ack.hex", Fields{80, 40000, issS, issC + 1, SYN | ACK, 65160, 0, 0}, 40, "", 0x67e2,
		Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, TSVal: tsS, TSEcr: tsC, WScale: 7, HasWScale: true}, nil, true},
	{"data-ts.hex", Fields{40000, 80, issC + 1, issS + 1, PSH | ACK, 502, 0, 0}, 32, "GET / HTTP/1.0\r\n\r\n", 0xb482,
		Options{TS: true, TSVal: tsC + 5, TSEcr: tsS}, nil, true},
	{"ack-sack.hex", Fields{80, 40000, issS + 1, issC + 1001, ACK, 501, 0, 0}, 52, "", 0x1d05,
		Options{TS: true, TSVal: tsS + 40, TSEcr: tsC + 20, NumSACK: 2, SACK: [4]SACKBlock{
			{issC + 3001, issC + 4001}, {issC + 1501, issC + 2001}}}, nil, true},
	{"rst.hex", Fields{81, 40000, 0, issC + 1, RST | ACK, 0, 0, 0}, 20, "", 0xaa4c, Options{}, nil, true},
	{"fin.hex", Fields{40000, 80, issC + 19, issS + 1, FIN | ACK, 502, 0, 0}, 32, "", 0x8f82,
		Options{TS: true, TSVal: tsC + 900, TSEcr: tsS + 40}, nil, true},
	{"zero-checksum.hex", Fields{40000, 80, issC + 1, issS + 1, PSH | ACK, 502, 0, 0}, 20, "zero\xe4\xbe", 0x0000, Options{}, nil, true},
	{"unknown-option.hex", Fields{40000, 80, issC, 0, SYN, 64240, 0, 0}, 40, "", 0x154b,
		Options{MSS: 1460, HasMSS: true}, nil, false},
	{"opt-len-zero.hex", Fields{40000, 80, issC, 0, SYN, 64240, 0, 0}, 28, "", 0x7faf, Options{}, ErrOptionLength, false},
	{"opt-len-beyond.hex", Fields{40000, 80, issC, 0, SYN, 64240, 0, 0}, 32, "", 0x3848, Options{}, ErrOptionLength, false},
	{"opt-truncated.hex", Fields{40000, 80, issC, 0, SYN, 64240, 0, 0}, 24, "", 0x9d68, Options{}, ErrOptionLength, false},
	{"opt-mss-size.hex", Fields{40000, 80, issC, 0, SYN, 64240, 0, 0}, 24, "", 0x9867, Options{}, ErrOptionSize, false},
}

// fieldsOf reads the Fields of a parsed header.
func fieldsOf(h Header) Fields {
	return Fields{h.SrcPort(), h.DstPort(), h.Seq(), h.Ack(), h.Flags(), h.Window(), h.Urgent(), 0}
}

func TestGolden(t *testing.T) {
	for _, tt := range golden {
		t.Run(tt.file, func(t *testing.T) {
			ip, b := readGolden(t, tt.file)
			h, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if got := fieldsOf(h); got != tt.f {
				t.Errorf("fields %+v, want %+v", got, tt.f)
			}
			if h.HeaderLen() != tt.hl || h.DataOffset() != tt.hl/4 || len(h.Options()) != tt.hl-HeaderLen ||
				string(h.Payload()) != tt.payload || h.Reserved() != 0 {
				t.Errorf("header length %d, options %d, payload %q; want %d, %q", h.HeaderLen(), len(h.Options()), h.Payload(), tt.hl, tt.payload)
			}
			if h.Checksum() != tt.sum {
				t.Errorf("checksum 0x%04x, want 0x%04x", h.Checksum(), tt.sum)
			}
			if err := h.Verify(ip.Src4(), ip.Dst4()); err != nil {
				t.Errorf("Verify: %v", err)
			}
			o, err := ParseOptions(h.Options())
			if !errors.Is(err, tt.optErr) {
				t.Fatalf("ParseOptions: %v, want %v", err, tt.optErr)
			}
			if o != tt.opts {
				t.Errorf("options %+v, want %+v", o, tt.opts)
			}
			if s := h.String(); !strings.Contains(s, "["+tt.f.Flags.String()+"]") {
				t.Errorf("String %q lacks the flags [%v]", s, tt.f.Flags)
			}
			if err != nil {
				return
			}

			// Put rebuilds the segment around its payload: the same
			// bytes when the options were in Linux's layout, and the
			// same fields and options otherwise.
			c := make([]byte, HeaderLen+OptionsLen(&o)+len(tt.payload))
			copy(c[len(c)-len(tt.payload):], tt.payload)
			if hl := Put(c, fieldsOf(h), &o, ip.Src4(), ip.Dst4()); hl != len(c)-len(tt.payload) {
				t.Errorf("Put returned %d, want %d", hl, len(c)-len(tt.payload))
			}
			if tt.canonical {
				if !bytes.Equal(c, b) {
					t.Errorf("Put wrote\n%x\nwant\n%x", c, b)
				}
				return
			}
			h2, err := Parse(c)
			if err != nil {
				t.Fatal(err)
			}
			o2, err := ParseOptions(h2.Options())
			if err != nil || o2 != o || fieldsOf(h2) != tt.f || h2.Verify(ip.Src4(), ip.Dst4()) != nil {
				t.Errorf("re-encoded as %v, options %+v (%v)", h2, o2, err)
			}
		})
	}
}

// TestGoldenString pins the trace format on two segments.
func TestGoldenString(t *testing.T) {
	tests := []struct{ file, want string }{
		{"syn.hex", "src: 40000, dst: 80, seq: 524180860, ack: 0, off: 0xa0 (40), flg: 0x02 [S], wnd: 64240, " +
			"sum: 0x1135, up: 0, opts: [mss 1460,sackOK,TS val 169552957 ecr 0,wscale 7], len: 0"},
		{"rst.hex", "src: 81, dst: 40000, seq: 0, ack: 524180861, off: 0x50 (20), flg: 0x14 [R.], wnd: 0, " +
			"sum: 0xaa4c, up: 0, len: 0"},
		{"ack-sack.hex", "src: 80, dst: 40000, seq: 2053856334, ack: 524181861, off: 0xd0 (52), flg: 0x10 [.], wnd: 501, " +
			"sum: 0x1d05, up: 0, opts: [TS val 1584361641 ecr 169552977,sack 2 {524183861:524184861}{524182361:524182861}], len: 0"},
		{"opt-truncated.hex", "src: 40000, dst: 80, seq: 524180860, ack: 0, off: 0x60 (24), flg: 0x02 [S], wnd: 64240, " +
			"sum: 0x9d68, up: 0, opts: [malformed: 01 01 01 02], len: 0"},
	}
	for _, tt := range tests {
		_, b := readGolden(t, tt.file)
		if got := Header(b).String(); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.file, got, tt.want)
		}
	}
}

func TestFlagsString(t *testing.T) {
	tests := []struct {
		f    Flags
		want string
	}{
		{0, "none"},
		{SYN, "S"},
		{SYN | ACK, "S."},
		{ACK, "."},
		{PSH | ACK, "P."},
		{FIN | PSH | ACK, "FP."},
		{FIN | ACK, "F."},
		{RST, "R"},
		{RST | ACK, "R."},
		{SYN | ECE | CWR, "SEW"},
		{URG | ACK, ".U"},
		{0xff, "FSRP.UEW"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("Flags(0x%02x) = %q, want %q", uint8(tt.f), got, tt.want)
		}
	}
}

// TestParseRejects covers the segments Parse refuses.
func TestParseRejects(t *testing.T) {
	seg := func(off byte, n int) []byte {
		b := make([]byte, n)
		if n > 12 {
			b[12] = off << 4
		}
		return b
	}
	tests := []struct {
		name string
		b    []byte
		err  error
		hl   int
	}{
		{"empty", nil, ErrShort, 0},
		{"19 bytes", seg(5, 19), ErrShort, 0},
		{"offset 0", seg(0, 20), ErrDataOffset, 0},
		{"offset 4", seg(4, 40), ErrDataOffset, 0},
		{"offset 5", seg(5, 20), nil, 20},
		{"offset 6 in 20 bytes", seg(6, 20), ErrDataOffset, 0},
		{"offset 6 in 24 bytes", seg(6, 24), nil, 24},
		{"offset 15 in 59 bytes", seg(15, 59), ErrDataOffset, 0},
		{"offset 15 in 60 bytes", seg(15, 60), nil, 60},
		{"reserved bits set", append(seg(5, 20)[:12], 0x5f, 0xff, 0, 0, 0, 0, 0, 0), nil, 20},
		{"longest", seg(5, MaxSegment), nil, 20},
		{"one byte too long", seg(5, MaxSegment+1), ErrTooLong, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Parse(tt.b)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err != nil {
				if h != nil {
					t.Errorf("view %x returned with an error", h)
				}
				return
			}
			if len(h) != len(tt.b) || h.HeaderLen() != tt.hl || len(h.Payload()) != len(tt.b)-tt.hl {
				t.Errorf("view of %d bytes, header %d; want %d, %d", len(h), h.HeaderLen(), len(tt.b), tt.hl)
			}
		})
	}
	for _, name := range []string{"bad-offset-short.hex", "bad-offset-long.hex"} {
		if _, b := readGolden(t, name); true {
			if _, err := Parse(b); !errors.Is(err, ErrDataOffset) {
				t.Errorf("%s: %v, want ErrDataOffset", name, err)
			}
		}
	}
}

// TestVerifyDetectsBitFlips flips each bit of a segment and of the
// addresses; the Internet checksum catches every single-bit error. Zero
// is no exception in TCP.
func TestVerifyDetectsBitFlips(t *testing.T) {
	for _, name := range []string{"syn.hex", "data-ts.hex", "ack-sack.hex", "rst.hex", "zero-checksum.hex"} {
		ip, b := readGolden(t, name)
		src, dst := ip.Src4(), ip.Dst4()
		for i := range len(b) * 8 {
			c := bytes.Clone(b)
			c[i/8] ^= 1 << (i % 8)
			if err := Header(c).Verify(src, dst); !errors.Is(err, ErrChecksum) {
				t.Errorf("%s: bit %d flipped: Verify = %v", name, i, err)
			}
		}
		for i := range 64 {
			s, d := src, dst
			if i < 32 {
				s[i/8] ^= 1 << (i % 8)
			} else {
				d[(i-32)/8] ^= 1 << (i % 8)
			}
			if err := Header(b).Verify(s, d); !errors.Is(err, ErrChecksum) {
				t.Errorf("%s: address bit %d flipped: Verify = %v", name, i, err)
			}
		}
		// Unlike UDP, a zeroed checksum field is not "none".
		if Header(b).Checksum() != 0 {
			c := bytes.Clone(b)
			c[16], c[17] = 0, 0
			if err := Header(c).Verify(src, dst); !errors.Is(err, ErrChecksum) {
				t.Errorf("%s: zeroed checksum: Verify = %v", name, err)
			}
		}
	}
}

// randOptions returns random options in every combination.
func randOptions(r *rand.Rand) Options {
	var o Options
	bits := r.Uint32()
	if bits&1 != 0 {
		o.MSS, o.HasMSS = uint16(r.Uint32()), true
	}
	if bits&2 != 0 {
		o.WScale, o.HasWScale = uint8(r.UintN(MaxWScale+1)), true
	}
	o.SACKPermitted = bits&4 != 0
	if bits&8 != 0 {
		o.TS, o.TSVal, o.TSEcr = true, r.Uint32(), r.Uint32()
	}
	if bits&16 != 0 {
		o.NumSACK = 1 + r.IntN(MaxSACKBlocks)
		for i := range o.NumSACK {
			s := Seq(r.Uint32())
			o.SACK[i] = SACKBlock{s, s.Add(r.IntN(1 << 20))}
		}
	}
	return o
}

// TestPutVerify builds segments with random fields, options and payloads
// and reads them back.
func TestPutVerify(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	src, dst := [4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 2}
	for i := range 3000 {
		f := Fields{uint16(r.Uint32()), uint16(r.Uint32()), Seq(r.Uint32()), Seq(r.Uint32()),
			Flags(r.Uint32()), uint16(r.Uint32()), uint16(r.Uint32()), 0}
		o := randOptions(r)
		hl := HeaderLen + OptionsLen(&o)
		b := make([]byte, hl+r.IntN(200))
		for j := hl; j < len(b); j++ {
			b[j] = byte(r.Uint32())
		}
		payload := bytes.Clone(b[hl:])
		if i%2 == 0 { // garbage in the header area must not matter
			for j := range hl {
				b[j] = byte(r.Uint32())
			}
		}
		if got := Put(b, f, &o, src, dst); got != hl {
			t.Fatalf("Put returned %d, want %d", got, hl)
		}
		h, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse of Put's %x: %v", b, err)
		}
		if fieldsOf(h) != f || h.HeaderLen() != hl || h.Reserved() != 0 || !bytes.Equal(h.Payload(), payload) {
			t.Fatalf("Put wrote %v for %+v", h, f)
		}
		if err := h.Verify(src, dst); err != nil {
			t.Fatalf("Verify of Put's %x: %v", b, err)
		}
		// The checksum is the complement of the sum over the
		// pseudo-header and the segment with the field zeroed.
		c := bytes.Clone(b)
		c[16], c[17] = 0, 0
		if want := ^checksum.Sum(c, checksum.Pseudo(src, dst, 6, uint16(len(c)))); h.Checksum() != want {
			t.Fatalf("checksum 0x%04x, want 0x%04x", h.Checksum(), want)
		}
		got, err := ParseOptions(h.Options())
		if err != nil {
			t.Fatalf("ParseOptions of Put's %x: %v", h.Options(), err)
		}
		want := o
		want.NumSACK = min(o.NumSACK, (MaxOptionsLen-fixedLen(&o)-4)/8)
		for j := want.NumSACK; j < MaxSACKBlocks; j++ {
			want.SACK[j] = SACKBlock{}
		}
		if got != want {
			t.Fatalf("options %+v read back as %+v", o, got)
		}
		// SEG.LEN counts SYN and FIN.
		segLen := len(payload)
		if f.Flags&SYN != 0 {
			segLen++
		}
		if f.Flags&FIN != 0 {
			segLen++
		}
		if h.SegLen() != segLen {
			t.Fatalf("SegLen %d, want %d for %v", h.SegLen(), segLen, f.Flags)
		}
	}
}

// TestPutHeaderNil builds a header with no options from a nil *Options.
func TestPutHeaderNil(t *testing.T) {
	b := bytes.Repeat([]byte{0xee}, HeaderLen+3)
	f := Fields{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, Flags: ACK, Window: 5, Urgent: 6}
	if n := PutHeader(b, f, nil); n != HeaderLen {
		t.Fatalf("PutHeader returned %d", n)
	}
	want := []byte{0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0x50, 0x10, 0, 5, 0, 0, 0, 6, 0xee, 0xee, 0xee}
	if !bytes.Equal(b, want) {
		t.Errorf("PutHeader wrote\n%x\nwant\n%x", b, want)
	}
}

func TestAllocs(t *testing.T) {
	ip, b := readGolden(t, "ack-sack.hex")
	src, dst := ip.Src4(), ip.Dst4()
	o := Options{TS: true, TSVal: 1, TSEcr: 2, NumSACK: 3}
	buf := make([]byte, 1500)
	var err error
	tests := []struct {
		name string
		f    func()
	}{
		{"Parse", func() { _, err = Parse(b) }},
		{"ParseOptions", func() { _, err = ParseOptions(Header(b).Options()) }},
		{"Verify", func() { err = Header(b).Verify(src, dst) }},
		{"PutOptions", func() { PutOptions(buf, &o) }},
		{"Put", func() { Put(buf, Fields{Flags: ACK}, &o, src, dst) }},
	}
	for _, tt := range tests {
		if allocs := testing.AllocsPerRun(100, tt.f); allocs != 0 {
			t.Errorf("%s allocates %v times", tt.name, allocs)
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	ip, d := readGolden(b, "data-ts.hex")
	src, dst := ip.Src4(), ip.Dst4()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		h, err := Parse(d)
		if err != nil {
			b.Fatal(err)
		}
		o, err := ParseOptions(h.Options())
		if err != nil || !o.TS {
			b.Fatal(err)
		}
		if err := h.Verify(src, dst); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseOptions reads a SYN's options, the most a segment usually
// carries, without the checksum.
func BenchmarkParseOptions(b *testing.B) {
	_, d := readGolden(b, "syn.hex")
	for b.Loop() {
		h, err := Parse(d)
		if err != nil {
			b.Fatal(err)
		}
		if o, err := ParseOptions(h.Options()); err != nil || !o.HasWScale {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutData builds the header of a full-sized data segment with
// Timestamps in front of its payload, checksum included.
func BenchmarkPutData(b *testing.B) {
	src, dst := [4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 2}
	o := Options{TS: true, TSVal: 1, TSEcr: 2}
	buf := make([]byte, HeaderLen+OptionsLen(&o)+1448)
	f := Fields{SrcPort: 40000, DstPort: 80, Seq: 1, Ack: 2, Flags: ACK, Window: 502}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		f.Seq = f.Seq.Add(1448)
		o.TSVal++
		Put(buf, f, &o, src, dst)
	}
}

// BenchmarkPutHeaderData is BenchmarkPutData without the checksum.
func BenchmarkPutHeaderData(b *testing.B) {
	o := Options{TS: true, TSVal: 1, TSEcr: 2}
	buf := make([]byte, HeaderLen+OptionsLen(&o)+1448)
	f := Fields{SrcPort: 40000, DstPort: 80, Seq: 1, Ack: 2, Flags: ACK, Window: 502}
	for b.Loop() {
		f.Seq = f.Seq.Add(1448)
		o.TSVal++
		PutHeader(buf, f, &o)
	}
}
