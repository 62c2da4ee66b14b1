package link

import (
	"encoding/binary"

	"github.com/stacknet/stacknet/proto/checksum"
)

// The virtio-net header: struct virtio_net_hdr of linux/virtio_net.h, the
// header of section 5.1.6 of the virtio specification (1.2) without the
// num_buffers field of mergeable receive buffers. A TAP device opened with
// IFF_VNET_HDR puts one before every frame in both directions, so that
// the kernel and the program can hand each other checksum work
// (NEEDS_CSUM, DATA_VALID) and TCP segments longer than the MTU (GSO).
//
// The fields are little-endian: the device asks for that (TUNSETVNETLE),
// which is what the kernel uses on little-endian hosts anyway.
//
// Everything here is a pure function of its arguments, so that it can be
// tested and fuzzed without a kernel: parsing and writing the header,
// finding a TCP segment in a frame, completing a partial checksum, and
// deciding what to do with a frame read (rxFrame) or about to be written
// (txHeader).

// vnetHdrLen is the length of the header: the device sets it with
// TUNSETVNETHDRSZ, since a persistent interface remembers what its last
// user chose.
const vnetHdrLen = 10

// Bits of vnetHdr.flags.
const (
	// vnetNeedsCsum (VIRTIO_NET_HDR_F_NEEDS_CSUM): the checksum field at
	// csumStart+csumOffset holds the sum of the pseudo-header, and the
	// receiver must complete it over the bytes from csumStart to the end.
	vnetNeedsCsum = 1
	// vnetDataValid (VIRTIO_NET_HDR_F_DATA_VALID): the sender checked the
	// checksums (the kernel's CHECKSUM_UNNECESSARY).
	vnetDataValid = 2
)

// Values of vnetHdr.gsoType.
const (
	vnetGSONone  = 0    // VIRTIO_NET_HDR_GSO_NONE
	vnetGSOTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4
	vnetGSOECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN: the first segment carries CWR
)

// vnetHdr is the header, parsed.
type vnetHdr struct {
	flags      uint8
	gsoType    uint8
	hdrLen     uint16 // Ethernet, IP and TCP headers' length, for GSO
	gsoSize    uint16 // payload octets per segment, for GSO
	csumStart  uint16 // where the checksummed bytes start, from the frame's start
	csumOffset uint16 // where the checksum field is, from csumStart
}

// parseVnetHdr reads a header from the start of b. It reports false if b
// is too short.
func parseVnetHdr(b []byte) (vnetHdr, bool) {
	if len(b) < vnetHdrLen {
		return vnetHdr{}, false
	}
	return vnetHdr{
		flags:      b[0],
		gsoType:    b[1],
		hdrLen:     binary.LittleEndian.Uint16(b[2:4]),
		gsoSize:    binary.LittleEndian.Uint16(b[4:6]),
		csumStart:  binary.LittleEndian.Uint16(b[6:8]),
		csumOffset: binary.LittleEndian.Uint16(b[8:10]),
	}, true
}

// put writes h at the start of b, which must hold vnetHdrLen bytes.
func (h *vnetHdr) put(b []byte) {
	_ = b[vnetHdrLen-1]
	b[0] = h.flags
	b[1] = h.gsoType
	binary.LittleEndian.PutUint16(b[2:4], h.hdrLen)
	binary.LittleEndian.PutUint16(b[4:6], h.gsoSize)
	binary.LittleEndian.PutUint16(b[6:8], h.csumStart)
	binary.LittleEndian.PutUint16(b[8:10], h.csumOffset)
}

// EtherTypes and numbers the device looks for.
const (
	etherTypeIPv4 = 0x0800
	etherTypeVLAN = 0x8100 // IEEE 802.1Q
	etherTypeQinQ = 0x88a8 // IEEE 802.1ad
	ipProtoTCP    = 6
	tcpCsumOffset = 16 // RFC 9293 3.1: the checksum is octets 16 and 17 of the header
)

// tcp4 says where a TCP segment lies in an Ethernet frame carrying a
// whole IPv4 datagram. All offsets are from the frame's start.
type tcp4 struct {
	ip     int // the IPv4 header: the Ethernet header's length, 14 or 18
	tcp    int // the TCP header
	data   int // the TCP payload, past the header and its options
	end    int // past the datagram, by its total length
	src    [4]byte
	dst    [4]byte
	hasCWR bool // the CWR flag (RFC 3168)
}

