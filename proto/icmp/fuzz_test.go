package icmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stacknet/stacknet/proto/checksum"
)

// FuzzICMPParse checks that Parse, the accessors, String and Quote never
// panic, and that Quote's views lie within the body; that Parse refuses exactly the messages it should; that an
// accepted message's checksum sums to 0xffff; and that Put re-encodes it
// to its own bytes (but for the two forms of a zero checksum).
func FuzzICMPParse(f *testing.F) {
	for _, name := range goldenFiles(f) {
		_, b := readGolden(f, name)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{8, 0, 0xf7, 0xff, 0, 0, 0, 0})
	f.Add(bytes.Repeat([]byte{0xff}, 8))
	f.Add(AppendError(nil, TypeDestUnreach, CodePortUnreach, 0, append([]byte{0x4f}, make([]byte, 30)...)))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Quote must hold up on any body, whatever the checksum.
		if len(b) >= HeaderLen {
			if ip, tr, err := Message(b).Quote(); err == nil {
				body := b[HeaderLen:]
				if len(ip) < 20 || len(tr) < 8 || len(ip)+len(tr) != len(body) || ip.HeaderLen() != len(ip) || ip.Version() != 4 {
					t.Fatalf("Quote: %d + %d bytes from a %d-byte body", len(ip), len(tr), len(body))
				}
				_, _, _, _ = ip.Src(), ip.Dst(), ip.Protocol(), ip.Options()
			} else if !errors.Is(err, ErrQuote) {
				t.Fatalf("Quote: unexpected error %v", err)
			}
		}
		m, err := Parse(b)
		if err != nil {
			switch {
			case errors.Is(err, ErrShort):
				if len(b) >= HeaderLen {
					t.Fatalf("ErrShort for %d bytes", len(b))
				}
			case errors.Is(err, ErrChecksum):
				if len(b) < HeaderLen || checksum.Sum(b, 0) == 0xffff {
					t.Fatalf("ErrChecksum for %x", b)
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if checksum.Sum(m, 0) != 0xffff || len(m) != len(b) {
			t.Fatalf("accepted %x", b)
		}
		_ = m.String()
		_, _, _, _, _ = m.Type(), m.Code(), m.ID(), m.Seq(), m.NextHopMTU()
		_, _ = m.Pointer(), m.IsError()
		c := bytes.Clone(b)
		Put(c, m.Type(), m.Code(), binary.BigEndian.Uint32(m[4:8]))
		if !bytes.Equal(c, b) && !(m.Checksum() == 0xffff && Message(c).Checksum() == 0) {
			t.Fatalf("%x re-encodes as %x", b, c)
		}
		if e := AppendError(nil, m.Type(), m.Code(), binary.BigEndian.Uint32(m[4:8]), m.Body()); len(m.Body()) <= MaxQuote && !bytes.Equal(e, c) {
			t.Fatalf("AppendError of %x wrote %x", b, e)
		}
	})
}
