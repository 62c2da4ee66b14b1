package icmp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/stacknet/stacknet/proto/ipv4"
)

func TestQuoteLen(t *testing.T) {
	tests := []struct{ n, want int }{
		{0, 0}, {28, 28}, {547, 547}, {548, 548}, {549, 548}, {1500, 548}, {65535, 548},
	}
	for _, tt := range tests {
		if got := QuoteLen(tt.n); got != tt.want {
			t.Errorf("QuoteLen(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
	if MaxQuote != 548 {
		t.Errorf("MaxQuote = %d", MaxQuote)
	}
}

// datagram builds an IPv4 datagram for the error tests.
func datagram(t *testing.T, src, dst string, proto uint8, fragOff int, mf bool, payload []byte) ipv4.Header {
	t.Helper()
	b := make([]byte, ipv4.HeaderLen+len(payload))
	copy(b[ipv4.HeaderLen:], payload)
	var flags uint16
	if mf {
		flags = ipv4.FlagMF
	}
	ipv4.PutHeader(b, ipv4.Fields{
		TotalLen: len(b), TTL: 64, Protocol: proto, Flags: flags, FragOff: fragOff,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
	})
	h, err := ipv4.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAppendError(t *testing.T) {
	big := make([]byte, 1472)
	for i := range big {
		big[i] = byte(i * 7)
	}
	dg := datagram(t, "192.0.2.1", "198.51.100.9", ipv4.ProtoUDP, 0, false, big)
	prefix := []byte("outer IP header.....")
	buf := make([]byte, 0, MaxErrorDatagram)
	buf = append(buf, prefix...)
	var out []byte
	allocs := testing.AllocsPerRun(10, func() {
		out = AppendError(buf, TypeDestUnreach, CodeFragNeeded, FragNeededRest(1400), dg)
	})
	if allocs != 0 {
		t.Errorf("AppendError with room allocates %v times", allocs)
	}
	if len(out) != MaxErrorDatagram || !bytes.Equal(out[:len(prefix)], prefix) {
		t.Fatalf("AppendError gave %d bytes", len(out))
	}
	m, err := Parse(out[len(prefix):])
	if err != nil {
		t.Fatal(err)
	}
	if m.Type() != TypeDestUnreach || m.Code() != CodeFragNeeded || m.NextHopMTU() != 1400 ||
		!bytes.Equal(m.Body(), dg[:MaxQuote]) {
		t.Errorf("AppendError wrote %v", m)
	}

	// A short datagram is quoted whole.
	small := datagram(t, "192.0.2.1", "198.51.100.9", ipv4.ProtoUDP, 0, false, []byte("12345678"))
	m, err = Parse(AppendError(nil, TypeDestUnreach, CodePortUnreach, 0, small))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Body(), small) || len(m) != HeaderLen+len(small) {
		t.Errorf("quoted %x", m.Body())
	}
}

func TestMaySendError(t *testing.T) {
	udp := make([]byte, 8)
	icmpMsg := func(typ uint8) []byte {
		b := make([]byte, 8)
		Put(b, typ, 0, 0)
		return b
	}
	const us = "192.0.2.1"
	tests := []struct {
		name      string
		src, dst  string
		proto     uint8
		fragOff   int
		mf        bool
		payload   []byte
		broadcast bool
		want      bool
	}{
		{"UDP unicast", "198.51.100.2", us, ipv4.ProtoUDP, 0, false, udp, false, true},
		{"first fragment", "198.51.100.2", us, ipv4.ProtoUDP, 0, true, udp, false, true},
		{"non-initial fragment", "198.51.100.2", us, ipv4.ProtoUDP, 8, false, udp, false, false},
		{"last fragment", "198.51.100.2", us, ipv4.ProtoUDP, 1480, false, udp, false, false},
		{"link-layer or directed broadcast", "198.51.100.2", us, ipv4.ProtoUDP, 0, false, udp, true, false},
		{"limited broadcast", "198.51.100.2", "255.255.255.255", ipv4.ProtoUDP, 0, false, udp, false, false},
		{"multicast destination", "198.51.100.2", "224.0.0.251", ipv4.ProtoUDP, 0, false, udp, false, false},
		{"multicast destination top", "198.51.100.2", "239.255.255.250", ipv4.ProtoUDP, 0, false, udp, false, false},
		{"zero source", "0.0.0.0", us, ipv4.ProtoUDP, 0, false, udp, false, false},
		{"this-network source", "0.1.2.3", us, ipv4.ProtoUDP, 0, false, udp, false, false},
		{"multicast source", "224.0.0.1", us, ipv4.ProtoUDP, 0, false, udp, false, false},
		{"class E source", "240.0.0.1", us, ipv4.ProtoUDP, 0, false, udp, false, false},
		{"broadcast source", "255.255.255.255", us, ipv4.ProtoUDP, 0, false, udp, false, false},
		{"loopback source (loopback interface)", "127.0.0.1", "127.0.0.1", ipv4.ProtoUDP, 0, false, udp, false, true},
		{"class E destination is not refused here", "198.51.100.2", "240.0.0.1", ipv4.ProtoUDP, 0, false, udp, false, true},
		{"echo request", "198.51.100.2", us, ipv4.ProtoICMP, 0, false, icmpMsg(TypeEcho), false, true},
		{"echo reply", "198.51.100.2", us, ipv4.ProtoICMP, 0, false, icmpMsg(TypeEchoReply), false, true},
		{"timestamp", "198.51.100.2", us, ipv4.ProtoICMP, 0, false, icmpMsg(TypeTimestamp), false, true},
		{"ICMP dest unreachable", "198.51.100.2", us, ipv4.ProtoICMP, 0, false, icmpMsg(TypeDestUnreach), false, false},
		{"ICMP redirect", "198.51.100.2", us, ipv4.ProtoICMP, 0, false, icmpMsg(TypeRedirect), false, false},
		{"ICMP source quench", "198.51.100.2", us, ipv4.ProtoICMP, 0, false, icmpMsg(TypeSourceQuench), false, false},
		{"ICMP time exceeded", "198.51.100.2", us, ipv4.ProtoICMP, 0, false, icmpMsg(TypeTimeExceeded), false, false},
		{"ICMP parameter problem", "198.51.100.2", us, ipv4.ProtoICMP, 0, false, icmpMsg(TypeParamProblem), false, false},
		{"ICMP type 18 (known to Linux)", "198.51.100.2", us, ipv4.ProtoICMP, 0, false, icmpMsg(18), false, true},
		{"ICMP unknown type 19", "198.51.100.2", us, ipv4.ProtoICMP, 0, false, icmpMsg(19), false, false},
		{"ICMP empty", "198.51.100.2", us, ipv4.ProtoICMP, 0, false, nil, false, false},
		{"ICMP non-initial fragment", "198.51.100.2", us, ipv4.ProtoICMP, 8, false, icmpMsg(TypeEcho), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dg := datagram(t, tt.src, tt.dst, tt.proto, tt.fragOff, tt.mf, tt.payload)
			if got := MaySendError(dg, tt.broadcast); got != tt.want {
				t.Errorf("MaySendError = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	withOptions := func() []byte {
		q := make([]byte, 24+8)
		q[0] = 0x46 // IHL 6: four bytes of options
		q[24], q[25] = 0xab, 0xcd
		return q
	}
	tests := []struct {
		name   string
		body   []byte
		hl, tl int
		err    error
	}{
		{"empty", nil, 0, 0, ErrQuote},
		{"header only", append([]byte{0x45}, make([]byte, 19)...), 0, 0, ErrQuote},
		{"header and 7 bytes", append([]byte{0x45}, make([]byte, 26)...), 0, 0, ErrQuote},
		{"header and 8 bytes", append([]byte{0x45}, make([]byte, 27)...), 20, 8, nil},
		{"version 6", append([]byte{0x65}, make([]byte, 47)...), 0, 0, ErrQuote},
		{"IHL 4", append([]byte{0x44}, make([]byte, 27)...), 0, 0, ErrQuote},
		{"IHL 15, too short", append([]byte{0x4f}, make([]byte, 60)...), 0, 0, ErrQuote},
		{"options", withOptions(), 24, 8, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Message(AppendError(nil, TypeDestUnreach, CodePortUnreach, 0, tt.body))
			ip, tr, err := m.Quote()
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if len(ip) != tt.hl || ip.HeaderLen() != tt.hl || len(tr) != tt.tl {
				t.Errorf("header %d bytes, transport %d bytes", len(ip), len(tr))
			}
			if &tr[0] != &m.Body()[tt.hl] {
				t.Error("transport is not a view into the message")
			}
		})
	}
}
