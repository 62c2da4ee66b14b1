package ipv4

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stacknet/stacknet/timers"
)

// FuzzReassembly feeds a Reassembler fragments described by the input:
// one byte picks the memory bound, then each 4-byte record is a fragment
// (key, offset, length, MF, honest or corrupt data, clock advance). It
// checks that Add never panics, the memory bound always holds, and every
// datagram that comes out is consistent: a valid unfragmented datagram of
// the right key whose data, when no corrupt fragment was ever sent for
// the key, is the expected pattern.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{0x00, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x02, 0x05})
	f.Add([]byte{0x10, 0x01, 0x00, 0x02, 0x05, 0x01, 0x00, 0x00, 0x90})
	f.Add([]byte{0x00, 0x02, 0x00, 0x01, 0x90, 0x02, 0x00, 0x00, 0x88, 0x06, 0x00, 0x00, 0x88})
	f.Add([]byte{0xff, 0x08, 0x00, 0x00, 0x90, 0x83, 0x1f, 0xff, 0x7f, 0x48, 0x00, 0x01, 0x10})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		maxBytes := 512 + int(in[0])*64
		clock := timers.NewFake(time.Unix(0, 0))
		ts := timers.New(clock)
		defer ts.Close()
		var timeouts int
		r := NewReassembler(ReasmConfig{MaxBytes: maxBytes, MaxFragments: 16}, ts, func(first []byte) {
			// A header and 8 bytes of the first fragment.
			if len(first) != HeaderLen+8 || Header(first).FragOffset() != 0 || !Header(first).MF() {
				t.Errorf("timeout report % x", first)
			}
			timeouts++
		})
		defer r.Close()
		var corrupt [4]bool
		var hdr [MaxHeaderLen + 128]byte
		for rec := in[1:]; len(rec) >= 4; rec = rec[4:] {
			id := uint16(rec[0] & 3)
			bad := rec[0]&4 != 0
			if rec[0]&8 != 0 {
				clock.Advance(time.Duration(rec[0]>>4) * 4 * time.Second)
			}
			off := int(binary.BigEndian.Uint16(rec[1:3]))
			if rec[0]&0x80 == 0 {
				off %= 32
			}
			off = off & offMask * 8
			n := int(rec[3] & 0x7f)
			mf := rec[3]&0x80 != 0
			if bad {
				corrupt[id] = true
			}
			var flags uint16
			if mf {
				flags = FlagMF
			}
			PutHeader(hdr[:], Fields{TotalLen: HeaderLen + n, ID: id, Flags: flags, FragOff: off, TTL: 1,
				Protocol: ProtoUDP, Src: testSrc, Dst: testDst})
			for i := range n {
				hdr[HeaderLen+i] = fuzzByte(id, off+i, bad)
			}
			h, err := Parse(hdr[:HeaderLen+n])
			if err != nil {
				t.Fatal(err)
			}
			out, err := r.Add(h)
			s := r.Stats()
			if s.Bytes > maxBytes || s.Bytes < 0 || s.Pending < 0 || s.Bytes < s.Pending*datagramOverhead {
				t.Fatalf("stats %+v, MaxBytes %d", s, maxBytes)
			}
			if err != nil || out == nil {
				continue
			}
			if _, err := Parse(out); err != nil || out.IsFragment() || out.ID() != id ||
				out.Src() != testSrc || out.Dst() != testDst || out.Protocol() != ProtoUDP {
				t.Fatalf("reassembled %v: %v", out, err)
			}
			if !corrupt[id] {
				for i, c := range out.Payload() {
					if c != fuzzByte(id, i, false) {
						t.Fatalf("reassembled byte %d is %#x, want %#x", i, c, fuzzByte(id, i, false))
					}
				}
			}
		}
		if s := r.Stats(); uint64(timeouts) > s.Timeouts {
			t.Fatalf("%d timeout reports, %d timeouts", timeouts, s.Timeouts)
		}
		r.Close()
		if s := r.Stats(); s.Pending != 0 || s.Bytes != 0 || ts.Len() != 0 {
			t.Fatalf("after Close: %+v, %d timers", s, ts.Len())
		}
	})
}

// fuzzByte is the byte at offset i of datagram id, or a wrong one.
func fuzzByte(id uint16, i int, bad bool) byte {
	b := byte(i*7) + byte(i>>8) + byte(id)*31
	if bad {
		b ^= 0x5a
	}
	return b
}
