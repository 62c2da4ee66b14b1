package tcp

import (
	"testing"
)

// TestSegmentOffload checks the segments a Conn makes under TCP
// segmentation offload (Config.MaxSegment): longer than the MSS only
// when MaxSegment allows it, then marked with GSOSize = the send MSS,
// never longer than MaxSegment, and a whole number of MSS-sized
// segments unless they end the data queued.
func TestSegmentOffload(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxSegment int
		wantTSO    bool
	}{
		{"off", 0, false},
		{"one MSS", 1460, false},
		{"64 KiB", 65000, true},
		{"odd size", 10000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newBulk(t, Config{NoDelay: true, MSS: 1460, MaxSegment: tc.maxSegment})
			mss := x.a.Info().SndMSS
			long, segs := 0, 0
			x.ab.watch = func(f *Fields, o *Options, n int) {
				if n == 0 {
					return
				}
				segs++
				switch {
				case n <= mss:
					if f.GSOSize != 0 {
						t.Errorf("a segment of %d octets, within the MSS %d, has GSOSize %d", n, mss, f.GSOSize)
					}
				case n > max(tc.maxSegment, mss):
					t.Errorf("a segment of %d octets: longer than MaxSegment %d and the MSS %d", n, tc.maxSegment, mss)
				default:
					long++
					if f.GSOSize != mss {
						t.Errorf("a segment of %d octets has GSOSize %d, want the send MSS %d", n, f.GSOSize, mss)
					}
					if n%mss != 0 && f.Flags&PSH == 0 {
						t.Errorf("a segment of %d octets is not a whole number of %d-octet segments, nor the end of the data", n, mss)
					}
					if o.NumSACK != 0 {
						t.Errorf("a segment of %d octets carries %d SACK blocks, which its pieces have no room for", n, o.NumSACK)
					}
				}
			}
			total := 0
			for range 64 {
				total += x.round(64 << 10)
			}
			if total != 64*64<<10 {
				t.Fatalf("%d octets arrived, want %d", total, 64*64<<10)
			}
			if got := long > 0; got != tc.wantTSO {
				t.Errorf("%d of %d segments were longer than the MSS; want some: %v", long, segs, tc.wantTSO)
			}
			if tc.wantTSO && segs > 64*64<<10/mss/2 {
				t.Errorf("%d segments carried 4 MiB: offload should need far fewer than the %d of MSS size", segs, 64*64<<10/mss)
			}
		})
	}
}
