package main

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// checkTAP makes sure the interface called name, if it exists, is a TUN
// or TAP interface, so that `tap delete eth0` cannot remove a real NIC.
// A missing interface is left for link.DeleteLink to report.
func checkTAP(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	if t := l.Type(); t != "tuntap" {
		return fmt.Errorf("interface %q is not a TAP interface (its type is %s): 'stacknet tap delete' removes only TAP interfaces", name, t)
	}
	return nil
}
