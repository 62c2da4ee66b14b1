package ether

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

var (
	hostA = Addr{0x02, 0x00, 0x5e, 0x00, 0x02, 0x01}
	hostB = Addr{0x02, 0x00, 0x5e, 0x00, 0x02, 0x02}
)

func TestParseGolden(t *testing.T) {
	tests := []struct {
		file    string
		want    Header
		wantErr error
		size    int // frame length
	}{
		{
			file: "ipv4.hex", size: 60,
			want: Header{Dst: hostB, Src: hostA, Type: TypeIPv4, Len: 14},
		},
		{
			file: "vlan.hex", size: 60,
			want: Header{Dst: hostB, Src: hostA, Type: TypeIPv4, Tagged: true, TPID: TypeVLAN, TCI: 0xa064, Len: 18},
		},
		{
			file: "qinq.hex", size: 60,
			want: Header{Dst: hostB, Src: hostA, Type: TypeIPv4, Tagged: true, TPID: TypeQinQ, TCI: 0x10c8, Len: 18},
		},
		{
			// Only the outer tag is read; the inner TPID is the type.
			file: "qinq-double.hex", size: 60,
			want: Header{Dst: hostB, Src: hostA, Type: TypeVLAN, Tagged: true, TPID: TypeQinQ, TCI: 0x012c, Len: 18},
		},
		{
			file: "priority.hex", size: 60,
			want: Header{Dst: Broadcast, Src: hostA, Type: TypeARP, Tagged: true, TPID: TypeVLAN, TCI: 0xc000, Len: 18},
		},
		{
			file: "llc.hex", size: 60, wantErr: ErrLength,
			want: Header{Dst: Addr{0x01, 0x80, 0xc2, 0, 0, 0}, Src: hostA, Type: 38, Len: 14},
		},
		{
			file: "undefined-type.hex", size: 60, wantErr: ErrLength,
			want: Header{Dst: hostB, Src: hostA, Type: 1501, Len: 14},
		},
		{
			file: "vlan-llc.hex", size: 60, wantErr: ErrLength,
			want: Header{Dst: hostB, Src: hostA, Type: 3, Tagged: true, TPID: TypeVLAN, TCI: 7, Len: 18},
		},
		{file: "short.hex", size: 13, wantErr: ErrShort},
		{
			file: "short-tagged.hex", size: 17, wantErr: ErrShort,
			want: Header{Dst: hostB, Src: hostA, Type: TypeVLAN, Len: 14},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			frame := readHex(t, tt.file)
			if len(frame) != tt.size {
				t.Fatalf("golden frame is %d bytes, want %d", len(frame), tt.size)
			}
			h, err := Parse(frame)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse error = %v, want %v", err, tt.wantErr)
			}
			if h != tt.want {
				t.Errorf("Parse =\n%+v\nwant\n%+v", h, tt.want)
			}
		})
	}
}

func TestParseVLAN(t *testing.T) {
	tests := []struct {
		file string
		vlan uint16
	}{
		{"ipv4.hex", 0},
		{"vlan.hex", 100},
		{"qinq.hex", 200},
		{"qinq-double.hex", 300},
		{"priority.hex", 0},
	}
	for _, tt := range tests {
		h, err := Parse(readHex(t, tt.file))
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if got := h.VLAN(); got != tt.vlan {
			t.Errorf("%s: VLAN() = %d, want %d", tt.file, got, tt.vlan)
		}
	}
}

// IEEE 802.3 clause 3.2.6: 1500 is the largest length, 0x0600 the
// smallest type; the values in between are neither.
func TestParseTypeBoundary(t *testing.T) {
	tests := []struct {
		field   uint16
		wantErr error
	}{
		{0, ErrLength},
		{1500, ErrLength},
		{1501, ErrLength},
		{0x05ff, ErrLength},
		{0x0600, nil},
		{0x0800, nil},
		{0xffff, nil},
	}
	for _, tt := range tests {
		for _, tagged := range []bool{false, true} {
			frame := make([]byte, MinFrameLen)
			off := 12
			if tagged {
				frame[12], frame[13] = 0x81, 0x00
				off = 16
			}
			frame[off], frame[off+1] = byte(tt.field>>8), byte(tt.field)
			h, err := Parse(frame)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("field 0x%04x tagged %v: error %v, want %v", tt.field, tagged, err, tt.wantErr)
			}
			if h.Type != Type(tt.field) {
				t.Errorf("field 0x%04x tagged %v: Type 0x%04x", tt.field, tagged, uint16(h.Type))
			}
		}
	}
}

func TestParseShort(t *testing.T) {
	frame := readHex(t, "vlan.hex")
	for n := range 18 {
		h, err := Parse(frame[:n])
		if !errors.Is(err, ErrShort) {
			t.Errorf("Parse(%d bytes) error = %v, want ErrShort", n, err)
		}
		if h.Tagged {
			t.Errorf("Parse(%d bytes) reports a tag", n)
		}
	}
	if _, err := Parse(frame[:18]); err != nil {
		t.Errorf("Parse(18 bytes) = %v", err)
	}
}

