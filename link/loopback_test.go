package link

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestLoopback(t *testing.T) {
	tests := []struct {
		mtu, wantMTU int
	}{
		{0, 65536},
		{1500, 1500},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.mtu), func(t *testing.T) {
			d := Loopback(tt.mtu)
			defer d.Close()
			if d.MTU() != tt.wantMTU || d.Kind() != IP || d.HardwareAddr() != nil {
				t.Fatalf("MTU %d Kind %v MAC %v; want %d, ip, nil", d.MTU(), d.Kind(), d.HardwareAddr(), tt.wantMTU)
			}
			// Datagrams of every legal size come back in order; the empty
			// one and the one over the MTU are dropped and counted.
			sent := [][]byte{frame(4, 1), frame(20, 2), frame(tt.wantMTU, 3)}
			written := append([][]byte{{}}, sent...)
			written = append(written, frame(tt.wantMTU+1, 4))
			if n, err := d.WriteFrames(written); n != len(written) || err != nil {
				t.Fatalf("WriteFrames = %d, %v", n, err)
			}
			bufs, sizes := buffers(8, tt.wantMTU)
			n, err := d.ReadFrames(bufs, sizes)
			if n != len(sent) || err != nil {
				t.Fatalf("ReadFrames = %d, %v; want %d, nil", n, err, len(sent))
			}
			for i, want := range sent {
				if !bytes.Equal(bufs[i][:sizes[i]], want) {
					t.Errorf("datagram %d differs", i)
				}
			}
			s := d.(StatsReporter).Stats()
			want := DeviceStats{RxFrames: 3, TxFrames: 3, Drops: 2}
			want.RxBytes = uint64(24 + tt.wantMTU)
			want.TxBytes = want.RxBytes
			if s != want {
				t.Errorf("Stats = %+v, want %+v", s, want)
			}
		})
	}
}

func TestLoopbackClose(t *testing.T) {
	d := Loopback(0)
	d.WriteFrames([][]byte{frame(20, 1)})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	bufs, sizes := buffers(1, 100)
	if _, err := d.ReadFrames(bufs, sizes); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadFrames after Close = %v, want ErrClosed", err)
	}
	if _, err := d.WriteFrames([][]byte{frame(20, 2)}); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteFrames after Close = %v, want ErrClosed", err)
	}
}

// The stack's reader goroutine may write to the loopback (an echo reply,
// say) while frames are waiting: that must not block or deadlock.
func TestLoopbackReaderWritesToItself(t *testing.T) {
	d := Loopback(0)
	defer d.Close()
	bufs, sizes := buffers(4, 100)
	d.WriteFrames([][]byte{frame(20, 0)})
	for i := range uint32(2 * queueLen) {
		n, err := d.ReadFrames(bufs, sizes)
		if n != 1 || err != nil || tagOf(bufs[0]) != i {
			t.Fatalf("round %d: ReadFrames = %d, %v, tag %d", i, n, err, tagOf(bufs[0]))
		}
		d.WriteFrames([][]byte{frame(20, i+1)})
	}
}

func TestLoopbackNoAllocs(t *testing.T) {
	d := Loopback(0)
	defer d.Close()
	frames := [][]byte{frame(1500, 1), frame(40, 2), frame(9000, 3)}
	bufs, sizes := buffers(3, 65536)
	allocs := testing.AllocsPerRun(200, func() {
		d.WriteFrames(frames)
		if n, err := d.ReadFrames(bufs, sizes); n != 3 || err != nil {
			t.Fatalf("ReadFrames = %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per round trip, want 0", allocs)
	}
}
