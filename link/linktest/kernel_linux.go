package linktest

import (
	"net/netip"
	"testing"

	"github.com/stacknet/stacknet/link"
	"github.com/vishvananda/netlink"
)

// Kernel is a TAP device whose kernel side lives in a network namespace
// the helper created. Frames written to Dev reach the kernel's stack in
// that namespace as if they arrived on interface Name, which has the
// address KernelAddr; t.Cleanup removes both.
type Kernel struct {
	Dev        *link.TAP
	Name       string       // the TAP interface, inside the namespace
	KernelAddr netip.Prefix // the kernel side's address, such as 192.0.2.1/24

	ns *namespace
}

// NewKernelTAP makes a network namespace with a TAP interface in it, up,
// with kernelAddr as its address (none if kernelAddr is the zero Prefix)
// and the given MTU (0 means 1500), and opens it. Loopback in the
// namespace is up too. The TAP fd works from any goroutine; the interface
// stays in the namespace. opts are passed to link.OpenTAP (such as
// link.WithOffloads()).
//
// Without root it skips the test, or fails it when CI=true.
func NewKernelTAP(t testing.TB, kernelAddr netip.Prefix, mtu int, opts ...link.TAPOption) *Kernel {
	t.Helper()
	requireRoot(t)
	if mtu == 0 {
		mtu = 1500
	}
	k := &Kernel{Name: uniqueName("sntap"), KernelAddr: kernelAddr}
	var step string
	err := inNewThread(func() error {
		step = "creating a network namespace"
		ns, err := newNamespace()
		if err != nil {
			return err
		}
		step = "creating the TAP device"
		if err := link.CreateTAP(k.Name, mtu); err != nil {
			ns.close()
			return err
		}
		// Attach before bringing the interface up, so that its carrier
		// is on from the start.
		step = "opening the TAP device"
		if k.Dev, err = link.OpenTAP(k.Name, opts...); err != nil {
			ns.close()
			return err
		}
		step = "configuring the kernel side"
		if err := configure(ns, k.Name, kernelAddr); err != nil {
			k.Dev.Close()
			ns.close()
			return err
		}
		k.ns = ns
		return nil
	})
	if err != nil {
		setUpError(t, step, err)
	}
	t.Cleanup(func() {
		if err := k.Dev.Close(); err != nil {
			t.Errorf("linktest: closing %s: %v", k.Name, err)
		}
		if err := k.ns.deleteLink(k.Name); err != nil {
			t.Errorf("linktest: deleting %s: %v", k.Name, err)
		}
		k.ns.close()
	})
	return k
}

// configure gives interface name in ns the address addr, if valid, and
// brings it up. The calling thread is in ns.
func configure(ns *namespace, name string, addr netip.Prefix) error {
	if addr.IsValid() {
		return link.ConfigureKernelSide(name, addr)
	}
	l, err := ns.nl.LinkByName(name)
	if err != nil {
		return err
	}
	return ns.nl.LinkSetUp(l)
}

// Do runs f on a fresh goroutine locked to an OS thread inside the
// namespace, and returns its error. Sockets f creates (net.Listen,
// net.ListenPacket, raw ICMP sockets) belong to the namespace for life,
// and may be used from any goroutine afterwards. The thread is never
// handed back to the runtime, so no other goroutine runs in the
// namespace by accident. f must not call t.FailNow or t.Skip.
func (k *Kernel) Do(f func() error) error { return k.ns.do(f) }

// Neighbours returns the kernel's neighbour table (ARP and NDP entries)
// for the TAP interface.
func (k *Kernel) Neighbours() ([]netlink.Neigh, error) { return k.ns.neighbours(k.Name) }

// Sysctl sets a network sysctl inside the namespace, such as
// Sysctl("net.ipv4.icmp_ratelimit", "0"). Only keys under net are
// accepted: the others are not per namespace.
func (k *Kernel) Sysctl(key, value string) error { return k.ns.sysctl(key, value) }
