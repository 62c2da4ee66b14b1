package tcp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// unhex decodes hex with spaces.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name string
		b    string
		want Options
		err  error
	}{
		{"empty", "", Options{}, nil},
		{"NOPs", "01 01 01 01", Options{}, nil},
		{"EOL", "00", Options{}, nil},
		{"EOL then garbage", "00 02 ff 08", Options{}, nil}, // padding is not read
		{"MSS then EOL", "02 04 05 b4 00 00 00 00", Options{MSS: 1460, HasMSS: true}, nil},
		{"MSS, EOL, MSS ignored", "02 04 05 b4 00 02 04 00 01", Options{MSS: 1460, HasMSS: true}, nil},
		{"MSS 0", "02 04 00 00", Options{HasMSS: true}, nil},
		{"Linux SYN", "02 04 05 b4 04 02 08 0a 00 00 00 01 00 00 00 00 01 03 03 07",
			Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, TSVal: 1, WScale: 7, HasWScale: true}, nil},
		{"BSD SYN order", "02 04 05 b4 01 03 03 06 01 01 08 0a 00 00 00 02 00 00 00 03 04 02 00 00",
			Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, TSVal: 2, TSEcr: 3, WScale: 6, HasWScale: true}, nil},
		{"WScale 14", "03 03 0e", Options{WScale: 14, HasWScale: true}, nil},
		{"WScale 15 clamped", "03 03 0f", Options{WScale: 14, HasWScale: true}, nil},
		{"WScale 255 clamped", "03 03 ff", Options{WScale: 14, HasWScale: true}, nil},
		{"SACK 1 block", "01 01 05 0a 00 00 00 01 00 00 00 02",
			Options{NumSACK: 1, SACK: [4]SACKBlock{{1, 2}}}, nil},
		{"SACK 4 blocks", "01 01 05 22 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 05 00 00 00 06 ff ff ff ff 00 00 00 00",
			Options{NumSACK: 4, SACK: [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {0xffffffff, 0}}}, nil},
		{"SACK twice, the later wins and clears", "05 12 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 05 0a 00 00 00 09 00 00 00 0a",
			Options{NumSACK: 1, SACK: [4]SACKBlock{{9, 10}}}, nil},
		{"MSS twice, the later wins", "02 04 00 01 02 04 00 02", Options{MSS: 2, HasMSS: true}, nil},
		{"unknown kind skipped", "fe 06 f9 89 aa bb 02 04 05 b4", Options{MSS: 1460, HasMSS: true}, nil},
		{"unknown kind, length 2", "22 02 02 04 05 b4", Options{MSS: 1460, HasMSS: true}, nil},
		{"MD5 skipped", "13 12 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 01 01", Options{}, nil},
		{"unknown kind at the very end", "01 01 fd 02", Options{}, nil},
		// The list cannot be walked.
		{"length 0", "02 04 05 b4 08 00 00 00", Options{}, ErrOptionLength},
		{"length 1", "fe 01 00 00", Options{}, ErrOptionLength},
		{"length 0 unknown kind", "fe 00", Options{}, ErrOptionLength},
		{"length beyond end", "01 01 08 0a 00 00 00 01", Options{}, ErrOptionLength},
		{"unknown kind beyond end", "fe 05 00 00", Options{}, ErrOptionLength},
		{"length 255", "02 ff 05 b4", Options{}, ErrOptionLength},
		{"kind without length", "01 01 01 02", Options{}, ErrOptionLength},
		{"unknown kind without length", "fe", Options{}, ErrOptionLength},
		// Known kinds with the wrong length.
		{"MSS length 3", "02 03 05 01", Options{}, ErrOptionSize},
		{"MSS length 5", "02 05 05 b4 00", Options{}, ErrOptionSize},
		{"MSS length 2", "02 02", Options{}, ErrOptionSize},
		{"WScale length 4", "03 04 07 00", Options{}, ErrOptionSize},
		{"SACK-Permitted length 3", "04 03 00 01", Options{}, ErrOptionSize},
		{"TS length 8", "08 08 00 00 00 01 00 00", Options{}, ErrOptionSize},
		{"SACK length 2 (no blocks)", "05 02", Options{}, ErrOptionSize},
		{"SACK length 9", "05 09 00 00 00 01 00 00 00", Options{}, ErrOptionSize},
		{"SACK 5 blocks", "05 2a" + strings.Repeat(" 00", 40), Options{}, ErrOptionSize},
		{"good options, then a bad one", "02 04 05 b4 03 02", Options{}, ErrOptionSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOptions(unhex(t, tt.b))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestPutOptions checks the layout byte for byte: Linux's.
func TestPutOptions(t *testing.T) {
	blocks := [4]SACKBlock{{1, 2}, {3, 4}, {5, 6}, {7, 8}}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"none", Options{}, ""},
		{"Linux SYN", Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, TSVal: 0x0a1b2c3d, WScale: 7, HasWScale: true},
			"02 04 05 b4 04 02 08 0a 0a 1b 2c 3d 00 00 00 00 01 03 03 07"},
		{"SYN without TS", Options{MSS: 1460, HasMSS: true, SACKPermitted: true, WScale: 7, HasWScale: true},
			"02 04 05 b4 01 01 04 02 01 03 03 07"},
		{"SYN with only MSS", Options{MSS: 536, HasMSS: true}, "02 04 02 18"},
		{"SYN without SACK", Options{MSS: 1460, HasMSS: true, TS: true, TSVal: 1, WScale: 0, HasWScale: true},
			"02 04 05 b4 01 01 08 0a 00 00 00 01 00 00 00 00 01 03 03 00"},
		{"data with TS", Options{TS: true, TSVal: 0xdeadbeef, TSEcr: 0x01020304},
			"01 01 08 0a de ad be ef 01 02 03 04"},
		{"TS and 2 SACK blocks", Options{TS: true, TSVal: 9, TSEcr: 10, NumSACK: 2, SACK: blocks},
			"01 01 08 0a 00 00 00 09 00 00 00 0a 01 01 05 12 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04"},
		{"TS and 4 SACK blocks: 3 fit", Options{TS: true, TSVal: 9, TSEcr: 10, NumSACK: 4, SACK: blocks},
			"01 01 08 0a 00 00 00 09 00 00 00 0a 01 01 05 1a 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 05 00 00 00 06"},
		{"4 SACK blocks", Options{NumSACK: 4, SACK: blocks},
			"01 01 05 22 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 05 00 00 00 06 00 00 00 07 00 00 00 08"},
		{"NumSACK above 4", Options{NumSACK: 9, SACK: blocks},
			"01 01 05 22 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 05 00 00 00 06 00 00 00 07 00 00 00 08"},
		{"NumSACK negative", Options{NumSACK: -1, SACK: blocks}, ""},
		{"everything: 2 SACK blocks fit", Options{MSS: 1, HasMSS: true, SACKPermitted: true, TS: true, WScale: 3, HasWScale: true, NumSACK: 4, SACK: blocks},
			"02 04 00 01 04 02 08 0a 00 00 00 00 00 00 00 00 01 03 03 03 01 01 05 12 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04"},
		{"WScale 20 written as 14", Options{WScale: 20, HasWScale: true}, "01 03 03 0e"},
		{"values without their flags", Options{MSS: 1460, WScale: 7, TSVal: 5}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.want)
			if n := OptionsLen(&tt.o); n != len(want) || n%4 != 0 || n > MaxOptionsLen {
				t.Errorf("OptionsLen %d, want %d", n, len(want))
			}
			b := bytes.Repeat([]byte{0xee}, len(want)+4)
			if n := PutOptions(b, &tt.o); n != len(want) {
				t.Errorf("PutOptions returned %d, want %d", n, len(want))
			}
			if !bytes.Equal(b[:len(want)], want) || !bytes.Equal(b[len(want):], []byte{0xee, 0xee, 0xee, 0xee}) {
				t.Errorf("PutOptions wrote\n% x\nwant\n% x", b, want)
			}
			prefix := []byte{0xaa}
			if got := AppendOptions(prefix, &tt.o); !bytes.Equal(got, append([]byte{0xaa}, want...)) {
				t.Errorf("AppendOptions gave % x", got)
			}
			// What PutOptions writes, ParseOptions reads.
			if _, err := ParseOptions(want); err != nil {
				t.Errorf("ParseOptions: %v", err)
			}
		})
	}
	if OptionsLen(nil) != 0 || PutOptions(nil, nil) != 0 || len(AppendOptions(nil, nil)) != 0 {
		t.Error("nil options are not empty")
	}
}

// TestPutOptionsShortBuffer: a buffer shorter than OptionsLen is a
// programming error and panics rather than writing a partial list.
func TestPutOptionsShortBuffer(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("PutOptions into a short buffer did not panic")
		}
	}()
	b := make([]byte, 11)
	PutOptions(b, &Options{TS: true})
}

func TestOptionsString(t *testing.T) {
	tests := []struct {
		o    Options
		want string
	}{
		{Options{}, "none"},
		{Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, TSVal: 5, WScale: 7, HasWScale: true},
			"mss 1460,sackOK,TS val 5 ecr 0,wscale 7"},
		{Options{TS: true, TSVal: 1, TSEcr: 2, NumSACK: 2, SACK: [4]SACKBlock{{10, 20}, {30, 40}}},
			"TS val 1 ecr 2,sack 2 {10:20}{30:40}"},
	}
	for _, tt := range tests {
		if got := tt.o.String(); got != tt.want {
			t.Errorf("String = %q, want %q", got, tt.want)
		}
	}
}
