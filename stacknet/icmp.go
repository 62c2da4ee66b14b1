package stacknet

import (
	"encoding/binary"
	"net/netip"
	"syscall"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/icmp"
	"github.com/stacknet/stacknet/proto/ipv4"
)

// icmpInput handles an ICMP message for this host.
func (s *Stack) icmpInput(i *Interface, h ipv4.Header, bcast bool) {
	add(&s.stats.ICMP.InMsgs)
	m, err := icmp.Parse(h.Payload())
	if err != nil {
		add(&s.stats.ICMP.InErrors)
		if err == icmp.ErrChecksum {
			add(&s.stats.ICMP.InCsumErrors)
		}
		return
	}
	if s.tracing() {
		s.trace("icmp input", i, m.String())
	}
	switch m.Type() {
	case icmp.TypeEcho:
		add(&s.stats.ICMP.InEchos)
		// Linux ignores echo requests to broadcast addresses
		// (icmp_echo_ignore_broadcasts, RFC 1122 3.2.2.6 allows it).
		if !bcast {
			s.echoReply(h, m)
		}
	case icmp.TypeEchoReply:
		add(&s.stats.ICMP.InEchoReps)
		s.pings.reply(h.Src(), m.ID(), m.Seq())
	case icmp.TypeDestUnreach, icmp.TypeTimeExceeded, icmp.TypeParamProblem:
		switch m.Type() {
		case icmp.TypeDestUnreach:
			add(&s.stats.ICMP.InDestUnreachs)
		case icmp.TypeTimeExceeded:
			add(&s.stats.ICMP.InTimeExcds)
		default:
			add(&s.stats.ICMP.InParmProbs)
		}
		var info uint32
		if m.Type() == icmp.TypeDestUnreach && m.Code() == icmp.CodeFragNeeded {
			info = uint32(m.NextHopMTU())
		}
		if q, ok := parseQuote(m.Body()); ok {
			s.errorToSocket(q, m.Type(), m.Code(), info, false)
		}
	default:
		add(&s.stats.ICMP.InUnknownTypes)
	}
}

// echoReply answers an echo request (RFC 792), with the request's data.
func (s *Stack) echoReply(h ipv4.Header, m icmp.Message) {
	r, err := s.findRoute(h.Src())
	if err != nil {
		return
	}
	pb := s.bufs.get(headroom + len(m))
	b := pb.b[headroom : headroom+len(m)]
	copy(b, m)
	icmp.Put(b, icmp.TypeEchoReply, 0, binary.BigEndian.Uint32(m[4:8]))
	add(&s.stats.ICMP.OutMsgs)
	add(&s.stats.ICMP.OutEchoReps)
	if s.tracing() {
		s.trace("icmp output", r.ifc, icmp.Message(b).String())
	}
	s.send(&r, pb, ipv4.ProtoICMP, h.Dst(), h.Src(), len(b))
}

// quote is the datagram an ICMP error quotes: its IP header and the start
// of its transport header.
type quote struct {
	raw       []byte // header and what follows, as quoted
	src, dst  netip.Addr
	proto     uint8
	fragOff   int
	transport []byte
}

// parseQuote reads a quoted datagram; ok is false if too little is quoted
// to say which socket it concerns.
func parseQuote(b []byte) (q quote, ok bool) {
	if len(b) < ipv4.HeaderLen || b[0]>>4 != 4 {
		return q, false
	}
	hl := int(b[0]&0x0f) * 4
	if hl < ipv4.HeaderLen || hl > len(b) {
		return q, false
	}
	q.raw = b
	q.src = netip.AddrFrom4([4]byte(b[12:16]))
	q.dst = netip.AddrFrom4([4]byte(b[16:20]))
	q.proto = b[9]
	q.fragOff = int(binary.BigEndian.Uint16(b[6:8])&0x1fff) * 8
	q.transport = b[hl:]
	return q, true
}

// errorToSocket delivers an ICMP error about a datagram we sent to the
// socket that sent it (RFC 1122 3.2.2.1, 4.1.3.3). local says the error
// arose here (the neighbour never answered ARP) rather than arriving.
func (s *Stack) errorToSocket(q quote, typ, code uint8, info uint32, local bool) {
	errno, fatal := icmpErrno(typ, code)
	switch q.proto {
	case ipv4.ProtoUDP:
		if len(q.transport) < 4 || q.fragOff != 0 {
			return
		}
		// Linux (__udp4_lib_err, without IP_RECVERR, which package net
		// never sets) records only hard errors on a connected socket,
		// and fragmentation needed as EMSGSIZE. stacknet also records a
		// neighbour that never answered ARP, so that a connected socket
		// to a dead neighbour fails rather than waits for ever.
		if !fatal && !local {
			return
		}
		if s.udpError(netip.AddrPortFrom(q.src, binary.BigEndian.Uint16(q.transport[0:2])),
			netip.AddrPortFrom(q.dst, binary.BigEndian.Uint16(q.transport[2:4])), errno) {
			add(&s.stats.ICMP.InErrorsDelivered)
		}
	case ipv4.ProtoTCP:
		if s.tcpError(q, typ, code, info, local) {
			add(&s.stats.ICMP.InErrorsDelivered)
		}
	case ipv4.ProtoICMP:
		if len(q.transport) < 8 || q.transport[0] != icmp.TypeEcho {
			return
		}
		id := binary.BigEndian.Uint16(q.transport[4:6])
		if s.pings.fail(q.dst, id, errno) { // ping(8) reports every error
			add(&s.stats.ICMP.InErrorsDelivered)
		}
	}
}

