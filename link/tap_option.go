package link

// TAPOption configures a TAP device when it is opened.
type TAPOption func(*tapConfig)

// tapConfig is what the options chose.
type tapConfig struct {
	offloads bool
	// tunFlags are the TUN_F_* bits asked of TUNSETOFFLOAD; zero means
	// TUN_F_CSUM|TUN_F_TSO4. Tests set a bit the kernel refuses.
	tunFlags uint
}

// WithOffloads opens the device with IFF_VNET_HDR and asks the kernel
// (TUNSETOFFLOAD) for TUN_F_CSUM|TUN_F_TSO4; the device then offers
// OffloadChecksum|OffloadTSO|OffloadGRO. If the kernel refuses the
// offloads, the device falls back to plain frames and offers none.
//
// Every frame then crosses the fd behind a virtio-net header, which the
// device writes and reads itself (no copy: writev and readv). On the way
// out a TCP/IPv4 frame is marked for the kernel as having a partial
// checksum, whatever its checksum field held, and WriteSegment hands the
// kernel one segment of up to 64 KiB to cut up. On the way in the kernel
// may send TCP segments of up to 64 KiB (a read buffer must then be
// MaxOffloadFrame long, or the frame is dropped and counted, never
// truncated), and leave checksums partial: the device completes those the
// stack checks (UDP, ICMP) and leaves the TCP ones, which under
// OffloadChecksum the stack does not check; a TCP frame the kernel marked
// neither partial nor valid the device verifies itself, dropping it if
// wrong.
//
// So the device must be read by a stack that honours its offloads: a
// wrapper that hides them (Impair, Capture) would hand the stack TCP
// checksums that are only partial, and frames longer than its buffers.
func WithOffloads() TAPOption {
	return func(c *tapConfig) { c.offloads = true }
}
