package tcp

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// These tests check the encoding against an independent encoder and
// decoder, gopacket's layers package.

// gopacketOptions lays o out for gopacket in Linux's order, written out
// here from the wire layout rather than with PutOptions.
func gopacketOptions(o *Options) []layers.TCPOption {
	nop := layers.TCPOption{OptionType: layers.TCPOptionKindNop}
	opt := func(kind layers.TCPOptionKind, data []byte) layers.TCPOption {
		return layers.TCPOption{OptionType: kind, OptionData: data}
	}
	var l []layers.TCPOption
	used := 0
	if o.HasMSS {
		l = append(l, opt(layers.TCPOptionKindMSS, binary.BigEndian.AppendUint16(nil, o.MSS)))
		used += 4
	}
	if o.TS {
		if o.SACKPermitted {
			l = append(l, opt(layers.TCPOptionKindSACKPermitted, []byte{}))
		} else {
			l = append(l, nop, nop)
		}
		ts := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, o.TSVal), o.TSEcr)
		l = append(l, opt(layers.TCPOptionKindTimestamps, ts))
		used += 12
	} else if o.SACKPermitted {
		l = append(l, nop, nop, opt(layers.TCPOptionKindSACKPermitted, []byte{}))
		used += 4
	}
	if o.HasWScale {
		l = append(l, nop, opt(layers.TCPOptionKindWindowScale, []byte{o.WScale}))
		used += 4
	}
	if n := min(o.NumSACK, (40-used-4)/8); n > 0 {
		var d []byte
		for _, b := range o.SACK[:n] {
			d = binary.BigEndian.AppendUint32(d, uint32(b.Start))
			d = binary.BigEndian.AppendUint32(d, uint32(b.End))
		}
		l = append(l, nop, nop, opt(layers.TCPOptionKindSACK, d))
	}
	return l
}

// fromGopacket interprets options as gopacket decoded them.
func fromGopacket(t *testing.T, l []layers.TCPOption) Options {
	t.Helper()
	var o Options
	for _, x := range l {
		d := x.OptionData
		switch x.OptionType {
		case layers.TCPOptionKindMSS:
			o.MSS, o.HasMSS = binary.BigEndian.Uint16(d), true
		case layers.TCPOptionKindWindowScale:
			o.WScale, o.HasWScale = min(d[0], 14), true
		case layers.TCPOptionKindSACKPermitted:
			o.SACKPermitted = true
		case layers.TCPOptionKindTimestamps:
			o.TS, o.TSVal, o.TSEcr = true, binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])
		case layers.TCPOptionKindSACK:
			o.SACK, o.NumSACK = [4]SACKBlock{}, len(d)/8
			for i := range o.NumSACK {
				o.SACK[i] = SACKBlock{Seq(binary.BigEndian.Uint32(d[8*i:])), Seq(binary.BigEndian.Uint32(d[8*i+4:]))}
			}
		}
	}
	return o
}

