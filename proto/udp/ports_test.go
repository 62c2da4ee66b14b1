package udp

import (
	"errors"
	mrand "math/rand/v2"
	"net/netip"
	"sync"
	"testing"
)

var (
	any4  = netip.IPv4Unspecified()
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
	peer1 = netip.MustParseAddrPort("198.51.100.1:53")
	peer2 = netip.MustParseAddrPort("198.51.100.2:53")
)

func ap(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

func TestBindConflicts(t *testing.T) {
	type bind struct {
		local netip.AddrPort
		err   error
	}
	tests := []struct {
		name  string
		binds []bind
	}{
		{"wildcard then specific", []bind{
			{ap(any4, 5000), nil},
			{ap(addrA, 5000), ErrAddrInUse},
		}},
		{"specific then wildcard", []bind{
			{ap(addrA, 5000), nil},
			{ap(any4, 5000), ErrAddrInUse},
		}},
		{"same specific twice", []bind{
			{ap(addrA, 5000), nil},
			{ap(addrA, 5000), ErrAddrInUse},
		}},
		{"wildcard twice", []bind{
			{ap(any4, 5000), nil},
			{ap(any4, 5000), ErrAddrInUse},
		}},
		{"different specific addresses share a port", []bind{
			{ap(addrA, 5000), nil},
			{ap(addrB, 5000), nil},
			{ap(any4, 5000), ErrAddrInUse},
		}},
		{"different ports never conflict", []bind{
			{ap(any4, 5000), nil},
			{ap(any4, 5001), nil},
			{ap(addrA, 5002), nil},
		}},
		{"zero Addr is the wildcard", []bind{
			{netip.AddrPortFrom(netip.Addr{}, 5000), nil},
			{ap(addrA, 5000), ErrAddrInUse},
		}},
		{"IPv4-mapped equals IPv4", []bind{
			{ap(addrA, 5000), nil},
			{ap(netip.AddrFrom16(addrA.As16()), 5000), ErrAddrInUse},
		}},
		{"IPv6 wildcard conflicts with IPv4", []bind{
			{ap(addrA, 5000), nil},
			{ap(netip.IPv6Unspecified(), 5000), ErrAddrInUse},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := NewTable[int]()
			want := 0
			for i, b := range tt.binds {
				got, err := tab.Bind(b.local, i)
				if !errors.Is(err, b.err) {
					t.Fatalf("Bind #%d %v: err %v, want %v", i, b.local, err, b.err)
				}
				if err != nil {
					continue
				}
				want++
				if got.Port() != b.local.Port() || got.Addr() != norm(b.local.Addr()) {
					t.Errorf("Bind #%d %v returned %v", i, b.local, got)
				}
			}
			if tab.Len() != want {
				t.Errorf("Len = %d, want %d", tab.Len(), want)
			}
		})
	}
}

func TestBindEphemeral(t *testing.T) {
	tab := NewTable[int]()
	seen := make(map[uint16]bool)
	var ports []uint16
	for i := range 2000 {
		local, err := tab.Bind(ap(any4, 0), i)
		if err != nil {
			t.Fatalf("Bind #%d: %v", i, err)
		}
		p := local.Port()
		if p < EphemeralMin || p > EphemeralMax {
			t.Fatalf("ephemeral port %d outside [%d, %d]", p, EphemeralMin, EphemeralMax)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		if local.Addr() != any4 {
			t.Errorf("bound address %v, want %v", local.Addr(), any4)
		}
		seen[p] = true
		ports = append(ports, p)
	}
	// RFC 6056: not sequential. With 2000 of 28232 ports taken, a port
	// following its predecessor is rare (about 7% each at the end, ~3%
	// on average); sequential allocation would make every pair so.
	seq := 0
	for i := 1; i < len(ports); i++ {
		if ports[i] == ports[i-1]+1 {
			seq++
		}
	}
	if seq > len(ports)/5 {
		t.Errorf("%d of %d ephemeral ports follow their predecessor", seq, len(ports))
	}

	// Two tables have different secrets, so different sequences.
	other := NewTable[int]()
	same := 0
	for i := range 20 {
		local, err := other.Bind(ap(any4, 0), i)
		if err != nil {
			t.Fatal(err)
		}
		if local.Port() == ports[i] {
			same++
		}
	}
	if same == 20 {
		t.Error("two tables chose the same ephemeral ports")
	}
}

// TestBindEphemeralDeterministic pins the algorithm with a fixed seed:
// RFC 6056 Algorithm 1 starts at a random port and searches upwards,
// wrapping at the top of the range.
func TestBindEphemeralDeterministic(t *testing.T) {
	tab := NewTable[int]()
	if err := tab.SetPortRange(40000, 40003); err != nil {
		t.Fatal(err)
	}
	tab.rng = mrand.New(mrand.NewPCG(1, 2))
	probe := mrand.New(mrand.NewPCG(1, 2))
	start := 40000 + uint16(probe.Uint32N(4))
	// Occupy the start port with a specific address, then bind the
	// wildcard: the search must skip to start+1 (wrapping).
	if _, err := tab.Bind(ap(addrA, start), 100); err != nil {
		t.Fatal(err)
	}
	got, err := tab.Bind(ap(any4, 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	want := 40000 + (start-40000+1)%4
	if got.Port() != want {
		t.Errorf("port %d, want %d (start %d occupied)", got.Port(), want, start)
	}
}

func TestBindExhaustion(t *testing.T) {
	const lo, hi = 40000, 40009
	tab := NewTable[int]()
	if err := tab.SetPortRange(lo, hi); err != nil {
		t.Fatal(err)
	}
	if l, h := tab.PortRange(); l != lo || h != hi {
		t.Fatalf("PortRange = %d-%d", l, h)
	}
	seen := make(map[uint16]int) // port -> value bound there
	for i := range hi - lo + 1 {
		local, err := tab.Bind(ap(addrA, 0), int(i))
		if err != nil {
			t.Fatalf("Bind #%d: %v", i, err)
		}
		seen[local.Port()] = int(i)
	}
	if len(seen) != hi-lo+1 {
		t.Fatalf("got %d distinct ports, want %d", len(seen), hi-lo+1)
	}
	if _, err := tab.Bind(ap(addrA, 0), 99); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("Bind on a full range: %v, want ErrNoPorts", err)
	}
	if _, err := tab.Bind(ap(any4, 0), 99); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("wildcard Bind on a full range: %v, want ErrNoPorts", err)
	}
	// Another specific address still finds every port free.
	if local, err := tab.Bind(ap(addrB, 0), 99); err != nil || local.Port() < lo || local.Port() > hi {
		t.Fatalf("Bind of another address: %v, %v", local, err)
	}
	// Freeing one port makes exactly that one available.
	tab.Unbind(ap(addrA, lo+3), seen[lo+3])
	local, err := tab.Bind(ap(addrA, 0), 100)
	if err != nil || local.Port() != lo+3 {
		t.Fatalf("Bind after Unbind = %v, %v; want port %d", local, err, lo+3)
	}
}

func TestSetPortRange(t *testing.T) {
	tests := []struct {
		lo, hi uint16
		ok     bool
	}{
		{1, 65535, true},
		{1024, 1024, true},
		{0, 10, false},
		{20, 10, false},
	}
	for _, tt := range tests {
		tab := NewTable[int]()
		err := tab.SetPortRange(tt.lo, tt.hi)
		if (err == nil) != tt.ok {
			t.Errorf("SetPortRange(%d, %d) = %v, want ok=%v", tt.lo, tt.hi, err, tt.ok)
		}
		lo, hi := tab.PortRange()
		if tt.ok && (lo != tt.lo || hi != tt.hi) || !tt.ok && (lo != EphemeralMin || hi != EphemeralMax) {
			t.Errorf("after SetPortRange(%d, %d): range %d-%d", tt.lo, tt.hi, lo, hi)
		}
	}
	// The full range works, port 65535 included.
	tab := NewTable[int]()
	if err := tab.SetPortRange(65535, 65535); err != nil {
		t.Fatal(err)
	}
	if local, err := tab.Bind(ap(any4, 0), 1); err != nil || local.Port() != 65535 {
		t.Fatalf("Bind = %v, %v", local, err)
	}
}

// TestLookupPrecedence builds port sets that Bind alone refuses (it has no
// SO_REUSEADDR) to check the scoring rules.
func TestLookupPrecedence(t *testing.T) {
	const (
		wild = iota + 1
		specA
		wildConn1
		specAConn1
		specAConn2
		specB
		wildConnAnyPort
	)
	anyPort1 := netip.AddrPortFrom(peer1.Addr(), 0)
	all := map[int]binding[int]{
		wild:            {addr: any4, v: wild},
		specA:           {addr: addrA, v: specA},
		wildConn1:       {addr: any4, remote: peer1, v: wildConn1},
		specAConn1:      {addr: addrA, remote: peer1, v: specAConn1},
		specAConn2:      {addr: addrA, remote: peer2, v: specAConn2},
		specB:           {addr: addrB, v: specB},
		wildConnAnyPort: {addr: any4, remote: anyPort1, v: wildConnAnyPort},
	}
	peer1Other := netip.AddrPortFrom(peer1.Addr(), 9999)
	tests := []struct {
		name  string
		bound []int
		dst   netip.AddrPort
		src   netip.AddrPort
		want  int // 0: none
	}{
		{"wildcard only", []int{wild}, ap(addrA, 7), peer1, wild},
		{"specific beats wildcard", []int{wild, specA}, ap(addrA, 7), peer1, specA},
		{"specific beats wildcard, other order", []int{specA, wild}, ap(addrA, 7), peer1, specA},
		{"wildcard for another address", []int{wild, specA}, ap(addrB, 7), peer1, wild},
		{"other specific address never matches", []int{specA}, ap(addrB, 7), peer1, 0},
		{"two specific addresses", []int{specA, specB}, ap(addrB, 7), peer1, specB},
		{"connected wildcard beats specific", []int{specA, wildConn1}, ap(addrA, 7), peer1, wildConn1},
		{"connected ignored for other peer", []int{specA, wildConn1}, ap(addrA, 7), peer2, specA},
		{"connected ignored for other source port", []int{specA, wildConn1}, ap(addrA, 7), peer1Other, specA},
		{"connected never gets other peers", []int{wildConn1}, ap(addrA, 7), peer2, 0},
		{"connected specific beats connected wildcard", []int{wildConn1, specAConn1}, ap(addrA, 7), peer1, specAConn1},
		{"connected to the right peer", []int{specAConn1, specAConn2}, ap(addrA, 7), peer2, specAConn2},
		{"connected with port 0 takes any source port", []int{wildConnAnyPort}, ap(addrA, 7), peer1Other, wildConnAnyPort},
		{"connected with port 0, other host", []int{wildConnAnyPort}, ap(addrA, 7), peer2, 0},
		{"wrong port", []int{wild}, ap(addrA, 8), peer1, 0},
		{"IPv4-mapped destination", []int{specA}, ap(netip.AddrFrom16(addrA.As16()), 7), peer1, specA},
		{"IPv4-mapped source", []int{wildConn1}, ap(addrA, 7), netip.AddrPortFrom(netip.AddrFrom16(peer1.Addr().As16()), peer1.Port()), wildConn1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := NewTable[int]()
			for _, k := range tt.bound {
				tab.mu.Lock()
				tab.insert(7, all[k])
				tab.mu.Unlock()
			}
			got, ok := tab.Lookup(tt.dst, tt.src)
			if ok != (tt.want != 0) || got != tt.want {
				t.Errorf("Lookup(%v, %v) = %d, %v; want %d", tt.dst, tt.src, got, ok, tt.want)
			}
		})
	}
}

func TestConnect(t *testing.T) {
	tab := NewTable[string]()
	local, err := tab.Bind(ap(any4, 0), "s")
	if err != nil {
		t.Fatal(err)
	}
	dst := ap(addrA, local.Port())
	check := func(src netip.AddrPort, want bool) {
		t.Helper()
		v, ok := tab.Lookup(dst, src)
		if ok != want || ok && v != "s" {
			t.Errorf("Lookup from %v = %q, %v; want %v", src, v, ok, want)
		}
	}
	check(peer1, true)
	check(peer2, true)

	if err := tab.Connect(local, "s", peer1); err != nil {
		t.Fatal(err)
	}
	check(peer1, true)
	check(peer2, false)

	// Reconnecting moves the filter.
	if err := tab.Connect(local, "s", peer2); err != nil {
		t.Fatal(err)
	}
	check(peer1, false)
	check(peer2, true)

	// The zero remote disconnects.
	if err := tab.Connect(local, "s", netip.AddrPort{}); err != nil {
		t.Fatal(err)
	}
	check(peer1, true)
	check(peer2, true)

	// Connect needs the binding: wrong value, wrong address, wrong port.
	for _, c := range []struct {
		local netip.AddrPort
		v     string
	}{
		{local, "other"},
		{ap(addrA, local.Port()), "s"},
		{ap(any4, local.Port()+1), "s"},
	} {
		if err := tab.Connect(c.local, c.v, peer1); !errors.Is(err, ErrNotBound) {
			t.Errorf("Connect(%v, %q) = %v, want ErrNotBound", c.local, c.v, err)
		}
	}
	// The zero Addr names the wildcard binding.
	if err := tab.Connect(netip.AddrPortFrom(netip.Addr{}, local.Port()), "s", peer1); err != nil {
		t.Errorf("Connect with the zero Addr: %v", err)
	}
}

func TestUnbind(t *testing.T) {
	tab := NewTable[int]()
	la, err := tab.Bind(ap(addrA, 5000), 1)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := tab.Bind(ap(addrB, 5000), 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Bind(ap(any4, 6000), 3); err != nil {
		t.Fatal(err)
	}
	// Mismatches do nothing.
	tab.Unbind(la, 2)
	tab.Unbind(ap(addrA, 5001), 1)
	tab.Unbind(ap(any4, 5000), 1)
	if tab.Len() != 3 {
		t.Fatalf("Len = %d after mismatched Unbinds, want 3", tab.Len())
	}

	tab.Unbind(la, 1)
	if tab.Len() != 2 {
		t.Errorf("Len = %d, want 2", tab.Len())
	}
	if v, ok := tab.Lookup(la, peer1); ok {
		t.Errorf("Lookup after Unbind found %d", v)
	}
	if v, ok := tab.Lookup(lb, peer1); !ok || v != 2 {
		t.Errorf("Lookup of the other binding = %d, %v", v, ok)
	}
	// The wildcard still conflicts with addrB, but addrA is free.
	if _, err := tab.Bind(ap(any4, 5000), 4); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("wildcard Bind over addrB: %v", err)
	}
	if _, err := tab.Bind(la, 5); err != nil {
		t.Errorf("rebinding addrA: %v", err)
	}
	tab.Unbind(lb, 2)
	tab.Unbind(la, 5)
	tab.Unbind(ap(any4, 6000), 3)
	if tab.Len() != 0 || len(tab.ports) != 0 {
		t.Errorf("Len = %d, %d ports after unbinding all", tab.Len(), len(tab.ports))
	}
	tab.Unbind(la, 5) // again: no-op
	if tab.Len() != 0 {
		t.Errorf("Len = %d", tab.Len())
	}
}

func TestTableConcurrent(t *testing.T) {
	tab := NewTable[int]()
	const workers, rounds = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				v := w*rounds + r
				local, err := tab.Bind(ap(any4, 0), v)
				if err != nil {
					errs <- err
					return
				}
				if err := tab.Connect(local, v, peer1); err != nil {
					errs <- err
					return
				}
				if got, ok := tab.Lookup(ap(addrA, local.Port()), peer1); !ok || got != v {
					errs <- errors.New("lookup missed own binding")
					return
				}
				tab.Unbind(local, v)
				_ = tab.Len()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if tab.Len() != 0 {
		t.Errorf("Len = %d after all unbound", tab.Len())
	}
}

func TestLookupAllocs(t *testing.T) {
	tab := NewTable[*int]()
	x := new(int)
	if _, err := tab.Bind(ap(any4, 5000), x); err != nil {
		t.Fatal(err)
	}
	dst := ap(addrA, 5000)
	var ok bool
	allocs := testing.AllocsPerRun(100, func() {
		_, ok = tab.Lookup(dst, peer1)
	})
	if !ok {
		t.Fatal("Lookup missed")
	}
	if allocs != 0 {
		t.Errorf("Lookup allocates %v times per call", allocs)
	}
}

func benchTable(b *testing.B) (*Table[*int], netip.AddrPort) {
	tab := NewTable[*int]()
	// A busy host: many sockets on many ports, a few sharing one.
	for range 1000 {
		if _, err := tab.Bind(ap(any4, 0), new(int)); err != nil {
			b.Fatal(err)
		}
	}
	for _, a := range []netip.Addr{addrA, addrB} {
		if _, err := tab.Bind(ap(a, 5353), new(int)); err != nil {
			b.Fatal(err)
		}
	}
	return tab, ap(addrB, 5353)
}

func BenchmarkLookup(b *testing.B) {
	tab, dst := benchTable(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := tab.Lookup(dst, peer1); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkLookupParallel(b *testing.B) {
	tab, dst := benchTable(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := tab.Lookup(dst, peer1); !ok {
				b.Fatal("miss")
			}
		}
	})
}

func BenchmarkBindUnbind(b *testing.B) {
	tab, _ := benchTable(b)
	v := new(int)
	b.ReportAllocs()
	for b.Loop() {
		local, err := tab.Bind(ap(any4, 0), v)
		if err != nil {
			b.Fatal(err)
		}
		tab.Unbind(local, v)
	}
}
