package link

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"golang.org/x/sys/unix"
)

// TAP is a device attached to a Linux TAP interface: frames the stack
// writes arrive at the kernel as if received on that interface, and frames
// the kernel sends out of the interface are read by the stack. The kernel
// side and the stack are two hosts on one wire, so the stack has its own
// MAC address, not the interface's.
//
// TAP implements Device, Namer, StatsReporter and Offloader, and
// SegmentWriter, which works when it was opened WithOffloads.
type TAP struct {
	fdDevice
	rs readState
	fn func(uintptr) bool // t.readSome or t.readVnet, bound once

	vnet     bool        // frames cross the fd behind a virtio-net header
	offloads Offload     // what the kernel agreed to
	vr       vnetRead    // the reader's state, guarded by rs.mu
	wmu      sync.Mutex  // guards wop
	wop      vnetWriteOp // the writers' state
}

// OpenTAP attaches to the existing TAP interface called name (see
// CreateTAP), which needs root or CAP_NET_ADMIN unless the interface was
// created with this user as its owner. If name is empty, the kernel
// creates a new TAP interface with a name of its choosing (see Name),
// which is removed when the device is closed.
//
// The interface's MTU is read once, when it is opened. Frames carry no
// packet-information header (IFF_NO_PI), and no virtio-net header unless
// opts include WithOffloads, which makes the kernel and the stack
// exchange TCP segments of up to 64 KiB and leave each other checksums
// (see WithOffloads and Offloads). Without it the device offers no
// offloads, and a frame longer than a read buffer is truncated to it.
func OpenTAP(name string, opts ...TAPOption) (*TAP, error) {
	var cfg tapConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if name != "" {
		if err := checkIfName(name); err != nil {
			return nil, err
		}
	}
	// Ask for the MTU first: it also tells whether the interface exists,
	// since TUNSETIFF would quietly create a missing one.
	mtu := 0
	if name != "" {
		var err error
		if mtu, err = socketMTU(name); err != nil {
			if errors.Is(err, unix.ENODEV) {
				return nil, noSuchDevice(fmt.Sprintf("link: TAP device %q does not exist: create it with `stacknet tap create %s` or `ip tuntap add dev %s mode tap`", name, name, name))
			}
			return nil, fmt.Errorf("link: TAP device %q: reading its MTU: %w", name, err)
		}
	}

	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO):
		return nil, noSuchDevice("link: /dev/net/tun is missing: load the tun module (`modprobe tun`) or, in a container, pass the device through")
	case isPermission(err):
		return nil, needsPrivilege("opening /dev/net/tun", err)
	case err != nil:
		return nil, fmt.Errorf("link: opening /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("link: TAP device %q: %w", name, err)
	}
	flags := uint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if cfg.offloads {
		flags |= unix.IFF_VNET_HDR
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		switch {
		case isPermission(err):
			return nil, needsPrivilege(fmt.Sprintf("opening TAP device %q", name), err)
		case errors.Is(err, unix.EBUSY):
			return nil, fmt.Errorf("link: TAP device %q is in use by another process: %w", name, err)
		case errors.Is(err, unix.EINVAL):
			return nil, fmt.Errorf("link: interface %q is not a single-queue TAP device: %w", name, err)
		}
		return nil, fmt.Errorf("link: attaching to TAP device %q: %w", name, err)
	}
	if name == "" {
		name = ifr.Name()
		if mtu, err = socketMTU(name); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("link: TAP device %q: reading its MTU: %w", name, err)
		}
	}
	t := &TAP{}
	if cfg.offloads {
		if t.offloads, err = setVnet(fd, cfg.tunFlags); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("link: TAP device %q: %w", name, err)
		}
		t.vnet = true
	} else if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, 0); err != nil {
		// An interface keeps the offloads of its last user: without
		// this, one opened WithOffloads before would go on receiving
		// partial checksums and 64 KiB segments, with no header to say
		// so.
		unix.Close(fd)
		return nil, fmt.Errorf("link: TAP device %q: clearing its offloads (TUNSETOFFLOAD): %w", name, err)
	}
	// The fd was opened non-blocking, and only now, after TUNSETIFF, can
	// it be polled: so only now is it handed to the runtime's poller.
	if err := t.init(fd, name, "TAP device", mtu); err != nil {
		return nil, err
	}
	t.fn = t.readSome
	if t.vnet {
		t.fn = t.readVnet
		t.wop.fn = t.wop.write
	}
	return t, nil
}

