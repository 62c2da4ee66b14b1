package ipv4

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
)

// Errors of the routing table.
var (
	ErrRouteExists = errors.New("ipv4: route exists")
	ErrNoRoute     = errors.New("ipv4: no route to host")
)

// MinMTU is the smallest MTU an IPv4 link may have: every module must be
// able to forward a 68-byte datagram without fragmenting it further
// (RFC 791 3.2, "Fragmentation and Reassembly"), which is a 60-byte header
// and 8 bytes of data.
const MinMTU = 68

// Route is one entry of the routing table.
type Route struct {
	Dst     netip.Prefix // masked
	Gateway netip.Addr   // zero Addr: the destination is on the link
	Iface   int          // the stack's index of the outgoing interface
	Src     netip.Addr   // preferred source address (source-address selection by route)
	MTU     int          // 0: the interface's
}

// NextHop returns the address to resolve on the link to reach dst by r:
// the gateway if there is one, dst itself otherwise.
func (r Route) NextHop(dst netip.Addr) netip.Addr {
	if r.Gateway.IsValid() {
		return r.Gateway
	}
	return dst
}

// Table is a routing table with longest-prefix-match lookup
// (RFC 1812 5.2.4.3). Its zero value is an empty table. It is safe for
// concurrent use: writers are serialised and publish a new immutable
// snapshot (copy-on-write), so Lookup takes no lock and never allocates.
type Table struct {
	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[routeSnap]
}

// routeSnap is one immutable version of the table.
type routeSnap struct {
	// routes in the order they were added; the first of equal prefixes
	// wins (RFC 1812 5.2.4.3 leaves ties to the implementation).
	routes []Route
	// byLen holds one entry per prefix length present, longest first.
	byLen []lenClass
}

// lenClass is the set of routes of one prefix length, keyed by the masked
// destination as a big-endian integer. The value is an index into
// routeSnap.routes: the first route added for that destination.
type lenClass struct {
	bits int
	mask uint32
	dst  map[uint32]int
}

// Add inserts r, with its destination masked. It fails with
// ErrRouteExists if a route to the same prefix through the same interface
// exists, and with an error for a prefix that is not IPv4, a gateway or
// source that is not IPv4, or an MTU below MinMTU.
func (t *Table) Add(r Route) error {
	if !r.Dst.IsValid() || !r.Dst.Addr().Is4() {
		return fmt.Errorf("ipv4: route destination %v is not an IPv4 prefix", r.Dst)
	}
	if r.Gateway.IsValid() && !r.Gateway.Is4() {
		return fmt.Errorf("ipv4: route gateway %v is not an IPv4 address", r.Gateway)
	}
	if r.Src.IsValid() && !r.Src.Is4() {
		return fmt.Errorf("ipv4: route source %v is not an IPv4 address", r.Src)
	}
	if r.MTU != 0 && r.MTU < MinMTU {
		return fmt.Errorf("ipv4: route MTU %d below %d", r.MTU, MinMTU)
	}
	r.Dst = r.Dst.Masked()
	t.mu.Lock()
	defer t.mu.Unlock()
	var old []Route
	if s := t.snap.Load(); s != nil {
		old = s.routes
	}
	for _, o := range old {
		if o.Dst == r.Dst && o.Iface == r.Iface {
			return ErrRouteExists
		}
	}
	routes := make([]Route, len(old), len(old)+1)
	copy(routes, old)
	t.publish(append(routes, r))
	return nil
}

// Remove deletes the route to dst (masked) through iface and reports
// whether there was one.
func (t *Table) Remove(dst netip.Prefix, iface int) bool {
	dst = dst.Masked()
	return t.removeIf(func(r Route) bool { return r.Dst == dst && r.Iface == iface }) > 0
}

// RemoveIface deletes every route through iface, as when the interface
// goes down, and returns how many there were.
func (t *Table) RemoveIface(iface int) int {
	return t.removeIf(func(r Route) bool { return r.Iface == iface })
}

func (t *Table) removeIf(del func(Route) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.snap.Load()
	if s == nil {
		return 0
	}
	routes := slices.DeleteFunc(slices.Clone(s.routes), del)
	n := len(s.routes) - len(routes)
	if n > 0 {
		t.publish(routes)
	}
	return n
}

// publish builds the lookup structure for routes and makes it current.
// The caller holds t.mu; routes is not modified afterwards.
func (t *Table) publish(routes []Route) {
	s := &routeSnap{routes: routes}
	for i, r := range routes {
		bits := r.Dst.Bits()
		j := slices.IndexFunc(s.byLen, func(c lenClass) bool { return c.bits == bits })
		if j < 0 {
			s.byLen = append(s.byLen, lenClass{bits: bits, mask: prefixMask(bits), dst: make(map[uint32]int)})
			j = len(s.byLen) - 1
		}
		key := addrUint32(r.Dst.Addr())
		if _, ok := s.byLen[j].dst[key]; !ok {
			s.byLen[j].dst[key] = i
		}
	}
	slices.SortFunc(s.byLen, func(a, b lenClass) int { return b.bits - a.bits })
	t.snap.Store(s)
}

// Lookup returns the route to dst: the one with the longest prefix that
// contains dst, and among routes to the same prefix the first added
// (RFC 1812 5.2.4.3, steps "basic match" and "longest match"). An
// IPv4-mapped IPv6 address is looked up as the IPv4 address it maps.
// It takes no lock and does not allocate.
func (t *Table) Lookup(dst netip.Addr) (Route, bool) {
	s := t.snap.Load()
	if s == nil {
		return Route{}, false
	}
	dst = dst.Unmap()
	if !dst.Is4() {
		return Route{}, false
	}
	a := addrUint32(dst)
	for i := range s.byLen {
		c := &s.byLen[i]
		if j, ok := c.dst[a&c.mask]; ok {
			return s.routes[j], true
		}
	}
	return Route{}, false
}

// Routes returns a copy of the table in lookup precedence: longest prefix
// first, and among equal prefix lengths in the order added.
func (t *Table) Routes() []Route {
	s := t.snap.Load()
	if s == nil {
		return nil
	}
	out := slices.Clone(s.routes)
	slices.SortStableFunc(out, func(a, b Route) int { return b.Dst.Bits() - a.Dst.Bits() })
	return out
}

// Len returns the number of routes.
func (t *Table) Len() int {
	s := t.snap.Load()
	if s == nil {
		return 0
	}
	return len(s.routes)
}

func prefixMask(bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

// addrUint32 returns an IPv4 address as a big-endian integer.
func addrUint32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
