package ipv4

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

func TestTableLookup(t *testing.T) {
	var tab Table
	routes := []Route{
		{Dst: pfx("0.0.0.0/0"), Gateway: addr("192.0.2.254"), Iface: 1, Src: addr("192.0.2.1")},
		{Dst: pfx("10.0.0.0/8"), Gateway: addr("198.51.100.1"), Iface: 2},
		{Dst: pfx("10.1.2.0/24"), Iface: 3, Src: addr("10.1.2.1"), MTU: 1400},
		{Dst: pfx("10.1.2.3/32"), Iface: 4},
		{Dst: pfx("192.0.2.0/24"), Iface: 1},
		{Dst: pfx("198.51.100.0/24"), Iface: 2},
		// Same prefix as above through another interface: never chosen
		// while the first stays.
		{Dst: pfx("198.51.100.0/24"), Iface: 5},
		{Dst: pfx("127.0.0.0/8"), Iface: 0},
	}
	for _, r := range routes {
		if err := tab.Add(r); err != nil {
			t.Fatalf("Add(%+v): %v", r, err)
		}
	}
	tests := []struct {
		dst   string
		iface int
		pfx   string
	}{
		{"10.1.2.3", 4, "10.1.2.3/32"},
		{"10.1.2.4", 3, "10.1.2.0/24"},
		{"10.1.2.255", 3, "10.1.2.0/24"},
		{"10.1.3.3", 2, "10.0.0.0/8"},
		{"10.255.255.255", 2, "10.0.0.0/8"},
		{"11.0.0.0", 1, "0.0.0.0/0"},
		{"9.255.255.255", 1, "0.0.0.0/0"},
		{"192.0.2.77", 1, "192.0.2.0/24"},
		{"198.51.100.9", 2, "198.51.100.0/24"},
		{"::ffff:10.1.2.3", 4, "10.1.2.3/32"}, // IPv4-mapped
		{"127.0.0.1", 0, "127.0.0.0/8"},
		{"255.255.255.255", 1, "0.0.0.0/0"},
	}
	for _, tt := range tests {
		r, ok := tab.Lookup(addr(tt.dst))
		if !ok || r.Iface != tt.iface || r.Dst != pfx(tt.pfx) {
			t.Errorf("Lookup(%s) = %+v, %v; want %s via %d", tt.dst, r, ok, tt.pfx, tt.iface)
		}
	}
	r, _ := tab.Lookup(addr("10.1.2.9"))
	if r.MTU != 1400 || r.Src != addr("10.1.2.1") || r.Gateway.IsValid() || r.NextHop(addr("10.1.2.9")) != addr("10.1.2.9") {
		t.Errorf("on-link route: %+v", r)
	}
	r, _ = tab.Lookup(addr("8.8.8.8"))
	if r.NextHop(addr("8.8.8.8")) != addr("192.0.2.254") {
		t.Errorf("NextHop through the default route = %v", r.NextHop(addr("8.8.8.8")))
	}
	for _, a := range []netip.Addr{{}, addr("2001:db8::1")} {
		if r, ok := tab.Lookup(a); ok {
			t.Errorf("Lookup(%v) = %+v, want none", a, r)
		}
	}
	if tab.Len() != len(routes) {
		t.Errorf("Len = %d, want %d", tab.Len(), len(routes))
	}
}

func TestTableEmpty(t *testing.T) {
	var tab Table
	if r, ok := tab.Lookup(addr("192.0.2.1")); ok {
		t.Errorf("empty table: Lookup = %+v", r)
	}
	if tab.Remove(pfx("0.0.0.0/0"), 0) || tab.RemoveIface(0) != 0 || tab.Routes() != nil || tab.Len() != 0 {
		t.Error("empty table is not empty")
	}
	if err := tab.Add(Route{Dst: pfx("10.0.0.0/8")}); err != nil {
		t.Fatal(err)
	}
	if r, ok := tab.Lookup(addr("192.0.2.1")); ok {
		t.Errorf("no default route: Lookup = %+v", r)
	}
}

func TestTableAddErrors(t *testing.T) {
	var tab Table
	if err := tab.Add(Route{Dst: pfx("192.0.2.0/24"), Iface: 1}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		r    Route
		want error // nil: any error
	}{
		{Route{Dst: pfx("192.0.2.0/24"), Iface: 1}, ErrRouteExists},
		// The destination is masked before the comparison.
		{Route{Dst: pfx("192.0.2.77/24"), Iface: 1, Gateway: addr("192.0.2.1")}, ErrRouteExists},
		{Route{Dst: pfx("2001:db8::/32"), Iface: 1}, nil},
		{Route{Dst: pfx("::ffff:192.0.2.0/120"), Iface: 1}, nil},
		{Route{Iface: 1}, nil},
		{Route{Dst: pfx("10.0.0.0/8"), Gateway: addr("2001:db8::1")}, nil},
		{Route{Dst: pfx("10.0.0.0/8"), Src: addr("2001:db8::1")}, nil},
		{Route{Dst: pfx("10.0.0.0/8"), MTU: 67}, nil},
		{Route{Dst: pfx("10.0.0.0/8"), MTU: -1}, nil},
	}
	for _, tt := range tests {
		err := tab.Add(tt.r)
		if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("Add(%+v) = %v, want %v", tt.r, err, tt.want)
		}
	}
	if tab.Len() != 1 {
		t.Errorf("failed Adds changed the table: %v", tab.Routes())
	}
	// The same prefix through another interface is a distinct route.
	if err := tab.Add(Route{Dst: pfx("192.0.2.0/24"), Iface: 2}); err != nil {
		t.Errorf("same prefix, other interface: %v", err)
	}
}

