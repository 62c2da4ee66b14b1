package stacknet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/arp"
	"github.com/stacknet/stacknet/proto/ether"
)

// readBatch is how many frames an interface asks its device for at once.
const readBatch = 32

// Interface is one device attached to a stack, with its IPv4 address.
type Interface struct {
	stack *Stack
	index int
	name  string
	dev   link.Device
	kind  link.Kind
	hw    ether.Addr // zero for the loopback
	addr  netip.Prefix
	bcast netip.Addr // the directed broadcast address of addr's subnet
	mtu   int
	arp   *arp.Cache // nil for the loopback
	// offload is what the device lets the stack leave undone: with
	// link.OffloadChecksum, TCP checksums are neither made nor checked;
	// with link.OffloadTSO, TCP segments up to 64 KiB go to seg, which
	// cuts them; with link.OffloadGRO, frames read may be that long.
	offload link.Offload
	seg     link.SegmentWriter // nil without link.OffloadTSO

	mu     sync.RWMutex
	groups map[netip.Addr]int // multicast groups joined, with reference counts
	macs   map[ether.Addr]int // their Ethernet addresses (RFC 1112 6.4 maps 32 groups to each)
}

// allHosts is the group every host belongs to (RFC 1112 6.4).
var allHosts = netip.AddrFrom4([4]byte{224, 0, 0, 1})

func newInterface(s *Stack, index int, dev link.Device, addr netip.Prefix) *Interface {
	ifc := &Interface{
		stack:   s,
		index:   index,
		dev:     dev,
		kind:    dev.Kind(),
		offload: link.OffloadsOf(dev),
		addr:    addr,
		bcast:   broadcastOf(addr),
		mtu:     dev.MTU(),
		groups:  make(map[netip.Addr]int),
		macs:    make(map[ether.Addr]int),
	}
	if sw, ok := dev.(link.SegmentWriter); ok && ifc.offload&link.OffloadTSO != 0 {
		ifc.seg = sw
	} else {
		ifc.offload &^= link.OffloadTSO
	}
	if n, ok := dev.(link.Namer); ok {
		ifc.name = n.Name()
	}
	if ifc.name == "" && ifc.kind == link.IP {
		ifc.name = "lo"
	} else if ifc.name == "" {
		ifc.name = fmt.Sprintf("if%d", index)
	}
	if ifc.kind == link.Ethernet {
		ifc.hw, _ = etherAddrOf(dev)
		ifc.arp = arp.NewCache(s.cfg.ARP, s.timers, (*arpHandler)(ifc))
		ifc.join(allHosts)
	}
	return ifc
}

// Index is the interface's number in the stack; routes refer to it.
func (i *Interface) Index() int { return i.index }

// Name is the device's name, or lo, or ifN.
func (i *Interface) Name() string { return i.name }

// Addr is the interface's address and subnet.
func (i *Interface) Addr() netip.Prefix { return i.addr }

// MTU is the largest IP datagram the interface sends unfragmented.
func (i *Interface) MTU() int { return i.mtu }

// HardwareAddr is the interface's MAC address, nil for the loopback.
func (i *Interface) HardwareAddr() net.HardwareAddr {
	if i.kind != link.Ethernet {
		return nil
	}
	return i.hw.HardwareAddr()
}

// Device is the link device behind the interface.
func (i *Interface) Device() link.Device { return i.dev }

// Neighbours returns the interface's ARP cache.
func (i *Interface) Neighbours() []arp.Entry {
	if i.arp == nil {
		return nil
	}
	return i.arp.Entries()
}

// AddNeighbour adds a static ARP entry.
func (i *Interface) AddNeighbour(ip netip.Addr, hw net.HardwareAddr) error {
	a, ok := ether.AddrFrom(hw)
	if !ok || i.arp == nil {
		return fmt.Errorf("stacknet: %v is not an Ethernet address, or %s has no ARP", hw, i.name)
	}
	return i.arp.AddStatic(ip, a)
}

// JoinGroup makes the interface accept datagrams sent to the IPv4
// multicast group g (RFC 1112; the stack sends no IGMP reports). Joins
// are counted: each needs its LeaveGroup.
func (i *Interface) JoinGroup(g netip.Addr) error {
	if !g.Is4() || !g.IsMulticast() {
		return fmt.Errorf("stacknet: %v is not an IPv4 multicast group", g)
	}
	if i.kind != link.Ethernet {
		return fmt.Errorf("stacknet: interface %s has no multicast", i.name)
	}
	i.join(g)
	return nil
}

func (i *Interface) join(g netip.Addr) {
	i.mu.Lock()
	i.groups[g]++
	i.macs[multicastMAC(g)]++
	i.mu.Unlock()
}

