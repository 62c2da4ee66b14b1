package stacknet

import (
	"errors"
	"net/netip"
	"syscall"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/ether"
	"github.com/stacknet/stacknet/proto/icmp"
	"github.com/stacknet/stacknet/proto/ipv4"
)

// headroom is where a transport header starts in a packet buffer: after
// room for an Ethernet header and an IPv4 header without options.
const headroom = ether.HeaderLen + ipv4.HeaderLen

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// ipInput takes one datagram from interface i. lh is its link header:
// nil for the loopback, and for a copy of our own broadcast or multicast
// looped back to local sockets.
func (s *Stack) ipInput(i *Interface, b []byte, lh []byte) {
	add(&s.stats.IP.InReceives)
	h, err := ipv4.Parse(b)
	if err != nil {
		s.countIPHeaderError(err)
		return
	}
	if s.tracing() {
		s.trace("ip input", i, h.String())
	}
	src, dst := h.Src(), h.Dst()
	fromWire := lh != nil
	// RFC 1122 3.2.1.3, RFC 1812 5.3.7 and Linux's martian checks: a
	// datagram from a broadcast, multicast or this-network source, or
	// claiming one of our own addresses or a loopback one off the
	// loopback, is discarded; so is one from the wire to a loopback or
	// this-network destination.
	if src.IsMulticast() || src == limitedBroadcast || src.As4()[0] == 0 && !(src.IsUnspecified() && dst == limitedBroadcast) ||
		fromWire && (src.IsLoopback() || s.isLocalAddr(src)) {
		add(&s.stats.IP.InHdrErrors)
		add(&s.stats.IP.InBadSource)
		return
	}
	if fromWire && (dst.IsLoopback() || dst.As4()[0] == 0) {
		add(&s.stats.IP.InAddrErrors)
		return
	}
	// RFC 1122 3.3.6: a unicast datagram in a link-layer broadcast is
	// taken, but treated as a broadcast: it draws no ICMP error and is
	// never forwarded (RFC 1812 5.3.4).
	linkBcast := fromWire && ether.Addr(lh[0:6]).IsMulticast()
	bcast, local := s.destination(i, dst)
	bcast = bcast || linkBcast
	if !local {
		if s.cfg.Forwarding && fromWire && !bcast {
			s.forward(i, h)
			return
		}
		add(&s.stats.IP.InAddrErrors)
		return
	}
	if h.HeaderLen() > ipv4.HeaderLen && hasSourceRoute(h.Options()) {
		// Linux's default: accept_source_route=0 (RFC 1122 3.3.5 leaves
		// it to the host; RFC 7126 advises dropping).
		add(&s.stats.IP.InDiscards)
		return
	}
	// A device with checksum offload vouches for the frames it delivers;
	// a segment put together from fragments it never saw whole, it does
	// not.
	trusted := i.offload&link.OffloadChecksum != 0
	if h.IsFragment() {
		whole, err := s.reasm.Add(h)
		if err != nil || whole == nil {
			return // counted by the reassembler
		}
		h, trusted = whole, false
	}
	s.deliver(i, h, bcast, trusted)
}

// hasSourceRoute reports whether the options hold a loose or strict
// source route (RFC 791 3.1: types 131 and 137).
func hasSourceRoute(opts []byte) bool {
	for len(opts) > 0 {
		switch t := opts[0]; t {
		case 0: // end of list
			return false
		case 1: // no operation
			opts = opts[1:]
		default:
			if t == 131 || t == 137 {
				return true
			}
			if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
				return false
			}
			opts = opts[opts[1]:]
		}
	}
	return false
}

// countIPHeaderError counts a datagram that failed validation.
func (s *Stack) countIPHeaderError(err error) {
	add(&s.stats.IP.InHdrErrors)
	switch {
	case errors.Is(err, ipv4.ErrShort):
		add(&s.stats.IP.InShort)
	case errors.Is(err, ipv4.ErrVersion):
		add(&s.stats.IP.InBadVersion)
	case errors.Is(err, ipv4.ErrHeaderLength):
		add(&s.stats.IP.InBadHdrLen)
	case errors.Is(err, ipv4.ErrTotalLength):
		add(&s.stats.IP.InBadTotalLen)
	case errors.Is(err, ipv4.ErrChecksum):
		add(&s.stats.IP.InCsumErrors)
	}
}