func TestParseAllocs(t *testing.T) {
	frames := [][]byte{readHex(t, "ipv4.hex"), readHex(t, "vlan.hex"), readHex(t, "llc.hex"), readHex(t, "short.hex")}
	for _, f := range frames {
		if n := testing.AllocsPerRun(100, func() { _, _ = Parse(f) }); n != 0 {
			t.Errorf("Parse of %d bytes allocates %v times", len(f), n)
		}
	}
}

func TestPut(t *testing.T) {
	want := readHex(t, "ipv4.hex")
	got := bytes.Clone(want)
	clear(got[:HeaderLen])
	Put(got, hostB, hostA, TypeIPv4)
	if !bytes.Equal(got, want) {
		t.Fatalf("Put wrote\n% x\nwant\n% x", got[:HeaderLen], want[:HeaderLen])
	}
	SetDst(got, Broadcast)
	h, err := Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if h.Dst != Broadcast || h.Src != hostA || h.Type != TypeIPv4 {
		t.Errorf("after SetDst: %+v", h)
	}
	if !bytes.Equal(got[6:], want[6:]) {
		t.Error("SetDst changed more than the destination")
	}
}

func TestPutShortPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Put into 13 bytes did not panic")
		}
	}()
	Put(make([]byte, HeaderLen-1), hostA, hostB, TypeIPv4)
}

func TestAddr(t *testing.T) {
	tests := []struct {
		a                      Addr
		str                    string
		multicast, bcast, zero bool
	}{
		{Addr{}, "00:00:00:00:00:00", false, false, true},
		{hostA, "02:00:5e:00:02:01", false, false, false},
		{Addr{0x00, 0x1b, 0x21, 0xab, 0xcd, 0xef}, "00:1b:21:ab:cd:ef", false, false, false},
		{Addr{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}, "fe:ff:ff:ff:ff:ff", false, false, false},
		{Addr{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}, "01:00:5e:00:00:fb", true, false, false}, // IPv4 multicast 224.0.0.251
		{Addr{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, "33:33:00:00:00:01", true, false, false}, // IPv6 all-nodes
		{Addr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}, "01:80:c2:00:00:00", true, false, false},
		{Broadcast, "ff:ff:ff:ff:ff:ff", true, true, false},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
		if got := tt.a.HardwareAddr().String(); got != tt.str {
			t.Errorf("HardwareAddr().String() = %q, want %q", got, tt.str)
		}
		if got := tt.a.IsMulticast(); got != tt.multicast {
			t.Errorf("%v.IsMulticast() = %v", tt.a, got)
		}
		if got := tt.a.IsBroadcast(); got != tt.bcast {
			t.Errorf("%v.IsBroadcast() = %v", tt.a, got)
		}
		if got := tt.a.IsZero(); got != tt.zero {
			t.Errorf("%v.IsZero() = %v", tt.a, got)
		}
		hw, err := net.ParseMAC(tt.str)
		if err != nil {
			t.Fatal(err)
		}
		a, ok := AddrFrom(hw)
		if !ok || a != tt.a {
			t.Errorf("AddrFrom(%v) = %v, %v", hw, a, ok)
		}
	}
}

func TestAddrFromWrongLength(t *testing.T) {
	for _, hw := range []net.HardwareAddr{nil, {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5, 6, 7}, make(net.HardwareAddr, 20)} {
		if a, ok := AddrFrom(hw); ok || !a.IsZero() {
			t.Errorf("AddrFrom(%d bytes) = %v, %v", len(hw), a, ok)
		}
	}
}

func TestAddrHardwareAddrCopies(t *testing.T) {
	a := hostA
	hw := a.HardwareAddr()
	hw[0] = 0xff
	if a != hostA {
		t.Error("HardwareAddr shares memory with the Addr")
	}
}

func TestAddrStringAllocs(t *testing.T) {
	// The string itself is the one allocation.
	if n := testing.AllocsPerRun(100, func() { _ = hostA.String() }); n > 1 {
		t.Errorf("String allocates %v times", n)
	}
}

func TestTypeString(t *testing.T) {
	tests := []struct {
		t    Type
		want string
	}{
		{TypeIPv4, "IPv4"},
		{TypeARP, "ARP"},
		{TypeVLAN, "802.1Q"},
		{TypeQinQ, "802.1ad"},
		{TypeIPv6, "IPv6"},
		{0x88cc, "0x88cc"},
		{0x0026, "0x0026"},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("Type(0x%04x).String() = %q, want %q", uint16(tt.t), got, tt.want)
		}
	}
}

func TestHeaderString(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"ipv4.hex", "dst: 02:00:5e:00:02:02, src: 02:00:5e:00:02:01, type: 0x0800 (IPv4)"},
		{"vlan.hex", "dst: 02:00:5e:00:02:02, src: 02:00:5e:00:02:01, vlan: 100 (tci: 0xa064), type: 0x0800 (IPv4)"},
		{"priority.hex", "dst: ff:ff:ff:ff:ff:ff, src: 02:00:5e:00:02:01, vlan: 0 (tci: 0xc000), type: 0x0806 (ARP)"},
	}
	for _, tt := range tests {
		h, err := Parse(readHex(t, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := h.String(); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.file, got, tt.want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	frame := readHex(b, "vlan.hex")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(frame); err != nil {
			b.Fatal(err)
		}
	}
}
