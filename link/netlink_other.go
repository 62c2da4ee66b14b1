//go:build !linux

package link

import (
	"fmt"
	"net/netip"
)

// CreateTAP creates a persistent TAP interface. It is implemented only on
// Linux; here it returns an error wrapping ErrNotSupported.
func CreateTAP(name string, mtu int) error {
	return fmt.Errorf("link: creating TAP device %q: %w", name, ErrNotSupported)
}

// DeleteLink deletes an interface. It is implemented only on Linux; here
// it returns an error wrapping ErrNotSupported.
func DeleteLink(name string) error {
	return fmt.Errorf("link: deleting interface %q: %w", name, ErrNotSupported)
}

// ConfigureKernelSide gives an interface an address and brings it up. It
// is implemented only on Linux; here it returns an error wrapping
// ErrNotSupported.
func ConfigureKernelSide(name string, addr netip.Prefix) error {
	return fmt.Errorf("link: configuring interface %q: %w", name, ErrNotSupported)
}