// destination says whether dst, arriving on i, is for this host, and
// whether it is a broadcast or multicast address. The stack follows the
// weak host model of Linux (RFC 1122 3.3.4.2): an address of any interface,
// and the broadcast address of any interface's subnet, is accepted on
// every interface; a directed broadcast is never forwarded (RFC 1812
// 5.3.5.2 makes forwarding one off by default).
func (s *Stack) destination(i *Interface, dst netip.Addr) (bcast, local bool) {
	set := s.ifaces.Load()
	switch {
	case dst == limitedBroadcast || set.isBroadcast(dst):
		return true, true
	case dst.IsMulticast():
		return true, i.member(dst)
	case i.kind == link.IP:
		return false, dst.IsLoopback() || set.isLocal(dst)
	}
	return false, set.isLocal(dst)
}

// isLocalAddr reports whether a is the address of one of the interfaces.
func (s *Stack) isLocalAddr(a netip.Addr) bool { return s.ifaces.Load().isLocal(a) }

// deliver hands a datagram for this host to its protocol.
func (s *Stack) deliver(i *Interface, h ipv4.Header, bcast, trusted bool) {
	switch h.Protocol() {
	case ipv4.ProtoICMP:
		add(&s.stats.IP.InDelivers)
		s.icmpInput(i, h, bcast)
	case ipv4.ProtoUDP:
		add(&s.stats.IP.InDelivers)
		s.udpInput(i, h, bcast)
	case ipv4.ProtoTCP:
		add(&s.stats.IP.InDelivers)
		s.tcpInput(i, h, bcast, trusted)
	default:
		add(&s.stats.IP.InUnknownProtos)
		if !bcast {
			s.sendICMPError(h, icmp.TypeDestUnreach, icmp.CodeProtoUnreach, 0)
		}
	}
}

// forward routes a datagram for another host (RFC 1812 5.2).
func (s *Stack) forward(in *Interface, h ipv4.Header) {
	// RFC 1812 5.3.1: a datagram whose TTL would reach zero is discarded
	// with an ICMP time exceeded.
	if h.TTL() <= 1 {
		add(&s.stats.IP.InHdrErrors)
		add(&s.stats.IP.InTTLExceeded)
		s.sendICMPError(h, icmp.TypeTimeExceeded, icmp.CodeTTLExceeded, 0)
		return
	}
	r, err := s.findRoute(h.Dst())
	if err != nil || r.ifc.kind != link.Ethernet {
		add(&s.stats.IP.OutNoRoutes)
		s.sendICMPError(h, icmp.TypeDestUnreach, icmp.CodeHostUnreach, 0)
		return
	}
	if h.TotalLen() > r.mtu && h.DF() {
		// RFC 1191 4: report the next-hop MTU.
		add(&s.stats.IP.FragFails)
		s.sendICMPError(h, icmp.TypeDestUnreach, icmp.CodeFragNeeded, uint32(r.mtu))
		return
	}
	h.DecTTL()
	add(&s.stats.IP.ForwDatagrams)
	pb := s.bufs.get(ether.HeaderLen + len(h))
	copy(pb.b[ether.HeaderLen:], h)
	s.outputDatagram(&r, pb, len(h))
}

// route is where a datagram goes: out of which interface, to which next
// hop, from which source address.
type route struct {
	ifc     *Interface
	nextHop netip.Addr
	src     netip.Addr
	mtu     int
	linkDst ether.Addr // for broadcast and multicast: the Ethernet destination
	linkSet bool       // linkDst is set: no neighbour resolution
}

// findRoute looks up the route to dst (RFC 1812 5.2.4.3, longest prefix).
// Without a route it fails with ENETUNREACH, as Linux does.
func (s *Stack) findRoute(dst netip.Addr) (route, error) {
	var r route
	rt, ok := s.routes.Lookup(dst)
	if ok {
		r.ifc = s.iface(rt.Iface)
	}
	if r.ifc == nil {
		if dst != limitedBroadcast && !dst.IsMulticast() {
			return r, syscall.ENETUNREACH
		}
		// Broadcast and multicast with no route leave by the first
		// Ethernet interface.
		for _, i := range s.Interfaces() {
			if i.kind == link.Ethernet {
				r.ifc = i
				rt.Src = i.addr.Addr()
				break
			}
		}
		if r.ifc == nil {
			return r, syscall.ENETUNREACH
		}
	}
	r.src = rt.Src
	r.mtu = r.ifc.mtu
	if rt.MTU > 0 && rt.MTU < r.mtu {
		r.mtu = rt.MTU
	}
	r.nextHop = dst
	if rt.Gateway.IsValid() {
		r.nextHop = rt.Gateway
	}
	switch {
	case dst == limitedBroadcast || dst == r.ifc.bcast && r.ifc.addr.Bits() < 31:
		r.linkDst, r.linkSet = ether.Broadcast, true
	case dst.IsMulticast():
		r.linkDst, r.linkSet = multicastMAC(dst), true
	}
	return r, nil
}

