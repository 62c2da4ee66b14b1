package ether

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// These tests check the encoding against an independent decoder and
// encoder, gopacket's layers package.

func randAddr(r *rand.Rand) Addr {
	var a Addr
	for i := range a {
		a[i] = byte(r.Uint32())
	}
	return a
}

// randType returns an EtherType (never a length), sometimes a known one.
func randType(r *rand.Rand) Type {
	known := []Type{TypeIPv4, TypeARP, TypeIPv6, 0x88cc}
	if r.IntN(2) == 0 {
		return known[r.IntN(len(known))]
	}
	return MinType + Type(r.IntN(0x10000-int(MinType)))
}

func TestGopacketDecodesPut(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		dst, src, typ := randAddr(r), randAddr(r), randType(r)
		frame := make([]byte, MinFrameLen)
		Put(frame, dst, src, typ)
		var eth layers.Ethernet
		if err := eth.DecodeFromBytes(frame, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("gopacket rejects %x: %v", frame, err)
		}
		if !bytes.Equal(eth.DstMAC, dst[:]) || !bytes.Equal(eth.SrcMAC, src[:]) ||
			eth.EthernetType != layers.EthernetType(typ) || eth.Length != 0 {
			t.Fatalf("Put(%v, %v, %v): gopacket reads dst %v, src %v, type %v, length %d",
				dst, src, typ, eth.DstMAC, eth.SrcMAC, eth.EthernetType, eth.Length)
		}
		if len(eth.Payload) != MinFrameLen-HeaderLen {
			t.Fatalf("gopacket payload %d bytes", len(eth.Payload))
		}
	}
}

// serialize builds a frame with gopacket.
func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseDecodesGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		dst, src, typ := randAddr(r), randAddr(r), randType(r)
		payload := make([]byte, r.IntN(100))
		for i := range payload {
			payload[i] = byte(r.Uint32())
		}
		eth := &layers.Ethernet{DstMAC: net.HardwareAddr(dst[:]), SrcMAC: net.HardwareAddr(src[:])}
		want := Header{Dst: dst, Src: src, Type: typ, Len: HeaderLen}
		ls := []gopacket.SerializableLayer{eth}
		switch r.IntN(3) {
		case 0: // untagged
			eth.EthernetType = layers.EthernetType(typ)
		case 1, 2: // one 802.1Q or 802.1ad tag
			tpid := TypeVLAN
			if r.IntN(2) == 0 {
				tpid = TypeQinQ
			}
			eth.EthernetType = layers.EthernetType(tpid)
			tag := &layers.Dot1Q{
				Priority:       uint8(r.IntN(8)),
				DropEligible:   r.IntN(2) == 0,
				VLANIdentifier: uint16(r.IntN(4096)),
				Type:           layers.EthernetType(typ),
			}
			ls = append(ls, tag)
			want.Tagged, want.TPID, want.Len = true, tpid, HeaderLen+4
			want.TCI = uint16(tag.Priority)<<13 | tag.VLANIdentifier
			if tag.DropEligible {
				want.TCI |= 1 << 12
			}
		}
		ls = append(ls, gopacket.Payload(payload))
		frame := serialize(t, ls...)
		h, err := Parse(frame)
		if err != nil {
			t.Fatalf("Parse(%x): %v", frame, err)
		}
		if h != want {
			t.Fatalf("Parse(%x) =\n%+v\nwant\n%+v", frame, h, want)
		}
		// gopacket pads to 60 bytes; the payload starts where Len says.
		if !bytes.HasPrefix(frame[h.Len:], payload) {
			t.Fatalf("payload at %d is not the one serialized", h.Len)
		}
	}
}

func TestParseAgreesWithGopacketOnGolden(t *testing.T) {
	for _, name := range goldenFiles(t) {
		frame := readHex(t, name)
		h, err := Parse(frame)
		if len(frame) < HeaderLen {
			continue
		}
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
		eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if eth == nil {
			t.Fatalf("%s: gopacket found no Ethernet layer", name)
		}
		if !bytes.Equal(eth.DstMAC, h.Dst[:]) || !bytes.Equal(eth.SrcMAC, h.Src[:]) {
			t.Errorf("%s: addresses differ: gopacket %v %v, Parse %v %v", name, eth.DstMAC, eth.SrcMAC, h.Dst, h.Src)
		}
		if eth.EthernetType == layers.EthernetTypeLLC {
			if err != ErrLength {
				t.Errorf("%s: gopacket sees an 802.3 length, Parse returns %v", name, err)
			}
			continue
		}
		tag, _ := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
		if err == ErrShort {
			// A tag cut short: gopacket fails to decode it too.
			if tag != nil {
				t.Errorf("%s: gopacket decodes a tag Parse finds short", name)
			}
			continue
		}
		if (tag != nil) != h.Tagged {
			t.Errorf("%s: gopacket tag %v, Parse Tagged %v", name, tag != nil, h.Tagged)
			continue
		}
		if tag == nil {
			if err != nil || eth.EthernetType != layers.EthernetType(h.Type) {
				t.Errorf("%s: gopacket type %v; Parse %v, %v", name, eth.EthernetType, h.Type, err)
			}
			continue
		}
		if Type(eth.EthernetType) != h.TPID || tag.VLANIdentifier != h.VLAN() ||
			tag.Priority != uint8(h.TCI>>13) || tag.DropEligible != (h.TCI&0x1000 != 0) ||
			layers.EthernetType(h.Type) != tag.Type {
			t.Errorf("%s: gopacket %v %+v; Parse %+v", name, eth.EthernetType, tag, h)
		}
		if (tag.Type < layers.EthernetType(MinType)) != (err == ErrLength) {
			t.Errorf("%s: inner type %v, Parse error %v", name, tag.Type, err)
		}
	}
}
