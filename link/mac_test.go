package link

import (
	"net"
	"testing"
)

// checkMAC fails the test unless mac is a 6-byte unicast, locally
// administered address.
func checkMAC(t *testing.T, mac net.HardwareAddr) {
	t.Helper()
	if len(mac) != 6 {
		t.Fatalf("MAC %v has %d bytes, want 6", mac, len(mac))
	}
	if mac[0]&0x01 != 0 {
		t.Errorf("MAC %v is multicast (I/G bit set)", mac)
	}
	if mac[0]&0x02 == 0 {
		t.Errorf("MAC %v is not locally administered (U/L bit clear)", mac)
	}
}

func TestRandomMAC(t *testing.T) {
	seen := make(map[string]bool)
	var or, and byte = 0, 0xff
	for range 1000 {
		mac := RandomMAC()
		checkMAC(t, mac)
		if seen[mac.String()] {
			t.Fatalf("RandomMAC repeated %v", mac)
		}
		seen[mac.String()] = true
		or |= mac[0]
		and &= mac[0]
	}
	// The other 46 bits vary: every bit of the first octet but the two
	// fixed ones was seen both set and clear.
	if or|0x03 != 0xff || and&^0x03 != 0 {
		t.Errorf("first octets are not random: OR %08b AND %08b", or, and)
	}
}
