// Package link is the bottom of the stack: devices that move link-layer
// frames between a stack and a wire, real or simulated, and wrappers that
// change or record what passes through them.
//
// # Devices
//
// A Device (device.go) reads and writes batches of frames into buffers the
// caller owns, so that the fast path allocates nothing and a device able
// to move several frames per system call can. Frames are Ethernet II
// frames (destination, source, EtherType; IEEE 802.3, and RFC 894 for
// IPv4 in them) without the frame check sequence, or, for a device of kind
// IP, bare IP datagrams.
//
//   - Pipe: the two ends of an in-memory Ethernet wire, for joining two
//     stacks in one process. Each end queues up to 1024 frames for its
//     reader and drops what arrives when full, so a writer never blocks.
//   - Loopback: an IP device whose datagrams come back to it, like lo.
//   - Null: an Ethernet device attached to nothing.
//   - TAP (Linux): a TAP interface, so the stack and the kernel's own
//     stack are two hosts on one wire. CreateTAP, ConfigureKernelSide and
//     DeleteLink set up the kernel's side over rtnetlink.
//   - Packet (Linux): a PF_PACKET socket on an existing interface, so the
//     stack is another host on that interface's wire, beside the kernel.
//
// TAP and Packet use non-blocking descriptors driven by the Go runtime's
// poller: a blocked ReadFrames parks only its goroutine, and Close wakes
// it with ErrClosed. Every Ethernet device has its own random, locally
// administered unicast MAC address (RandomMAC; the U/L and I/G bits of
// IEEE 802, RFC 7042 section 2.1), never the kernel interface's: the
// kernel side is another host. Every device counts its traffic
// (StatsReporter), and a frame the wire would drop (a full queue, a frame
// the kernel refuses) is counted, not reported as an error.
//
// Package link/linktest builds kernel peers for tests: a TAP interface or
// a veth pair whose kernel side lives in a network namespace of its own.
//
// # What is left out
//
// There are no VLAN tags (802.1Q), no offloads (no virtio-net header on
// TAP, so no segmentation or checksum offload, and a PF_PACKET socket on a
// NIC with GRO enabled may read frames longer than the MTU, truncated to
// the caller's buffers), no multi-queue TAP, and no packet rings
// (PACKET_MMAP, AF_XDP). TAP and PF_PACKET exist on Linux only; elsewhere
// OpenTAP, OpenPacket and the rtnetlink helpers return ErrNotSupported.
// A device's MTU is read once, when it is opened.
package link
