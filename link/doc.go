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
// # Offloads
//
// A device may let the stack leave work undone (Offloader, offload.go),
// as Linux's netdev features do: OffloadChecksum (TCP/IPv4 checksums
// neither made on output nor checked on input), OffloadTSO (the device
// takes one TCP segment of up to 64 KiB and puts it on the wire as
// MSS-sized segments: SegmentWriter) and OffloadGRO (a frame read may be
// such a segment, up to MaxOffloadFrame bytes). Pipe (WithChecksumOffload)
// and Loopback offer OffloadChecksum, since their frames never leave
// memory. A TAP opened WithOffloads offers all three: its frames cross the
// fd behind the virtio-net header (struct virtio_net_hdr of the virtio
// specification, 5.1.6; vnet.go), negotiated with IFF_VNET_HDR and
// TUNSETOFFLOAD (TUN_F_CSUM|TUN_F_TSO4), so that one writev carries a
// 64 KiB segment and one readv returns the kernel's TSO segment whole.
// The device keeps the stack's contract: it marks the TCP checksums the
// stack leaves undone for the kernel to complete (NEEDS_CSUM, partial),
// completes the partial checksums the kernel hands over for anything but
// TCP (its UDP, say), which the stack verifies itself, verifies the TCP
// checksums nobody else has, and drops, and counts, a frame longer than
// its buffer rather than truncating it.
//
// Package link/linktest builds kernel peers for tests: a TAP interface or
// a veth pair whose kernel side lives in a network namespace of its own.
//
// # What is left out
//
// There are no VLAN tags (802.1Q) made or stripped, no offloads on
// PF_PACKET (a socket on a NIC with GRO enabled may read frames longer
// than the MTU, truncated to the caller's buffers), no multi-queue TAP,
// and no packet rings (PACKET_MMAP, AF_XDP). TAP offloads stop at TCP over
// IPv4: no TSO for IPv6 (TUN_F_TSO6), no UDP segmentation (TUN_F_USO4),
// no ECN in the kernel's TSO (TUN_F_TSO_ECN: the kernel cuts up its own
// segments that carry CWR before handing them over). A TCP segment that
// arrives in IP fragments is not checked by the device, which never sees
// it whole: a stack under OffloadChecksum should check a reassembled TCP
// segment itself. TAP and PF_PACKET exist on Linux only; elsewhere
// OpenTAP, OpenPacket and the rtnetlink helpers return ErrNotSupported.
// A device's MTU is read once, when it is opened.
package link
