package ether

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// FuzzEtherParse checks that Parse never panics, that what it accepts
// re-encodes to the bytes it read, and that gopacket agrees on the
// addresses and the type/length field.
func FuzzEtherParse(f *testing.F) {
	for _, name := range goldenFiles(f) {
		f.Add(readHex(f, name))
	}
	f.Add([]byte{})
	f.Add(make([]byte, HeaderLen))
	f.Add([]byte{0: 0xff, 12: 0x88, 13: 0xa8, 17: 0})
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, err := Parse(frame)
		switch {
		case err == nil, errors.Is(err, ErrLength):
		case errors.Is(err, ErrShort):
			if len(frame) >= HeaderLen+4 {
				t.Fatalf("ErrShort for %d bytes", len(frame))
			}
			return
		default:
			t.Fatalf("unexpected error %v", err)
		}
		if h.Len != HeaderLen && h.Len != HeaderLen+4 || h.Len > len(frame) {
			t.Fatalf("Len %d for a %d-byte frame", h.Len, len(frame))
		}
		if h.Tagged != (h.TPID == TypeVLAN || h.TPID == TypeQinQ) || h.Tagged != (h.Len == HeaderLen+4) {
			t.Fatalf("inconsistent tag: %+v", h)
		}
		if (h.Type < MinType) != (err != nil) {
			t.Fatalf("type 0x%04x with error %v", uint16(h.Type), err)
		}

		// Re-encoding the parsed fields gives back the header's bytes.
		b := make([]byte, h.Len)
		if h.Tagged {
			Put(b, h.Dst, h.Src, h.TPID)
			binary.BigEndian.PutUint16(b[14:16], h.TCI)
			binary.BigEndian.PutUint16(b[16:18], uint16(h.Type))
		} else {
			Put(b, h.Dst, h.Src, h.Type)
		}
		if !bytes.Equal(b, frame[:h.Len]) {
			t.Fatalf("re-encoded\n% x\nread\n% x", b, frame[:h.Len])
		}

		// gopacket, an independent decoder, reads the same outer header.
		var eth layers.Ethernet
		if err := eth.DecodeFromBytes(frame, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("gopacket rejects a frame Parse reads: %v", err)
		}
		if !bytes.Equal(eth.DstMAC, h.Dst[:]) || !bytes.Equal(eth.SrcMAC, h.Src[:]) {
			t.Fatalf("gopacket addresses %v %v, Parse %v %v", eth.DstMAC, eth.SrcMAC, h.Dst, h.Src)
		}
		if !h.Tagged && (eth.EthernetType == layers.EthernetTypeLLC) != (err != nil) {
			t.Fatalf("gopacket type %v, Parse error %v", eth.EthernetType, err)
		}
	})
}
