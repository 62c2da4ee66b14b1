package link

import (
	"bytes"
	"encoding/binary"
	"math"
	"net/netip"
	"testing"

	"github.com/stacknet/stacknet/proto/checksum"
	"github.com/stacknet/stacknet/proto/ether"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/tcp"
	"github.com/stacknet/stacknet/proto/udp"
)

var (
	testSrc = netip.MustParseAddr("192.0.2.2")
	testDst = netip.MustParseAddr("192.0.2.1")
)

// frameSpec describes a test frame: an Ethernet frame, perhaps tagged,
// holding an IPv4 datagram of protocol proto (TCP or UDP) with payload
// bytes of data.
type frameSpec struct {
	vlan     bool
	proto    uint8
	payload  int
	tcpOpts  *tcp.Options
	tcpFlags tcp.Flags
	ipFlags  uint16 // ipv4.FlagDF, FlagMF
	fragOff  int
	csum     bool // fill in the transport checksum; otherwise leave it zero, as a stack with OffloadChecksum does
}

// build returns the frame and the offset of its transport header.
func (s frameSpec) build() ([]byte, int) {
	l2 := 14
	if s.vlan {
		l2 = 18
	}
	th := udp.HeaderLen
	if s.proto == ipv4.ProtoTCP {
		th = tcp.HeaderLen + tcp.OptionsLen(s.tcpOpts)
	}
	b := make([]byte, l2+ipv4.HeaderLen+th+s.payload)
	dst, src := ether.Addr{2, 0, 0, 0, 0, 1}, ether.Addr{2, 0, 0, 0, 0, 2}
	if s.vlan {
		ether.Put(b, dst, src, ether.TypeVLAN)
		binary.BigEndian.PutUint16(b[14:], 42)
		binary.BigEndian.PutUint16(b[16:], uint16(ether.TypeIPv4))
	} else {
		ether.Put(b, dst, src, ether.TypeIPv4)
	}
	ipv4.PutHeader(b[l2:], ipv4.Fields{
		TotalLen: ipv4.HeaderLen + th + s.payload, ID: 7, Flags: s.ipFlags, FragOff: s.fragOff,
		TTL: 64, Protocol: s.proto, Src: testSrc, Dst: testDst,
	})
	t := l2 + ipv4.HeaderLen
	for i := t + th; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	src4, dst4 := testSrc.As4(), testDst.As4()
	switch {
	case s.proto == ipv4.ProtoTCP && s.csum:
		tcp.Put(b[t:], tcp.Fields{SrcPort: 40000, DstPort: 80, Seq: 1000, Ack: 2000, Flags: s.tcpFlags | tcp.ACK, Window: 512}, s.tcpOpts, src4, dst4)
	case s.proto == ipv4.ProtoTCP:
		tcp.PutHeader(b[t:], tcp.Fields{SrcPort: 40000, DstPort: 80, Seq: 1000, Ack: 2000, Flags: s.tcpFlags | tcp.ACK, Window: 512}, s.tcpOpts)
	case s.csum:
		udp.Put(b[t:], src4, dst4, 5353, 53)
	default:
		binary.BigEndian.PutUint16(b[t:], 5353)
		binary.BigEndian.PutUint16(b[t+2:], 53)
		binary.BigEndian.PutUint16(b[t+4:], uint16(len(b)-t))
	}
	return b, t
}

// partialFrame returns a frame of spec s with its transport checksum
// partial, as the kernel leaves it under NEEDS_CSUM: the folded sum of
// the pseudo-header, uncomplemented; and the header saying so.
func partialFrame(s frameSpec) ([]byte, vnetHdr) {
	s.csum = false
	b, t := s.build()
	off := 6 // UDP
	if s.proto == ipv4.ProtoTCP {
		off = tcpCsumOffset
	}
	ps := checksum.Pseudo(testSrc.As4(), testDst.As4(), s.proto, uint16(len(b)-t))
	binary.BigEndian.PutUint16(b[t+off:], ps)
	return b, vnetHdr{flags: vnetNeedsCsum, csumStart: uint16(t), csumOffset: uint16(off)}
}

