package link

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// These helpers configure the kernel's side of a device over rtnetlink.
// They act in the network namespace of the calling thread: to use them in
// another namespace, lock the goroutine to its thread and enter the
// namespace first (as package linktest does).

// CreateTAP creates a persistent, single-queue TAP interface called name,
// without a packet-information header, for OpenTAP to attach to. mtu 0
// leaves the kernel's default (1500). The interface is left down and
// without an address: see ConfigureKernelSide. It needs root or
// CAP_NET_ADMIN.
func CreateTAP(name string, mtu int) error {
	if err := checkIfName(name); err != nil {
		return err
	}
	if mtu < 0 {
		return fmt.Errorf("link: creating TAP device %q: negative MTU %d", name, mtu)
	}
	// netlink reports the errors of the TUNSETIFF ioctl as text, so look
	// for the likely causes first, to say what they are.
	if _, err := netlink.LinkByName(name); err == nil {
		return fmt.Errorf("link: creating TAP device %q: an interface of that name exists: %w", name, fs.ErrExist)
	}
	if !hasCapNetAdmin() {
		return needsPrivilege(fmt.Sprintf("creating TAP device %q", name), unix.EPERM)
	}
	tap := &netlink.Tuntap{
		LinkAttrs: netlink.LinkAttrs{Name: name},
		Mode:      netlink.TUNTAP_MODE_TAP,
		// IFF_TUN_EXCL: fail rather than take over an interface created
		// since the check above. Queues 0 and NonPersist false: one queue,
		// and the interface outlives the fd netlink creates it with.
		Flags: netlink.TUNTAP_NO_PI | netlink.TUNTAP_DEFAULTS,
	}
	if err := netlink.LinkAdd(tap); err != nil {
		return fmt.Errorf("link: creating TAP device %q: %w", name, err)
	}
	if mtu != 0 {
		if err := netlink.LinkSetMTU(tap, mtu); err != nil {
			_ = netlink.LinkDel(tap)
			return fmt.Errorf("link: setting the MTU of TAP device %q to %d: %w", name, mtu, err)
		}
	}
	return nil
}

// DeleteLink deletes the interface called name, such as a TAP interface
// made by CreateTAP. It needs root or CAP_NET_ADMIN.
func DeleteLink(name string) error {
	l, err := linkByName(name)
	if err != nil {
		return err
	}
	if err := netlink.LinkDel(l); err != nil {
		if isPermission(err) {
			return needsPrivilege(fmt.Sprintf("deleting interface %q", name), err)
		}
		return fmt.Errorf("link: deleting interface %q: %w", name, err)
	}
	return nil
}

// ConfigureKernelSide gives the kernel's side of the interface called name
// the address addr (such as 192.0.2.1/24, which also adds the route to
// 192.0.2.0/24 through it) and brings it up. An IPv6 address is added
// without duplicate address detection, so it is usable at once. Setting
// an address the interface already has is not an error. It needs root or
// CAP_NET_ADMIN.
func ConfigureKernelSide(name string, addr netip.Prefix) error {
	if !addr.IsValid() {
		return fmt.Errorf("link: configuring interface %q: invalid address %v", name, addr)
	}
	l, err := linkByName(name)
	if err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: &net.IPNet{
		IP:   addr.Addr().Unmap().AsSlice(),
		Mask: net.CIDRMask(addr.Bits(), addr.Addr().Unmap().BitLen()),
	}}
	if addr.Addr().Unmap().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := netlink.AddrReplace(l, a); err != nil {
		if isPermission(err) {
			return needsPrivilege(fmt.Sprintf("configuring interface %q", name), err)
		}
		return fmt.Errorf("link: adding address %v to interface %q: %w", addr, name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("link: bringing up interface %q: %w", name, err)
	}
	return nil
}

func linkByName(name string) (netlink.Link, error) {
	if err := checkIfName(name); err != nil {
		return nil, err
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) || errors.Is(err, unix.ENODEV) {
			return nil, noSuchDevice(fmt.Sprintf("link: interface %q does not exist", name))
		}
		return nil, fmt.Errorf("link: looking up interface %q: %w", name, err)
	}
	return l, nil
}

// hasCapNetAdmin reports whether the calling thread has CAP_NET_ADMIN in
// its effective set.
func hasCapNetAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return true // unknown: let the kernel decide
	}
	return data[unix.CAP_NET_ADMIN/32].Effective&(1<<(unix.CAP_NET_ADMIN%32)) != 0
}
