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

// TestPipeSwapFrames: SwapFrames delivers what was written, handing over
// the queue's buffer where it is large enough, and the buffers given in
// exchange carry later frames intact.
func TestPipeSwapFrames(t *testing.T) {
	a, b := Pipe(1500)
	defer a.Close()
	defer b.Close()
	sw, ok := b.(FrameSwapper)
	if !ok {
		t.Fatal("a Pipe end is not a FrameSwapper")
	}
	bufs := [][]byte{make([]byte, 1518), make([]byte, 1518)}
	sizes := make([]int, 2)
	swapped := 0
	for round := range 50 {
		f1 := make([]byte, 60+round)
		f2 := make([]byte, 1514)
		for i := range f1 {
			f1[i] = byte(round + i)
		}
		for i := range f2 {
			f2[i] = byte(round * i)
		}
		if _, err := a.WriteFrames([][]byte{f1, f2}); err != nil {
			t.Fatal(err)
		}
		before := [2]*byte{&bufs[0][0], &bufs[1][0]}
		got := 0
		for got < 2 {
			n, err := sw.SwapFrames(bufs[got:], sizes[got:])
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
		for k, want := range [][]byte{f1, f2} {
			if len(bufs[k]) != 1518 {
				t.Fatalf("round %d: buffer %d has length %d, want the caller's 1518", round, k, len(bufs[k]))
			}
			if string(bufs[k][:sizes[k]]) != string(want) {
				t.Fatalf("round %d: frame %d differs", round, k)
			}
			if &bufs[k][0] != before[k] {
				swapped++
			}
		}
	}
	if swapped == 0 {
		t.Error("no buffer was ever swapped")
	}
}

func TestOffloadString(t *testing.T) {
	for _, tt := range []struct {
		o    Offload
		want string
	}{
		{0, "none"},
		{OffloadChecksum, "checksum"},
		{OffloadTSO | OffloadGRO, "tso|gro"},
		{OffloadChecksum | OffloadTSO | OffloadGRO, "checksum|tso|gro"},
		{OffloadGRO | 0x80, "gro|0x80"},
		{0x40, "0x40"},
	} {
		if got := tt.o.String(); got != tt.want {
			t.Errorf("Offload(%#x).String() = %q, want %q", uint8(tt.o), got, tt.want)
		}
	}
}
