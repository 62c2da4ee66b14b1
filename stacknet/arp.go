package stacknet

import (
	"net/netip"

	"github.com/stacknet/stacknet/proto/arp"
	"github.com/stacknet/stacknet/proto/ether"
	"github.com/stacknet/stacknet/proto/icmp"
	"github.com/stacknet/stacknet/proto/ipv4"
)

// arpInput handles one ARP packet, following the packet reception
// algorithm of RFC 826.
func (i *Interface) arpInput(b []byte, eh ether.Header) {
	s := i.stack
	p, err := arp.Parse(b)
	if err != nil {
		add(&s.stats.ARP.InErrors)
		return
	}
	if s.tracing() {
		s.trace("arp input", i, p.String())
	}
	if p.Op() == arp.OpRequest {
		add(&s.stats.ARP.InRequests)
	} else {
		add(&s.stats.ARP.InReplies)
	}
	spa, sha, tpa := p.SPA(), p.SHA(), p.TPA()
	mine := i.addr.Addr()
	if sha.IsMulticast() || sha.IsZero() || spa == mine || (spa.IsValid() && !spa.IsUnspecified() && !isUnicastCandidate(spa)) {
		// Someone claims our address, or a nonsense sender: believe nothing.
		add(&s.stats.ARP.InBadSender)
		if spa == mine && sha != i.hw {
			s.log.Warn("address conflict", "dev", i.name, "addr", spa, "claimed by", sha.String())
		}
		return
	}
	probe := spa.IsUnspecified() // RFC 5227 2.1.1: an ARP probe's sender is 0.0.0.0

	// RFC 826: "If the pair <protocol type, sender protocol address> is
	// already in my translation table, update the sender hardware address
	// field of the entry with the new information in the packet."
	merged := !probe && i.arp.Update(spa, sha, false)

	// Linux answers for any address of the host, on any interface
	// (arp_ignore=0), but never for a loopback one.
	if tpa.IsLoopback() || !s.isLocalAddr(tpa) {
		add(&s.stats.ARP.InNotForUs)
		return
	}
	if p.Op() != arp.OpRequest {
		// A reply we did not ask for adds nothing (Linux's arp_accept=0):
		// a reply only completes a resolution, through the merge above.
		return
	}
	// "?Am I the target protocol address? Yes: if the merge flag is false,
	// add the triplet to the table."
	if !merged && !probe {
		i.arp.Update(spa, sha, true)
	}
	i.sendARP(arp.OpReply, sha, sha, spa, tpa)
}

// sendARP sends an ARP packet from this interface to the Ethernet address
// dst, about target (tha, tpa), with spa as the sender's address.
func (i *Interface) sendARP(op uint16, dst, tha ether.Addr, tpa, spa netip.Addr) {
	s := i.stack
	pb := s.bufs.get(ether.MinFrameLen)
	defer s.bufs.put(pb)
	frame := pb.b
	clear(frame)
	ether.Put(frame, dst, i.hw, ether.TypeARP)
	arp.Put(frame[ether.HeaderLen:], op, i.hw, spa, tha, tpa)
	if op == arp.OpRequest {
		add(&s.stats.ARP.OutRequests)
	} else {
		add(&s.stats.ARP.OutReplies)
	}
	if s.tracing() {
		s.trace("arp output", i, arp.Packet(frame[ether.HeaderLen:]).String())
	}
	i.writeFrame(pb, frame)
}

// announce sends a gratuitous ARP for the interface's address when it
// comes up (RFC 5227 3: an ARP announcement, a request whose sender and
// target addresses are both ours), so that neighbours update their caches.
func (i *Interface) announce() {
	if i.arp == nil {
		return
	}
	i.sendARP(arp.OpRequest, ether.Broadcast, ether.Addr{}, i.addr.Addr(), i.addr.Addr())
}

// arpHandler is an Interface seen as its ARP cache's handler.
type arpHandler Interface

func (h *arpHandler) SendRequest(target netip.Addr, dst ether.Addr) {
	i := (*Interface)(h)
	tha := ether.Addr{}
	if !dst.IsBroadcast() {
		tha = dst
	}
	i.sendARP(arp.OpRequest, dst, tha, target, i.addr.Addr())
}

// Flush sends the frames that waited for target, in order, in one batch.
func (h *arpHandler) Flush(target netip.Addr, hw ether.Addr, pending [][]byte) {
	i := (*Interface)(h)
	s := i.stack
	for _, f := range pending {
		ether.SetDst(f, hw)
		if s.tracing() {
			eh, err := ether.Parse(f)
			s.traceEther(i, "ether output", f, eh, err)
		}
	}
	if _, err := i.dev.WriteFrames(pending); err != nil {
		addN(&s.stats.Link.OutErrors, len(pending))
		return
	}
	addN(&s.stats.Link.OutFrames, len(pending))
	for _, f := range pending {
		addN(&s.stats.Link.OutBytes, len(f))
	}
}

// Fail reports host unreachable for each datagram that waited for a
// neighbour that never answered, as Linux does (arp_error_report): the
// error reaches the socket that sent it.
func (h *arpHandler) Fail(target netip.Addr, pending [][]byte) {
	i := (*Interface)(h)
	s := i.stack
	s.log.Debug("neighbour unreachable", "dev", i.name, "addr", target, "dropped", len(pending))
	addN(&s.stats.IP.OutDiscards, len(pending))
	for _, f := range pending {
		d, err := ipv4.Parse(f[ether.HeaderLen:])
		if err != nil {
			continue
		}
		s.localError(d, icmp.TypeDestUnreach, icmp.CodeHostUnreach, 0)
	}
}

func (h *arpHandler) Drop(pkt []byte) {}

// isUnicastCandidate reports whether a could be a host's own address.
func isUnicastCandidate(a netip.Addr) bool {
	return a.Is4() && !a.IsMulticast() && !a.IsUnspecified() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}
