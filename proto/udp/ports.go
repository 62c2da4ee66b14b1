package udp

import (
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"slices"
	"sync"
)

// Errors returned by Table.
var (
	// ErrAddrInUse means another binding holds the port at the same
	// address or at the wildcard (EADDRINUSE).
	ErrAddrInUse = errors.New("udp: address already in use")

	// ErrNoPorts means every ephemeral port is taken. Linux reports this
	// as EADDRINUSE from bind(2) with port 0 (__inet_bind), and as EAGAIN
	// when connect(2) or sendto(2) bind the socket implicitly
	// (inet_autobind): the facade should do the same.
	ErrNoPorts = errors.New("udp: no ephemeral port available")

	// ErrNotBound means Connect named a binding that does not exist.
	ErrNotBound = errors.New("udp: socket not bound at that address")
)

// The ephemeral port range, Linux's default net.ipv4.ip_local_port_range.
const (
	EphemeralMin uint16 = 32768
	EphemeralMax uint16 = 60999
)

// Table demultiplexes received datagrams to sockets and hands out
// ephemeral ports. The values of type T name the sockets (typically a
// pointer to the socket); they must be distinct for distinct sockets.
//
// Binding rules are those of a Linux UDP socket without SO_REUSEADDR or
// SO_REUSEPORT: two bindings conflict if they have the same port and
// either the same address or either address is the wildcard (the
// unspecified address). Addresses are compared after unmapping
// IPv4-mapped IPv6 addresses; the zero netip.Addr means the IPv4 wildcard
// 0.0.0.0. Apart from that the table does not care about address families.
//
// A Table is safe for concurrent use. Lookup takes a read lock and never
// allocates; Bind, Connect and Unbind take the write lock.
type Table[T comparable] struct {
	mu     sync.RWMutex
	ports  map[uint16][]binding[T]
	n      int
	lo, hi uint16
	rng    *mrand.Rand // guarded by mu (write lock); seeded from crypto/rand
}

// binding is one bound socket.
type binding[T comparable] struct {
	addr   netip.Addr     // local address, possibly unspecified
	remote netip.AddrPort // connected peer; invalid if not connected
	v      T
}

// NewTable returns an empty table with the default ephemeral port range
// and a random generator seeded from crypto/rand, private to the table.
func NewTable[T comparable]() *Table[T] {
	var seed [32]byte
	rand.Read(seed[:]) // never fails (crypto/rand, Go 1.24+)
	return &Table[T]{
		ports: make(map[uint16][]binding[T]),
		lo:    EphemeralMin,
		hi:    EphemeralMax,
		rng:   mrand.New(mrand.NewChaCha8(seed)),
	}
}

// SetPortRange sets the range [lo, hi] that Bind picks ephemeral ports
// from, like net.ipv4.ip_local_port_range. Bindings already made are
// untouched. It fails if lo is 0 or lo > hi.
func (t *Table[T]) SetPortRange(lo, hi uint16) error {
	if lo == 0 || lo > hi {
		return fmt.Errorf("udp: bad ephemeral port range %d-%d", lo, hi)
	}
	t.mu.Lock()
	t.lo, t.hi = lo, hi
	t.mu.Unlock()
	return nil
}

// PortRange returns the ephemeral port range.
func (t *Table[T]) PortRange() (lo, hi uint16) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.lo, t.hi
}

// norm returns the form of a local address the table stores.
func norm(a netip.Addr) netip.Addr {
	if !a.IsValid() {
		return netip.IPv4Unspecified()
	}
	return a.Unmap()
}

// normPeer returns the form of a peer address the table stores.
func normPeer(p netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(p.Addr().Unmap(), p.Port())
}