// Offloads implements Offloader: OffloadChecksum|OffloadTSO|OffloadGRO
// for a device opened WithOffloads whose kernel agreed, none otherwise.
func (t *TAP) Offloads() Offload { return t.offloads }

// ReadFrames implements Device: it reads as many frames as are waiting,
// up to len(bufs), one read(2) each (readv(2), opened WithOffloads).
//
// Opened WithOffloads, a frame longer than its buffer is dropped and
// counted, not truncated, and so is a frame with a bad TCP checksum that
// the stack would not check or with a virtio-net header that does not fit
// it (see DeviceStats).
func (t *TAP) ReadFrames(bufs [][]byte, sizes []int) (int, error) {
	t.rs.mu.Lock()
	n, err := t.read(&t.rs, t.fn, bufs, sizes)
	if t.vnet {
		t.stats.addRxOffload(&t.vr.counts)
		t.vr.counts = rxOffloadCounts{}
	}
	t.rs.mu.Unlock()
	if err != nil && err != ErrClosed {
		err = t.explain(err)
	}
	return n, err
}

// WriteFrames implements Device: one write(2) per frame (writev(2),
// opened WithOffloads). Frames the kernel refuses, such as those written
// while its side of the interface is down, are dropped and counted.
//
// With OffloadChecksum the TCP checksum of a TCP/IPv4 frame is left to
// the device (its field is not read); the frame is not changed.
func (t *TAP) WriteFrames(frames [][]byte) (int, error) {
	var n int
	var err error
	if t.vnet {
		n, err = t.writeVnet(frames, nil, 0)
	} else {
		n, err = t.fdDevice.WriteFrames(frames)
	}
	if err != nil && err != ErrClosed {
		err = t.explain(err)
	}
	return n, err
}

// explain replaces an I/O error with a clearer one when the reason is that
// the interface was deleted, which detaches the fd from it: reads then
// fail (the poller reports the fd as unpollable) and writes fail with
// EBADFD.
func (t *TAP) explain(err error) error {
	var errno error
	cerr := t.rc.Control(func(fd uintptr) {
		ifr, _ := unix.NewIfreq("")
		errno = unix.IoctlIfreq(int(fd), unix.TUNGETIFF, ifr)
	})
	if cerr == nil && errors.Is(errno, unix.EBADFD) {
		return &deviceError{
			msg:  fmt.Sprintf("link: TAP device %q was deleted", t.name),
			errs: []error{unix.EBADFD, fs.ErrNotExist},
		}
	}
	return err
}

// readSome is the RawConn.Read callback. It returns false, to wait for the
// fd to become readable, only while it has read nothing.
func (t *TAP) readSome(fd uintptr) bool {
	rs := &t.rs
	for rs.n < len(rs.bufs) {
		n, err := unix.Read(int(fd), rs.bufs[rs.n])
		switch {
		case err == nil:
			// The kernel returns a frame's full length even when it
			// copied only what fit.
			rs.sizes[rs.n] = min(n, len(rs.bufs[rs.n]))
			rs.n++
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			return rs.n > 0
		default:
			// Deliver what was read; the next call meets the error
			// again.
			rs.err = err
			return true
		}
	}
	return true
}

// socketMTU reads an interface's MTU through a throwaway socket.
func socketMTU(name string) (int, error) {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(s)
	return ifMTU(s, name)
}
