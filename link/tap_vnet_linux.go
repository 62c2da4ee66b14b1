package link

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The offload side of TAP: frames behind a virtio-net header (vnet.go),
// read with readv(2) and written with writev(2) so that neither the
// header nor the frame is copied in user space.

// setVnet prepares fd, a TAP attached with IFF_VNET_HDR, for the header
// vnet.go reads and writes, and asks for offloads: tunFlags, or
// TUN_F_CSUM|TUN_F_TSO4 if zero. It returns the offloads the device then
// offers: none if the kernel refused them. An interface keeps its header
// size, byte order and offloads from one user to the next, so each is set
// even where the kernel's default would do.
func setVnet(fd int, tunFlags uint) (Offload, error) {
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, vnetHdrLen); err != nil {
		return 0, fmt.Errorf("setting the virtio-net header's size (TUNSETVNETHDRSZ): %w", err)
	}
	// Little-endian fields whatever the host (TUNSETVNETLE, Linux 3.19);
	// on a little-endian host they are anyway.
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETLE, 1); err != nil && !hostLittleEndian() {
		return 0, fmt.Errorf("asking for a little-endian virtio-net header (TUNSETVNETLE): %w", err)
	}
	if tunFlags == 0 {
		tunFlags = unix.TUN_F_CSUM | unix.TUN_F_TSO4
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, int(tunFlags)); err != nil {
		// Refused: the kernel then sends complete frames, each behind
		// an empty header, as it takes ours. Clear what an earlier
		// user of the interface may have left.
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, 0); err != nil {
			return 0, fmt.Errorf("clearing the offloads (TUNSETOFFLOAD): %w", err)
		}
		return 0, nil
	}
	return OffloadChecksum | OffloadTSO | OffloadGRO, nil
}

func hostLittleEndian() bool {
	return binary.NativeEndian.Uint16([]byte{1, 0}) == 1
}

// vnetRead is the reader's state for frames behind a header, kept in the
// TAP so that reading allocates nothing. The TAP's rs.mu guards it.
type vnetRead struct {
	hdr    [vnetHdrLen]byte
	spill  [1]byte // room for one byte more than the buffer holds
	iov    [3]unix.Iovec
	counts rxOffloadCounts // this call's, added to the stats at its end
	// observe, if set (by tests, before reading), sees every frame read:
	// its header, its length and what became of it.
	observe func(h vnetHdr, size int, r rxResult)
}

// readVnet is the RawConn.Read callback of a TAP with the header: readSome
// with readv into [header, buffer, spill], and rxFrame on each frame,
// which is delivered or dropped. A frame that reaches the spill byte did
// not fit the buffer: some kernels return the length of a frame, others
// only what they copied, so the byte is what tells. It returns false, to
// wait for the fd to become readable, only while it has delivered
// nothing.
func (t *TAP) readVnet(fd uintptr) bool {
	rs, vr := &t.rs, &t.vr
	tcpOffload := t.offloads&OffloadChecksum != 0
	for rs.n < len(rs.bufs) {
		buf := rs.bufs[rs.n]
		vr.iov[0].Base = &vr.hdr[0]
		vr.iov[0].SetLen(vnetHdrLen)
		cnt := 1
		if len(buf) > 0 {
			vr.iov[1].Base = &buf[0]
			vr.iov[1].SetLen(len(buf))
			cnt = 2
		}
		vr.iov[cnt].Base = &vr.spill[0]
		vr.iov[cnt].SetLen(1)
		n, _, errno := unix.Syscall(unix.SYS_READV, fd, uintptr(unsafe.Pointer(&vr.iov[0])), uintptr(cnt+1))
		vr.iov[1] = unix.Iovec{} // keep no hold on the caller's buffer
		switch errno {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return rs.n > 0
		default:
			// Deliver what was read; the next call meets the error
			// again.
			rs.err = errno
			return true
		}
		size := int(n) - vnetHdrLen
		h, _ := parseVnetHdr(vr.hdr[:])
		var r rxResult
		switch {
		case size < 0:
			r = rxShortHeader
		case size > len(buf):
			r = rxTooLong
		default:
			r = rxFrame(h, buf[:size], tcpOffload)
		}
		if vr.observe != nil {
			vr.observe(h, size, r)
		}
		switch r {
		case rxDeliver, rxCompleted:
			if r == rxCompleted {
				vr.counts.completed++
			}
			if h.gsoType != vnetGSONone {
				vr.counts.gso++
			}
			rs.sizes[rs.n] = size
			rs.n++
		case rxBadChecksum:
			vr.counts.csumErrors++
		case rxTooLong:
			vr.counts.tooLong++
		default:
			vr.counts.badHeaders++
		}
	}
	return true
}