// Bind binds v to local and returns the bound address. If local's port is
// 0 it picks a free ephemeral port: RFC 6056 3.3.1 (Algorithm 1, "simple
// port randomization"): a random first port in the range, then a linear
// search, wrapping, for one that does not conflict. It fails with
// ErrAddrInUse if the port is taken and ErrNoPorts if none is free.
func (t *Table[T]) Bind(local netip.AddrPort, v T) (netip.AddrPort, error) {
	addr := norm(local.Addr())
	port := local.Port()
	t.mu.Lock()
	defer t.mu.Unlock()
	if port == 0 {
		// RFC 6056 3.3.1: next_ephemeral = min_ephemeral +
		// (random() % num_ephemeral), then count = num_ephemeral tries.
		num := uint32(t.hi-t.lo) + 1
		off := t.rng.Uint32N(num)
		for range num {
			p := t.lo + uint16(off)
			if !t.conflicts(p, addr) {
				port = p
				break
			}
			off++
			if off == num {
				off = 0
			}
		}
		if port == 0 {
			return netip.AddrPort{}, ErrNoPorts
		}
	} else if t.conflicts(port, addr) {
		return netip.AddrPort{}, ErrAddrInUse
	}
	t.insert(port, binding[T]{addr: addr, v: v})
	return netip.AddrPortFrom(addr, port), nil
}

// conflicts reports whether binding addr at port would clash with a
// binding already there. Call with t.mu held.
func (t *Table[T]) conflicts(port uint16, addr netip.Addr) bool {
	for _, b := range t.ports[port] {
		if b.addr == addr || b.addr.IsUnspecified() || addr.IsUnspecified() {
			return true
		}
	}
	return false
}

// insert adds b at port without checking for conflicts. Call with t.mu
// held for writing.
func (t *Table[T]) insert(port uint16, b binding[T]) {
	t.ports[port] = append(t.ports[port], b)
	t.n++
}

// find returns the index of v's binding at local, or -1. Call with t.mu
// held.
func (t *Table[T]) find(local netip.AddrPort, v T) (uint16, int) {
	port, addr := local.Port(), norm(local.Addr())
	for i, b := range t.ports[port] {
		if b.v == v && b.addr == addr {
			return port, i
		}
	}
	return port, -1
}

// Connect records remote as the peer of v, bound at local: from then on
// Lookup gives v only datagrams from remote, and prefers it over sockets
// that are only bound. A remote port of 0 matches any source port, as in
// Linux. The zero remote clears the peer (connect(2) with AF_UNSPEC). It
// fails with ErrNotBound if v is not bound at local.
//
// Connect does not change the local address: a socket bound to the
// wildcard stays so (Linux would narrow it to the source address its
// route picks; the facade can Unbind and Bind again to do the same).
func (t *Table[T]) Connect(local netip.AddrPort, v T, remote netip.AddrPort) error {
	if remote.IsValid() {
		remote = normPeer(remote)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	port, i := t.find(local, v)
	if i < 0 {
		return ErrNotBound
	}
	t.ports[port][i].remote = remote
	return nil
}

// Unbind removes v's binding at local. It does nothing if there is none.
func (t *Table[T]) Unbind(local netip.AddrPort, v T) {
	t.mu.Lock()
	defer t.mu.Unlock()
	port, i := t.find(local, v)
	if i < 0 {
		return
	}
	if bs := t.ports[port]; len(bs) == 1 {
		delete(t.ports, port)
	} else {
		// Readers are locked out, so shifting in place is safe;
		// slices.Delete zeroes the freed slot for the collector.
		t.ports[port] = slices.Delete(bs, i, i+1)
	}
	t.n--
}

// Lookup returns the socket that should receive a datagram sent to dst
// from src, choosing the most specific binding as Linux's compute_score
// does, simplified: a binding must have dst's port and either dst's
// address or the wildcard; a connected binding must also be connected to
// src, and then beats every unconnected one; among equals, a specific
// local address beats the wildcard. A connected socket never receives
// datagrams from other peers.
func (t *Table[T]) Lookup(dst, src netip.AddrPort) (T, bool) {
	daddr := dst.Addr().Unmap()
	src = normPeer(src)
	t.mu.RLock()
	defer t.mu.RUnlock()
	var best T
	score := -1
	bs := t.ports[dst.Port()]
	for i := range bs {
		b := &bs[i]
		s := 0
		switch {
		case b.addr == daddr:
			s = 1
		case b.addr.IsUnspecified():
		default:
			continue
		}
		if b.remote.IsValid() {
			if b.remote.Addr() != src.Addr() || b.remote.Port() != 0 && b.remote.Port() != src.Port() {
				continue
			}
			s += 2
		}
		if s > score {
			best, score = b.v, s
		}
	}
	return best, score >= 0
}

// Len returns the number of bindings.
func (t *Table[T]) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.n
}
