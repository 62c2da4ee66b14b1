package icmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stacknet/stacknet/proto/checksum"
)

func TestGolden(t *testing.T) {
	tests := []struct {
		file       string
		typ, code  uint8
		sum        uint16
		rest       uint32
		bodyLen    int
		isError    bool
		str        string // a substring of String()
		quoteSport uint16 // for errors: the quoted UDP ports
		quoteDport uint16
	}{
		{"echo-request.hex", TypeEcho, 0, 0x2cf6, EchoRest(0x1234, 1), 56, false, "id: 4660, seq: 1", 0, 0},
		{"echo-reply.hex", TypeEchoReply, 0, 0x34f6, EchoRest(0x1234, 1), 56, false, "(echo reply)", 0, 0},
		{"port-unreach.hex", TypeDestUnreach, CodePortUnreach, 0xe99d, 0, 57, true, "(destination unreachable)", 53000, 53},
		{"frag-needed.hex", TypeDestUnreach, CodeFragNeeded, 0x6419, FragNeededRest(1400), MaxQuote, true, "rest: 0x00000578", 40000, 9000},
		{"time-exceeded.hex", TypeTimeExceeded, CodeTTLExceeded, 0xd6c0, 0, 28, true, "(time exceeded)", 33000, 33434},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ip, b := readGolden(t, tt.file)
			m, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type() != tt.typ || m.Code() != tt.code || binary.BigEndian.Uint32(m[4:8]) != tt.rest ||
				len(m.Body()) != tt.bodyLen || m.IsError() != tt.isError {
				t.Errorf("parsed %v", m)
			}
			if m.Checksum() != tt.sum {
				t.Errorf("checksum 0x%04x, want 0x%04x", m.Checksum(), tt.sum)
			}
			if s := m.String(); !strings.Contains(s, tt.str) {
				t.Errorf("String() = %q, want it to contain %q", s, tt.str)
			}
			// Put rebuilds the same bytes.
			c := bytes.Clone(b)
			Put(c, tt.typ, tt.code, tt.rest)
			if !bytes.Equal(c, b) {
				t.Errorf("Put wrote\n%x\nwant\n%x", c, b)
			}
			if !tt.isError {
				return
			}
			// AppendError rebuilds the error from the quoted datagram.
			if e := AppendError(nil, tt.typ, tt.code, tt.rest, m.Body()); !bytes.Equal(e, b) {
				t.Errorf("AppendError wrote\n%x\nwant\n%x", e, b)
			}
			qip, tr, err := m.Quote()
			if err != nil {
				t.Fatalf("Quote: %v", err)
			}
			if qip.Src4() != ip.Dst4() {
				t.Errorf("quoted source %v, want the error's destination %v", qip.Src(), ip.Dst())
			}
			if sp, dp := binary.BigEndian.Uint16(tr[0:2]), binary.BigEndian.Uint16(tr[2:4]); sp != tt.quoteSport || dp != tt.quoteDport {
				t.Errorf("quoted ports %d -> %d", sp, dp)
			}
			if tt.typ == TypeDestUnreach && tt.code == CodeFragNeeded && m.NextHopMTU() != 1400 {
				t.Errorf("NextHopMTU %d", m.NextHopMTU())
			}
		})
	}
}

func TestParse(t *testing.T) {
	valid := func(b []byte) []byte {
		Put(b, TypeEcho, 0, EchoRest(1, 2))
		return b
	}
	corrupt := func(b []byte) []byte { b[len(b)-1] ^= 0x01; return b }
	tests := []struct {
		name string
		b    []byte
		err  error
	}{
		{"empty", nil, ErrShort},
		{"7 bytes", make([]byte, 7), ErrShort},
		{"header only", valid(make([]byte, 8)), nil},
		{"odd length", valid(make([]byte, 13)), nil},
		{"bad checksum", corrupt(valid(make([]byte, 20))), ErrChecksum},
		{"all zero", make([]byte, 8), ErrChecksum},
		{"all ones", bytes.Repeat([]byte{0xff}, 8), nil}, // sums to 0xffff
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.b)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err == nil && len(m) != len(tt.b) {
				t.Errorf("view of %d bytes from %d", len(m), len(tt.b))
			}
			if err != nil && m != nil {
				t.Errorf("view returned with an error")
			}
		})
	}
}

// TestParseDetectsBitFlips: the checksum catches every single-bit error.
func TestParseDetectsBitFlips(t *testing.T) {
	_, b := readGolden(t, "port-unreach.hex")
	for i := range len(b) * 8 {
		c := bytes.Clone(b)
		c[i/8] ^= 1 << (i % 8)
		if _, err := Parse(c); !errors.Is(err, ErrChecksum) {
			t.Errorf("bit %d flipped: Parse = %v", i, err)
		}
	}
}

func TestPut(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for n := HeaderLen; n < HeaderLen+100; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		typ, code, rest := uint8(r.Uint32()), uint8(r.Uint32()), r.Uint32()
		Put(b, typ, code, rest)
		m, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse of Put's %x: %v", b, err)
		}
		if m.Type() != typ || m.Code() != code || binary.BigEndian.Uint32(m[4:8]) != rest {
			t.Fatalf("Put wrote %v", m)
		}
		if checksum.Sum(b, 0) != 0xffff {
			t.Fatalf("sum 0x%04x", checksum.Sum(b, 0))
		}
	}
}

func TestRestWords(t *testing.T) {
	b := make([]byte, HeaderLen)
	Put(b, TypeEcho, 0, EchoRest(0xabcd, 0x0102))
	if m := Message(b); m.ID() != 0xabcd || m.Seq() != 0x0102 {
		t.Errorf("echo id %#x seq %#x", m.ID(), m.Seq())
	}
	Put(b, TypeDestUnreach, CodeFragNeeded, FragNeededRest(1280))
	if m := Message(b); m.NextHopMTU() != 1280 || binary.BigEndian.Uint16(b[4:6]) != 0 {
		t.Errorf("frag needed rest %x", b[4:8])
	}
	Put(b, TypeParamProblem, 0, ParamProblemRest(9))
	if m := Message(b); m.Pointer() != 9 || !bytes.Equal(b[5:8], []byte{0, 0, 0}) {
		t.Errorf("parameter problem rest %x", b[4:8])
	}
}

func TestIsError(t *testing.T) {
	// RFC 1122 3.2.2: the error messages; everything else is a query or
	// unknown.
	errorsWant := map[uint8]bool{3: true, 4: true, 5: true, 11: true, 12: true}
	for typ := range 256 {
		m := Message{uint8(typ), 0, 0, 0, 0, 0, 0, 0}
		if m.IsError() != errorsWant[uint8(typ)] || IsErrorType(uint8(typ)) != errorsWant[uint8(typ)] {
			t.Errorf("type %d: IsError %v", typ, m.IsError())
		}
	}
}

func TestString(t *testing.T) {
	for typ := range 256 {
		m := make(Message, HeaderLen)
		Put(m, uint8(typ), 1, 0x01020304)
		s := m.String()
		if !strings.HasPrefix(s, "type: ") || !strings.Contains(s, "code: 1") {
			t.Errorf("type %d: String() = %q", typ, s)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	_, b := readGolden(t, "frag-needed.hex")
	var err error
	allocs := testing.AllocsPerRun(100, func() {
		var m Message
		if m, err = Parse(b); err == nil {
			_, _, err = m.Quote()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Errorf("Parse and Quote allocate %v times", allocs)
	}
}
