// Package ether reads and writes Ethernet II frame headers (IEEE 802.3,
// RFC 894 for IPv4 over Ethernet).
//
// It recognises one IEEE 802.1Q or 802.1ad tag so that a tagged frame is
// never misread as an untagged one; the stack itself does not join VLANs
// and drops tagged frames other than priority-tagged ones (VLAN 0).
// It leaves out: 802.3 length-field frames with LLC/SNAP, the frame check
// sequence (devices strip it), and jumbo-frame negotiation.
package ether
