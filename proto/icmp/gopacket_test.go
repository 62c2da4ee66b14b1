package icmp

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// These tests check the encoding against an independent encoder and
// decoder, gopacket's layers package.

// randMessage returns a random type, code, rest-of-header word and body.
func randMessage(r *rand.Rand) (typ, code uint8, rest uint32, body []byte) {
	types := []uint8{TypeEchoReply, TypeDestUnreach, TypeEcho, TypeTimeExceeded, TypeParamProblem}
	typ = types[r.IntN(len(types))]
	code = uint8(r.IntN(16))
	rest = r.Uint32()
	body = make([]byte, r.IntN(600))
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	return
}

// gopacketICMP serializes a message with gopacket, checksum included.
func gopacketICMP(t *testing.T, typ, code uint8, rest uint32, body []byte) []byte {
	t.Helper()
	m := &layers.ICMPv4{
		TypeCode: layers.CreateICMPv4TypeCode(typ, code),
		Id:       uint16(rest >> 16),
		Seq:      uint16(rest),
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, m, gopacket.Payload(body)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPutMatchesGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 2000 {
		typ, code, rest, body := randMessage(r)
		want := gopacketICMP(t, typ, code, rest, body)
		got := make([]byte, HeaderLen+len(body))
		copy(got[HeaderLen:], body)
		Put(got, typ, code, rest)
		if !bytes.Equal(got, want) {
			t.Fatalf("Put wrote\n%x\ngopacket wrote\n%x", got, want)
		}
		if _, err := Parse(want); err != nil {
			t.Fatalf("Parse of gopacket's %x: %v", want, err)
		}
	}
}

func TestGopacketDecodesPut(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for range 500 {
		typ, code, rest, body := randMessage(r)
		b := make([]byte, HeaderLen+len(body))
		copy(b[HeaderLen:], body)
		Put(b, typ, code, rest)
		var m layers.ICMPv4
		if err := m.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("gopacket rejects %x: %v", b, err)
		}
		if m.TypeCode.Type() != typ || m.TypeCode.Code() != code || m.Checksum != Message(b).Checksum() ||
			uint32(m.Id)<<16|uint32(m.Seq) != rest || !bytes.Equal(m.Payload, body) {
			t.Fatalf("gopacket reads %+v from %x", m, b)
		}
		if err, res := m.VerifyChecksum(); err != nil || !res.Valid {
			t.Fatalf("gopacket: checksum of %x: %v, %+v", b, err, res)
		}
	}
}

// TestGoldenGopacket decodes the golden messages with gopacket too, the
// quoted datagram of the errors included.
func TestGoldenGopacket(t *testing.T) {
	for _, name := range goldenFiles(t) {
		ip, b := readGolden(t, name)
		p := gopacket.NewPacket(ip, layers.LayerTypeIPv4, gopacket.Default)
		g, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if !ok {
			t.Fatalf("%s: gopacket finds no ICMPv4 layer: %v", name, p.ErrorLayer())
		}
		m, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if g.TypeCode.Type() != m.Type() || g.TypeCode.Code() != m.Code() || g.Checksum != m.Checksum() ||
			uint32(g.Id)<<16|uint32(g.Seq) != binary.BigEndian.Uint32(m[4:8]) {
			t.Errorf("%s: gopacket reads %+v; we read %v", name, g, m)
		}
		if want := gopacketICMP(t, m.Type(), m.Code(), binary.BigEndian.Uint32(m[4:8]), m.Body()); !bytes.Equal(want, b) {
			t.Errorf("%s: gopacket re-encodes\n%x\nwant\n%x", name, want, b)
		}
		if !m.IsError() {
			continue
		}
		// gopacket decodes the quote as IPv4 and UDP; compare with Quote.
		qip, tr, err := m.Quote()
		if err != nil {
			t.Fatal(err)
		}
		var gip layers.IPv4
		if err := gip.DecodeFromBytes(m.Body(), gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("%s: gopacket rejects the quote: %v", name, err)
		}
		if !gip.SrcIP.Equal(qip.Src().AsSlice()) || !gip.DstIP.Equal(qip.Dst().AsSlice()) ||
			uint8(gip.Protocol) != qip.Protocol() || int(gip.IHL)*4 != len(qip) ||
			!bytes.Equal(gip.Payload, tr) {
			t.Errorf("%s: gopacket reads the quote as %v -> %v, proto %d", name, gip.SrcIP, gip.DstIP, gip.Protocol)
		}
	}
}
