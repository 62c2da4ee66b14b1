package arp

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/stacknet/stacknet/proto/ether"
)

// These tests check the encoding against an independent decoder and
// encoder, gopacket's layers package.

func randMAC(r *rand.Rand) ether.Addr {
	var a ether.Addr
	for i := range a {
		a[i] = byte(r.Uint32())
	}
	return a
}

func randIP(r *rand.Rand) netip.Addr {
	var a [4]byte
	for i := range a {
		a[i] = byte(r.Uint32())
	}
	return netip.AddrFrom4(a)
}

func randFields(r *rand.Rand) fields {
	return fields{uint16(1 + r.IntN(2)), randMAC(r), randMAC(r), randIP(r), randIP(r)}
}

func TestGopacketDecodesPut(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 1000 {
		f := randFields(r)
		frame := make([]byte, ether.MinFrameLen)
		ether.Put(frame, ether.Broadcast, f.sha, ether.TypeARP)
		Put(frame[ether.HeaderLen:], f.op, f.sha, f.spa, f.tha, f.tpa)

		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("gopacket: %v", el.Error())
		}
		a, _ := p.Layer(layers.LayerTypeARP).(*layers.ARP)
		if a == nil {
			t.Fatalf("gopacket finds no ARP layer in %x", frame)
		}
		spa, tpa := f.spa.As4(), f.tpa.As4()
		if a.AddrType != layers.LinkTypeEthernet || a.Protocol != layers.EthernetTypeIPv4 ||
			a.HwAddressSize != 6 || a.ProtAddressSize != 4 || a.Operation != f.op ||
			!bytes.Equal(a.SourceHwAddress, f.sha[:]) || !bytes.Equal(a.SourceProtAddress, spa[:]) ||
			!bytes.Equal(a.DstHwAddress, f.tha[:]) || !bytes.Equal(a.DstProtAddress, tpa[:]) {
			t.Fatalf("Put(%+v): gopacket reads %+v", f, a)
		}
		if len(a.Contents) != PacketLen {
			t.Fatalf("gopacket reads a %d-byte ARP packet", len(a.Contents))
		}
	}
}

func TestParseDecodesGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 1000 {
		f := randFields(r)
		spa, tpa := f.spa.As4(), f.tpa.As4()
		eth := &layers.Ethernet{
			SrcMAC:       net.HardwareAddr(f.sha[:]),
			DstMAC:       layers.EthernetBroadcast,
			EthernetType: layers.EthernetTypeARP,
		}
		a := &layers.ARP{
			AddrType:          layers.LinkTypeEthernet,
			Protocol:          layers.EthernetTypeIPv4,
			Operation:         f.op,
			SourceHwAddress:   f.sha[:],
			SourceProtAddress: spa[:],
			DstHwAddress:      f.tha[:],
			DstProtAddress:    tpa[:],
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, a); err != nil {
			t.Fatal(err)
		}
		frame := buf.Bytes()
		h, err := ether.Parse(frame)
		if err != nil || h.Type != ether.TypeARP || h.Dst != ether.Broadcast || h.Src != f.sha {
			t.Fatalf("ether.Parse(%x) = %+v, %v", frame, h, err)
		}
		p, err := Parse(frame[h.Len:])
		if err != nil {
			t.Fatalf("Parse(%x): %v", frame[h.Len:], err)
		}
		if got := (fields{p.Op(), p.SHA(), p.THA(), p.SPA(), p.TPA()}); got != f {
			t.Fatalf("Parse = %+v, want %+v", got, f)
		}
	}
}

// gopacket accepts any hardware and protocol sizes; Parse only Ethernet
// and IPv4, and only requests and replies.
func TestParseRejectsWhatGopacketBuilds(t *testing.T) {
	tests := []struct {
		name string
		a    layers.ARP
		want error
	}{
		{"IPv6 over Ethernet", layers.ARP{
			AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv6, Operation: 1,
			SourceHwAddress: make([]byte, 6), DstHwAddress: make([]byte, 6),
			SourceProtAddress: make([]byte, 16), DstProtAddress: make([]byte, 16),
		}, ErrUnsupported},
		{"IEEE 802 hardware (6)", layers.ARP{
			AddrType: layers.LinkTypeTokenRing, Protocol: layers.EthernetTypeIPv4, Operation: 1,
			SourceHwAddress: make([]byte, 6), DstHwAddress: make([]byte, 6),
			SourceProtAddress: make([]byte, 4), DstProtAddress: make([]byte, 4),
		}, ErrUnsupported},
		{"InARP request", layers.ARP{
			AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, Operation: 8,
			SourceHwAddress: make([]byte, 6), DstHwAddress: make([]byte, 6),
			SourceProtAddress: make([]byte, 4), DstProtAddress: make([]byte, 4),
		}, ErrOp},
	}
	for _, tt := range tests {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, &tt.a); err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(buf.Bytes()); err != tt.want {
			t.Errorf("%s: Parse error = %v, want %v", tt.name, err, tt.want)
		}
	}
}
