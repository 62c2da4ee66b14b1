package tcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// fitted is o as it reads back after PutOptions: the SACK blocks that do
// not fit in the option space dropped.
func fitted(o Options) Options {
	k := sackBlocks(&o, fixedLen(&o))
	o.NumSACK = k
	for i := k; i < MaxSACKBlocks; i++ {
		o.SACK[i] = SACKBlock{}
	}
	return o
}

// classify is the error ParseOptions should return for b, worked out
// independently of it: ErrOptionLength at the first option whose length
// cannot be followed, ErrOptionSize at the first interpreted option whose
// length is wrong for its kind, whichever comes first.
func classify(b []byte) error {
	sizeOK := map[byte]func(n int) bool{
		2: func(n int) bool { return n == 4 },
		3: func(n int) bool { return n == 3 },
		4: func(n int) bool { return n == 2 },
		5: func(n int) bool { return n >= 10 && n <= 34 && (n-2)%8 == 0 },
		8: func(n int) bool { return n == 10 },
	}
	for len(b) > 0 {
		switch b[0] {
		case 0:
			return nil
		case 1:
			b = b[1:]
			continue
		}
		if len(b) < 2 || b[1] < 2 || int(b[1]) > len(b) {
			return ErrOptionLength
		}
		if ok, known := sizeOK[b[0]]; known && !ok(int(b[1])) {
			return ErrOptionSize
		}
		b = b[b[1]:]
	}
	return nil
}

// checkOptions checks what ParseOptions returned for b and that the
// options survive PutOptions and ParseOptions again.
func checkOptions(t *testing.T, b []byte, o Options, err error) {
	t.Helper()
	if want := classify(b); err != want {
		t.Fatalf("% x: error %v, want %v", b, err, want)
	}
	if err != nil {
		if o != (Options{}) {
			t.Fatalf("error %v with options %+v", err, o)
		}
		return
	}
	if o.WScale > MaxWScale || (!o.HasWScale && o.WScale != 0) || (!o.HasMSS && o.MSS != 0) ||
		(!o.TS && (o.TSVal|o.TSEcr) != 0) || o.NumSACK < 0 || o.NumSACK > MaxSACKBlocks {
		t.Fatalf("inconsistent options %+v from % x", o, b)
	}
	for _, s := range o.SACK[o.NumSACK:] {
		if s != (SACKBlock{}) {
			t.Fatalf("stale SACK blocks in %+v", o)
		}
	}
	_ = o.String()
	enc := AppendOptions(nil, &o)
	if len(enc) != OptionsLen(&o) || len(enc)%4 != 0 || len(enc) > MaxOptionsLen {
		t.Fatalf("%+v encodes as %d bytes, OptionsLen %d", o, len(enc), OptionsLen(&o))
	}
	o2, err := ParseOptions(enc)
	if err != nil {
		t.Fatalf("ParseOptions of PutOptions's % x: %v", enc, err)
	}
	if o2 != fitted(o) {
		t.Fatalf("% x: %+v encodes as % x, which reads %+v", b, o, enc, o2)
	}
	if enc2 := AppendOptions(nil, &o2); !bytes.Equal(enc2, enc) {
		t.Fatalf("encoding not stable: % x then % x", enc, enc2)
	}
}

