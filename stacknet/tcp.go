package stacknet

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/icmp"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/tcp"
)

// TCPConfig configures a stack's TCP. The zero value gives Linux's
// defaults, named on each field.
type TCPConfig struct {
	// Congestion is the congestion control of new connections: CUBIC
	// (the zero value, as net.ipv4.tcp_congestion_control on Linux) or
	// NewReno.
	Congestion tcp.Algorithm

	// SendBuffer is each connection's send buffer in bytes; 0 means
	// 4 MiB, what Linux's autotuning reaches (tcp_wmem[2]).
	SendBuffer int
	// ReceiveBuffer is each connection's initial receive buffer, 0
	// meaning 128 KiB (tcp_rmem[1]); ReceiveBufferMax the most that
	// autotuning grows it to, 0 meaning 6 MiB (tcp_rmem[2]).
	ReceiveBuffer, ReceiveBufferMax int

	// ListenBacklog is the accept queue of Listen and ListenTCP: the
	// connections that completed the handshake and wait for Accept.
	// 0 means 4096, Linux's net.core.somaxconn, which is what package
	// net asks for.
	ListenBacklog int
	// SynBacklog bounds each listener's SYN queue, the connections still
	// in SYN-RECEIVED. 0 means the listen backlog: on Linux a listener's
	// SYN queue is full when it holds as many requests as its backlog
	// (inet_csk_reqsk_queue_is_full).
	SynBacklog int
	// NoSynCookies makes a listener with a full SYN queue drop new SYNs
	// instead of answering them with SYN cookies (RFC 4987 3.6; Linux's
	// net.ipv4.tcp_syncookies=0).
	NoSynCookies bool

	// NoWScale, NoSACK and NoTimestamps leave the options out of the
	// handshakes (tcp_window_scaling, tcp_sack and tcp_timestamps = 0).
	NoWScale, NoSACK, NoTimestamps bool

	// TimeWait is how long a connection stays in TIME-WAIT; 0 means
	// 60 s (2 MSL, Linux's TCP_TIMEWAIT_LEN).
	TimeWait time.Duration
	// SynRetries is how many times a SYN is retransmitted before Dial
	// gives up with ETIMEDOUT; 0 means 6 (tcp_syn_retries), about 127 s.
	SynRetries int
	// UserTimeout is TCP_USER_TIMEOUT (RFC 5482) for every connection:
	// how long sent data may go unacknowledged before the connection
	// fails with ETIMEDOUT; 0 leaves it to the retransmission count, as
	// Linux does. TCPConn.SetUserTimeout changes it per connection.
	UserTimeout time.Duration

	// EphemeralPorts is the range, first and last, that local ports are
	// chosen from; the zero value means 32768-60999, Linux's
	// net.ipv4.ip_local_port_range.
	EphemeralPorts [2]uint16
}

// Linux's defaults.
const (
	defaultListenBacklog = 4096 // net.core.somaxconn
	defaultEphemeralLow  = 32768
	defaultEphemeralHigh = 60999
)

// tcpKey names a connection by its 4-tuple, IPv4 only, compactly: a map
// keyed by it hashes 12 bytes.
type tcpKey struct {
	laddr, raddr [4]byte
	lport, rport uint16
}

func makeTCPKey(local, remote netip.AddrPort) tcpKey {
	return tcpKey{laddr: local.Addr().As4(), raddr: remote.Addr().As4(), lport: local.Port(), rport: remote.Port()}
}

// tcpStack is a stack's TCP: its demultiplexing tables, its initial
// sequence numbers and SYN cookies, and the ephemeral port allocator.
type tcpStack struct {
	isn     *tcp.ISNGen
	cookies *tcp.SynCookies

	// down is set first thing by Stack.Close: from then on every
	// connection counts as closed by its user, those that already
	// reached CLOSED (and so are in no table) included.
	down atomic.Bool

	mu     sync.RWMutex
	closed bool                            // the stack is closed: no new connection
	conns  map[tcpKey]*TCPConn             // every connection not CLOSED, by 4-tuple
	lns    map[netip.AddrPort]*TCPListener // listeners by local address; 0.0.0.0 for any
	// bound counts the connections using each local port as their own,
	// by an explicit bind or an ephemeral choice for a dial: a listener
	// may not take such a port (Linux's bind-conflict rule for sockets
	// that did not set SO_REUSEADDR, as package net's dials do not).
	bound map[uint16]int

	// The ephemeral port allocator: RFC 6056 3.3.3 (algorithm 3, double
	// hash), with a secret key and a table of counters.
	portKey [16]byte
	perturb [256]uint16
}

