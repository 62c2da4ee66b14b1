package tcp

import (
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

var (
	testLocal4  = netip.MustParseAddrPort("192.0.2.1:80")
	testRemote4 = netip.MustParseAddrPort("198.51.100.7:40000")
	testLocal6  = netip.MustParseAddrPort("[2001:db8::1]:443")
	testRemote6 = netip.MustParseAddrPort("[2001:db8::2]:50000")
)

// tupleVariants are 4-tuples that differ from (testLocal4, testRemote4)
// in one respect each.
var tupleVariants = []struct {
	name          string
	local, remote netip.AddrPort
}{
	{"local address", netip.MustParseAddrPort("192.0.2.2:80"), testRemote4},
	{"local port", netip.MustParseAddrPort("192.0.2.1:81"), testRemote4},
	{"remote address", testLocal4, netip.MustParseAddrPort("198.51.100.8:40000")},
	{"remote port", testLocal4, netip.MustParseAddrPort("198.51.100.7:40001")},
	{"swapped", testRemote4, testLocal4},
	{"ports swapped", netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("198.51.100.7:80")},
	{"IPv6", testLocal6, testRemote6},
	{"zero local", netip.AddrPortFrom(netip.Addr{}, 80), testRemote4},
	{"IPv6 local", netip.MustParseAddrPort("[2001:db8::c000:201]:80"), testRemote4},
}

func TestISNTupleFieldsMatter(t *testing.T) {
	g := NewISNGen()
	now := g.base.Add(time.Hour)
	base := g.ISN(testLocal4, testRemote4, now)
	for _, v := range tupleVariants {
		if got := g.ISN(v.local, v.remote, now); got == base {
			t.Errorf("%s: ISN %d, the same as the base tuple's", v.name, got)
		}
	}
}

// An IPv4-mapped IPv6 address is the IPv4 address, and a zone does not
// count.
func TestISNAddressNormalised(t *testing.T) {
	g := NewISNGen()
	now := g.base.Add(time.Minute)
	for _, tc := range []struct {
		name   string
		local  netip.AddrPort
		remote netip.AddrPort
		same   netip.AddrPort // stands in for local
	}{
		{"v4-mapped", testLocal4, testRemote4, netip.MustParseAddrPort("[::ffff:192.0.2.1]:80")},
		{"zone", netip.MustParseAddrPort("[fe80::1]:80"), testRemote6, netip.MustParseAddrPort("[fe80::1%eth0]:80")},
	} {
		if a, b := g.ISN(tc.local, tc.remote, now), g.ISN(tc.same, tc.remote, now); a != b {
			t.Errorf("%s: ISN %d for %v, %d for %v", tc.name, a, tc.local, b, tc.same)
		}
		if a, b := g.TSOffset(tc.local, tc.remote), g.TSOffset(tc.same, tc.remote); a != b {
			t.Errorf("%s: TSOffset %d for %v, %d for %v", tc.name, a, tc.local, b, tc.same)
		}
	}
}

// RFC 9293 3.4.1: the clock advances every 4 microseconds.
func TestISNClockRate(t *testing.T) {
	g := NewISNGen()
	t0 := g.base.Add(17 * time.Second).Add(3 * time.Microsecond) // mid-tick
	isn0 := g.ISN(testLocal4, testRemote4, t0)
	for _, tc := range []struct {
		d    time.Duration
		want uint32 // ticks
	}{
		{0, 0},
		{time.Microsecond, 1}, // crosses a tick boundary: t0 is 3 µs into one
		{4 * time.Microsecond, 1},
		{5 * time.Microsecond, 2},
		{time.Millisecond, 250},
		{time.Second, 250000},
		{time.Minute, 15000000},
		{time.Hour, 900000000},
		{5 * time.Hour, uint32(4500000000 % (1 << 32))}, // wrapped
		{-4 * time.Microsecond, 1<<32 - 1},
	} {
		got := uint32(g.ISN(testLocal4, testRemote4, t0.Add(tc.d)) - isn0)
		if got != tc.want {
			t.Errorf("after %v the ISN moved by %d, want %d", tc.d, got, tc.want)
		}
	}
}

// ISNs of one 4-tuple increase with time, in sequence-number order,
// across the wrap of the 32-bit space.
func TestISNMonotone(t *testing.T) {
	g := NewISNGen()
	r := rand.New(rand.NewPCG(1, 2))
	now := g.base
	prev := g.ISN(testLocal4, testRemote4, now)
	for i := range 30000 {
		now = now.Add(ISNTick + time.Duration(r.Int64N(int64(2*time.Second))))
		isn := g.ISN(testLocal4, testRemote4, now)
		if !isn.GreaterThan(prev) {
			t.Fatalf("step %d at %v: ISN %d not after %d", i, now.Sub(g.base), isn, prev)
		}
		prev = isn
	}
	if elapsed := now.Sub(g.base); elapsed < 5*time.Hour {
		t.Fatalf("the walk covered %v, not a wrap of the 4.77-hour clock", elapsed)
	}
}

// Two generators, two secret keys: neither ISNs nor offsets agree.
func TestISNGeneratorsDiffer(t *testing.T) {
	g1, g2 := NewISNGen(), NewISNGen()
	if g1.key == g2.key {
		t.Fatal("two generators drew the same key")
	}
	d := time.Hour
	for _, v := range tupleVariants {
		if a, b := g1.ISN(v.local, v.remote, g1.base.Add(d)), g2.ISN(v.local, v.remote, g2.base.Add(d)); a == b {
			t.Errorf("%s: both generators give ISN %d", v.name, a)
		}
		if a, b := g1.TSOffset(v.local, v.remote), g2.TSOffset(v.local, v.remote); a == b {
			t.Errorf("%s: both generators give TS offset %d", v.name, a)
		}
	}
}

// F looks random: over many source ports every bit of the ISN is set
// about half the time (a bit stuck or biased by 10% fails at about 20
// standard deviations).
func TestISNBitBalance(t *testing.T) {
	g := NewISNGen()
	now := g.base.Add(time.Second)
	const n = 10000
	var ones [32]int
	for p := range n {
		isn := uint32(g.ISN(testLocal4, netip.AddrPortFrom(testRemote4.Addr(), uint16(p)), now))
		for b := range 32 {
			ones[b] += int(isn >> b & 1)
		}
	}
	for b, k := range ones {
		if k < n*4/10 || k > n*6/10 {
			t.Errorf("bit %d set in %d of %d ISNs", b, k, n)
		}
	}
}

func TestTSOffset(t *testing.T) {
	g := NewISNGen()
	off := g.TSOffset(testLocal4, testRemote4)
	for _, tc := range []struct {
		name          string
		local, remote netip.AddrPort
		same          bool
	}{
		// Linux (secure_tcp_ts_off) hashes the addresses alone.
		{"other ports", netip.MustParseAddrPort("192.0.2.1:8080"), netip.MustParseAddrPort("198.51.100.7:1"), true},
		{"other local address", netip.MustParseAddrPort("192.0.2.2:80"), testRemote4, false},
		{"other remote address", testLocal4, netip.MustParseAddrPort("198.51.100.8:40000"), false},
		{"swapped", testRemote4, testLocal4, false},
		{"IPv6", testLocal6, testRemote6, false},
	} {
		got := g.TSOffset(tc.local, tc.remote)
		if (got == off) != tc.same {
			t.Errorf("%s: offset %d, base tuple's %d, want same %v", tc.name, got, off, tc.same)
		}
	}
}

func TestTSClock(t *testing.T) {
	g := NewISNGen()
	for _, tc := range []struct {
		d    time.Duration
		want uint32
	}{
		{0, 0},
		{999 * time.Microsecond, 0},
		{time.Millisecond, 1},
		{time.Second, 1000},
		{50 * 24 * time.Hour, uint32(50 * 24 * 3600 * 1000 % (1 << 32))}, // wrapped
	} {
		now := g.base.Add(tc.d)
		if got := g.TSClock(now); got != tc.want {
			t.Errorf("TSClock after %v = %d, want %d", tc.d, got, tc.want)
		}
		off := g.TSOffset(testLocal4, testRemote4)
		if got := g.TSVal(testLocal4, testRemote4, now); got != tc.want+off {
			t.Errorf("TSVal after %v = %d, want %d + %d", tc.d, got, tc.want, off)
		}
	}
}

func TestISNAllocs(t *testing.T) {
	g := NewISNGen()
	now := time.Now()
	var sink uint32
	for name, f := range map[string]func(){
		"ISN v4":   func() { sink += uint32(g.ISN(testLocal4, testRemote4, now)) },
		"ISN v6":   func() { sink += uint32(g.ISN(testLocal6, testRemote6, now)) },
		"TSOffset": func() { sink += g.TSOffset(testLocal6, testRemote6) },
		"TSVal":    func() { sink += g.TSVal(testLocal4, testRemote4, now) },
	} {
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s: %v allocations", name, a)
		}
	}
	_ = sink
}

