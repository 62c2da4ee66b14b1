//go:build !linux

package link

import (
	"fmt"
	"runtime"
)

// Packet is a device on a Linux PF_PACKET socket. On this system there is
// none: OpenPacket returns ErrNotSupported.
type Packet struct{ unsupported }

// OpenPacket opens a PF_PACKET socket on an interface. It is implemented
// only on Linux; here it returns an error wrapping ErrNotSupported.
func OpenPacket(ifname string) (*Packet, error) {
	hint := ""
	if runtime.GOOS != "windows" {
		hint = " (BPF devices, /dev/bpf, are not supported yet)"
	}
	return nil, fmt.Errorf("link: interface %q: PF_PACKET sockets exist on Linux only%s: %w", ifname, hint, ErrNotSupported)
}
