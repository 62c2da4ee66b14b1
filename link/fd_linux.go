package link

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// fdDevice is what TAP and Packet share: an Ethernet device on a
// non-blocking file descriptor registered with the Go runtime's poller, so
// that a blocked read parks its goroutine instead of a thread and Close
// unblocks it.
//
// Reads and writes go through syscall.RawConn with callbacks bound once
// (a method value stored in a struct) so that no call allocates: a closure
// made per call would escape to the heap.
type fdDevice struct {
	name  string
	what  string // "TAP device" or "interface", for messages
	mtu   int
	mac   net.HardwareAddr
	file  *os.File
	rc    syscall.RawConn
	stats counters

	closed atomic.Bool
	writes sync.Pool // of *writeOp
}

// init wraps fd, which must be non-blocking, in an *os.File registered
// with the poller. On error the fd is closed.
func (d *fdDevice) init(fd int, name, what string, mtu int) error {
	d.name, d.what, d.mtu, d.mac = name, what, mtu, RandomMAC()
	d.file = os.NewFile(uintptr(fd), name)
	rc, err := d.file.SyscallConn()
	if err != nil {
		d.file.Close()
		return fmt.Errorf("link: %s %q: %w", what, name, err)
	}
	d.rc = rc
	d.writes.New = func() any {
		op := &writeOp{}
		op.fn = op.write
		return op
	}
	return nil
}

// MTU implements Device.
func (d *fdDevice) MTU() int { return d.mtu }

// HardwareAddr implements Device. It is the stack's own random address,
// not the kernel-side interface's.
func (d *fdDevice) HardwareAddr() net.HardwareAddr { return d.mac }

// Kind implements Device.
func (d *fdDevice) Kind() Kind { return Ethernet }

// Name implements Namer.
func (d *fdDevice) Name() string { return d.name }

// Stats implements StatsReporter.
func (d *fdDevice) Stats() DeviceStats { return d.stats.snapshot() }

// Close implements Device. It unblocks a blocked ReadFrames, which then
// returns ErrClosed.
func (d *fdDevice) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	if err := d.file.Close(); err != nil {
		return fmt.Errorf("link: closing %s %q: %w", d.what, d.name, err)
	}
	return nil
}

