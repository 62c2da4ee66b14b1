package stacknet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/arp"
	"github.com/stacknet/stacknet/proto/icmp"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/udp"
	"github.com/stacknet/stacknet/timers"
)

// Config configures a Stack. The zero Config is valid: a stack with a
// loopback interface at 127.0.0.1/8, no forwarding, the system clock, and
// no logging.
type Config struct {
	// Logger receives the stack's logs. At slog.LevelDebug it also gets a
	// trace of every packet's decoded headers. Nil means no logging.
	Logger *slog.Logger

	// Clock drives the protocol timers. Nil means the system clock; tests
	// pass a *timers.Fake.
	Clock timers.Clock

	// Forwarding makes the stack a router: datagrams for other hosts that
	// arrive on one interface leave by the route's (RFC 1812).
	Forwarding bool

	// NoLoopback leaves out the loopback interface at 127.0.0.1/8.
	NoLoopback bool

	// TTL of the datagrams the stack sends; 0 means 64, as Linux.
	TTL uint8

	// ARP configures each interface's neighbour cache.
	ARP arp.Config

	// Reassembly bounds IPv4 reassembly: its timeout and memory.
	Reassembly ipv4.ReasmConfig

	// ICMPRate and ICMPBurst limit the ICMP errors the stack sends, as a
	// token bucket; 0 means Linux's 1000 per second with a burst of 50.
	ICMPRate, ICMPBurst int

	// UDPReceiveBuffer is each UDP socket's receive buffer in bytes; 0 means
	// 212992, Linux's net.core.rmem_default.
	UDPReceiveBuffer int

	// TCP configures TCP: buffers, congestion control, listen queues.
	TCP TCPConfig

	// DNSServers are the DNS servers Dial, DialContext and LookupNetIP
	// ask, in order, for the IPv4 addresses of names, over the stack
	// itself: UDP, and TCP when an answer is truncated, waiting 5 s for
	// each answer and going round the servers twice, as package net's
	// resolver does by default. Nil means names are not looked up: a
	// dial to one fails with a *net.DNSError.
	DNSServers []netip.AddrPort
}

// Stack is one TCP/IP stack: its interfaces, routes, sockets and timers.
// Two Stacks in one process share nothing. All methods are safe for
// concurrent use.
type Stack struct {
	// stats comes first: its uint64 counters are updated with
	// sync/atomic, which on 32-bit systems needs the 8-byte alignment Go
	// guarantees only for the first word of an allocated struct.
	stats counters

	cfg    Config
	log    *slog.Logger
	timers *timers.Service
	bufs   bufPool
	ids    *ipv4.IDGen
	routes ipv4.Table
	reasm  *ipv4.Reassembler
	icmpRL *icmp.RateLimiter
	udp    *udp.Table[*UDPConn]
	tcp    tcpStack
	pings  pinger

	// ifaces is read on every packet, so it is a snapshot replaced whole
	// (under mu) when an interface is added, and read without a lock.
	ifaces atomic.Pointer[ifaceSet]

	mu     sync.Mutex
	closed bool
	socks  map[closer]struct{} // open sockets, closed by Stack.Close
	done   chan struct{}       // closed by Close
	wg     sync.WaitGroup      // the interfaces' reader goroutines
}

// closer is a socket that Stack.Close must close.
type closer interface{ stackClosed() }