// FuzzParse checks that Parse, Verify, ParseOptions and String never
// panic, that Parse refuses exactly what it should, that a segment
// rebuilt with Put from what was read reads the same, and that a verified
// segment in Linux's layout rebuilds to its own bytes.
func FuzzParse(f *testing.F) {
	for _, name := range goldenFiles(f) {
		ip, b := readGolden(f, name)
		src, dst := ip.Src4(), ip.Dst4()
		f.Add(b, binary.BigEndian.Uint32(src[:]), binary.BigEndian.Uint32(dst[:]))
	}
	f.Add([]byte{}, uint32(0), uint32(0))
	f.Add(make([]byte, 19), uint32(1), uint32(2))
	f.Add([]byte{0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0x5f, 0xff, 0, 5, 0, 0, 0, 6}, uint32(1), uint32(2))
	f.Add([]byte{0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0xf0, 0x02, 0, 5, 0, 0, 0, 6}, uint32(1), uint32(2))
	f.Fuzz(func(t *testing.T, b []byte, s, d uint32) {
		var src, dst [4]byte
		binary.BigEndian.PutUint32(src[:], s)
		binary.BigEndian.PutUint32(dst[:], d)
		h, err := Parse(b)
		if err != nil {
			if h != nil {
				t.Fatalf("error %v with a view", err)
			}
			switch {
			case errors.Is(err, ErrShort):
				if len(b) >= HeaderLen {
					t.Fatalf("ErrShort for %d bytes", len(b))
				}
			case errors.Is(err, ErrTooLong):
				if len(b) <= MaxSegment {
					t.Fatalf("ErrTooLong for %d bytes", len(b))
				}
			case errors.Is(err, ErrDataOffset):
				if hl := int(b[12]>>4) * 4; hl >= HeaderLen && hl <= len(b) {
					t.Fatalf("ErrDataOffset for header length %d in %d bytes", hl, len(b))
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(h) != len(b) || &h[0] != &b[0] || h.HeaderLen() < HeaderLen || h.HeaderLen() > len(h) ||
			len(h.Options())+len(h.Payload())+HeaderLen != len(h) || h.SegLen() < len(h.Payload()) {
			t.Fatalf("accepted inconsistent %v (input %d bytes)", h, len(b))
		}
		_ = h.String()
		verr := h.Verify(src, dst)
		if verr != nil && !errors.Is(verr, ErrChecksum) {
			t.Fatalf("Verify: unexpected error %v", verr)
		}
		// SetChecksum changes nothing exactly when Verify passed.
		c := Header(bytes.Clone(h))
		c.SetChecksum(src, dst)
		if c.Verify(src, dst) != nil || bytes.Equal(c, h) != (verr == nil) {
			t.Fatalf("Verify %v, but SetChecksum writes 0x%04x over 0x%04x", verr, c.Checksum(), h.Checksum())
		}

		o, err := ParseOptions(h.Options())
		checkOptions(t, h.Options(), o, err)
		if err != nil {
			return
		}
		// Rebuild the segment from what was read.
		payload := h.Payload()
		r := make([]byte, HeaderLen+OptionsLen(&o)+len(payload))
		copy(r[len(r)-len(payload):], payload)
		Put(r, fieldsOf(h), &o, src, dst)
		h2, err := Parse(r)
		if err != nil {
			t.Fatalf("Parse of the rebuilt %x: %v", r, err)
		}
		o2, err := ParseOptions(h2.Options())
		if err != nil || o2 != fitted(o) || fieldsOf(h2) != fieldsOf(h) || !bytes.Equal(h2.Payload(), payload) ||
			h2.Verify(src, dst) != nil {
			t.Fatalf("%v rebuilt as %v (%v)", h, h2, err)
		}
		if verr == nil && h.Reserved() == 0 && bytes.Equal(h2.Options(), h.Options()) && !bytes.Equal(r, h) {
			t.Fatalf("verified segment %x rebuilds as %x", []byte(h), r)
		}
	})
}

// FuzzOptions checks that ParseOptions never panics, that it refuses
// exactly the lists it should, and that parse, PutOptions, parse gives
// the same Options (less the SACK blocks PutOptions has no room for).
func FuzzOptions(f *testing.F) {
	for _, name := range goldenFiles(f) {
		_, b := readGolden(f, name)
		if h, err := Parse(b); err == nil {
			f.Add([]byte(h.Options()))
		}
	}
	for _, s := range []string{
		"",
		"\x00\x02\xff",
		"\x03\x03\x0f",
		"\x04\x02\x03\x03\x07\x05\x22" + string(make([]byte, 32)), // 4 SACK blocks that no longer fit
		"\x05\x12\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x05\x0a\x00\x00\x00\x09\x00\x00\x00\x0a",
		"\xfe\x06\xf9\x89\xaa\xbb",
		"\xfe\x01",
		"\x02",
		"\x02\x03\x05\x01",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOptions(b)
		checkOptions(t, b, o, err)
	})
}
