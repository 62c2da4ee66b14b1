package link

import (
	"errors"
	"net"
)

// Kind says what a device's frames look like.
type Kind uint8

const (
	// Ethernet devices carry frames with a 14-byte Ethernet II header.
	Ethernet Kind = iota
	// IP devices (the loopback) carry bare IP datagrams, with no link header.
	IP
)

func (k Kind) String() string {
	switch k {
	case Ethernet:
		return "ethernet"
	case IP:
		return "ip"
	}
	return "unknown"
}

// ErrClosed is returned by a device's methods after Close.
var ErrClosed = errors.New("link: device closed")

// ErrNotSupported is returned where a device cannot exist on this system.
var ErrNotSupported = errors.New("link: not supported on this system")

// A Device sends and receives link-layer frames. It is built for a fast
// path: the caller owns every buffer, so no call allocates, and a frame is
// never handed from one goroutine to another inside the device where it can
// be avoided. Reads and writes take batches, so that a device able to move
// several frames in one system call (recvmmsg, a ring) can.
//
// A Device is used by exactly one reader goroutine (the stack's), and by
// any number of writers at once: WriteFrames must be safe for concurrent
// use. Close may be called from any goroutine; it unblocks ReadFrames, which
// then returns ErrClosed.
type Device interface {
	// ReadFrames blocks until at least one frame has arrived, then copies
	// up to len(bufs) frames into bufs, storing each frame's length in
	// sizes, and returns how many it stored. A frame longer than its buffer
	// is truncated. Each buffer should be at least MTU()+HeaderLen(Kind())
	// bytes long.
	ReadFrames(bufs [][]byte, sizes []int) (int, error)

	// WriteFrames sends frames in order and returns how many were taken.
	// The device does not keep the slices after it returns. A frame the
	// wire would drop (a full queue, a lost frame in an impaired link) is
	// counted as taken: like a real wire, a device does not promise
	// delivery.
	WriteFrames(frames [][]byte) (int, error)

	// MTU is the largest payload a frame may carry, not counting the link
	// header: 1500 for ordinary Ethernet.
	MTU() int

	// HardwareAddr is the device's MAC address, or nil for a device of
	// kind IP.
	HardwareAddr() net.HardwareAddr

	// Kind says whether frames carry an Ethernet header.
	Kind() Kind

	// Close releases the device. It is safe to call more than once.
	Close() error
}

// HeaderLen is the length of the link header that a device of kind k puts
// before each datagram: 14 for Ethernet, 0 for IP.
func HeaderLen(k Kind) int {
	if k == Ethernet {
		return 14
	}
	return 0
}

// A Namer is a device that knows its own name, such as "tap0".
type Namer interface {
	Name() string
}

// nameOf returns dev's name, or "" for a device without one. The
// wrappers use it to pass their inner device's name through.
func nameOf(dev Device) string {
	if n, ok := dev.(Namer); ok {
		return n.Name()
	}
	return ""
}

// FrameSwapper is implemented by devices whose frames already lie in
// buffers of their own (Pipe, Loopback): instead of copying a frame into
// the caller's buffer they can hand theirs over.
type FrameSwapper interface {
	// SwapFrames is ReadFrames, except that it may exchange bufs[i] for a
	// buffer of the same length that holds the frame, keeping the
	// caller's buffer in return. The caller must own each bufs[i] alone
	// (no two sharing memory) and keep no other reference to it.
	SwapFrames(bufs [][]byte, sizes []int) (int, error)
}
