package tcptest

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stacknet/stacknet/proto/tcp"
)

// The SYN-ACK Linux sent in reply to a SYN with ISN 0x1f3e5d7c (as in
// proto/tcp/testdata/syn-ack.hex): MSS 1460, SACK-Permitted, Timestamps,
// NOP, Window Scale 7.
var linuxSYNACK = []byte{
	0x00, 0x50, 0x9c, 0x40, 0x7a, 0x6b, 0x5c, 0x4d, 0x1f, 0x3e, 0x5d, 0x7d,
	0xa0, 0x12, 0xfe, 0x88, 0x67, 0xe2, 0x00, 0x00,
	0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x5e, 0x6f, 0x70, 0x81,
	0x0a, 0x1b, 0x2c, 0x3d, 0x01, 0x03, 0x03, 0x07,
}

const (
	linuxISS   tcp.Seq = 0x7a6b5c4d // the SYN-ACK's sender
	linuxPeerI tcp.Seq = 0x1f3e5d7c // the SYN's sender
)

// toWire builds the segment s on the wire, with its options exactly as
// AppendOptions writes them and a zero payload of s.Len octets.
func toWire(t testing.TB, s Segment, seqBase, ackBase tcp.Seq) tcp.Header {
	t.Helper()
	opts, err := s.AppendOptions(nil, ackBase)
	if err != nil {
		t.Fatalf("%v: AppendOptions: %v", s, err)
	}
	hl := tcp.HeaderLen + len(opts)
	b := make([]byte, hl+s.Len)
	copy(b[tcp.HeaderLen:], opts)
	f := tcp.Fields{SrcPort: 1, DstPort: 2, Seq: seqBase + s.Seq, Flags: s.Flags, Window: s.Win}
	if s.HasAck {
		f.Ack = ackBase + s.Ack
	}
	tcp.PutHeader(b, f, nil)
	b[12] = byte(hl/4) << 4
	h, err := tcp.Parse(b)
	if err != nil {
		t.Fatalf("%v: tcp.Parse: %v", s, err)
	}
	return h
}

func TestSegmentOfLinuxSYNACK(t *testing.T) {
	h, err := tcp.Parse(linuxSYNACK)
	if err != nil {
		t.Fatal(err)
	}
	const want = "S. 0:0(0) ack 1 win 65160 <mss 1460,sackOK,TS val 1584361601 ecr 169552957,nop,wscale 7>"
	if got := FormatActual(h, linuxISS, linuxPeerI); got != want {
		t.Errorf("FormatActual = %q\nwant            %q", got, want)
	}
	got, err := SegmentOf(h, linuxISS, linuxPeerI)
	if err != nil {
		t.Fatal(err)
	}
	if err := seg(t, "> S. 0:0(0) ack 1 <mss 1460,sackOK,TS val * ecr 169552957,nop,wscale 7>").Match(got); err != nil {
		t.Errorf("expectation does not match Linux's SYN-ACK: %v", err)
	}
	if err := seg(t, "> S. 0:0(0) ack 1 <mss 1460,sackOK,TS val * ecr 169552957,wscale 7>").Match(got); err == nil {
		t.Errorf("an expectation without the NOP matches Linux's SYN-ACK")
	}
}

// TestSegmentOfPutOptions checks SegmentOf against tcp.PutOptions's
// layouts, which are Linux's.
func TestSegmentOfPutOptions(t *testing.T) {
	const local, remote tcp.Seq = 4000000000, 100 // the sequence space wraps
	tests := []struct {
		flags    tcp.Flags
		seq, ack tcp.Seq
		payload  int
		opts     *tcp.Options
		want     string
	}{
		{tcp.SYN, 0, 0, 0, &tcp.Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, TSVal: 1, WScale: 7, HasWScale: true},
			"S 0:0(0) win 1000 <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>"},
		{tcp.SYN, 0, 0, 0, &tcp.Options{MSS: 536, HasMSS: true, SACKPermitted: true},
			"S 0:0(0) win 1000 <mss 536,nop,nop,sackOK>"},
		{tcp.ACK, 1, 1, 0, &tcp.Options{TS: true, TSVal: 5, TSEcr: 6, NumSACK: 2,
			SACK: [4]tcp.SACKBlock{{Start: remote + 3001, End: remote + 4001}, {Start: remote + 1001, End: remote + 2001}}},
			". 1:1(0) ack 1 win 1000 <nop,nop,TS val 5 ecr 6,nop,nop,sack 3001:4001 1001:2001>"},
		{tcp.PSH | tcp.ACK, 1, 1, 100, nil, "P. 1:101(100) ack 1 win 1000 <>"},
		{tcp.RST, 1, 0, 0, nil, "R 1:1(0) win 1000 <>"},
	}
	for _, tt := range tests {
		b := make([]byte, tcp.HeaderLen+tcp.OptionsLen(tt.opts)+tt.payload)
		tcp.PutHeader(b, tcp.Fields{Seq: local + tt.seq, Ack: remote + tt.ack, Flags: tt.flags, Window: 1000}, tt.opts)
		h, err := tcp.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatActual(h, local, remote); got != tt.want {
			t.Errorf("FormatActual = %q, want %q", got, tt.want)
		}
	}
}

func TestSegmentOfOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []byte
		want string // the options; "" for an error
		err  error
	}{
		{"unknown kind, data kept", []byte{34, 6, 1, 2, 3, 4, 1, 0}, "<opt 34 01020304,nop,eol>", nil},
		{"unknown kind, no data", []byte{254, 2, 1, 1}, "<opt 254,nop,nop>", nil},
		{"padding after eol not read", []byte{2, 4, 5, 180, 0, 2, 3, 5}, "<mss 1460,eol>", nil},
		{"wscale beyond 14 shown as sent", []byte{1, 3, 3, 15}, "<nop,wscale 15>", nil},
		{"MSS of the wrong size", []byte{2, 3, 5, 0}, "", tcp.ErrOptionSize},
		{"SACK without blocks", []byte{5, 2, 1, 1}, "", tcp.ErrOptionSize},
		{"SACK of a bad size", []byte{5, 6, 0, 0, 0, 0, 1, 1}, "", tcp.ErrOptionSize},
		{"length beyond the options", []byte{8, 10, 0, 0}, "", tcp.ErrOptionLength},
		{"length below 2", []byte{34, 1, 0, 0}, "", tcp.ErrOptionLength},
		{"no length octet", []byte{1, 1, 1, 34}, "", tcp.ErrOptionLength},
	}
	for _, tt := range tests {
		b := make([]byte, tcp.HeaderLen+len(tt.opts)+3)
		tcp.PutHeader(b, tcp.Fields{Seq: 11, Ack: 21, Flags: tcp.ACK, Window: 7}, nil)
		b[12] = byte((tcp.HeaderLen+len(tt.opts))/4) << 4
		copy(b[tcp.HeaderLen:], tt.opts)
		h, err := tcp.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		s, err := SegmentOf(h, 10, 20)
		if err != tt.err {
			t.Errorf("%s: SegmentOf error %v, want %v", tt.name, err, tt.err)
			continue
		}
		if err != nil {
			want := ". 1:4(3) ack 1 win 7 <malformed:"
			if got := FormatActual(h, 10, 20); len(got) < len(want) || got[:len(want)] != want {
				t.Errorf("%s: FormatActual = %q, want it to start %q", tt.name, got, want)
			}
			continue
		}
		if got := optionsString(s.Opts); got != tt.want {
			t.Errorf("%s: options %s, want %s", tt.name, got, tt.want)
		}
	}
	// The header fields are read for a malformed list too.
	b := append(make([]byte, tcp.HeaderLen), 2, 3, 5, 0)
	tcp.PutHeader(b, tcp.Fields{Seq: 11, Flags: tcp.SYN, Window: 7}, nil)
	b[12] = 6 << 4
	if got, want := FormatActual(tcp.Header(b), 10, 20), "S 1:1(0) win 7 <malformed: 02 03 05 00>"; got != want {
		t.Errorf("FormatActual = %q, want %q", got, want)
	}
}

// TestWireRoundTrip sends the inbound segments of a script through
// AppendOptions onto the wire and back through SegmentOf.
func TestWireRoundTrip(t *testing.T) {
	lines := []string{
		"< S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
		"< S. 0:0(0) ack 1 win 100 <wscale 7,mss 1460>", // an order Linux never writes
		"< P. 1:1001(1000) ack 1 win 512 <nop,nop,TS val 1 ecr 2,nop,nop,sack 2001:3001 4294967000:5>",
		"< . 1:1(0) ack 1 win 0 <opt 34 0102030405060708,opt 253>",
		"< R. 5:5(0) ack 9 win 0",
		"< F. 1:1(0) ack 1 win 3 <>",
		"< none 0:0(0) win 0 <nop>",
	}
	for _, l := range lines {
		want := seg(t, l)
		for _, base := range [][2]tcp.Seq{{0, 0}, {0xfffffff0, 0x7fffffff}} {
			got, err := SegmentOf(toWire(t, want, base[0], base[1]), base[0], base[1])
			if err != nil {
				t.Errorf("%s: %v", l, err)
				continue
			}
			if err := want.Match(got); err != nil {
				t.Errorf("%s: %v", l, err)
			}
			// Padding aside, the segment comes back as written.
			got.Opts = trimEOL(got.Opts)
			want.OptsGiven = true
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: (-want +got):\n%s", l, diff)
			}
		}
	}
}