// localError reports an error about a datagram of our own that could not
// be sent, as if the ICMP error had arrived: Linux does the same when
// neighbour resolution fails.
func (s *Stack) localError(d ipv4.Header, typ, code uint8, info uint32) {
	if q, ok := parseQuote(d); ok {
		s.errorToSocket(q, typ, code, info, true)
	}
}

// icmpErrno maps an ICMP error to the errno Linux reports for it, and
// says whether Linux holds it fatal, a hard error for the socket
// (icmp_err_convert and the cases of __udp4_lib_err in the Linux kernel).
func icmpErrno(typ, code uint8) (errno syscall.Errno, fatal bool) {
	switch typ {
	case icmp.TypeDestUnreach:
		switch code {
		case icmp.CodeNetUnreach, 11: // 11: network unreachable for TOS
			return syscall.ENETUNREACH, false
		case icmp.CodeHostUnreach, 12: // 12: host unreachable for TOS
			return syscall.EHOSTUNREACH, false
		case icmp.CodeProtoUnreach:
			return syscall.ENOPROTOOPT, true
		case icmp.CodePortUnreach:
			return syscall.ECONNREFUSED, true
		case icmp.CodeFragNeeded:
			// Path MTU news; a connected socket sees EMSGSIZE
			// (IP_PMTUDISC_WANT, Linux's default).
			return syscall.EMSGSIZE, true
		case icmp.CodeSourceRoute:
			return syscall.EOPNOTSUPP, false
		case icmp.CodeNetUnknown, icmp.CodeNetProhibited:
			return syscall.ENETUNREACH, true
		case icmp.CodeHostUnknown:
			return syscall.EHOSTDOWN, true
		case 8: // source host isolated
			return errHostIsolated, true
		}
		// Host prohibited, administratively filtered, precedence.
		return syscall.EHOSTUNREACH, true
	case icmp.TypeParamProblem:
		return syscall.EPROTO, true
	}
	// Time exceeded.
	return syscall.EHOSTUNREACH, false
}

// sendICMPError sends an ICMP error about the datagram h, which arrived
// here or was being forwarded.
func (s *Stack) sendICMPError(h ipv4.Header, typ, code uint8, info uint32) {
	if q, ok := parseQuote(h); ok {
		s.sendICMPErrorQuote(q, typ, code, info)
	}
}

// sendICMPErrorQuote sends an ICMP error quoting q, unless RFC 1122
// 3.2.2 forbids one or the rate limit says no.
func (s *Stack) sendICMPErrorQuote(q quote, typ, code uint8, info uint32) {
	// RFC 1122 3.2.2: never about an ICMP error, a datagram to a broadcast
	// or multicast address, a fragment other than the first, or a datagram
	// whose source does not name a single host. (Callers have already
	// refused datagrams that came to a directed broadcast address.)
	if !icmp.MaySendError(ipv4.Header(q.raw), false) {
		return
	}
	r, err := s.findRoute(q.src)
	if err != nil {
		add(&s.stats.ICMP.OutErrors)
		return
	}
	// As Linux: errors to ourselves through the loopback are never
	// limited, nor is fragmentation needed, which path MTU discovery
	// depends on; the rest pass a per-destination and a global bucket.
	if r.ifc.kind != link.IP && icmp.RateLimited(typ, code) && !s.icmpRL.AllowTo(q.src, s.now()) {
		add(&s.stats.ICMP.OutRateLimited)
		return
	}
	src := r.src
	if s.isLocalAddr(q.dst) {
		src = q.dst
	}
	// RFC 1812 4.3.2.3: quote as much as fits in 576 bytes.
	n := min(len(q.raw), 576-ipv4.HeaderLen-icmp.HeaderLen)
	pb := s.bufs.get(headroom + icmp.HeaderLen + n)
	b := pb.b[headroom : headroom+icmp.HeaderLen+n]
	copy(b[icmp.HeaderLen:], q.raw[:n])
	icmp.Put(b, typ, code, info)
	add(&s.stats.ICMP.OutMsgs)
	switch typ {
	case icmp.TypeDestUnreach:
		add(&s.stats.ICMP.OutDestUnreachs)
	case icmp.TypeTimeExceeded:
		add(&s.stats.ICMP.OutTimeExcds)
	}
	if s.tracing() {
		s.trace("icmp output", r.ifc, icmp.Message(b).String())
	}
	s.send(&r, pb, ipv4.ProtoICMP, src, q.src, len(b))
}

// reassemblyTimedOut sends time exceeded (code 1) for a datagram whose
// fragments did not all arrive in time and whose first fragment did
// (RFC 1122 3.3.2).
func (s *Stack) reassemblyTimedOut(first []byte) {
	if q, ok := parseQuote(first); ok {
		q.fragOff = 0
		s.sendICMPErrorQuote(q, icmp.TypeTimeExceeded, icmp.CodeReasmTimeout, 0)
	}
}
