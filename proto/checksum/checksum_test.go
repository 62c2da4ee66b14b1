package checksum

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

// naiveSum is the reference: RFC 1071 section 4.1's loop, 16 bits at a
// time with the carries folded at the end.
func naiveSum(b []byte, initial uint16) uint16 {
	sum := uint32(initial)
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSum(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		initial uint16
		want    uint16
	}{
		{"empty", "", 0, 0},
		{"empty keeps initial", "", 0x1234, 0x1234},
		// RFC 1071 section 3, the numerical example.
		{"RFC 1071 example", "00 01 f2 03 f4 f5 f6 f7", 0, 0xddf2},
		{"odd byte padded with zero", "ab", 0, 0xab00},
		{"odd length", "00 01 f2 03 f4", 0, 0xe605}, // 0x0001 + 0xf203 + 0xf400 = 0x1e604
		{"carry folded", "ff ff 00 01", 0, 0x0001},
		{"all ones stays all ones", "ff ff ff ff ff ff ff ff ff ff", 0, 0xffff},
		{"initial carried", "ff ff", 0x0002, 0x0002},
		// An IPv4 header with a correct checksum sums to all ones.
		{"IPv4 header", "4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7", 0, 0xffff},
		// 10 * 0x0102 + 10 * 0x0304, through the 32-byte loop and the tail.
		{"40 bytes", strings.Repeat("0102 0304 ", 10), 0, 0x283c},
	}
	for _, tt := range tests {
		b := mustHex(t, tt.in)
		if got := Sum(b, tt.initial); got != tt.want {
			t.Errorf("%s: Sum = %#04x, want %#04x", tt.name, got, tt.want)
		}
		if got := naiveSum(b, tt.initial); got != tt.want {
			t.Errorf("%s: the reference says %#04x, want %#04x", tt.name, got, tt.want)
		}
	}
}

// TestSumLengthsAndAlignments compares Sum with the reference for every
// length up to 300 at every alignment, on random and on all-0xff data
// (the most carries).
func TestSumLengthsAndAlignments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 310)
	ones := make([]byte, 310)
	for i := range buf {
		buf[i] = byte(r.Uint32())
		ones[i] = 0xff
	}
	for _, data := range [][]byte{buf, ones} {
		for align := range 8 {
			for n := 0; align+n <= len(data); n++ {
				b := data[align : align+n]
				for _, init := range []uint16{0, 1, 0xfffe, 0xffff} {
					if got, want := Sum(b, init), naiveSum(b, init); got != want {
						t.Fatalf("len %d align %d initial %#x: Sum = %#04x, reference %#04x", n, align, init, got, want)
					}
				}
			}
		}
	}
}

func TestCombine(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 1000)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	// Partial sums of pieces split at even offsets combine to the sum of
	// the whole.
	for split := 0; split <= len(b); split += 2 {
		if got, want := Combine(Sum(b[:split], 0), Sum(b[split:], 0)), Sum(b, 0); got != want {
			t.Fatalf("split at %d: Combine = %#04x, Sum = %#04x", split, got, want)
		}
	}
	tests := []struct{ a, b, want uint16 }{
		{0, 0, 0},
		{0xffff, 0, 0xffff},
		{0xffff, 0xffff, 0xffff},
		{0x8000, 0x8000, 0x0001},
		{0x1234, 0x4321, 0x5555},
	}
	for _, tt := range tests {
		if got := Combine(tt.a, tt.b); got != tt.want {
			t.Errorf("Combine(%#x, %#x) = %#x, want %#x", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestPseudo compares Pseudo with the sum of the pseudo-header laid out
// in bytes (RFC 768: source, destination, zero, protocol, length).
func TestPseudo(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		var src, dst [4]byte
		binary.BigEndian.PutUint32(src[:], r.Uint32())
		binary.BigEndian.PutUint32(dst[:], r.Uint32())
		proto, length := uint8(r.Uint32()), uint16(r.Uint32())
		if r.IntN(10) == 0 {
			src, dst, proto, length = [4]byte{0xff, 0xff, 0xff, 0xff}, [4]byte{0xff, 0xff, 0xff, 0xff}, 0xff, 0xffff
		}
		var ph [12]byte
		copy(ph[0:4], src[:])
		copy(ph[4:8], dst[:])
		ph[9] = proto
		binary.BigEndian.PutUint16(ph[10:12], length)
		if got, want := Pseudo(src, dst, proto, length), naiveSum(ph[:], 0); got != want {
			t.Fatalf("Pseudo(%v, %v, %d, %d) = %#04x, want %#04x", src, dst, proto, length, got, want)
		}
	}
}

// TestUDPChecksum checks a full UDP checksum computed with Pseudo and
// Sum: a datagram carrying its correct checksum sums to all ones.
func TestUDPChecksum(t *testing.T) {
	// 192.0.2.1:40000 -> 198.51.100.2:7, "stacknet", checksum 0 for now.
	udp := mustHex(t, "9c40 0007 0010 0000 73746163 6b6e6574")
	src, dst := [4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 2}
	c := ^Sum(udp, Pseudo(src, dst, 17, uint16(len(udp))))
	binary.BigEndian.PutUint16(udp[6:8], c)
	if got := Sum(udp, Pseudo(src, dst, 17, uint16(len(udp)))); got != 0xffff {
		t.Errorf("verification sum %#04x, want 0xffff", got)
	}
}

func TestSumDoesNotAllocate(t *testing.T) {
	b := make([]byte, 1500)
	if n := testing.AllocsPerRun(100, func() { _ = Sum(b, 0) }); n != 0 {
		t.Errorf("Sum allocates %v times", n)
	}
}

func FuzzSum(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, uint16(0))
	f.Add([]byte{0xff}, uint16(0xffff))
	f.Add([]byte(strings.Repeat("\xff", 67)), uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, initial uint16) {
		got, want := Sum(b, initial), naiveSum(b, initial)
		if got != want {
			t.Fatalf("Sum(% x, %#x) = %#04x, reference %#04x", b, initial, got, want)
		}
		// The sum of b with its checksum appended is all ones: a
		// checksum verifies.
		if len(b)%2 == 0 {
			c := ^Sum(b, 0)
			v := Sum(binary.BigEndian.AppendUint16(b[:len(b):len(b)], c), 0)
			if v != 0xffff {
				t.Fatalf("verification of % x with %#04x: %#04x", b, c, v)
			}
		}
	})
}

func benchmarkSum(b *testing.B, n int) {
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(i)
	}
	b.SetBytes(int64(n))
	for b.Loop() {
		_ = Sum(buf, 0)
	}
}

func BenchmarkSum1500(b *testing.B)  { benchmarkSum(b, 1500) }
func BenchmarkSum64KiB(b *testing.B) { benchmarkSum(b, 64<<10) }