func TestAppendOptions(t *testing.T) {
	s := seg(t, "< S 0:0(0) win 1 <mss 1460,nop,wscale 7,sack 1:2,eol>")
	got, err := s.AppendOptions([]byte{0xff}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0xff, 2, 4, 5, 180, 1, 3, 3, 7, 5, 10, 0, 0, 3, 233, 0, 0, 3, 234, 0, 0}
	if !cmp.Equal(got, want) {
		t.Errorf("AppendOptions = % x\nwant            % x", got, want)
	}

	wild := seg(t, "> . 1:1(0) <TS val * ecr 5>")
	if _, err := wild.AppendOptions(nil, 0); !errors.Is(err, ErrWildcard) {
		t.Errorf("AppendOptions with a wildcard: %v, want ErrWildcard", err)
	}
	if _, err := wild.Options(0); !errors.Is(err, ErrWildcard) {
		t.Errorf("Options with a wildcard: %v, want ErrWildcard", err)
	}
	long := Segment{Opts: []Option{{Kind: 34, Data: make([]byte, 39)}}}
	if _, err := long.AppendOptions(nil, 0); !errors.Is(err, ErrOptionsTooLong) {
		t.Errorf("AppendOptions of 41 octets: %v, want ErrOptionsTooLong", err)
	}
	if _, err := long.Options(0); !errors.Is(err, ErrOptionsTooLong) {
		t.Errorf("Options of 41 octets: %v, want ErrOptionsTooLong", err)
	}
	if _, err := (Segment{Opts: []Option{{Kind: tcp.OptSACK}}}).Options(0); !errors.Is(err, tcp.ErrOptionSize) {
		t.Errorf("Options with a SACK of no blocks: %v, want tcp.ErrOptionSize", err)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		line string
		want tcp.Options
	}{
		{"< S 0:0(0) win 1 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
			tcp.Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, TSVal: 100, WScale: 7, HasWScale: true}},
		{"< S 0:0(0) win 1", tcp.Options{}},
		{"< S 0:0(0) win 1 <>", tcp.Options{}},
		// As a receiver reads them: the later of two, nothing after eol,
		// a shift above 14 as 14, unknown kinds skipped.
		{"< S 0:0(0) win 1 <mss 1,mss 2>", tcp.Options{MSS: 2, HasMSS: true}},
		{"< S 0:0(0) win 1 <wscale 15,opt 34 00>", tcp.Options{WScale: 14, HasWScale: true}},
		{"< . 1:1(0) ack 1 win 1 <nop,nop,sack 10:20 30:40>",
			tcp.Options{NumSACK: 2, SACK: [4]tcp.SACKBlock{{Start: 1010, End: 1020}, {Start: 1030, End: 1040}}}},
	}
	for _, tt := range tests {
		got, err := seg(t, tt.line).Options(1000)
		if err != nil {
			t.Errorf("%s: %v", tt.line, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: Options = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestResolveTS(t *testing.T) {
	s := seg(t, "< . 1:1(0) ack 1 win 1 <nop,nop,TS val * ecr *,mss 5>")
	r := s.ResolveTS(7, 8)
	o, err := r.Options(0)
	if err != nil {
		t.Fatal(err)
	}
	if !o.TS || o.TSVal != 7 || o.TSEcr != 8 || o.MSS != 5 {
		t.Errorf("resolved options %v, want TS val 7 ecr 8 and mss 5", o)
	}
	if !s.Opts[2].TSValAny || !s.Opts[2].TSEcrAny {
		t.Error("ResolveTS changed the segment it was called on")
	}
	// Only the wildcards are replaced.
	half := seg(t, "< . 1:1(0) ack 1 win 1 <TS val 3 ecr *>").ResolveTS(7, 8)
	if got := half.Opts[0].String(); got != "TS val 3 ecr 8" {
		t.Errorf("ResolveTS = %s, want TS val 3 ecr 8", got)
	}
	if none := (Segment{}).ResolveTS(1, 2); none.Opts != nil {
		t.Errorf("ResolveTS of no options made %v", none.Opts)
	}
}