// LeaveGroup undoes one JoinGroup. Leaving a group not joined, or the
// all-hosts group every host keeps, is an error.
func (i *Interface) LeaveGroup(g netip.Addr) error {
	if !g.Is4() || !g.IsMulticast() || g == allHosts {
		return fmt.Errorf("stacknet: %v is not a multicast group that can be left", g)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.groups[g] == 0 {
		return fmt.Errorf("stacknet: interface %s has not joined %v", i.name, g)
	}
	m := multicastMAC(g)
	if i.groups[g]--; i.groups[g] == 0 {
		delete(i.groups, g)
	}
	if i.macs[m]--; i.macs[m] == 0 {
		delete(i.macs, m)
	}
	return nil
}

// member reports whether the interface has joined group g.
func (i *Interface) member(g netip.Addr) bool {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.groups[g] > 0
}

// joined reports whether frames to the multicast MAC address m are
// wanted: whether some joined group maps to it.
func (i *Interface) joined(m ether.Addr) bool {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.macs[m] > 0
}

func (i *Interface) hwString() string {
	if i.kind != link.Ethernet {
		return "none"
	}
	return i.hw.String()
}

// readLoop is the interface's one goroutine: it reads batches of frames and
// runs each through the whole input path on this goroutine, with no
// hand-off, until the device is closed.
func (i *Interface) readLoop() {
	defer i.stack.wg.Done()
	size := i.mtu + link.HeaderLen(i.kind) + 4 // room for one VLAN tag
	if i.offload&link.OffloadGRO != 0 {
		size = max(size, link.MaxOffloadFrame) // segments coalesced by the device
	}
	bufs := make([][]byte, readBatch)
	for j := range bufs {
		bufs[j] = make([]byte, size)
	}
	sizes := make([]int, readBatch)
	read := i.dev.ReadFrames
	if sw, ok := i.dev.(link.FrameSwapper); ok {
		read = sw.SwapFrames // each buffer is the loop's alone
	}
	for {
		n, err := read(bufs, sizes)
		for j := 0; j < n; j++ {
			i.input(bufs[j][:sizes[j]])
		}
		if err != nil {
			if !errors.Is(err, link.ErrClosed) {
				select {
				case <-i.stack.done:
				default:
					i.stack.log.Error("interface stopped", "dev", i.name, "err", err)
				}
			}
			return
		}
	}
}

// input takes one frame from the device.
func (i *Interface) input(frame []byte) {
	s := i.stack
	add(&s.stats.Link.InFrames)
	addN(&s.stats.Link.InBytes, len(frame))
	if i.kind == link.IP {
		s.ipInput(i, frame, nil)
		return
	}
	h, err := ether.Parse(frame)
	if s.tracing() {
		s.traceEther(i, "ether input", frame, h, err)
	}
	if err != nil {
		if errors.Is(err, ether.ErrLength) {
			add(&s.stats.Link.InLengthField)
		} else {
			add(&s.stats.Link.InShort)
		}
		return
	}
	// Accept unicast to us, broadcast, and the multicast groups joined.
	if h.Dst != i.hw && !h.Dst.IsBroadcast() && !(h.Dst.IsMulticast() && i.joined(h.Dst)) {
		add(&s.stats.Link.InNotForUs)
		return
	}
	// A priority-tagged frame (VLAN 0) is untagged traffic (IEEE 802.1Q
	// 6.9); any other VLAN is not ours.
	if h.Tagged && h.VLAN() != 0 {
		add(&s.stats.Link.InVLAN)
		return
	}
	payload := frame[h.Len:]
	switch h.Type {
	case ether.TypeIPv4:
		s.ipInput(i, payload, frame[:h.Len])
	case ether.TypeARP:
		i.arpInput(payload, h)
	default:
		add(&s.stats.Link.InUnknownType)
	}
}

// writeFrame hands one built frame to the device.
func (i *Interface) writeFrame(pb *packetBuf, frame []byte) {
	s := i.stack
	pb.vec[0] = frame
	if s.tracing() && i.kind == link.Ethernet {
		h, err := ether.Parse(frame)
		s.traceEther(i, "ether output", frame, h, err)
	}
	var err error
	if pb.gso > 0 && len(frame) > i.mtu+link.HeaderLen(i.kind) {
		err = i.seg.WriteSegment(frame, pb.gso)
	} else {
		_, err = i.dev.WriteFrames(pb.vec[:])
	}
	if err != nil {
		add(&s.stats.Link.OutErrors)
		return
	}
	add(&s.stats.Link.OutFrames)
	addN(&s.stats.Link.OutBytes, len(frame))
}

// etherAddrOf returns dev's MAC address, checking that it is one.
func etherAddrOf(dev link.Device) (ether.Addr, error) {
	a, ok := ether.AddrFrom(dev.HardwareAddr())
	if !ok || a.IsZero() || a.IsMulticast() {
		return a, fmt.Errorf("stacknet: device has no usable Ethernet address (%v)", dev.HardwareAddr())
	}
	return a, nil
}

// broadcastOf is the directed broadcast address of p's subnet (RFC 919).
func broadcastOf(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	bits := p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	if bits < 32 {
		v |= 1<<(32-bits) - 1
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// multicastMAC maps an IPv4 multicast group to its Ethernet address
// (RFC 1112 6.4: 01:00:5e and the group's low 23 bits).
func multicastMAC(g netip.Addr) ether.Addr {
	a := g.As4()
	return ether.Addr{0x01, 0x00, 0x5e, a[1] & 0x7f, a[2], a[3]}
}
