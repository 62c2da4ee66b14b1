package udp

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/stacknet/stacknet/proto/checksum"
)

func TestGolden(t *testing.T) {
	tests := []struct {
		file         string
		sport, dport uint16
		payload      string // a prefix of it
		payloadLen   int
		sum          uint16
	}{
		{"small.hex", 1234, 7, "hi", 2, 0xa660},
		{"dns-query.hex", 53000, 53, "\xab\xcd\x01\x00", 29, 0xc8c0},
		{"zero-checksum.hex", 1234, 7, "no checksum", 11, 0x0000},
		{"checksum-ffff.hex", 1234, 7, "ones", 6, 0xffff},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ip, b := readGolden(t, tt.file)
			h, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.SrcPort() != tt.sport || h.DstPort() != tt.dport || h.Length() != len(b) ||
				len(h.Payload()) != tt.payloadLen || !bytes.HasPrefix(h.Payload(), []byte(tt.payload)) {
				t.Errorf("parsed %v, payload %q", h, h.Payload())
			}
			if h.Checksum() != tt.sum {
				t.Errorf("checksum 0x%04x, want 0x%04x", h.Checksum(), tt.sum)
			}
			if err := h.Verify(ip.Src4(), ip.Dst4()); err != nil {
				t.Errorf("Verify: %v", err)
			}

			// Put rebuilds the same bytes (the zero-checksum datagram
			// gets a real checksum instead, which must verify).
			c := bytes.Clone(b)
			Put(c, ip.Src4(), ip.Dst4(), tt.sport, tt.dport)
			if h.Checksum() == 0 {
				if Header(c).Checksum() == 0 || Header(c).Verify(ip.Src4(), ip.Dst4()) != nil {
					t.Errorf("Put wrote checksum 0x%04x", Header(c).Checksum())
				}
				c[6], c[7] = 0, 0
			}
			if !bytes.Equal(c, b) {
				t.Errorf("Put wrote\n%x\nwant\n%x", c, b)
			}
			if s := h.String(); s == "" {
				t.Error("empty String")
			}
		})
	}
}

// TestVerifyDetectsBitFlips flips each bit of a datagram and of the
// addresses; the Internet checksum catches every single-bit error, except
// one that turns the checksum field into zero ("no checksum").
func TestVerifyDetectsBitFlips(t *testing.T) {
	for _, name := range []string{"small.hex", "dns-query.hex", "checksum-ffff.hex"} {
		ip, b := readGolden(t, name)
		src, dst := ip.Src4(), ip.Dst4()
		for i := range len(b) * 8 {
			c := bytes.Clone(b)
			c[i/8] ^= 1 << (i % 8)
			h := Header(c)
			if h.Checksum() == 0 {
				continue
			}
			if err := h.Verify(src, dst); !errors.Is(err, ErrChecksum) {
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
	}
}

func TestParse(t *testing.T) {
	dgram := func(length uint16, n int) []byte {
		b := make([]byte, n)
		b[4], b[5] = byte(length>>8), byte(length)
		return b
	}
	tests := []struct {
		name string
		b    []byte
		err  error
		len  int
	}{
		{"empty", nil, ErrShort, 0},
		{"7 bytes", dgram(7, 7), ErrShort, 0},
		{"header only", dgram(8, 8), nil, 8},
		{"length below header", dgram(7, 8), ErrLength, 0},
		{"length zero (jumbogram form, IPv6 only)", dgram(0, 20), ErrLength, 0},
		{"length beyond data", dgram(21, 20), ErrLength, 0},
		{"length exact", dgram(20, 20), nil, 20},
		{"trailing padding cut", dgram(12, 20), nil, 12},
		{"max", dgram(65535, 65535), nil, 65535},
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
			if len(h) != tt.len || h.Length() != tt.len || len(h.Payload()) != tt.len-HeaderLen {
				t.Errorf("view of %d bytes, Length %d, payload %d; want %d", len(h), h.Length(), len(h.Payload()), tt.len)
			}
		})
	}
}

func TestPutVerify(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	src, dst := [4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 2}
	for n := HeaderLen; n < HeaderLen+200; n++ {
		b := make([]byte, n)
		for i := HeaderLen; i < n; i++ {
			b[i] = byte(r.Uint32())
		}
		sport, dport := uint16(r.Uint32()), uint16(r.Uint32())
		Put(b, src, dst, sport, dport)
		h, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse of Put's %d bytes: %v", n, err)
		}
		if h.SrcPort() != sport || h.DstPort() != dport || h.Length() != n {
			t.Fatalf("Put wrote %v", h)
		}
		if h.Checksum() == 0 {
			t.Fatalf("Put wrote a zero checksum for %x", b)
		}
		if err := h.Verify(src, dst); err != nil {
			t.Fatalf("Verify of Put's %x: %v", b, err)
		}
		// The checksum is the complement of the sum over the
		// pseudo-header and the datagram with the field zeroed.
		c := bytes.Clone(b)
		c[6], c[7] = 0, 0
		want := ^checksum.Sum(c, checksum.Pseudo(src, dst, 17, uint16(n)))
		if want == 0 {
			want = 0xffff
		}
		if h.Checksum() != want {
			t.Fatalf("checksum 0x%04x, want 0x%04x", h.Checksum(), want)
		}
	}
}

func TestParseVerifyAllocs(t *testing.T) {
	ip, b := readGolden(t, "dns-query.hex")
	src, dst := ip.Src4(), ip.Dst4()
	var err error
	allocs := testing.AllocsPerRun(100, func() {
		var h Header
		if h, err = Parse(b); err == nil {
			err = h.Verify(src, dst)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Errorf("Parse and Verify allocate %v times", allocs)
	}
}

func BenchmarkParseVerify(b *testing.B) {
	ip, d := readGolden(b, "dns-query.hex")
	src, dst := ip.Src4(), ip.Dst4()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		h, err := Parse(d)
		if err == nil {
			err = h.Verify(src, dst)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
