package ipv4

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
)

// TestSipHash24 checks the hash against the vectors of the SipHash paper
// (appendix A) and reference implementation: key 00 01 .. 0f, message
// 00 01 .. n-1.
func TestSipHash24(t *testing.T) {
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	k0, k1 := binary.LittleEndian.Uint64(key[:8]), binary.LittleEndian.Uint64(key[8:])
	tests := []struct {
		n    int
		want uint64
	}{
		{0, 0x726fdb47dd0e0e31},
		{1, 0x74f839c593dc67fd},
		{2, 0x0d6c8009d9a94f5a},
		{15, 0xa129ca6149be45e5},
	}
	for _, tt := range tests {
		msg := make([]byte, tt.n)
		for i := range msg {
			msg[i] = byte(i)
		}
		if got := sipHash24(k0, k1, msg); got != tt.want {
			t.Errorf("SipHash-2-4 of %d bytes = %#016x, want %#016x", tt.n, got, tt.want)
		}
	}
}

func TestIDGenSameTriple(t *testing.T) {
	g := NewIDGen()
	src, dst := addr("192.0.2.1"), addr("198.51.100.2")
	// The IDs for one triple come from one counter: 65536 in a row are
	// distinct (RFC 6864 4.1 uniqueness).
	seen := make(map[uint16]bool, 1<<16)
	for range 1 << 16 {
		id := g.Next(src, dst, ProtoUDP)
		if seen[id] {
			t.Fatalf("ID %d repeated within 65536 datagrams", id)
		}
		seen[id] = true
	}
}

// TestIDGenAcrossDestinations checks that the IDs sent to one destination
// tell nothing simple about those sent to another: in a global counter
// scheme the ID to B right after an ID to A would be A's plus one.
func TestIDGenAcrossDestinations(t *testing.T) {
	g := NewIDGen()
	src := addr("192.0.2.1")
	sequential := 0
	const n = 1000
	for i := range n {
		a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		b := netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})
		ida := g.Next(src, a, ProtoUDP)
		idb := g.Next(src, b, ProtoUDP)
		if idb == ida+1 || idb == ida {
			sequential++
		}
	}
	// With random offsets, 2 in 65536 pairs match by chance.
	if sequential > 5 {
		t.Errorf("%d of %d IDs to a second destination followed the first", sequential, n)
	}
}

// TestIDGenKeyed checks that two generators (two stacks) differ.
func TestIDGenKeyed(t *testing.T) {
	g1, g2 := NewIDGen(), NewIDGen()
	src, dst := addr("192.0.2.1"), addr("198.51.100.2")
	same := 0
	for p := range 64 {
		if g1.Next(src, dst, uint8(p)) == g2.Next(src, dst, uint8(p)) {
			same++
		}
	}
	if same > 3 {
		t.Errorf("two generators gave the same ID %d times in 64", same)
	}
}

func TestIDGenInputs(t *testing.T) {
	g := NewIDGen()
	// Any address is accepted; an IPv4-mapped one is its IPv4 address.
	for _, a := range []netip.Addr{{}, addr("2001:db8::1"), addr("::ffff:192.0.2.1")} {
		_ = g.Next(a, a, ProtoTCP)
	}
	if addrKey(addr("::ffff:192.0.2.1")) != addrKey(addr("192.0.2.1")) {
		t.Error("an IPv4-mapped address hashes differently from its IPv4 address")
	}
	if addrKey(netip.Addr{}) != 0 {
		t.Error("zero Addr")
	}
}

func TestIDGenDoesNotAllocate(t *testing.T) {
	g := NewIDGen()
	src, dst := addr("192.0.2.1"), addr("198.51.100.2")
	if n := testing.AllocsPerRun(1000, func() { _ = g.Next(src, dst, ProtoTCP) }); n != 0 {
		t.Errorf("Next allocates %v times", n)
	}
}

// TestIDGenConcurrent checks under -race that concurrent callers for one
// triple never get the same ID (the counter is atomic).
func TestIDGenConcurrent(t *testing.T) {
	g := NewIDGen()
	src, dst := addr("192.0.2.1"), addr("198.51.100.2")
	const workers, each = 4, 10000
	ids := make([][]uint16, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				ids[w] = append(ids[w], g.Next(src, dst, ProtoUDP))
			}
		})
	}
	wg.Wait()
	seen := make(map[uint16]bool)
	for _, l := range ids {
		for _, id := range l {
			if seen[id] {
				t.Fatalf("ID %d given twice", id)
			}
			seen[id] = true
		}
	}
}

func BenchmarkIDGen(b *testing.B) {
	g := NewIDGen()
	src, dst := addr("192.0.2.1"), addr("198.51.100.2")
	b.ReportAllocs()
	for b.Loop() {
		_ = g.Next(src, dst, ProtoTCP)
	}
}