// send builds the IPv4 header for a transport payload of n bytes at
// pb.b[headroom:] and sends the datagram along r, fragmenting it if it
// exceeds the route's MTU. send owns pb from then on.
func (s *Stack) send(r *route, pb *packetBuf, proto uint8, src, dst netip.Addr, n int) {
	total := ipv4.HeaderLen + n
	ttl := s.cfg.TTL
	if dst.IsMulticast() {
		ttl = 1 // Linux's IP_MULTICAST_TTL default: the local link only
	}
	ipv4.PutHeader(pb.b[ether.HeaderLen:], ipv4.Fields{
		TotalLen: total,
		ID:       s.ids.Next(src, dst, proto),
		TTL:      ttl,
		Protocol: proto,
		Src:      src,
		Dst:      dst,
	})
	add(&s.stats.IP.OutRequests)
	s.outputDatagram(r, pb, total)
}

// outputDatagram sends the datagram of total bytes at pb.b[14:] along r,
// fragmenting it if needed (RFC 791 3.2). It owns pb.
func (s *Stack) outputDatagram(r *route, pb *packetBuf, total int) {
	d := ipv4.Header(pb.b[ether.HeaderLen : ether.HeaderLen+total])
	if s.tracing() {
		s.trace("ip output", r.ifc, d.String())
	}
	if total <= r.mtu || pb.gso > 0 {
		s.linkOutput(r, pb, total) // a TSO segment is cut by the device
		return
	}
	var scratch [ipv4.MaxHeaderLen]byte
	err := ipv4.Fragment(d, r.mtu, scratch[:], func(hdr, payload []byte) error {
		fb := s.bufs.get(ether.HeaderLen + len(hdr) + len(payload))
		copy(fb.b[ether.HeaderLen:], hdr)
		copy(fb.b[ether.HeaderLen+len(hdr):], payload)
		add(&s.stats.IP.FragCreates)
		s.linkOutput(r, fb, len(hdr)+len(payload))
		return nil
	})
	s.bufs.put(pb)
	if err != nil {
		add(&s.stats.IP.FragFails)
		return
	}
	add(&s.stats.IP.FragOKs)
}

// linkOutput puts the link header on the datagram of n bytes at pb.b[14:]
// and writes it, resolving the next hop's address first. It owns pb.
func (s *Stack) linkOutput(r *route, pb *packetBuf, n int) {
	i := r.ifc
	if i.kind == link.IP {
		i.writeFrame(pb, pb.b[ether.HeaderLen:ether.HeaderLen+n])
		s.bufs.put(pb)
		return
	}
	frame := pb.b[:ether.HeaderLen+n]
	ether.Put(frame, r.linkDst, i.hw, ether.TypeIPv4)
	if r.linkSet {
		// Our own broadcasts, and multicasts to groups joined here, reach
		// local sockets too (Linux: ip_mc_output, IP_MULTICAST_LOOP).
		d := ipv4.Header(frame[ether.HeaderLen:])
		if dst := d.Dst(); !dst.IsMulticast() || i.member(dst) {
			s.ipInput(i, d, nil)
		}
	} else {
		queue := frame
		if pb.gso > 0 {
			// A TSO segment cannot wait in the queue, which sends plain
			// frames: it is dropped, and TCP sends it again, MSS-sized.
			queue = nil
		}
		hw, ok := i.arp.Resolve(r.nextHop, queue)
		if !ok && queue == nil {
			add(&s.stats.ARP.QueueDrops)
			s.bufs.put(pb)
			return
		}
		if !ok {
			// The cache keeps the frame until the neighbour answers.
			s.bufs.detach(pb)
			return
		}
		ether.SetDst(frame, hw)
	}
	i.writeFrame(pb, frame)
	s.bufs.put(pb)
}