func tcpSpec(payload int) frameSpec {
	return frameSpec{proto: ipv4.ProtoTCP, payload: payload, ipFlags: ipv4.FlagDF}
}

func TestVnetHdrWireFormat(t *testing.T) {
	h := vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4 | vnetGSOECN, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16}
	// struct virtio_net_hdr, little-endian: flags, gso_type, hdr_len,
	// gso_size, csum_start, csum_offset.
	want := []byte{0x01, 0x81, 66, 0, 0xa8, 0x05, 34, 0, 16, 0}
	b := make([]byte, vnetHdrLen)
	h.put(b)
	if !bytes.Equal(b, want) {
		t.Errorf("put = % x, want % x", b, want)
	}
	got, ok := parseVnetHdr(want)
	if !ok || got != h {
		t.Errorf("parse = %+v, %v; want %+v", got, ok, h)
	}
	for n := range vnetHdrLen {
		if _, ok := parseVnetHdr(want[:n]); ok {
			t.Errorf("parse of %d bytes succeeded", n)
		}
	}
}

func TestFindTCP4(t *testing.T) {
	withOpts := tcpSpec(10)
	withOpts.tcpOpts = &tcp.Options{MSS: 1460, HasMSS: true, TS: true, TSVal: 1, WScale: 7, HasWScale: true}
	vlan := tcpSpec(5)
	vlan.vlan = true
	mf := tcpSpec(100)
	mf.ipFlags = ipv4.FlagMF
	later := tcpSpec(100)
	later.fragOff = 8
	ipOpts, _ := tcpSpec(3).build()
	// Give the datagram a 4-byte IP option (IHL 6): NOPs.
	ipOpts = append(ipOpts[:34:34], append([]byte{1, 1, 1, 1}, ipOpts[34:]...)...)
	ipOpts[14] = 0x46
	binary.BigEndian.PutUint16(ipOpts[16:], uint16(len(ipOpts)-14))
	ipv4.Header(ipOpts[14:]).SetChecksum()

	type want struct {
		ok                 bool
		ip, tcp, data, end int
		cwr                bool
	}
	frameOf := func(s frameSpec) []byte { b, _ := s.build(); return b }
	mutate := func(s frameSpec, f func(b []byte) []byte) []byte { b, _ := s.build(); return f(b) }
	cwr := tcpSpec(0)
	cwr.tcpFlags = tcp.CWR
	tests := []struct {
		name  string
		frame []byte
		want  want
	}{
		{"plain", frameOf(tcpSpec(100)), want{true, 14, 34, 54, 154, false}},
		{"options", frameOf(withOpts), want{true, 14, 34, 54 + tcp.OptionsLen(withOpts.tcpOpts), 64 + tcp.OptionsLen(withOpts.tcpOpts), false}},
		{"vlan", frameOf(vlan), want{true, 18, 38, 58, 63, false}},
		{"IP options", ipOpts, want{true, 14, 38, 58, 61, false}},
		{"CWR", frameOf(cwr), want{true, 14, 34, 54, 54, true}},
		{"Ethernet padding after the datagram", append(frameOf(tcpSpec(0)), 0, 0, 0, 0, 0, 0), want{true, 14, 34, 54, 54, false}},
		{"UDP", frameOf(frameSpec{proto: ipv4.ProtoUDP, payload: 10}), want{}},
		{"first fragment", frameOf(mf), want{}},
		{"later fragment", frameOf(later), want{}},
		{"IPv6 EtherType", mutate(tcpSpec(0), func(b []byte) []byte { b[12], b[13] = 0x86, 0xdd; return b }), want{}},
		{"version 6", mutate(tcpSpec(0), func(b []byte) []byte { b[14] = 0x65; return b }), want{}},
		{"IHL 4", mutate(tcpSpec(0), func(b []byte) []byte { b[14] = 0x44; return b }), want{}},
		{"IHL past the datagram", mutate(tcpSpec(0), func(b []byte) []byte { b[14] = 0x4f; return b }), want{}},
		{"total length past the frame", mutate(tcpSpec(10), func(b []byte) []byte { return b[:len(b)-1] }), want{}},
		{"total length shorter than a TCP header", mutate(tcpSpec(0), func(b []byte) []byte { b[17] = 39; return b }), want{}},
		{"data offset 4", mutate(tcpSpec(10), func(b []byte) []byte { b[46] = 0x40; return b }), want{}},
		{"data offset past the datagram", mutate(tcpSpec(10), func(b []byte) []byte { b[46] = 0x80; return b }), want{}},
		{"empty", nil, want{}},
		{"Ethernet header only", make([]byte, 14), want{}},
		{"tag only", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0, 0, 0}, want{}},
		{"IPv4 header cut", frameOf(tcpSpec(0))[:30], want{}},
	}
	for _, tt := range tests {
		s, ok := findTCP4(tt.frame)
		got := want{ok, s.ip, s.tcp, s.data, s.end, s.hasCWR}
		if !ok {
			got = want{}
		}
		if got != tt.want {
			t.Errorf("%s: findTCP4 = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestCompleteChecksum(t *testing.T) {
	for _, s := range []frameSpec{
		{proto: ipv4.ProtoUDP, payload: 0},
		{proto: ipv4.ProtoUDP, payload: 1},
		{proto: ipv4.ProtoUDP, payload: 1472},
		{proto: ipv4.ProtoUDP, payload: 333, vlan: true},
		tcpSpec(0),
		tcpSpec(1),
		tcpSpec(65535 - 40),
	} {
		b, h := partialFrame(s)
		if !completeChecksum(b, int(h.csumStart), int(h.csumOffset)) {
			t.Fatalf("%+v: completeChecksum refused", s)
		}
		want, tp := (frameSpec{vlan: s.vlan, proto: s.proto, payload: s.payload, ipFlags: s.ipFlags, csum: true}).build()
		if !bytes.Equal(b, want) {
			t.Errorf("%+v: completed checksum %#04x, the stack's %#04x", s, binary.BigEndian.Uint16(b[int(h.csumStart)+int(h.csumOffset):]), binary.BigEndian.Uint16(want[tp+int(h.csumOffset):]))
		}
	}

	// A sum that comes to zero is sent as 0xffff, never as UDP's "no
	// checksum". Find such a datagram by varying one payload word.
	b, h := partialFrame(frameSpec{proto: ipv4.ProtoUDP, payload: 2})
	cs := int(h.csumStart)
	binary.BigEndian.PutUint16(b[cs+8:], 0)
	rest := checksum.Sum(b[cs:], 0) // with a zero payload word
	binary.BigEndian.PutUint16(b[cs+8:], ^rest)
	if !completeChecksum(b, cs, 6) {
		t.Fatal("completeChecksum refused")
	}
	if got := binary.BigEndian.Uint16(b[cs+6:]); got != 0xffff {
		t.Errorf("a checksum summing to zero stored as %#04x, want 0xffff", got)
	}

	for _, tt := range []struct {
		len, start, offset int
	}{
		{10, 11, 0},
		{10, 10, 0},
		{10, 9, 0},
		{10, 0, 9},
		{10, 8, 1},
		{10, -1, 0},
		{10, 0, -1},
		{0, 0, 0},
		{10, math.MaxInt, math.MaxInt},
		{10, 0, 1}, // odd: not a 16-bit word of the sum
		{10, 1, 3},
	} {
		b := make([]byte, tt.len)
		if completeChecksum(b, tt.start, tt.offset) {
			t.Errorf("completeChecksum(%d bytes, %d, %d) accepted a field outside the frame", tt.len, tt.start, tt.offset)
		}
		if !bytes.Equal(b, make([]byte, tt.len)) {
			t.Errorf("completeChecksum(%d bytes, %d, %d) changed the frame", tt.len, tt.start, tt.offset)
		}
	}
	if b := make([]byte, 10); !completeChecksum(b, 8, 0) || !bytes.Equal(b[8:], []byte{0xff, 0xff}) {
		t.Errorf("completeChecksum of a field at the very end: % x", b)
	}
}

func TestRxFrame(t *testing.T) {
	good := func(s frameSpec) []byte { s.csum = true; b, _ := s.build(); return b }
	bad := func(s frameSpec) []byte { b := good(s); b[len(b)-1] ^= 0x40; return b }
	tcpPartial, tcpHdr := partialFrame(tcpSpec(100))
	udpPartial, udpHdr := partialFrame(frameSpec{proto: ipv4.ProtoUDP, payload: 100})
	gso := tcpHdr
	gso.gsoType, gso.gsoSize, gso.hdrLen = vnetGSOTCPv4, 1448, 54
	gsoECN := gso
	gsoECN.gsoType |= vnetGSOECN
	tcpAtOddPlace := tcpHdr
	tcpAtOddPlace.csumStart = 14 // the IP header: not the TCP checksum
	tcpAtOddPlace.csumOffset = 10
	withHdr := func(h vnetHdr, f func(*vnetHdr)) vnetHdr { f(&h); return h }

	tests := []struct {
		name       string
		h          vnetHdr
		frame      []byte
		tcpOffload bool
		want       rxResult
		changed    bool // the frame is changed: its checksum completed
	}{
		{"TCP partial, offloaded: left", tcpHdr, tcpPartial, true, rxDeliver, false},
		{"TCP partial, not offloaded: completed", tcpHdr, tcpPartial, false, rxCompleted, true},
		{"TCP partial elsewhere: completed", tcpAtOddPlace, tcpPartial, true, rxCompleted, true},
		{"UDP partial: completed", udpHdr, udpPartial, true, rxCompleted, true},
		{"UDP partial, not offloaded: completed", udpHdr, udpPartial, false, rxCompleted, true},
		{"TCP good, no flags, offloaded: verified", vnetHdr{}, good(tcpSpec(100)), true, rxDeliver, false},
		{"TCP bad, no flags, offloaded: dropped", vnetHdr{}, bad(tcpSpec(100)), true, rxBadChecksum, false},
		{"TCP bad, VLAN, offloaded: dropped", vnetHdr{}, bad(frameSpec{vlan: true, proto: ipv4.ProtoTCP, payload: 9}), true, rxBadChecksum, false},
		{"TCP bad, no flags, not offloaded: the stack checks", vnetHdr{}, bad(tcpSpec(100)), false, rxDeliver, false},
		{"TCP bad, DATA_VALID: trusted", vnetHdr{flags: vnetDataValid}, bad(tcpSpec(100)), true, rxDeliver, false},
		{"UDP bad, no flags: the stack checks", vnetHdr{}, bad(frameSpec{proto: ipv4.ProtoUDP, payload: 10}), true, rxDeliver, false},
		{"TCP fragment, no flags: not TCP here", vnetHdr{}, bad(frameSpec{proto: ipv4.ProtoTCP, payload: 10, ipFlags: ipv4.FlagMF}), true, rxDeliver, false},
		{"GSO TCP, partial", gso, tcpPartial, true, rxDeliver, false},
		{"GSO TCP with ECN, partial", gsoECN, tcpPartial, true, rxDeliver, false},
		{"GSO TCP, no flags, good", withHdr(gso, func(h *vnetHdr) { h.flags = 0 }), good(tcpSpec(100)), true, rxDeliver, false},
		{"GSO TCP, no flags, bad", withHdr(gso, func(h *vnetHdr) { h.flags = 0 }), bad(tcpSpec(100)), true, rxBadChecksum, false},
		{"GSO TCP on a UDP frame", withHdr(gso, func(h *vnetHdr) { h.flags = 0 }), good(frameSpec{proto: ipv4.ProtoUDP}), true, rxBadHeader, false},
		{"GSO UDP", withHdr(udpHdr, func(h *vnetHdr) { h.gsoType = 3 }), udpPartial, true, rxBadHeader, false},
		{"GSO TCPv6", withHdr(tcpHdr, func(h *vnetHdr) { h.gsoType = 4 }), tcpPartial, true, rxBadHeader, false},
		{"GSO UDP L4", withHdr(udpHdr, func(h *vnetHdr) { h.gsoType = 5 }), udpPartial, true, rxBadHeader, false},
		{"ECN alone", withHdr(tcpHdr, func(h *vnetHdr) { h.gsoType = vnetGSOECN }), tcpPartial, true, rxBadHeader, false},
		{"csum_start past the end", withHdr(udpHdr, func(h *vnetHdr) { h.csumStart = uint16(len(udpPartial) + 1) }), udpPartial, true, rxBadHeader, false},
		{"csum_start at the end", withHdr(udpHdr, func(h *vnetHdr) { h.csumStart, h.csumOffset = uint16(len(udpPartial)), 0 }), udpPartial, true, rxBadHeader, false},
		{"csum field past the end", withHdr(udpHdr, func(h *vnetHdr) { h.csumOffset = uint16(len(udpPartial)-int(h.csumStart)) - 1 }), udpPartial, true, rxBadHeader, false},
		{"csum field at the very end", withHdr(udpHdr, func(h *vnetHdr) { h.csumOffset = uint16(len(udpPartial)-int(h.csumStart)) - 2 }), udpPartial, true, rxCompleted, true},
		{"csum field an odd offset from csum_start", withHdr(udpHdr, func(h *vnetHdr) { h.csumOffset = 7 }), udpPartial, true, rxBadHeader, false},
		{"csum_start odd", withHdr(udpHdr, func(h *vnetHdr) { h.csumStart, h.csumOffset = 35, 4 }), udpPartial, true, rxCompleted, true},
		{"largest fields", vnetHdr{flags: 0xff, csumStart: 0xffff, csumOffset: 0xffff}, udpPartial, true, rxBadHeader, false},
		{"partial on an empty frame", vnetHdr{flags: vnetNeedsCsum}, []byte{}, true, rxBadHeader, false},
		{"no flags on an empty frame", vnetHdr{}, []byte{}, true, rxDeliver, false},
		{"unknown flag bits", vnetHdr{flags: 0xf8}, good(tcpSpec(1)), true, rxDeliver, false},
	}
	for _, tt := range tests {
		frame := bytes.Clone(tt.frame)
		got := rxFrame(tt.h, frame, tt.tcpOffload)
		if got != tt.want {
			t.Errorf("%s: rxFrame = %v, want %v", tt.name, got, tt.want)
		}
		if changed := !bytes.Equal(frame, tt.frame); changed != tt.changed {
			t.Errorf("%s: frame changed = %v, want %v", tt.name, changed, tt.changed)
		}
		if got == rxCompleted && !completedRight(frame, tt.frame, tt.h) {
			t.Errorf("%s: the completed checksum does not verify", tt.name)
		}
	}
	// The completed TCP and UDP checksums verify as the stack checks them.
	f := bytes.Clone(tcpPartial)
	rxFrame(tcpHdr, f, false)
	if err := tcp.Header(f[34:]).Verify(testSrc.As4(), testDst.As4()); err != nil {
		t.Errorf("completed TCP checksum: %v", err)
	}
	f = bytes.Clone(udpPartial)
	rxFrame(udpHdr, f, true)
	if err := udp.Header(f[34:]).Verify(testSrc.As4(), testDst.As4()); err != nil || udp.Header(f[34:]).Checksum() == 0 {
		t.Errorf("completed UDP checksum %#04x: %v", udp.Header(f[34:]).Checksum(), err)
	}
	for r := range rxResultCount + 1 {
		if r.String() == "" || (r < rxResultCount) == (r.String() == "unknown") {
			t.Errorf("rxResult(%d).String() = %q", r, r.String())
		}
	}
}

// completedRight reports whether the checksum rxFrame completed in frame
// is right: with the partial sum the field held in orig (the
// pseudo-header's) added back, the bytes it covers sum to all ones.
func completedRight(frame, orig []byte, h vnetHdr) bool {
	at := int(h.csumStart) + int(h.csumOffset)
	return checksum.Sum(frame[h.csumStart:], binary.BigEndian.Uint16(orig[at:])) == 0xffff
}

// emulateKernel does to a frame written behind header h, with the TCP
// checksum field replaced by partial (if so), what the kernel's
// skb_checksum_help does before the frame leaves: complete the checksum.
// It returns the frame as it would go on a wire, cut to its IP datagram
// as the kernel's ip_rcv does first.
func emulateKernel(t *testing.T, frame []byte, h vnetHdr, seg tcp4, partial bool) []byte {
	t.Helper()
	f := bytes.Clone(frame)
	if partial {
		f = f[:seg.end]
		binary.BigEndian.PutUint16(f[seg.tcp+tcpCsumOffset:], seg.pseudo())
	}
	if h.flags&vnetNeedsCsum != 0 && !completeChecksum(f, int(h.csumStart), int(h.csumOffset)) {
		t.Fatalf("header %+v does not fit the frame", h)
	}
	return f
}

// TestTxHeader checks the header written before each kind of frame, and
// that the partial sum put in the TCP checksum field is right: completing
// it, as the kernel does, gives the checksum the stack would have written.
func TestTxHeader(t *testing.T) {
	cwr := tcpSpec(3000)
	cwr.tcpFlags = tcp.CWR | tcp.PSH
	opts := tcpSpec(3000)
	opts.tcpOpts = &tcp.Options{TS: true, TSVal: 9, TSEcr: 8}
	vlan := tcpSpec(100)
	vlan.vlan = true
	tests := []struct {
		name        string
		spec        frameSpec
		tcpOffload  bool
		mss         int
		want        vnetHdr
		wantPartial bool
		wantOK      bool
	}{
		{"TCP, offloaded", tcpSpec(100), true, 0, vnetHdr{flags: vnetNeedsCsum, csumStart: 34, csumOffset: 16}, true, true},
		{"TCP, VLAN", vlan, true, 0, vnetHdr{flags: vnetNeedsCsum, csumStart: 38, csumOffset: 16}, true, true},
		{"TCP, not offloaded", tcpSpec(100), false, 0, vnetHdr{}, false, true},
		{"UDP", frameSpec{proto: ipv4.ProtoUDP, payload: 100}, true, 0, vnetHdr{}, false, true},
		{"TCP fragment", frameSpec{proto: ipv4.ProtoTCP, payload: 100, ipFlags: ipv4.FlagMF}, true, 0, vnetHdr{}, false, true},
		{"segment", tcpSpec(60000), true, 1448, vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16}, true, true},
		{"segment with options", opts, true, 1000, vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4, hdrLen: 66, gsoSize: 1000, csumStart: 34, csumOffset: 16}, true, true},
		{"segment with CWR", cwr, true, 1448, vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4 | vnetGSOECN, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16}, true, true},
		{"segment that fits the mss", tcpSpec(1448), true, 1448, vnetHdr{flags: vnetNeedsCsum, csumStart: 34, csumOffset: 16}, true, true},
		{"segment one byte over", tcpSpec(1449), true, 1448, vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16}, true, true},
		{"largest segment", tcpSpec(65535 - 40), true, 1448, vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16}, true, true},
		{"segment of UDP", frameSpec{proto: ipv4.ProtoUDP, payload: 3000}, true, 1448, vnetHdr{}, false, false},
	}
	for _, tt := range tests {
		frame, _ := tt.spec.build() // checksum zero, as the stack leaves it
		orig := bytes.Clone(frame)
		h, seg, partial, ok := txHeader(frame, tt.tcpOffload, tt.mss)
		if h != tt.want || partial != tt.wantPartial || ok != tt.wantOK {
			t.Errorf("%s: txHeader = %+v, partial %v, ok %v; want %+v, %v, %v", tt.name, h, partial, ok, tt.want, tt.wantPartial, tt.wantOK)
			continue
		}
		if !bytes.Equal(frame, orig) {
			t.Errorf("%s: txHeader changed the frame", tt.name)
		}
		if !partial {
			continue
		}
		// Whatever the stack left in the field (zero, or a full
		// checksum), the kernel's completion gives the right one.
		want, _ := (frameSpec{vlan: tt.spec.vlan, proto: ipv4.ProtoTCP, payload: tt.spec.payload, tcpOpts: tt.spec.tcpOpts, tcpFlags: tt.spec.tcpFlags, ipFlags: tt.spec.ipFlags, csum: true}).build()
		for _, in := range [][]byte{frame, want} {
			got := emulateKernel(t, in, h, seg, partial)
			if !bytes.Equal(got, want) {
				t.Errorf("%s: completed checksum %#04x, want %#04x", tt.name, binary.BigEndian.Uint16(got[seg.tcp+16:]), binary.BigEndian.Uint16(want[seg.tcp+16:]))
			}
			if err := tcp.Header(got[seg.tcp:seg.end]).Verify(seg.src, seg.dst); err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
		}
	}
}

