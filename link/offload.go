package link

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
)

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
