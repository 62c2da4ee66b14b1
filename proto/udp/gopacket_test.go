package udp

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stacknet/stacknet/proto/checksum"
)

// These tests check the encoding against an independent encoder and
// decoder, gopacket's layers package.

// randDatagram returns random addresses, ports and a payload; every few
// cases the payload is tuned so the checksum computes to zero and must be
// sent as 0xffff.
func randDatagram(r *rand.Rand, i int) (src, dst [4]byte, sport, dport uint16, payload []byte) {
	for j := range 4 {
		src[j], dst[j] = byte(r.Uint32()), byte(r.Uint32())
	}
	sport, dport = uint16(r.Uint32()), uint16(r.Uint32())
	payload = make([]byte, r.IntN(300))
	for j := range payload {
		payload[j] = byte(r.Uint32())
	}
	if i%4 == 0 && len(payload) >= 2 {
		// Make the sum over everything but the checksum 0xffff: then
		// the checksum is ^0xffff = 0, sent as 0xffff.
		payload = append(payload[:len(payload)&^1], 0, 0)
		b := make([]byte, HeaderLen+len(payload))
		copy(b[HeaderLen:], payload)
		Put(b, src, dst, sport, dport)
		b[6], b[7] = 0, 0
		s := checksum.Sum(b, checksum.Pseudo(src, dst, 17, uint16(len(b))))
		fix := 0xffff - uint32(s)
		payload[len(payload)-2], payload[len(payload)-1] = byte(fix>>8), byte(fix)
	}
	return
}

// gopacketUDP serializes a datagram with gopacket, checksum included.
func gopacketUDP(t *testing.T, src, dst [4]byte, sport, dport uint16, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{SrcIP: net.IP(src[:]), DstIP: net.IP(dst[:]), Protocol: layers.IPProtocolUDP, Version: 4, TTL: 64}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPutMatchesGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ffff := 0
	for i := range 2000 {
		src, dst, sport, dport, payload := randDatagram(r, i)
		want := gopacketUDP(t, src, dst, sport, dport, payload)
		got := make([]byte, HeaderLen+len(payload))
		copy(got[HeaderLen:], payload)
		Put(got, src, dst, sport, dport)
		if !bytes.Equal(got, want) {
			t.Fatalf("Put wrote\n%x\ngopacket wrote\n%x", got, want)
		}
		if Header(got).Checksum() == 0xffff {
			ffff++
		}
		// And our parser accepts gopacket's datagram.
		h, err := Parse(want)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Verify(src, dst); err != nil {
			t.Fatalf("Verify of gopacket's %x: %v", want, err)
		}
	}
	if ffff < 400 {
		t.Errorf("only %d datagrams exercised the 0xffff checksum", ffff)
	}
}

func TestGopacketDecodesPut(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 500 {
		src, dst, sport, dport, payload := randDatagram(r, i)
		b := make([]byte, HeaderLen+len(payload))
		copy(b[HeaderLen:], payload)
		Put(b, src, dst, sport, dport)
		var u layers.UDP
		if err := u.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("gopacket rejects %x: %v", b, err)
		}
		if uint16(u.SrcPort) != sport || uint16(u.DstPort) != dport || int(u.Length) != len(b) ||
			u.Checksum != Header(b).Checksum() || !bytes.Equal(u.Payload, payload) {
			t.Fatalf("gopacket reads %+v from %x", u, b)
		}
	}
}

// TestGoldenGopacket decodes the golden datagrams with gopacket too.
func TestGoldenGopacket(t *testing.T) {
	for _, name := range goldenFiles(t) {
		ip, b := readGolden(t, name)
		p := gopacket.NewPacket(ip, layers.LayerTypeIPv4, gopacket.Default)
		u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok {
			t.Fatalf("%s: gopacket finds no UDP layer: %v", name, p.ErrorLayer())
		}
		h, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if uint16(u.SrcPort) != h.SrcPort() || uint16(u.DstPort) != h.DstPort() ||
			int(u.Length) != h.Length() || u.Checksum != h.Checksum() || !bytes.Equal(u.Payload, h.Payload()) {
			t.Errorf("%s: gopacket reads %+v; we read %v", name, u, h)
		}
		if h.Checksum() != 0 {
			want := gopacketUDP(t, ip.Src4(), ip.Dst4(), h.SrcPort(), h.DstPort(), h.Payload())
			if !bytes.Equal(want, b) {
				t.Errorf("%s: gopacket re-encodes\n%x\nwant\n%x", name, want, b)
			}
		}
	}
}