// ioError turns an error from the file or a system call into the error
// ReadFrames or WriteFrames returns.
func (d *fdDevice) ioError(op string, err error) error {
	if d.closed.Load() || errors.Is(err, os.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("link: %s %s %q: %w", op, d.what, d.name, err)
}

// WriteFrames implements Device: one write(2) per frame, all under one
// acquisition of the file's write lock. A frame the kernel refuses (too
// short or long, no buffer space, the interface down) is dropped and
// counted, as a wire would drop it.
func (d *fdDevice) WriteFrames(frames [][]byte) (int, error) {
	if d.closed.Load() {
		return 0, ErrClosed
	}
	if len(frames) == 0 {
		return 0, nil
	}
	op := d.writes.Get().(*writeOp)
	op.frames = frames
	err := d.rc.Write(op.fn)
	n, sent, bytes, drops := op.i, op.sent, op.bytes, op.drops
	if err == nil {
		err = op.err
	}
	*op = writeOp{fn: op.fn}
	d.writes.Put(op)
	d.stats.addTx(sent, bytes, drops)
	if err != nil {
		return n, d.ioError("write to", err)
	}
	return n, nil
}

// writeOp is the state of one WriteFrames call, kept in a pool so that the
// callback handed to RawConn.Write is bound once, not made per call.
type writeOp struct {
	frames             [][]byte
	i                  int  // frames taken
	retried            bool // frame i met ENETDOWN once
	sent, bytes, drops uint64
	err                error
	fn                 func(fd uintptr) bool // op.write
}

func (op *writeOp) write(fd uintptr) bool {
	for op.i < len(op.frames) {
		f := op.frames[op.i]
		n, err := unix.Write(int(fd), f)
		switch {
		case err == nil:
			op.sent++
			op.bytes += uint64(n)
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false // wait until writable
		case err == unix.ENETDOWN && !op.retried:
			// A PF_PACKET socket reports an interface going down
			// through the next call, and fails it, even if the
			// interface is up again by then. The error is now
			// cleared: try once more.
			op.retried = true
			continue
		case droppedByWire(err):
			op.drops++
		default:
			op.err = err
			return true
		}
		op.i++
		op.retried = false
	}
	return true
}

// droppedByWire reports whether a write error means "this frame was
// dropped", which a Device counts rather than reports.
func droppedByWire(err error) bool {
	switch err {
	case unix.EINVAL, // runt frame (TAP)
		unix.EMSGSIZE,             // longer than the interface allows
		unix.ENOBUFS, unix.ENOMEM, // no room in the kernel's queues
		unix.ENETDOWN, unix.ENXIO, unix.EIO: // interface down
		return true
	}
	return false
}

// readState is the state of one ReadFrames call on a device with one
// reader, kept in the device so that the callback handed to RawConn.Read
// is bound once. mu, held for the whole call, guards it against a
// (misbehaving) second reader.
type readState struct {
	mu    sync.Mutex
	bufs  [][]byte
	sizes []int
	n     int
	err   error
}

// read runs fn, a callback filling rs, through the poller, and tidies up.
// The caller holds rs.mu.
func (d *fdDevice) read(rs *readState, fn func(uintptr) bool, bufs [][]byte, sizes []int) (int, error) {
	if d.closed.Load() {
		return 0, ErrClosed
	}
	k := min(len(bufs), len(sizes))
	if k == 0 {
		return 0, nil
	}
	rs.bufs, rs.sizes, rs.n, rs.err = bufs[:k], sizes[:k], 0, nil
	err := d.rc.Read(fn)
	n := rs.n
	if err == nil && n == 0 {
		err = rs.err
	}
	rs.bufs, rs.sizes, rs.err = nil, nil, nil
	if err != nil {
		return 0, d.ioError("read from", err)
	}
	d.stats.addRx(sizes[:n])
	return n, nil
}

// checkIfName rejects names the kernel would refuse or interpret (a
// "%d" template), with a message that says why.
func checkIfName(name string) error {
	switch {
	case name == "":
		return errors.New("link: empty interface name")
	case len(name) >= unix.IFNAMSIZ:
		return fmt.Errorf("link: interface name %q is longer than %d bytes", name, unix.IFNAMSIZ-1)
	case name == "." || name == ".." || strings.ContainsAny(name, "/:% \t\n\x00"):
		return fmt.Errorf("link: invalid interface name %q", name)
	}
	return nil
}

// deviceError is an error with a message meant for a person, wrapping the
// errors a program may test for with errors.Is.
type deviceError struct {
	msg  string
	errs []error
}

func (e *deviceError) Error() string   { return e.msg }
func (e *deviceError) Unwrap() []error { return e.errs }

func noSuchDevice(msg string) error {
	return &deviceError{msg: msg, errs: []error{unix.ENODEV, fs.ErrNotExist}}
}

func needsPrivilege(what string, err error) error {
	return &deviceError{msg: fmt.Sprintf("link: %s needs root or CAP_NET_ADMIN (%v)", what, err), errs: []error{err, fs.ErrPermission}}
}

func isPermission(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
}

// ifMTU returns the MTU of the interface called name, asking through
// socket fd (any socket: the ioctl is answered by the interface layer of
// the network namespace the socket was made in).
func ifMTU(fd int, name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFMTU, ifr); err != nil {
		return 0, err
	}
	return int(ifr.Uint32()), nil
}

// ifIndex returns the index of the interface called name, asking through
// socket fd.
func ifIndex(fd int, name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	return int(ifr.Uint32()), nil
}
