package udp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzUDPParse checks that Parse and Verify never panic, that an accepted
// view's length field equals its length, that Parse refuses exactly the
// datagrams it should, and that a datagram that verifies with a checksum
// re-encodes to its own bytes.
func FuzzUDPParse(f *testing.F) {
	for _, name := range goldenFiles(f) {
		ip, b := readGolden(f, name)
		src, dst := ip.Src4(), ip.Dst4()
		f.Add(b, binary.BigEndian.Uint32(src[:]), binary.BigEndian.Uint32(dst[:]))
	}
	f.Add([]byte{}, uint32(0), uint32(0))
	f.Add([]byte{0, 1, 0, 2, 0, 8, 0, 0}, uint32(0xc0000201), uint32(0xc0000202))
	f.Add([]byte{0, 1, 0, 2, 0, 7, 0, 0, 0}, uint32(1), uint32(2))
	f.Add([]byte{0, 1, 0, 2, 0, 9, 0xff, 0xff, 0}, uint32(1), uint32(2))
	f.Fuzz(func(t *testing.T, b []byte, s, d uint32) {
		var src, dst [4]byte
		binary.BigEndian.PutUint32(src[:], s)
		binary.BigEndian.PutUint32(dst[:], d)
		h, err := Parse(b)
		if err != nil {
			switch {
			case errors.Is(err, ErrShort):
				if len(b) >= HeaderLen {
					t.Fatalf("ErrShort for %d bytes", len(b))
				}
			case errors.Is(err, ErrLength):
				if n := int(binary.BigEndian.Uint16(b[4:6])); n >= HeaderLen && n <= len(b) {
					t.Fatalf("ErrLength for length %d in %d bytes", n, len(b))
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if h.Length() != len(h) || len(h) > len(b) || &h[0] != &b[0] {
			t.Fatalf("view of %d bytes with length field %d from %d bytes", len(h), h.Length(), len(b))
		}
		_ = h.String()
		err = h.Verify(src, dst)
		if err != nil && !errors.Is(err, ErrChecksum) {
			t.Fatalf("Verify: unexpected error %v", err)
		}
		if err == nil && h.Checksum() != 0 {
			c := bytes.Clone(h)
			Put(c, src, dst, h.SrcPort(), h.DstPort())
			if !bytes.Equal(c, h) {
				t.Fatalf("verified datagram %x re-encodes as %x", []byte(h), c)
			}
		}
	})
}