func TestTableMasksOnAdd(t *testing.T) {
	var tab Table
	if err := tab.Add(Route{Dst: pfx("10.1.2.3/8"), Iface: 7}); err != nil {
		t.Fatal(err)
	}
	if got := tab.Routes()[0].Dst; got != pfx("10.0.0.0/8") {
		t.Errorf("stored %v, want 10.0.0.0/8", got)
	}
	if r, ok := tab.Lookup(addr("10.200.0.1")); !ok || r.Iface != 7 {
		t.Errorf("Lookup = %+v, %v", r, ok)
	}
	if !tab.Remove(pfx("10.9.9.9/8"), 7) {
		t.Error("Remove with an unmasked prefix failed")
	}
}

// TestTableEqualPrefixes checks that the first route added to a prefix
// wins, and that the next takes over when it is removed.
func TestTableEqualPrefixes(t *testing.T) {
	var tab Table
	for _, iface := range []int{3, 1, 2} {
		if err := tab.Add(Route{Dst: pfx("192.0.2.0/24"), Iface: iface}); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []int{3, 1, 2} {
		r, ok := tab.Lookup(addr("192.0.2.5"))
		if !ok || r.Iface != want {
			t.Fatalf("Lookup = %+v, %v; want iface %d", r, ok, want)
		}
		if !tab.Remove(pfx("192.0.2.0/24"), want) {
			t.Fatalf("Remove(%d) found nothing", want)
		}
		if tab.Remove(pfx("192.0.2.0/24"), want) {
			t.Fatalf("second Remove(%d) found something", want)
		}
	}
	if r, ok := tab.Lookup(addr("192.0.2.5")); ok {
		t.Errorf("Lookup after removing all = %+v", r)
	}
}

func TestTableRemoveIface(t *testing.T) {
	var tab Table
	for i, p := range []string{"0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24", "192.0.2.128/25"} {
		for _, iface := range []int{1, 2} {
			if err := tab.Add(Route{Dst: pfx(p), Iface: iface, MTU: 1000 + i}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := tab.RemoveIface(1); n != 5 {
		t.Errorf("RemoveIface(1) = %d, want 5", n)
	}
	if n := tab.RemoveIface(1); n != 0 {
		t.Errorf("RemoveIface(1) again = %d, want 0", n)
	}
	for _, r := range tab.Routes() {
		if r.Iface != 2 {
			t.Errorf("route through removed interface left: %+v", r)
		}
	}
	if r, ok := tab.Lookup(addr("10.1.0.1")); !ok || r.Iface != 2 || r.MTU != 1002 {
		t.Errorf("Lookup = %+v, %v", r, ok)
	}
}

func TestTableRoutesOrder(t *testing.T) {
	var tab Table
	add := []Route{
		{Dst: pfx("0.0.0.0/0"), Iface: 1},
		{Dst: pfx("10.0.0.0/8"), Iface: 1},
		{Dst: pfx("192.0.2.0/24"), Iface: 2},
		{Dst: pfx("10.0.0.0/8"), Iface: 2},
		{Dst: pfx("198.51.100.0/24"), Iface: 1},
		{Dst: pfx("192.0.2.1/32"), Iface: 1},
	}
	for _, r := range add {
		if err := tab.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	want := []Route{add[5], add[2], add[4], add[1], add[3], add[0]}
	got := tab.Routes()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Routes() = %v\nwant %v", got, want)
	}
	got[0].Iface = 99 // a copy
	if tab.Routes()[0].Iface == 99 {
		t.Error("Routes returned the table's own slice")
	}
}

func TestTableLookupDoesNotAllocate(t *testing.T) {
	var tab Table
	for i := range 33 {
		p := netip.PrefixFrom(addr("10.20.30.40"), i).Masked()
		if err := tab.Add(Route{Dst: p, Iface: i}); err != nil {
			t.Fatal(err)
		}
	}
	dst := addr("10.20.30.41")
	var r Route
	var ok bool
	if n := testing.AllocsPerRun(1000, func() { r, ok = tab.Lookup(dst) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
	if !ok || r.Iface != 31 {
		t.Errorf("Lookup(%v) = %+v, %v; want the /31", dst, r, ok)
	}
}

// TestTableConcurrent runs lookups while routes come and go (run with
// -race): a lookup sees either the table before or after each change.
func TestTableConcurrent(t *testing.T) {
	var tab Table
	if err := tab.Add(Route{Dst: pfx("0.0.0.0/0"), Iface: 1}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				dst := addr("10.1.2.3")
				r, ok := tab.Lookup(dst)
				if !ok {
					t.Error("default route lost")
					return
				}
				if !r.Dst.Contains(dst) {
					t.Errorf("Lookup(%v) = %+v", dst, r)
					return
				}
			}
		}()
	}
	for i := range 500 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 2, 0}), 24)
		if err := tab.Add(Route{Dst: p, Iface: 2}); err != nil {
			t.Error(err)
		}
		if i%3 == 0 {
			if err := tab.Add(Route{Dst: pfx("10.0.0.0/8"), Iface: 3 + i}); err != nil {
				t.Error(err)
			}
		}
		if i%7 == 0 {
			tab.RemoveIface(2)
		}
	}
	close(stop)
	wg.Wait()
}

func BenchmarkTableLookup(b *testing.B) {
	var tab Table
	for i := range 256 {
		for _, bits := range []int{8, 16, 24, 32} {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), byte(i), 1}), bits).Masked()
			_ = tab.Add(Route{Dst: p, Iface: bits})
		}
	}
	_ = tab.Add(Route{Dst: pfx("0.0.0.0/0"), Iface: 1})
	dst := addr("10.7.7.9")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := tab.Lookup(dst); !ok {
			b.Fatal("no route")
		}
	}
}
