package link

import (
	"errors"
	"fmt"
	"io/fs"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Packet is a device on a PF_PACKET socket bound to one interface: it
// sends and receives raw Ethernet frames on that interface's wire beside
// the kernel's own stack, as another host on the same wire. The stack has
// its own MAC address, so the interface is put in promiscuous mode for as
// long as the socket is open.
//
// If the interface goes down, reads wait and writes are dropped until it
// comes back up; if it is deleted, until Close, as with an unplugged NIC.
//
// Packet implements Device, Namer and StatsReporter.
type Packet struct {
	fdDevice
	ignoringOutgoing bool // PACKET_IGNORE_OUTGOING is set

	rs    readState
	fn    func(uintptr) bool // p.readSome, bound once
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	addrs []unix.RawSockaddrLinklayer
}

// OpenPacket opens a PF_PACKET socket on the interface called ifname. It
// needs root or CAP_NET_RAW. The interface's MTU is read once, when it is
// opened.
func OpenPacket(ifname string) (*Packet, error) {
	if err := checkIfName(ifname); err != nil {
		return nil, err
	}
	// Look the interface up before opening the socket, which needs a
	// privilege, so that a wrong name is reported as such to anyone.
	index, mtu, err := lookUpInterface(ifname)
	if err != nil {
		return nil, err
	}
	// Protocol 0: the socket receives nothing until bound below, so no
	// frame from another interface slips in.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	switch {
	case isPermission(err):
		return nil, &deviceError{
			msg:  fmt.Sprintf("link: opening a PF_PACKET socket on %q needs root or CAP_NET_RAW (%v)", ifname, err),
			errs: []error{err, fs.ErrPermission},
		}
	case err != nil:
		return nil, fmt.Errorf("link: opening a PF_PACKET socket: %w", err)
	}
	p := &Packet{}
	if err := p.setUp(fd, index); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("link: interface %q: %w", ifname, err)
	}
	if err := p.init(fd, ifname, "interface", mtu); err != nil {
		return nil, err // init closed fd
	}
	p.fn = p.readSome
	return p, nil
}

// lookUpInterface returns the index and MTU of the interface called name.
func lookUpInterface(name string) (index, mtu int, err error) {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("link: interface %q: %w", name, err)
	}
	defer unix.Close(s)
	index, err = ifIndex(s, name)
	if errors.Is(err, unix.ENODEV) {
		return 0, 0, noSuchDevice(fmt.Sprintf("link: interface %q does not exist (see `ip link show`)", name))
	}
	if err != nil {
		return 0, 0, fmt.Errorf("link: interface %q: %w", name, err)
	}
	if mtu, err = ifMTU(s, name); err != nil {
		return 0, 0, fmt.Errorf("link: interface %q: reading its MTU: %w", name, err)
	}
	return index, mtu, nil
}

// setUp binds socket fd to the interface and sets its options.
func (p *Packet) setUp(fd, index int) error {
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: index}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("binding a PF_PACKET socket: %w", err)
	}
	// The stack's MAC is not the interface's: without promiscuous mode a
	// NIC would filter out the frames sent to it.
	mreq := &unix.PacketMreq{Ifindex: int32(index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq); err != nil {
		return fmt.Errorf("entering promiscuous mode: %w", err)
	}
	// Binding to an interface that is down leaves ENETDOWN pending on the
	// socket, which the first send or receive would report, and a send
	// would fail for it, however the interface is by then. Reading
	// SO_ERROR clears it.
	_, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	// Since Linux 4.20 the kernel can skip our own frames, which it would
	// otherwise loop back to us; before that, readSome drops them by their
	// packet type.
	p.ignoringOutgoing = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1) == nil
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// ReadFrames implements Device: one recvmmsg(2) takes as many frames as
// are waiting, up to len(bufs).
func (p *Packet) ReadFrames(bufs [][]byte, sizes []int) (int, error) {
	k := min(len(bufs), len(sizes))
	p.rs.mu.Lock()
	if len(p.msgs) < k {
		p.msgs = make([]unix.Mmsghdr, k)
		p.iovs = make([]unix.Iovec, k)
		p.addrs = make([]unix.RawSockaddrLinklayer, k)
	}
	for i := range k {
		iov := &p.iovs[i]
		iov.Base = nil
		if len(bufs[i]) > 0 {
			iov.Base = &bufs[i][0]
		}
		iov.SetLen(len(bufs[i]))
		h := &p.msgs[i].Hdr
		h.Iov = iov
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&p.addrs[i]))
	}
	n, err := p.read(&p.rs, p.fn, bufs, sizes)
	for i := range k {
		p.iovs[i].Base = nil // do not keep the caller's buffers alive
	}
	p.rs.mu.Unlock()
	return n, err
}

// readSome is the RawConn.Read callback. It returns false, to wait for the
// socket to become readable, only while it has read nothing.
func (p *Packet) readSome(fd uintptr) bool {
	rs := &p.rs
	k := len(rs.bufs)
	for {
		for i := range k {
			p.msgs[i].Hdr.Namelen = unix.SizeofSockaddrLinklayer
			p.msgs[i].Hdr.Flags = 0
			p.msgs[i].Len = 0
		}
		r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&p.msgs[0])), uintptr(k), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case unix.ENETDOWN:
			// The interface went down; the socket reports it once. Wait
			// for it to come back up, as a NIC would.
			continue
		default:
			rs.err = errno
			return true
		}
		n := 0
		for i := range int(r) {
			if !p.ignoringOutgoing && p.addrs[i].Pkttype == unix.PACKET_OUTGOING {
				continue // our own frame, looped back
			}
			size := min(int(p.msgs[i].Len), len(rs.bufs[i]))
			if n != i {
				size = copy(rs.bufs[n], rs.bufs[i][:size])
			}
			rs.sizes[n] = size
			n++
		}
		if n > 0 {
			rs.n = n
			return true
		}
	}
}