// findTCP4 reports whether frame is an Ethernet II frame (untagged or with
// one 802.1Q or 802.1ad tag) holding an IPv4 datagram that is not a
// fragment, whose protocol is TCP and whose TCP header lies within its
// total length; and if so where its parts are. It never panics, whatever
// frame holds.
func findTCP4(frame []byte) (tcp4, bool) {
	var s tcp4
	if len(frame) < 14 {
		return s, false
	}
	s.ip = 14
	et := binary.BigEndian.Uint16(frame[12:14])
	if et == etherTypeVLAN || et == etherTypeQinQ {
		if len(frame) < 18 {
			return s, false
		}
		s.ip = 18
		et = binary.BigEndian.Uint16(frame[16:18])
	}
	if et != etherTypeIPv4 || len(frame) < s.ip+20 {
		return s, false
	}
	ip := frame[s.ip:]
	ihl := int(ip[0]&0x0f) * 4
	tl := int(binary.BigEndian.Uint16(ip[2:4]))
	switch {
	case ip[0]>>4 != 4, ihl < 20, ip[9] != ipProtoTCP:
		return s, false
	case binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0:
		// RFC 791: MF set or a fragment offset; the segment's
		// checksum covers bytes this frame does not hold.
		return s, false
	case tl < ihl+20 || tl > len(ip):
		return s, false
	}
	s.tcp = s.ip + ihl
	s.end = s.ip + tl
	off := int(frame[s.tcp+12]>>4) * 4
	if off < 20 || s.tcp+off > s.end {
		return s, false
	}
	s.data = s.tcp + off
	s.hasCWR = frame[s.tcp+13]&0x80 != 0
	s.src = [4]byte(ip[12:16])
	s.dst = [4]byte(ip[16:20])
	return s, true
}

// pseudo is the folded, uncomplemented sum of the segment's pseudo-header
// (RFC 9293 3.1): what the checksum field holds while the checksum is
// partial (Linux's CHECKSUM_PARTIAL), for the receiver to complete.
func (s *tcp4) pseudo() uint16 {
	return checksum.Pseudo(s.src, s.dst, ipProtoTCP, uint16(s.end-s.tcp))
}

// verify reports whether the segment's checksum is right.
func (s *tcp4) verify(frame []byte) bool {
	return checksum.Sum(frame[s.tcp:s.end], s.pseudo()) == 0xffff
}

// completeChecksum finishes a partial checksum as the virtio specification
// (5.1.6.2) says: it sums frame from start to its end, the checksum field
// (which holds the pseudo-header's sum) included, and stores the
// complement at start+offset. A result of zero is stored as 0xffff, its
// other form, as Linux's skb_checksum_help does: to UDP (RFC 768) a zero
// would mean "no checksum". It reports false, and changes nothing, if the
// field does not lie within frame or lies an odd number of bytes from
// start: Internet checksums are sums of 16-bit words, and their fields
// are such words.
func completeChecksum(frame []byte, start, offset int) bool {
	if !csumFieldFits(len(frame), start, offset) {
		return false
	}
	at := start + offset
	c := ^checksum.Sum(frame[start:], 0)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(frame[at:at+2], c)
	return true
}

// csumFieldFits reports whether a checksum field at offset from start lies
// within a frame of n bytes, a whole number of 16-bit words from start.
func csumFieldFits(n, start, offset int) bool {
	return start >= 0 && offset >= 0 && offset%2 == 0 && start <= n && offset <= n-start-2
}

// rxResult is what rxFrame did with a frame.
type rxResult uint8

const (
	rxDeliver     rxResult = iota // deliver the frame as it is
	rxCompleted                   // deliver: the device completed its partial checksum
	rxBadChecksum                 // drop: a TCP checksum the stack would not check is wrong
	rxBadHeader                   // drop: the header makes no sense for this frame
	rxTooLong                     // drop: the frame did not fit its buffer (see the device)
	rxShortHeader                 // drop: the read was shorter than a header
	rxResultCount                 // the number of results
)

