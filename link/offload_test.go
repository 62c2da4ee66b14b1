package link

import "testing"

func TestOffloadsOf(t *testing.T) {
	plainA, plainB := Pipe(1500)
	offA, offB := Pipe(1500, WithChecksumOffload())
	lo := Loopback(0)
	wrapped := Impair(offA, 1, Impairment{}, Impairment{})
	for _, tc := range []struct {
		name string
		dev  Device
		want Offload
	}{
		{"plain pipe, one end", plainA, 0},
		{"plain pipe, other end", plainB, 0},
		{"offload pipe, one end", offA, OffloadChecksum},
		{"offload pipe, other end", offB, OffloadChecksum},
		{"loopback", lo, OffloadChecksum},
		{"impaired offload pipe", wrapped, 0},
	} {
		if got := OffloadsOf(tc.dev); got != tc.want {
			t.Errorf("%s: OffloadsOf = %b, want %b", tc.name, got, tc.want)
		}
	}
	for _, d := range []Device{plainA, plainB, offA, offB, lo} {
		d.Close()
	}
}
