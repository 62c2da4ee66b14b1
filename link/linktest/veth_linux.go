package linktest

import (
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// KernelVeth is a PF_PACKET device on one end of a veth pair whose other
// end belongs to the kernel: frames written to Dev reach the kernel's
// stack as if they arrived on interface Peer, which has the address
// KernelAddr. The two ends live in two network namespaces the helper
// created; t.Cleanup removes them.
type KernelVeth struct {
	Dev        *link.Packet
	Name       string       // the veth end Dev is bound to, in a namespace of its own
	Peer       string       // the kernel's end, in the kernel's namespace
	KernelAddr netip.Prefix // the kernel side's address, such as 198.51.100.1/24

	ns  *namespace // the kernel's
	own *namespace // Name's, where nothing else happens
}

// NewKernelVeth makes two network namespaces joined by a veth pair with
// the given MTU (0 means 1500). In the kernel's namespace, the peer end is
// up with kernelAddr as its address (none if kernelAddr is the zero
// Prefix), and loopback is up. In the other, IPv6 is disabled so that the
// kernel there stays silent, the end is up, and Dev is a PF_PACKET socket
// bound to it.
//
// Without root it skips the test, or fails it when CI=true.
func NewKernelVeth(t testing.TB, kernelAddr netip.Prefix, mtu int) *KernelVeth {
	t.Helper()
	requireRoot(t)
	if mtu == 0 {
		mtu = 1500
	}
	v := &KernelVeth{Name: uniqueName("snva"), Peer: uniqueName("snvb"), KernelAddr: kernelAddr}
	var step string
	err := inNewThread(func() error {
		step = "creating the kernel's network namespace"
		kns, err := newNamespace()
		if err != nil {
			return err
		}
		step = "creating the device's network namespace"
		own, err := newNamespace()
		if err != nil {
			kns.close()
			return err
		}
		fail := func(err error) error {
			if v.Dev != nil {
				v.Dev.Close()
			}
			own.close()
			kns.close()
			return err
		}
		step = "silencing IPv6 in the device's namespace"
		for _, key := range []string{"/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/default/disable_ipv6"} {
			if err := os.WriteFile(key, []byte("1"), 0); err != nil && !os.IsNotExist(err) {
				return fail(err)
			}
		}
		step = "creating the veth pair"
		veth := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: v.Name, MTU: mtu},
			PeerName:      v.Peer,
			PeerNamespace: netlink.NsFd(kns.handle),
		}
		if err := own.nl.LinkAdd(veth); err != nil {
			return fail(err)
		}
		step = "opening the PF_PACKET device"
		if v.Dev, err = link.OpenPacket(v.Name); err != nil {
			return fail(err)
		}
		step = "configuring the kernel side"
		if err := netns.Set(kns.handle); err != nil {
			return fail(err)
		}
		if err := configure(kns, v.Peer, kernelAddr); err != nil {
			return fail(err)
		}
		step = "bringing up the device's end"
		if err := own.nl.LinkSetUp(veth); err != nil {
			return fail(err)
		}
		// The end that came up first had no carrier then, so the kernel
		// gave it its transmit queue only on the carrier-on event, which
		// it handles later, on a worker; until then what it sends is
		// dropped. Wait for both ends.
		step = "waiting for the veth pair to come up"
		if err := waitOperUp(own, v.Name); err != nil {
			return fail(err)
		}
		if err := waitOperUp(kns, v.Peer); err != nil {
			return fail(err)
		}
		v.ns, v.own = kns, own
		return nil
	})
	if err != nil {
		setUpError(t, step, err)
	}
	t.Cleanup(func() {
		if err := v.Dev.Close(); err != nil {
			t.Errorf("linktest: closing PF_PACKET device on %s: %v", v.Name, err)
		}
		// Deleting one end of a veth pair deletes both.
		if err := v.own.deleteLink(v.Name); err != nil {
			t.Errorf("linktest: deleting %s: %v", v.Name, err)
		}
		v.own.close()
		v.ns.close()
	})
	return v
}

// Do runs f on a fresh goroutine locked to an OS thread inside the
// kernel's namespace, as Kernel.Do does.
func (v *KernelVeth) Do(f func() error) error { return v.ns.do(f) }

// Neighbours returns the kernel's neighbour table for its end of the pair.
func (v *KernelVeth) Neighbours() ([]netlink.Neigh, error) { return v.ns.neighbours(v.Peer) }

// Sysctl sets a network sysctl inside the kernel's namespace, as
// Kernel.Sysctl does.
func (v *KernelVeth) Sysctl(key, value string) error { return v.ns.sysctl(key, value) }

// waitOperUp waits until the kernel has handled the carrier-on event of
// interface name in ns: its operational state is up and, since it sets
// that state and activates the transmit queues in one step under the
// rtnl lock, a later change taking that lock (a no-op LinkSetUp) finds
// the queues active.
func waitOperUp(ns *namespace, name string) error {
	// Polling a condition the kernel reaches on its own, typically within
	// milliseconds; the limit is only against waiting for ever.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		l, err := ns.nl.LinkByName(name)
		if err != nil {
			return err
		}
		if l.Attrs().OperState == netlink.OperUp {
			return ns.nl.LinkSetUp(l)
		}
	}
	return fmt.Errorf("interface %s did not come up", name)
}