// New returns a stack configured by cfg.
func New(cfg Config) (*Stack, error) {
	if cfg.TTL == 0 {
		cfg.TTL = 64
	}
	if cfg.UDPReceiveBuffer == 0 {
		cfg.UDPReceiveBuffer = 212992
	}
	if cfg.UDPReceiveBuffer < 0 {
		return nil, errors.New("stacknet: Config.UDPReceiveBuffer is negative")
	}
	if err := cfg.TCP.check(); err != nil {
		return nil, err
	}
	cfg.DNSServers = slices.Clone(cfg.DNSServers) // the caller's slice is theirs to change
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Stack{
		cfg:    cfg,
		log:    log,
		timers: timers.New(cfg.Clock),
		ids:    ipv4.NewIDGen(),
		icmpRL: icmp.NewRateLimiter(cfg.ICMPRate, cfg.ICMPBurst),
		udp:    udp.NewTable[*UDPConn](),
		socks:  make(map[closer]struct{}),
		done:   make(chan struct{}),
	}
	s.ifaces.Store(&ifaceSet{})
	s.tcp.init()
	s.pings.init()
	s.reasm = ipv4.NewReassembler(cfg.Reassembly, s.timers, s.reassemblyTimedOut)
	if !cfg.NoLoopback {
		if _, err := s.AddInterface(link.Loopback(0), netip.MustParsePrefix("127.0.0.1/8")); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// AddInterface attaches dev to the stack with address addr (for example
// 192.0.2.2/24), adds the route to addr's subnet through it, starts
// reading its frames, and announces the address with a gratuitous ARP.
func (s *Stack) AddInterface(dev link.Device, addr netip.Prefix) (*Interface, error) {
	if !addr.IsValid() || !addr.Addr().Is4() {
		return nil, fmt.Errorf("stacknet: interface address %v is not an IPv4 prefix such as 192.0.2.2/24", addr)
	}
	if dev.Kind() == link.Ethernet {
		if _, err := etherAddrOf(dev); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errStackClosed
	}
	old := s.ifaces.Load()
	if old.isLocal(addr.Addr()) {
		s.mu.Unlock()
		return nil, fmt.Errorf("stacknet: address %v is already on an interface", addr.Addr())
	}
	ifc := newInterface(s, len(old.list), dev, addr)
	s.ifaces.Store(old.with(ifc))
	// Counted under mu, so that Close, which sets closed under mu and
	// then waits, always waits for this reader too.
	s.wg.Add(1)
	s.mu.Unlock()

	// The subnet is on the link; our own address is reached through the
	// loopback, as Linux's local table does.
	if err := s.routes.Add(ipv4.Route{Dst: addr.Masked(), Iface: ifc.index, Src: addr.Addr()}); err != nil && !errors.Is(err, ipv4.ErrRouteExists) {
		return nil, err
	}
	if lo := s.loopback(); lo != nil && lo != ifc {
		s.routes.Add(ipv4.Route{Dst: netip.PrefixFrom(addr.Addr(), 32), Iface: lo.index, Src: addr.Addr()})
	}
	go ifc.readLoop()
	ifc.announce()
	s.log.Info("interface up", "dev", ifc.name, "addr", addr, "mac", ifc.hwString(), "mtu", ifc.mtu)
	return ifc, nil
}

// AddRoute adds a route to dst through gateway, which must be on the
// subnet of one of the stack's interfaces. A zero gateway makes dst
// directly reachable on the interface whose subnet holds dst's address.
// AddRoute(netip.MustParsePrefix("0.0.0.0/0"), gw) sets the default route.
func (s *Stack) AddRoute(dst netip.Prefix, gateway netip.Addr) error {
	if !dst.IsValid() || !dst.Addr().Is4() {
		return fmt.Errorf("stacknet: route destination %v is not an IPv4 prefix", dst)
	}
	hop := gateway
	if !hop.IsValid() {
		hop = dst.Addr()
	} else if !hop.Is4() {
		return fmt.Errorf("stacknet: gateway %v is not an IPv4 address", gateway)
	}
	var ifc *Interface
	for _, i := range s.ifaces.Load().list {
		if i.dev.Kind() == link.Ethernet && i.addr.Contains(hop) {
			ifc = i
			break
		}
	}
	if ifc == nil {
		return fmt.Errorf("stacknet: %v is not on the subnet of any interface: add the interface first", hop)
	}
	return s.routes.Add(ipv4.Route{Dst: dst.Masked(), Gateway: gateway, Iface: ifc.index, Src: ifc.addr.Addr()})
}

// Routes returns the routing table.
func (s *Stack) Routes() []ipv4.Route { return s.routes.Routes() }

// Interfaces returns the stack's interfaces, the loopback first.
func (s *Stack) Interfaces() []*Interface {
	return append([]*Interface(nil), s.ifaces.Load().list...)
}

// Stats returns a snapshot of the stack's counters.
func (s *Stack) Stats() Stats {
	st := s.stats.snapshot()
	r := s.reasm.Stats()
	st.IP.ReasmReqds, st.IP.ReasmOKs, st.IP.ReasmFails = r.ReasmReqds, r.ReasmOKs, r.ReasmFails
	st.IP.ReasmTimeout, st.IP.ReasmOverlaps = r.Timeouts, r.Overlaps
	for _, ifc := range s.Interfaces() {
		if ifc.arp == nil {
			continue
		}
		a := ifc.arp.Stats()
		st.ARP.Resolved += a.Resolved
		st.ARP.Failed += a.Failed
		st.ARP.QueueDrops += a.QueueDrops
		st.ARP.Evictions += a.Evictions
	}
	return st
}

var errStackClosed = errors.New("stacknet: stack closed")

// Close shuts the stack down: every socket is closed, so that every
// blocked call returns net.ErrClosed; every device is closed; every reader
// goroutine has returned and every timer is stopped when Close returns.
func (s *Stack) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	socks := make([]closer, 0, len(s.socks))
	for c := range s.socks {
		socks = append(socks, c)
	}
	clear(s.socks)
	ifaces := s.ifaces.Load().list
	s.mu.Unlock()

	for _, c := range socks {
		c.stackClosed()
	}
	s.tcp.closeAll()
	s.pings.closeAll()
	var errs []error
	for _, ifc := range ifaces {
		if err := ifc.dev.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing %s: %w", ifc.name, err))
		}
	}
	s.wg.Wait()
	for _, ifc := range ifaces {
		if ifc.arp != nil {
			ifc.arp.Close()
		}
	}
	s.reasm.Close()
	s.timers.CloseWait()
	return errors.Join(errs...)
}

