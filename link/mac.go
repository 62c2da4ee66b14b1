package link

import (
	"crypto/rand"
	"net"
)

// RandomMAC returns a fresh random Ethernet address that is unicast (the
// I/G bit, bit 0 of the first octet, is clear) and locally administered
// (the U/L bit, bit 1 of the first octet, is set), as IEEE 802 reserves
// for addresses not assigned by a manufacturer. It reads crypto/rand, so
// two stacks in one process, or on one wire, do not pick the same address
// by accident.
func RandomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	// crypto/rand.Read never fails (Go 1.24 and later).
	_, _ = rand.Read(mac)
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}