func (t *tcpStack) init() {
	t.isn = tcp.NewISNGen()
	t.cookies = tcp.NewSynCookiesFor(t.isn)
	t.conns = make(map[tcpKey]*TCPConn)
	t.lns = make(map[netip.AddrPort]*TCPListener)
	t.bound = make(map[uint16]int)
	rand.Read(t.portKey[:])
}

// lookup finds the connection for a segment from remote to local.
func (t *tcpStack) lookup(k tcpKey) *TCPConn {
	t.mu.RLock()
	c := t.conns[k]
	t.mu.RUnlock()
	return c
}

// listener finds the listener for local: the one bound to its address,
// else one bound to every address.
func (t *tcpStack) listener(local netip.AddrPort) *TCPListener {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if l := t.lns[local]; l != nil {
		return l
	}
	return t.lns[netip.AddrPortFrom(netip.IPv4Unspecified(), local.Port())]
}

// portListened reports whether a listener holds port on an address that
// overlaps a. t.mu is held.
func (t *tcpStack) portListenedLocked(a netip.Addr, port uint16) bool {
	any := netip.IPv4Unspecified()
	if t.lns[netip.AddrPortFrom(any, port)] != nil {
		return true
	}
	if a.IsUnspecified() {
		for ap := range t.lns {
			if ap.Port() == port {
				return true
			}
		}
		return false
	}
	return t.lns[netip.AddrPortFrom(a, port)] != nil
}

// ephemeralRange returns the first port and the number of ports.
func (s *Stack) ephemeralRange() (first, n uint32) {
	lo, hi := s.cfg.TCP.EphemeralPorts[0], s.cfg.TCP.EphemeralPorts[1]
	if lo == 0 && hi == 0 {
		lo, hi = defaultEphemeralLow, defaultEphemeralHigh
	}
	return uint32(lo), uint32(hi) - uint32(lo) + 1
}

// insertConn puts c in the table under the 4-tuple from local to remote.
// A local port of 0 is chosen from the ephemeral range (RFC 6056 3.3.3:
// F(local address, remote address, remote port) picks where to start,
// a counter chosen by G of the same advances for each connection to
// that destination); the port may be shared with other connections to
// other destinations, as on Linux. It fails with EADDRNOTAVAIL when every
// port is taken for this destination or when the 4-tuple is in use, and
// with EADDRINUSE when an explicit port is a listener's.
func (s *Stack) insertConn(c *TCPConn, local, remote netip.AddrPort) (netip.AddrPort, error) {
	t := &s.tcp
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return local, errClosed
	}
	if local.Port() != 0 {
		k := makeTCPKey(local, remote)
		switch {
		case t.portListenedLocked(local.Addr(), local.Port()) || t.bound[local.Port()] > 0:
			// Linux: bind to a port another socket holds, neither of
			// them with SO_REUSEADDR set.
			return local, syscall.EADDRINUSE
		case t.conns[k] != nil:
			return local, syscall.EADDRNOTAVAIL
		}
		t.conns[k] = c
		t.bound[local.Port()]++
		return local, nil
	}
	first, n := s.ephemeralRange()
	var msg [4 + 4 + 2 + 16]byte
	la, ra := local.Addr().As4(), remote.Addr().As4()
	copy(msg[0:], la[:])
	copy(msg[4:], ra[:])
	binary.BigEndian.PutUint16(msg[8:], remote.Port())
	copy(msg[10:], t.portKey[:])
	d := sha256.Sum256(msg[:])
	offset := binary.BigEndian.Uint32(d[0:4])
	idx := d[4]
	for i := range n {
		port := uint16(first + (offset+uint32(t.perturb[idx])+i)%n)
		ap := netip.AddrPortFrom(local.Addr(), port)
		k := makeTCPKey(ap, remote)
		if t.conns[k] != nil || t.portListenedLocked(local.Addr(), port) {
			continue
		}
		// RFC 6056 3.3.3: next_ephemeral[index] advances by the ports
		// tried, so the next connection to this destination starts
		// past this one.
		t.perturb[idx] += uint16(i + 1)
		t.conns[k] = c
		t.bound[port]++
		return ap, nil
	}
	return local, syscall.EADDRNOTAVAIL
}