func (r rxResult) String() string {
	switch r {
	case rxDeliver:
		return "deliver"
	case rxCompleted:
		return "completed"
	case rxBadChecksum:
		return "bad checksum"
	case rxBadHeader:
		return "bad header"
	case rxTooLong:
		return "too long"
	case rxShortHeader:
		return "short header"
	}
	return "unknown"
}

// rxFrame does to a frame read from the kernel, with its header h, the
// checksum work that the stack above will not. tcpOffload says the stack
// neither verifies TCP/IPv4 checksums nor expects them complete
// (OffloadChecksum); everything else it checks itself. So:
//
//   - NEEDS_CSUM on the TCP checksum of a TCP/IPv4 frame, with tcpOffload:
//     the kernel left the checksum partial, and the stack will not look at
//     it; deliver as it is.
//   - NEEDS_CSUM on anything else (the kernel's UDP, ICMP with some
//     drivers): complete the checksum in place, since the stack verifies it.
//   - No NEEDS_CSUM and no DATA_VALID on a TCP/IPv4 frame, with
//     tcpOffload: nobody has checked the checksum and the stack will not,
//     so verify it here and drop the frame if it is wrong.
//   - gso_type TCPV4: a frame longer than the MTU, several of the wire's
//     segments in one (GRO on the kernel's side, or its TSO towards us);
//     delivered as it is, after the checks above. Other GSO types were
//     not asked for (TUNSETOFFLOAD), so they are bad headers.
//
// It never panics: a header whose fields do not fit the frame is reported
// as rxBadHeader, and frame is then unchanged.
func rxFrame(h vnetHdr, frame []byte, tcpOffload bool) rxResult {
	seg, isTCP := findTCP4(frame)
	switch h.gsoType &^ vnetGSOECN {
	case vnetGSONone:
		if h.gsoType != vnetGSONone {
			return rxBadHeader // ECN without a GSO type
		}
	case vnetGSOTCPv4:
		if !isTCP {
			return rxBadHeader
		}
	default:
		return rxBadHeader
	}
	if h.flags&vnetNeedsCsum != 0 {
		start, offset := int(h.csumStart), int(h.csumOffset)
		if !csumFieldFits(len(frame), start, offset) {
			return rxBadHeader
		}
		if tcpOffload && isTCP && start == seg.tcp && offset == tcpCsumOffset {
			return rxDeliver
		}
		completeChecksum(frame, start, offset)
		return rxCompleted
	}
	if tcpOffload && isTCP && h.flags&vnetDataValid == 0 && !seg.verify(frame) {
		return rxBadChecksum
	}
	return rxDeliver
}

// txHeader returns the header to write before frame, and whether the TCP
// checksum field must be replaced, on the way out, by pseudo (the
// partial sum): for a TCP/IPv4 frame when tcpOffload says the stack left
// its checksum to the device (NEEDS_CSUM, which the kernel completes if it
// ever forwards the segment). mss > 0 asks for segmentation (WriteSegment):
// gso_type TCPV4 and gso_size mss, for a TCP/IPv4 frame whose payload is
// longer than mss. Any other frame gets an empty header: the stack filled
// its checksums. ok is false if mss > 0 and frame is not TCP/IPv4.
func txHeader(frame []byte, tcpOffload bool, mss int) (h vnetHdr, seg tcp4, partial bool, ok bool) {
	seg, isTCP := findTCP4(frame)
	if !isTCP {
		return vnetHdr{}, seg, false, mss <= 0
	}
	if !tcpOffload && mss <= 0 {
		return vnetHdr{}, seg, false, true
	}
	h.flags = vnetNeedsCsum
	h.csumStart = uint16(seg.tcp)
	h.csumOffset = tcpCsumOffset
	if mss > 0 && seg.end-seg.data > mss {
		h.gsoType = vnetGSOTCPv4
		if seg.hasCWR {
			// RFC 3168 6.1.2: CWR on the first segment only, which
			// is what the ECN bit asks of the segmenter.
			h.gsoType |= vnetGSOECN
		}
		h.gsoSize = uint16(mss)
		h.hdrLen = uint16(seg.data)
	}
	return h, seg, true, true
}
