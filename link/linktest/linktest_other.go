//go:build !linux

package linktest

import (
	"net/netip"
	"testing"

	"github.com/stacknet/stacknet/link"
	"github.com/vishvananda/netlink"
)

// Kernel is a TAP device whose kernel side lives in a network namespace.
// Only Linux has them: NewKernelTAP skips the test here.
type Kernel struct {
	Dev        *link.TAP
	Name       string
	KernelAddr netip.Prefix
}

// NewKernelTAP skips the test: TAP devices in network namespaces exist
// only on Linux.
func NewKernelTAP(t testing.TB, kernelAddr netip.Prefix, mtu int, opts ...link.TAPOption) *Kernel {
	t.Helper()
	t.Skip("linktest: kernel interop tests need Linux (TAP devices and network namespaces)")
	return nil
}

// Do returns link.ErrNotSupported.
func (k *Kernel) Do(f func() error) error { return link.ErrNotSupported }

// Neighbours returns link.ErrNotSupported.
func (k *Kernel) Neighbours() ([]netlink.Neigh, error) { return nil, link.ErrNotSupported }

// Sysctl returns link.ErrNotSupported.
func (k *Kernel) Sysctl(key, value string) error { return link.ErrNotSupported }

// KernelVeth is a PF_PACKET device on a veth pair whose other end belongs
// to the kernel. Only Linux has them: NewKernelVeth skips the test here.
type KernelVeth struct {
	Dev        *link.Packet
	Name       string
	Peer       string
	KernelAddr netip.Prefix
}

// NewKernelVeth skips the test: PF_PACKET and network namespaces exist
// only on Linux.
func NewKernelVeth(t testing.TB, kernelAddr netip.Prefix, mtu int) *KernelVeth {
	t.Helper()
	t.Skip("linktest: kernel interop tests need Linux (PF_PACKET, veth and network namespaces)")
	return nil
}

// Do returns link.ErrNotSupported.
func (v *KernelVeth) Do(f func() error) error { return link.ErrNotSupported }

// Neighbours returns link.ErrNotSupported.
func (v *KernelVeth) Neighbours() ([]netlink.Neigh, error) { return nil, link.ErrNotSupported }

// Sysctl returns link.ErrNotSupported.
func (v *KernelVeth) Sysctl(key, value string) error { return link.ErrNotSupported }