// vnetWriteOp is the state of one write to a TAP with the header, kept in
// the TAP so that the callback handed to RawConn.Write is bound once and
// the header and iovecs need no allocation. Writers take turns with it
// under the TAP's wmu: they would anyway, since RawConn.Write holds the
// fd's write lock for the whole call.
type vnetWriteOp struct {
	frames     [][]byte
	one        [1][]byte // WriteSegment's frame, as frames
	mss        int       // > 0: WriteSegment's segment size
	tcpOffload bool      // the stack left TCP checksums to the device
	i          int       // frames taken
	sent       uint64
	bytes      uint64
	drops      uint64
	gso        uint64
	err        error
	hdr        [vnetHdrLen]byte
	sum        [2]byte // the partial checksum, in place of the frame's
	iov        [4]unix.Iovec
	fn         func(fd uintptr) bool // op.write
}

// write is the RawConn.Write callback: one writev per frame, of the
// header and the frame, the frame's TCP checksum field replaced by the
// partial sum where txHeader says so, so that the caller's frame is
// neither copied nor changed.
func (op *vnetWriteOp) write(fd uintptr) bool {
	for op.i < len(op.frames) {
		f := op.frames[op.i]
		h, seg, partial, _ := txHeader(f, op.tcpOffload, op.mss)
		h.put(op.hdr[:])
		op.iov[0].Base = &op.hdr[0]
		op.iov[0].SetLen(vnetHdrLen)
		cnt := 1
		switch {
		case partial:
			at := seg.tcp + tcpCsumOffset // within f, 2 bytes before its TCP header's end
			binary.BigEndian.PutUint16(op.sum[:], seg.pseudo())
			op.iov[1].Base = &f[0]
			op.iov[1].SetLen(at)
			op.iov[2].Base = &op.sum[0]
			op.iov[2].SetLen(2)
			op.iov[3].Base = &f[at+2]
			op.iov[3].SetLen(len(f) - at - 2)
			cnt = 4
		case len(f) > 0:
			op.iov[1].Base = &f[0]
			op.iov[1].SetLen(len(f))
			cnt = 2
		}
		_, _, errno := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&op.iov[0])), uintptr(cnt))
		switch {
		case errno == 0:
			op.sent++
			op.bytes += uint64(len(f))
			if h.gsoType != vnetGSONone {
				op.gso++
			}
		case errno == unix.EINTR:
			continue
		case errno == unix.EAGAIN:
			return false // wait until writable
		case droppedByWire(errno):
			op.drops++
		default:
			op.err = errno
			return true
		}
		op.i++
	}
	return true
}

// writeVnet writes frames behind headers (WriteFrames), or if mss > 0
// the one frame seg, asking for segmentation (WriteSegment).
func (t *TAP) writeVnet(frames [][]byte, seg []byte, mss int) (int, error) {
	if t.closed.Load() {
		return 0, ErrClosed
	}
	if mss <= 0 && len(frames) == 0 {
		return 0, nil
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	op := &t.wop
	if mss > 0 {
		op.one[0] = seg
		frames = op.one[:]
	}
	op.frames, op.mss, op.tcpOffload = frames, mss, t.offloads&OffloadChecksum != 0
	err := t.rc.Write(op.fn)
	n, sent, bytes, drops, gso := op.i, op.sent, op.bytes, op.drops, op.gso
	if err == nil {
		err = op.err
	}
	*op = vnetWriteOp{fn: op.fn}
	t.stats.addTx(sent, bytes, drops)
	addNonZero(&t.stats.txGSO, gso)
	if err != nil {
		return n, t.ioError("write to", err)
	}
	return n, nil
}

// WriteSegment implements SegmentWriter: frame, one TCP/IPv4 segment of up
// to 64 KiB behind an Ethernet header, goes to the kernel in one writev
// with a virtio-net header asking it to cut the segment into segments of
// mss payload octets (gso_type TCPV4) and to fill in their checksums, as
// a NIC with TSO would. A segment whose payload fits in mss is written as
// WriteFrames would. The frame is not changed.
//
// It returns an error wrapping ErrNotSupported if the device does not
// offer OffloadTSO (it was not opened WithOffloads, or the kernel
// refused), and an error if frame is not TCP/IPv4 or mss is not between 1
// and 65535. Like WriteFrames, a frame the kernel refuses is dropped and
// counted.
func (t *TAP) WriteSegment(frame []byte, mss int) error {
	switch {
	case t.closed.Load():
		return ErrClosed
	case t.offloads&OffloadTSO == 0:
		return fmt.Errorf("link: WriteSegment on TAP device %q, which does not offer TSO (open it WithOffloads): %w", t.name, ErrNotSupported)
	case mss < 1 || mss > 0xffff:
		return fmt.Errorf("link: WriteSegment on TAP device %q: segment size %d is not between 1 and 65535", t.name, mss)
	}
	if _, ok := findTCP4(frame); !ok {
		return fmt.Errorf("link: WriteSegment on TAP device %q: the frame is not one whole TCP/IPv4 segment behind an Ethernet header", t.name)
	}
	_, err := t.writeVnet(nil, frame, mss)
	if err != nil && err != ErrClosed {
		err = t.explain(err)
	}
	return err
}