func TestVnetHelpersDoNotAllocate(t *testing.T) {
	tcpFrame, _ := tcpSpec(1400).build()
	udpFrame, udpHdr := partialFrame(frameSpec{proto: ipv4.ProtoUDP, payload: 1400})
	goodTCP, _ := (frameSpec{proto: ipv4.ProtoTCP, payload: 1400, csum: true}).build()
	hb := make([]byte, vnetHdrLen)
	allocs := testing.AllocsPerRun(100, func() {
		h, _, _, _ := txHeader(tcpFrame, true, 1000)
		h.put(hb)
		h, _ = parseVnetHdr(hb)
		_ = rxFrame(h, tcpFrame, true)
		_ = rxFrame(udpHdr, udpFrame, true)
		_ = rxFrame(vnetHdr{}, goodTCP, true)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}

// FuzzVnetRx runs rxFrame on an arbitrary header and frame: it must not
// panic, must change nothing but a checksum it completes, and what it
// delivers must be what the stack can trust.
func FuzzVnetRx(f *testing.F) {
	hb := make([]byte, vnetHdrLen)
	add := func(h vnetHdr, frame []byte, tcpOffload bool) {
		h.put(hb)
		f.Add(append(bytes.Clone(hb), frame...), tcpOffload)
	}
	tcpPartial, tcpHdr := partialFrame(tcpSpec(50))
	udpPartial, udpHdr := partialFrame(frameSpec{proto: ipv4.ProtoUDP, payload: 50, vlan: true})
	good, _ := (frameSpec{proto: ipv4.ProtoTCP, payload: 50, csum: true}).build()
	add(tcpHdr, tcpPartial, true)
	add(udpHdr, udpPartial, true)
	add(vnetHdr{}, good, true)
	add(vnetHdr{gsoType: vnetGSOTCPv4, gsoSize: 10}, good, true)
	add(vnetHdr{flags: vnetNeedsCsum, csumStart: 0xffff, csumOffset: 0xffff}, good, false)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, tcpOffload bool) {
		h, ok := parseVnetHdr(data)
		if !ok {
			return
		}
		orig := data[vnetHdrLen:]
		frame := bytes.Clone(orig)
		r := rxFrame(h, frame, tcpOffload)
		seg, isTCP := findTCP4(orig)
		switch r {
		case rxCompleted:
			if h.flags&vnetNeedsCsum == 0 {
				t.Fatalf("completed a checksum without NEEDS_CSUM")
			}
			at := int(h.csumStart) + int(h.csumOffset)
			if !completedRight(frame, orig, h) {
				t.Fatalf("the completed checksum does not verify")
			}
			if !bytes.Equal(frame[:at], orig[:at]) || !bytes.Equal(frame[at+2:], orig[at+2:]) {
				t.Fatalf("changed more than the checksum field")
			}
		case rxDeliver:
			if !bytes.Equal(frame, orig) {
				t.Fatalf("changed a frame it delivers as it is")
			}
			// What reaches a stack that does not check TCP was
			// checked, or is left partial for the stack to trust, as
			// the kernel said.
			if tcpOffload && isTCP && h.flags&(vnetNeedsCsum|vnetDataValid) == 0 && !seg.verify(frame) {
				t.Fatalf("delivered a TCP segment with a bad checksum")
			}
		case rxBadChecksum:
			if !tcpOffload || !isTCP || seg.verify(orig) || !bytes.Equal(frame, orig) {
				t.Fatalf("dropped for a bad checksum: offload %v, TCP %v", tcpOffload, isTCP)
			}
		case rxBadHeader:
			if !bytes.Equal(frame, orig) {
				t.Fatalf("changed a frame it drops")
			}
		default:
			t.Fatalf("rxFrame returned %v", r)
		}
	})
}