// insertChild puts a connection a listener made in the table; it fails
// if the 4-tuple is taken.
func (t *tcpStack) insertChild(c *TCPConn, k tcpKey) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.conns[k] != nil {
		return false
	}
	t.conns[k] = c
	return true
}

// closeAll is the TCP part of Stack.Close: every connection in the table
// is aborted and closed for its user, and no new one is made. A
// connection that already reached CLOSED holds no timer and blocks no
// call; down makes it closed for its user too (closedLocked).
func (t *tcpStack) closeAll() {
	t.down.Store(true)
	t.mu.Lock()
	t.closed = true
	conns := make([]*TCPConn, 0, len(t.conns))
	for _, c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.destroy()
	}
}

// removeConn takes c out of the table, if it is still there.
func (t *tcpStack) removeConn(c *TCPConn) {
	t.mu.Lock()
	if t.conns[c.key] == c {
		delete(t.conns, c.key)
		if !c.passive {
			if t.bound[c.key.lport]--; t.bound[c.key.lport] <= 0 {
				delete(t.bound, c.key.lport)
			}
		}
	}
	t.mu.Unlock()
}

// tcpInput takes a TCP segment for this host (RFC 9293 3.10.7); its
// checksum is checked unless the device vouched for it (trusted).
func (s *Stack) tcpInput(i *Interface, h ipv4.Header, bcast, trusted bool) {
	if bcast {
		// RFC 1122 4.2.3.10: a SYN to a broadcast or multicast address
		// is discarded; TCP has no use for any such segment.
		add(&s.stats.TCP.InErrs)
		add(&s.stats.TCP.InNotUnicast)
		return
	}
	th, err := tcp.Parse(h.Payload())
	if err != nil {
		add(&s.stats.TCP.InErrs)
		add(&s.stats.TCP.InBadHeader)
		return
	}
	src4, dst4 := h.Src4(), h.Dst4()
	if !trusted && th.Verify(src4, dst4) != nil {
		add(&s.stats.TCP.InErrs)
		add(&s.stats.TCP.InCsumErrors)
		return
	}
	if s.tracing() {
		s.trace("tcp input", i, th.String())
	}
	seg, err := tcp.SegmentFrom(th)
	if err != nil {
		// RFC 9293 3.1 (MUST-7): an option whose length cannot be right.
		add(&s.stats.TCP.InErrs)
		add(&s.stats.TCP.InBadOptions)
		return
	}
	add(&s.stats.TCP.InSegs)
	k := tcpKey{laddr: dst4, raddr: src4, lport: th.DstPort(), rport: th.SrcPort()}
	if c := s.tcp.lookup(k); c != nil && c.input(&seg) {
		return
	}
	local := netip.AddrPortFrom(netip.AddrFrom4(dst4), k.lport)
	remote := netip.AddrPortFrom(netip.AddrFrom4(src4), k.rport)
	if l := s.tcp.listener(local); l != nil && l.input(k, local, remote, &seg) {
		return
	}
	add(&s.stats.TCP.InNoSocket)
	s.tcpReset(local, remote, &seg)
}

