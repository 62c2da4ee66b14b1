package ipv4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// fragments runs Fragment and returns a copy of each fragment, checked
// to be a valid datagram.
func fragments(t testing.TB, d Header, mtu int) []Header {
	t.Helper()
	var out []Header
	var hdr [MaxHeaderLen]byte
	err := Fragment(d, mtu, hdr[:], func(h, p []byte) error {
		f := Header(append(slices.Clone(h), p...))
		if _, err := Parse(f); err != nil {
			t.Fatalf("fragment %d: %v: % x", len(out), err, h)
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		t.Fatalf("Fragment(%d bytes, mtu %d): %v", len(d), mtu, err)
	}
	return out
}

// checkFragments checks the fragments of d against RFC 791 3.2.
func checkFragments(t testing.TB, d Header, mtu int, frags []Header) {
	t.Helper()
	var data []byte
	next := d.FragOffset()
	for i, f := range frags {
		lastPiece := i == len(frags)-1
		switch {
		case len(f) > mtu:
			t.Fatalf("fragment %d: %d bytes, MTU %d", i, len(f), mtu)
		case f.FragOffset() != next:
			t.Fatalf("fragment %d: offset %d, want %d", i, f.FragOffset(), next)
		case !lastPiece && (!f.MF() || len(f.Payload())%8 != 0):
			t.Fatalf("fragment %d: MF %v, %d bytes of data", i, f.MF(), len(f.Payload()))
		case lastPiece && f.MF() != d.MF():
			t.Fatalf("last fragment: MF %v, datagram's %v", f.MF(), d.MF())
		case f.ID() != d.ID() || f.Protocol() != d.Protocol() || f.Src() != d.Src() || f.Dst() != d.Dst() ||
			f.TTL() != d.TTL() || f.TOS() != d.TOS() || f.DF():
			t.Fatalf("fragment %d: header %v, datagram %v", i, f, d)
		case i == 0 && !bytes.Equal(f.Options(), d.Options()):
			t.Fatalf("first fragment: options % x, want % x", f.Options(), d.Options())
		}
		// Every fragment but the last must be as large as the MTU
		// allows, or the datagram is split into more pieces than needed.
		if !lastPiece && len(f)+8 <= mtu {
			t.Fatalf("fragment %d: %d bytes, could carry 8 more (MTU %d)", i, len(f), mtu)
		}
		next += len(f.Payload())
		data = append(data, f.Payload()...)
	}
	sameBytes(t, "concatenated data", data, d.Payload())
}

func TestFragment(t *testing.T) {
	for _, mtu := range []int{68, 69, 75, 76, 576, 1500, 9000} {
		for _, n := range []int{0, 1, 8, 47, 48, 49, 55, 56, 57, 100, 548, 556, 557, 1472, 1480, 1481, 8980, 8981, 20000, 65515} {
			f := Fields{ID: uint16(n), TTL: 64, Protocol: ProtoUDP, Src: testSrc, Dst: testDst, TOS: 0x02}
			d := build(t, f, nil, pattern(n, byte(mtu)))
			frags := fragments(t, d, mtu)
			if len(d) <= mtu {
				if len(frags) != 1 {
					t.Fatalf("%d bytes, MTU %d: %d fragments", len(d), mtu, len(frags))
				}
				sameBytes(t, "unfragmented datagram", frags[0], d)
				continue
			}
			// All but the last carry per bytes; the last up to mtu-20.
			per := (mtu - HeaderLen) &^ 7
			if want := 1 + (n-(mtu-HeaderLen)+per-1)/per; len(frags) != want {
				t.Errorf("%d bytes, MTU %d: %d fragments, want %d", n, mtu, len(frags), want)
			}
			checkFragments(t, d, mtu, frags)
		}
	}
}

func TestFragmentErrors(t *testing.T) {
	d := build(t, Fields{TTL: 64, Src: testSrc, Dst: testDst}, nil, pattern(1000, 0))
	df := build(t, Fields{Flags: FlagDF, TTL: 64, Src: testSrc, Dst: testDst}, nil, pattern(1000, 0))
	var hdr [MaxHeaderLen]byte
	tests := []struct {
		name string
		d    Header
		mtu  int
		hdr  []byte
		want error
	}{
		{"mtu 67", d, 67, hdr[:], ErrMTU},
		{"mtu 0", d, 0, hdr[:], ErrMTU},
		{"DF", df, 576, hdr[:], ErrFragNeeded},
		{"scratch", d, 576, hdr[:MaxHeaderLen-1], ErrScratchShort},
	}
	for _, tt := range tests {
		calls := 0
		err := Fragment(tt.d, tt.mtu, tt.hdr, func(h, p []byte) error { calls++; return nil })
		if !errors.Is(err, tt.want) || calls != 0 {
			t.Errorf("%s: err %v after %d emits, want %v", tt.name, err, calls, tt.want)
		}
	}
	// DF does not matter when the datagram fits.
	if err := Fragment(df, len(df), hdr[:], func(h, p []byte) error { return nil }); err != nil {
		t.Errorf("DF datagram that fits: %v", err)
	}
	// Refragmenting a fragment so far out that its pieces could never be
	// reassembled.
	far := build(t, Fields{Flags: FlagMF, FragOff: 65512, TTL: 64, Src: testSrc, Dst: testDst}, nil, pattern(200, 0))
	if err := Fragment(far, 68, hdr[:], func(h, p []byte) error { return nil }); !errors.Is(err, ErrTooBig) {
		t.Errorf("fragment beyond 65535: %v, want ErrTooBig", err)
	}
	// emit's error stops the loop.
	boom := errors.New("boom")
	calls := 0
	err := Fragment(d, 576, hdr[:], func(h, p []byte) error {
		calls++
		if calls == 1 {
			return boom
		}
		return nil
	})
	if err != boom || calls != 1 {
		t.Errorf("emit error: got %v after %d calls", err, calls)
	}
}

// TestFragmentOptions checks RFC 791 3.1's copied flag: the first
// fragment carries every option, the others only the copied ones, padded
// to a 4-byte multiple.
func TestFragmentOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []byte // options of the datagram
		rest []byte // options of the later fragments
	}{
		{"none", nil, nil},
		{"golden: router alert copied, record route not",
			[]byte{0x94, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0},
			[]byte{0x94, 4, 0, 0}},
		{"record route only", []byte{7, 7, 4, 0, 0, 0, 0, 0}, nil},
		{"loose source route padded with EOL",
			[]byte{1, 0x83, 7, 4, 192, 0, 2, 1, 0, 0, 0, 0},
			[]byte{0x83, 7, 4, 192, 0, 2, 1, 0}},
		{"two copied options around a timestamp",
			[]byte{0x82, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x44, 8, 5, 0, 0, 0, 0, 0, 0x88, 4, 0x12, 0x34},
			[]byte{0x82, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 4, 0x12, 0x34, 0}},
		{"options after EOL are ignored",
			[]byte{0, 0x94, 4, 0, 0, 0, 0, 0},
			nil},
		{"malformed length stops copying",
			[]byte{0x94, 4, 0, 0, 0x83, 1, 0, 0},
			[]byte{0x94, 4, 0, 0}},
		{"length beyond the options stops copying",
			[]byte{0x94, 4, 0, 0, 0x83, 9, 0, 0},
			[]byte{0x94, 4, 0, 0}},
		{"type without length at the end",
			[]byte{0x94, 4, 0, 0, 1, 1, 1, 0x83},
			[]byte{0x94, 4, 0, 0}},
		{"40 bytes, all copied",
			append([]byte{0x83, 39, 4}, make([]byte, 37)...),
			append([]byte{0x83, 39, 4}, make([]byte, 37)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append(slices.Clone(tt.opts), make([]byte, (4-len(tt.opts)%4)%4)...)
			d := build(t, Fields{ID: 9, TTL: 3, Protocol: ProtoUDP, Src: testSrc, Dst: testDst}, opts, pattern(500, 3))
			for _, mtu := range []int{68, 100, 300} {
				frags := fragments(t, d, mtu)
				if len(frags) < 2 {
					t.Fatalf("MTU %d: %d fragments", mtu, len(frags))
				}
				checkFragments(t, d, mtu, frags)
				for i, f := range frags[1:] {
					sameBytes(t, "options of a later fragment", f.Options(), tt.rest)
					// An independent parser reads the copied options as
					// options.
					var g layers.IPv4
					if err := g.DecodeFromBytes(f, gopacket.NilDecodeFeedback); err != nil {
						t.Fatalf("fragment %d: gopacket: %v", i+1, err)
					}
				}
			}
		})
	}
	// The golden header with more data: its router alert reaches every
	// fragment, its record route only the first.
	g := readHex(t, "options")
	d := Header(append(g[:32:32], pattern(100, 0)...))
	binary.BigEndian.PutUint16(d[2:4], uint16(len(d)))
	d.SetChecksum()
	frags := fragments(t, d, 68)
	if len(frags) != 3 || frags[0].HeaderLen() != 32 || frags[1].HeaderLen() != 24 || frags[2].HeaderLen() != 24 {
		t.Fatalf("golden options: %d fragments, %v", len(frags), frags)
	}
}