// The messages hashed fit one SHA-256 block (55 octets) but for a SYN
// cookie between IPv6 addresses.
func TestPRFMessageLengths(t *testing.T) {
	var b prfBuf
	for _, tc := range []struct {
		name string
		n    int
		max  int
	}{
		{"ISN v4", b.tuple(&[prfKeyLen]byte{}, prfISN, testLocal4, testRemote4, true), 55},
		{"ISN v6", b.tuple(&[prfKeyLen]byte{}, prfISN, testLocal6, testRemote6, true), 55},
		{"TSOffset v6", b.tuple(&[prfKeyLen]byte{}, prfTSOffset, testLocal6, testRemote6, false), 55},
		{"cookie v4", cookieMsg(&b, &[prfKeyLen]byte{}, testLocal4, testRemote4, 1, 2, 3), 55},
		{"cookie v6", cookieMsg(&b, &[prfKeyLen]byte{}, testLocal6, testRemote6, 1, 2, 3), prfMsgMax},
	} {
		if tc.n > tc.max {
			t.Errorf("%s: %d octets, more than %d", tc.name, tc.n, tc.max)
		}
	}
}

func BenchmarkISN(b *testing.B) {
	g := NewISNGen()
	now := time.Now()
	for _, tc := range []struct {
		name          string
		local, remote netip.AddrPort
	}{{"v4", testLocal4, testRemote4}, {"v6", testLocal6, testRemote6}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var x Seq
			for b.Loop() {
				x += g.ISN(tc.local, tc.remote, now)
			}
			_ = bits.OnesCount32(uint32(x))
		})
	}
}

func BenchmarkTSOffset(b *testing.B) {
	g := NewISNGen()
	b.ReportAllocs()
	var x uint32
	for b.Loop() {
		x += g.TSOffset(testLocal4, testRemote4)
	}
	_ = x
}