// gopacketTCP serializes a segment with gopacket, checksum included.
func gopacketTCP(t *testing.T, src, dst [4]byte, f Fields, opts []layers.TCPOption, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{SrcIP: net.IP(src[:]), DstIP: net.IP(dst[:]), Protocol: layers.IPProtocolTCP, Version: 4, TTL: 64}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(f.SrcPort), DstPort: layers.TCPPort(f.DstPort),
		Seq: uint32(f.Seq), Ack: uint32(f.Ack), Window: f.Window, Urgent: f.Urgent,
		FIN: f.Flags&FIN != 0, SYN: f.Flags&SYN != 0, RST: f.Flags&RST != 0, PSH: f.Flags&PSH != 0,
		ACK: f.Flags&ACK != 0, URG: f.Flags&URG != 0, ECE: f.Flags&ECE != 0, CWR: f.Flags&CWR != 0,
		Options: opts,
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	so := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, so, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fieldsOfGopacket reads Fields from gopacket's TCP layer.
func fieldsOfGopacket(l *layers.TCP) Fields {
	var fl Flags
	for _, x := range []struct {
		set bool
		f   Flags
	}{{l.FIN, FIN}, {l.SYN, SYN}, {l.RST, RST}, {l.PSH, PSH}, {l.ACK, ACK}, {l.URG, URG}, {l.ECE, ECE}, {l.CWR, CWR}} {
		if x.set {
			fl |= x.f
		}
	}
	return Fields{uint16(l.SrcPort), uint16(l.DstPort), Seq(l.Seq), Seq(l.Ack), fl, l.Window, l.Urgent, 0}
}

func randSegment(r *rand.Rand) (src, dst [4]byte, f Fields, o Options, payload []byte) {
	for j := range 4 {
		src[j], dst[j] = byte(r.Uint32()), byte(r.Uint32())
	}
	f = Fields{uint16(r.Uint32()), uint16(r.Uint32()), Seq(r.Uint32()), Seq(r.Uint32()),
		Flags(r.Uint32()), uint16(r.Uint32()), uint16(r.Uint32()), 0}
	o = randOptions(r)
	payload = make([]byte, r.IntN(300))
	for j := range payload {
		payload[j] = byte(r.Uint32())
	}
	return
}

func TestPutMatchesGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		src, dst, f, o, payload := randSegment(r)
		want := gopacketTCP(t, src, dst, f, gopacketOptions(&o), payload)
		got := make([]byte, HeaderLen+OptionsLen(&o)+len(payload))
		copy(got[len(got)-len(payload):], payload)
		Put(got, f, &o, src, dst)
		if !bytes.Equal(got, want) {
			t.Fatalf("Put of %+v, %+v wrote\n%x\ngopacket wrote\n%x", f, o, got, want)
		}
	}
}

func TestGopacketDecodesPut(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 1000 {
		src, dst, f, o, payload := randSegment(r)
		b := make([]byte, HeaderLen+OptionsLen(&o)+len(payload))
		copy(b[len(b)-len(payload):], payload)
		Put(b, f, &o, src, dst)
		ip := &layers.IPv4{SrcIP: net.IP(src[:]), DstIP: net.IP(dst[:]), Protocol: layers.IPProtocolTCP, Version: 4}
		var l layers.TCP
		if err := l.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("gopacket rejects %x: %v", b, err)
		}
		if err := l.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		// Over a segment with a correct checksum, gopacket's
		// checksum computes to zero.
		if sum, err := l.ComputeChecksum(); err != nil || sum != 0 {
			t.Fatalf("gopacket's checksum over %x is 0x%04x (%v)", b, sum, err)
		}
		want, err := ParseOptions(Header(b).Options())
		if err != nil {
			t.Fatal(err)
		}
		if fieldsOfGopacket(&l) != f || l.Checksum != Header(b).Checksum() || !bytes.Equal(l.Payload, payload) ||
			len(l.Padding) != 0 || fromGopacket(t, l.Options) != want {
			t.Fatalf("gopacket reads %+v from %x", l, b)
		}
	}
}

