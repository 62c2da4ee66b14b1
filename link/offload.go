package link

import "strconv"

// Offload is a set of work a device lets the stack leave undone, in the
// manner of Linux's netdev features.
type Offload uint8

const (
	// OffloadChecksum: frames on this link stay in memory and arrive as
	// they were written, so the stack neither computes TCP checksums on
	// the frames it sends nor verifies them on the frames it receives,
	// as Linux does on its loopback and veth devices (CHECKSUM_PARTIAL
	// on the way out, CHECKSUM_UNNECESSARY on the way in). The checksum
	// field of such a segment is zero on the wire, as a capture of
	// Linux's loopback shows it unfilled.
	OffloadChecksum Offload = 1 << iota
	// OffloadTSO: the device implements SegmentWriter: it takes one
	// TCP/IPv4 segment longer than the MTU and puts it on the wire as
	// segments of at most mss payload octets (TCP segmentation offload).
	OffloadTSO
	// OffloadGRO: a frame read may be one TCP/IPv4 segment longer than the
	// MTU, several of the wire's coalesced (GRO/LRO), up to MaxOffloadFrame
	// octets; read buffers must be that long.
	OffloadGRO
)

// MaxOffloadFrame is the longest frame a device with OffloadGRO returns:
// an Ethernet header (with room for one VLAN tag) and an IPv4 datagram of
// the largest total length.
const MaxOffloadFrame = 14 + 4 + 65535

// SegmentWriter is implemented by devices with OffloadTSO.
type SegmentWriter interface {
	// WriteSegment sends frame, an Ethernet frame holding one TCP/IPv4
	// segment (IP total length set for the whole, DF set, TCP checksum left
	// to the device as under OffloadChecksum), as segments of at most mss
	// payload octets each: the same header and options on each, sequence
	// numbers advanced, PSH and FIN only on the last. Like WriteFrames, a
	// frame the wire drops counts as sent.
	WriteSegment(frame []byte, mss int) error
}

// String names the offloads in the set, as "checksum|tso|gro", or "none".
func (o Offload) String() string {
	if o == 0 {
		return "none"
	}
	var b [64]byte
	s := b[:0]
	for _, n := range [...]struct {
		bit  Offload
		name string
	}{{OffloadChecksum, "checksum"}, {OffloadTSO, "tso"}, {OffloadGRO, "gro"}} {
		if o&n.bit != 0 {
			if len(s) > 0 {
				s = append(s, '|')
			}
			s = append(s, n.name...)
			o &^= n.bit
		}
	}
	if o != 0 {
		if len(s) > 0 {
			s = append(s, '|')
		}
		s = append(s, "0x"...)
		s = strconv.AppendUint(s, uint64(o), 16)
	}
	return string(s)
}

// Offloader is implemented by devices that offer offloads. A wrapper that
// may change frames (Impair) or shows them to others (Capture) offers none.
type Offloader interface {
	Offloads() Offload
}

// OffloadsOf returns the offloads d offers: none unless it implements
// Offloader.
func OffloadsOf(d Device) Offload {
	if o, ok := d.(Offloader); ok {
		return o.Offloads()
	}
	return 0
}

// PipeOption configures a Pipe.
type PipeOption func(*queueDevice)

// WithChecksumOffload makes both ends of a Pipe offer OffloadChecksum: for
// stacks that trust the in-memory wire, as benchmarks do. Frames written
// to such a Pipe by anything but a stack must carry correct checksums no
// more than the stack will check them.
func WithChecksumOffload() PipeOption {
	return func(d *queueDevice) { d.offloads |= OffloadChecksum }
}

// Offloads implements Offloader. A Loopback offers OffloadChecksum, as
// Linux's lo does; a Pipe what its options gave.
func (d *queueDevice) Offloads() Offload { return d.offloads }
