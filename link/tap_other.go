//go:build !linux

package link

import (
	"fmt"
	"net"
	"runtime"
)

// TAP is a device attached to a Linux TAP interface. On this system there
// is none: OpenTAP returns ErrNotSupported.
type TAP struct{ unsupported }

// OpenTAP attaches to a TAP interface. It is implemented only on Linux;
// here it returns an error wrapping ErrNotSupported.
func OpenTAP(name string, opts ...TAPOption) (*TAP, error) {
	hint := ""
	switch runtime.GOOS {
	case "darwin":
		hint = " (macOS has no TAP driver built in: utun carries IP only, and feth pairs are reachable only through BPF)"
	case "freebsd", "openbsd", "netbsd", "dragonfly":
		hint = " (the BSDs' /dev/tapN is not supported yet)"
	}
	return nil, fmt.Errorf("link: TAP device %q: TAP devices are supported on Linux only%s: %w", name, hint, ErrNotSupported)
}

// Offloads implements Offloader: none.
func (t *TAP) Offloads() Offload { return 0 }

// WriteSegment implements SegmentWriter: it returns ErrNotSupported.
func (t *TAP) WriteSegment(frame []byte, mss int) error { return ErrNotSupported }

// unsupported is the body of devices that cannot exist on this system.
// No value of it is ever handed out; its methods exist so that code using
// the devices compiles everywhere.
type unsupported struct{}

func (unsupported) ReadFrames([][]byte, []int) (int, error) { return 0, ErrNotSupported }
func (unsupported) WriteFrames([][]byte) (int, error)       { return 0, ErrNotSupported }
func (unsupported) MTU() int                                { return 0 }
func (unsupported) HardwareAddr() net.HardwareAddr          { return nil }
func (unsupported) Kind() Kind                              { return Ethernet }
func (unsupported) Name() string                            { return "" }
func (unsupported) Stats() DeviceStats                      { return DeviceStats{} }
func (unsupported) Close() error                            { return nil }