// TestParseGopacketLists parses option lists that gopacket lays out in
// random order, with NOPs, unknown kinds and an EOL with padding, and
// compares with gopacket's reading of them.
func TestParseGopacketLists(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	known := []layers.TCPOptionKind{layers.TCPOptionKindMSS, layers.TCPOptionKindWindowScale,
		layers.TCPOptionKindSACKPermitted, layers.TCPOptionKindTimestamps, layers.TCPOptionKindSACK}
	for range 3000 {
		var l []layers.TCPOption
		size := 0
		for size < 40 {
			var x layers.TCPOption
			switch r.IntN(4) {
			case 0:
				x.OptionType = layers.TCPOptionKindNop
			case 1: // an unknown kind (not 30, MPTCP, which gopacket parses)
				x.OptionType = layers.TCPOptionKind(9 + r.IntN(20))
				x.OptionData = make([]byte, r.IntN(8))
			default:
				x.OptionType = known[r.IntN(len(known))]
				switch x.OptionType {
				case layers.TCPOptionKindMSS:
					x.OptionData = []byte{byte(r.Uint32()), byte(r.Uint32())}
				case layers.TCPOptionKindWindowScale:
					x.OptionData = []byte{byte(r.Uint32())}
				case layers.TCPOptionKindSACKPermitted:
					x.OptionData = []byte{}
				case layers.TCPOptionKindTimestamps:
					x.OptionData = make([]byte, 8)
				case layers.TCPOptionKindSACK:
					x.OptionData = make([]byte, 8*(1+r.IntN(4)))
				}
				for i := range x.OptionData {
					x.OptionData[i] = byte(r.Uint32())
				}
			}
			n := 1
			if x.OptionType > 1 {
				n = 2 + len(x.OptionData)
			}
			if size+n > 40 {
				break
			}
			l = append(l, x)
			size += n
		}
		if r.IntN(4) == 0 && size < 40 {
			l = append(l, layers.TCPOption{OptionType: layers.TCPOptionKindEndList})
		}
		f := Fields{SrcPort: 1, DstPort: 2, Flags: SYN}
		src, dst := [4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 2}
		b := gopacketTCP(t, src, dst, f, l, nil)
		h, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse of gopacket's %x: %v", b, err)
		}
		if err := h.Verify(src, dst); err != nil {
			t.Fatalf("Verify of gopacket's %x: %v", b, err)
		}
		got, err := ParseOptions(h.Options())
		if err != nil {
			t.Fatalf("ParseOptions of gopacket's % x: %v", h.Options(), err)
		}
		if want := fromGopacket(t, l); got != want {
			t.Fatalf("options % x: got %+v, want %+v", h.Options(), got, want)
		}
	}
}

// TestGoldenGopacket decodes the golden segments with gopacket too.
func TestGoldenGopacket(t *testing.T) {
	for _, name := range goldenFiles(t) {
		ip, b := readGolden(t, name)
		p := gopacket.NewPacket(ip, layers.LayerTypeIPv4, gopacket.Default)
		h, err := Parse(b)
		l, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if err != nil {
			// gopacket refuses what Parse refuses.
			if ok && p.ErrorLayer() == nil {
				t.Errorf("%s: Parse: %v, but gopacket reads %+v", name, err, l)
			}
			continue
		}
		if !ok {
			t.Fatalf("%s: gopacket finds no TCP layer: %v", name, p.ErrorLayer())
		}
		if fieldsOfGopacket(l) != fieldsOf(h) || int(l.DataOffset)*4 != h.HeaderLen() ||
			l.Checksum != h.Checksum() || !bytes.Equal(l.Payload, h.Payload()) {
			t.Errorf("%s: gopacket reads %+v; we read %v", name, l, h)
		}
		o, err := ParseOptions(h.Options())
		stopped := len(l.Padding) > 0 && l.Padding[0] != 0 // gopacket could not walk the list
		switch {
		case err == ErrOptionLength:
			if !stopped {
				t.Errorf("%s: ParseOptions: %v, but gopacket walked the list: %+v", name, err, l.Options)
			}
		case err == ErrOptionSize:
			// gopacket does not check the lengths of known kinds.
		case err != nil:
			t.Errorf("%s: ParseOptions: %v", name, err)
		default:
			if stopped || fromGopacket(t, l.Options) != o {
				t.Errorf("%s: gopacket reads options %+v; we read %+v", name, l.Options, o)
			}
			want := gopacketTCP(t, ip.Src4(), ip.Dst4(), fieldsOf(h), l.Options, h.Payload())
			if !bytes.Equal(want, b) {
				t.Errorf("%s: gopacket re-encodes\n%x\nwant\n%x", name, want, b)
			}
		}
	}
}