// tcpReset answers seg, which reached no connection, with a RST (RFC 9293
// 3.10.7.1) from local to remote.
func (s *Stack) tcpReset(local, remote netip.AddrPort, seg *tcp.Segment) {
	f, ok := tcp.ResetFor(seg)
	if !ok {
		return
	}
	f.SrcPort, f.DstPort = local.Port(), remote.Port()
	r, err := s.findRoute(remote.Addr())
	if err != nil {
		return
	}
	s.tcpOutput(&r, local.Addr(), remote.Addr(), &f, nil, nil, nil)
}

// tcpOutput builds a segment from its header fields, options and payload
// (p1 then p2) straight into a packet buffer, with the checksum unless the
// link offloads it, and
// sends it along r: one copy of the data, no allocation, no hand-off.
func (s *Stack) tcpOutput(r *route, src, dst netip.Addr, f *tcp.Fields, o *tcp.Options, p1, p2 []byte) {
	hl := tcp.HeaderLen + tcp.OptionsLen(o)
	n := hl + len(p1) + len(p2)
	pb := s.bufs.get(headroom + n)
	pb.gso = f.GSOSize
	b := pb.b[headroom : headroom+n]
	copy(b[hl:], p1)
	copy(b[hl+len(p1):], p2)
	if r.ifc.offload&link.OffloadChecksum != 0 {
		tcp.PutHeader(b, *f, o) // the link does not corrupt: no checksum, as on Linux's lo
	} else {
		tcp.Put(b, *f, o, src.As4(), dst.As4())
	}
	add(&s.stats.TCP.OutSegs)
	if f.Flags&tcp.RST != 0 {
		add(&s.stats.TCP.OutRsts)
	}
	if s.tracing() {
		s.trace("tcp output", r.ifc, tcp.Header(b).String())
	}
	s.send(r, pb, ipv4.ProtoTCP, src, dst, n)
}

// tcpError delivers an ICMP error about a segment we sent (q quotes it)
// to its connection, as Linux's tcp_v4_err does: fragmentation needed
// lowers the path MTU (RFC 1191); in SYN-SENT and SYN-RECEIVED a hard
// error fails the connection; any other error is soft, reported only if
// the connection later times out (RFC 1122 4.2.3.9, RFC 5461). local
// says the error arose here: the neighbour never answered ARP, which
// fails a connection attempt as a hard error would (Linux reports "no
// route to host" for it within the neighbour's resolution time).
func (s *Stack) tcpError(q quote, typ, code uint8, info uint32, local bool) bool {
	// RFC 5927 4.1 and Linux: at least the ports and the sequence number.
	if len(q.transport) < 8 || q.fragOff != 0 {
		return false
	}
	lport := binary.BigEndian.Uint16(q.transport[0:2])
	rport := binary.BigEndian.Uint16(q.transport[2:4])
	seq := tcp.Seq(binary.BigEndian.Uint32(q.transport[4:8]))
	k := tcpKey{laddr: q.src.As4(), raddr: q.dst.As4(), lport: lport, rport: rport}
	c := s.tcp.lookup(k)
	if c == nil {
		return false
	}
	if typ == icmp.TypeDestUnreach && code == icmp.CodeFragNeeded && !local {
		return c.pathMTU(seq, int(info))
	}
	errno, fatal := icmpErrno(typ, code)
	return c.icmpError(seq, errno, fatal || local)
}

// check reports a configuration that cannot work.
func (t *TCPConfig) check() error {
	switch {
	case t.SendBuffer < 0 || t.ReceiveBuffer < 0 || t.ReceiveBufferMax < 0:
		return errors.New("stacknet: a TCP buffer size is negative")
	case t.ListenBacklog < 0 || t.SynBacklog < 0 || t.SynRetries < 0 || t.TimeWait < 0 || t.UserTimeout < 0:
		return errors.New("stacknet: a TCP backlog, retry count, TIME-WAIT or user timeout is negative")
	case t.EphemeralPorts != [2]uint16{} && (t.EphemeralPorts[0] == 0 || t.EphemeralPorts[0] > t.EphemeralPorts[1]):
		return fmt.Errorf("stacknet: ephemeral port range %d-%d is empty or starts at 0", t.EphemeralPorts[0], t.EphemeralPorts[1])
	}
	return nil
}