// TestRefragment checks that a router splitting a fragment keeps the
// base offset and MF.
func TestRefragment(t *testing.T) {
	d := build(t, Fields{ID: 77, TTL: 9, Protocol: ProtoTCP, Src: testSrc, Dst: testDst}, []byte{0x94, 4, 0, 0, 7, 3, 4, 0}, pattern(5000, 7))
	first := fragments(t, d, 1500)
	var all []Header
	for _, f := range first {
		sub := fragments(t, f, 576)
		checkFragments(t, f, 576, sub)
		all = append(all, sub...)
	}
	// Together the pieces are a valid fragmentation of d at MTU 576.
	var data []byte
	for i, f := range all {
		if f.MF() != (i < len(all)-1) {
			t.Fatalf("piece %d: MF %v", i, f.MF())
		}
		if len(f) > 576 || f.FragOffset() != len(data) {
			t.Fatalf("piece %d: %d bytes at %d, want at %d", i, len(f), f.FragOffset(), len(data))
		}
		data = append(data, f.Payload()...)
	}
	sameBytes(t, "data", data, d.Payload())
	if !bytes.Equal(all[0].Options(), d.Options()) || !bytes.Equal(all[1].Options(), []byte{0x94, 4, 0, 0}) {
		t.Errorf("options: first % x, second % x", all[0].Options(), all[1].Options())
	}
}

func TestFragmentDoesNotAllocate(t *testing.T) {
	d := build(t, Fields{TTL: 64, Src: testSrc, Dst: testDst}, []byte{0x94, 4, 0, 0}, pattern(9000, 0))
	var hdr [MaxHeaderLen]byte
	emit := func(h, p []byte) error { return nil }
	if n := testing.AllocsPerRun(100, func() {
		if err := Fragment(d, 1500, hdr[:], emit); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Fragment allocates %v times", n)
	}
}