// register records an open socket; it fails once the stack is closed.
func (s *Stack) register(c closer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	s.socks[c] = struct{}{}
	return nil
}

func (s *Stack) unregister(c closer) {
	s.mu.Lock()
	delete(s.socks, c)
	s.mu.Unlock()
}

// iface returns the interface with index i.
func (s *Stack) iface(i int) *Interface {
	l := s.ifaces.Load().list
	if i < 0 || i >= len(l) {
		return nil
	}
	return l[i]
}

func (s *Stack) loopback() *Interface {
	for _, i := range s.ifaces.Load().list {
		if i.kind == link.IP {
			return i
		}
	}
	return nil
}

// ifaceSet is an immutable snapshot of the interfaces and their
// addresses.
type ifaceSet struct {
	list   []*Interface // by index; the loopback first unless NoLoopback
	addrs  []netip.Addr // the interfaces' own addresses
	bcasts []netip.Addr // their subnets' directed broadcast addresses
}

// with returns a new set with ifc added.
func (set *ifaceSet) with(ifc *Interface) *ifaceSet {
	n := &ifaceSet{
		list:   append(append([]*Interface(nil), set.list...), ifc),
		addrs:  append(append([]netip.Addr(nil), set.addrs...), ifc.addr.Addr()),
		bcasts: append([]netip.Addr(nil), set.bcasts...),
	}
	if ifc.kind == link.Ethernet && ifc.addr.Bits() < 31 {
		n.bcasts = append(n.bcasts, ifc.bcast)
	}
	return n
}

// isBroadcast reports whether a is the directed broadcast address of one
// of the interfaces' subnets.
func (set *ifaceSet) isBroadcast(a netip.Addr) bool {
	for _, b := range set.bcasts {
		if a == b {
			return true
		}
	}
	return false
}

// isLocal reports whether a is one of the interfaces' addresses.
func (set *ifaceSet) isLocal(a netip.Addr) bool {
	for _, b := range set.addrs {
		if a == b {
			return true
		}
	}
	return false
}

// now is the protocol clock's time.
func (s *Stack) now() time.Time { return s.timers.Now() }

// tracing reports whether the packet trace is on. It is checked before
// any trace work, so a trace that is off costs one call.
func (s *Stack) tracing() bool {
	return s.log.Enabled(context.Background(), slog.LevelDebug)
}