// FuzzVnetTx runs txHeader on an arbitrary frame: it must not panic, and
// a header asking for a partial checksum must fit the frame and, once the
// kernel completes it, give a checksum that verifies.
func FuzzVnetTx(f *testing.F) {
	for _, s := range []frameSpec{tcpSpec(0), tcpSpec(3000), {proto: ipv4.ProtoUDP, payload: 5}, {vlan: true, proto: ipv4.ProtoTCP, payload: 10}} {
		b, _ := s.build()
		f.Add(b, true, uint16(1448))
		f.Add(b, true, uint16(0))
	}
	f.Add([]byte{}, false, uint16(0))
	f.Fuzz(func(t *testing.T, frame []byte, tcpOffload bool, mss uint16) {
		orig := bytes.Clone(frame)
		h, seg, partial, ok := txHeader(frame, tcpOffload, int(mss))
		if !bytes.Equal(frame, orig) {
			t.Fatal("txHeader changed the frame")
		}
		if !ok {
			if mss == 0 {
				t.Fatal("refused a frame without segmentation")
			}
			return
		}
		if !partial {
			if h != (vnetHdr{}) {
				t.Fatalf("header %+v for a frame without a partial checksum", h)
			}
			return
		}
		if h.gsoType != vnetGSONone && (int(h.hdrLen) != seg.data || int(h.gsoSize) != int(mss) || seg.end-seg.data <= int(mss)) {
			t.Fatalf("GSO header %+v for a segment of %d bytes, mss %d", h, seg.end-seg.data, mss)
		}
		got := emulateKernel(t, frame, h, seg, partial)
		if err := tcp.Header(got[seg.tcp:]).Verify(seg.src, seg.dst); err != nil {
			t.Fatalf("the completed checksum does not verify: %v", err)
		}
	})
}

// BenchmarkRxFrame measures the device's work on a 64 KiB TCP segment
// read: none when the kernel left its checksum partial, a verification
// when it did not say.
func BenchmarkRxFrame(b *testing.B) {
	partial, h := partialFrame(tcpSpec(65535 - 40))
	full, _ := (frameSpec{proto: ipv4.ProtoTCP, payload: 65535 - 40, csum: true}).build()
	for _, bc := range []struct {
		name  string
		h     vnetHdr
		frame []byte
	}{{"partial", h, partial}, {"verify", vnetHdr{}, full}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.frame)))
			for b.Loop() {
				if r := rxFrame(bc.h, bc.frame, true); r != rxDeliver {
					b.Fatal(r)
				}
			}
		})
	}
}

// BenchmarkTxHeader measures the header for a 64 KiB segment to be cut up.
func BenchmarkTxHeader(b *testing.B) {
	frame, _ := tcpSpec(65535 - 40).build()
	for b.Loop() {
		if _, _, partial, _ := txHeader(frame, true, 1448); !partial {
			b.Fatal("no partial checksum")
		}
	}
}
