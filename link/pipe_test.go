package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// frame returns an Ethernet-sized frame of n bytes whose first bytes hold
// tag, so tests can tell frames apart.
func frame(n int, tag uint32) []byte {
	f := make([]byte, n)
	for i := range f {
		f[i] = byte(i)
	}
	binary.BigEndian.PutUint32(f, tag)
	return f
}

func tagOf(f []byte) uint32 { return binary.BigEndian.Uint32(f) }

// buffers returns k buffers of size bytes and a sizes slice for them.
func buffers(k, size int) ([][]byte, []int) {
	bufs := make([][]byte, k)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs, make([]int, k)
}

func TestPipeBasics(t *testing.T) {
	tests := []struct {
		mtu, wantMTU int
	}{
		{0, 1500},
		{-1, 1500},
		{1280, 1280},
		{9000, 9000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.mtu), func(t *testing.T) {
			a, b := Pipe(tt.mtu)
			defer a.Close()
			defer b.Close()
			for _, d := range []Device{a, b} {
				if d.MTU() != tt.wantMTU {
					t.Errorf("MTU = %d, want %d", d.MTU(), tt.wantMTU)
				}
				if d.Kind() != Ethernet {
					t.Errorf("Kind = %v, want ethernet", d.Kind())
				}
				if _, ok := d.(StatsReporter); !ok {
					t.Errorf("%T is not a StatsReporter", d)
				}
				checkMAC(t, d.HardwareAddr())
			}
			if bytes.Equal(a.HardwareAddr(), b.HardwareAddr()) {
				t.Errorf("both ends have MAC %v", a.HardwareAddr())
			}
		})
	}
}

func TestPipeDelivery(t *testing.T) {
	a, b := Pipe(0)
	defer a.Close()
	defer b.Close()
	for _, dir := range []struct {
		name     string
		from, to Device
	}{{"a to b", a, b}, {"b to a", b, a}} {
		t.Run(dir.name, func(t *testing.T) {
			sent := [][]byte{frame(14, 1), frame(60, 2), frame(1514, 3)}
			n, err := dir.from.WriteFrames(sent)
			if n != len(sent) || err != nil {
				t.Fatalf("WriteFrames = %d, %v; want %d, nil", n, err, len(sent))
			}
			bufs, sizes := buffers(8, 1514)
			n, err = dir.to.ReadFrames(bufs, sizes)
			if n != len(sent) || err != nil {
				t.Fatalf("ReadFrames = %d, %v; want %d, nil", n, err, len(sent))
			}
			for i, want := range sent {
				if got := bufs[i][:sizes[i]]; !bytes.Equal(got, want) {
					t.Errorf("frame %d: got % x..., want % x...", i, got[:min(8, len(got))], want[:8])
				}
			}
		})
	}
}

func TestPipeBatching(t *testing.T) {
	tests := []struct {
		written int
		bufs    int
		reads   []int // frames returned by successive reads
	}{
		{1, 1, []int{1}},
		{5, 8, []int{5}},
		{5, 2, []int{2, 2, 1}},
		{32, 32, []int{32}},
		{33, 32, []int{32, 1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d into %d", tt.written, tt.bufs), func(t *testing.T) {
			a, b := Pipe(0)
			defer a.Close()
			defer b.Close()
			frames := make([][]byte, tt.written)
			for i := range frames {
				frames[i] = frame(64, uint32(i))
			}
			if n, err := a.WriteFrames(frames); n != tt.written || err != nil {
				t.Fatalf("WriteFrames = %d, %v", n, err)
			}
			bufs, sizes := buffers(tt.bufs, 1514)
			next := uint32(0)
			for _, want := range tt.reads {
				n, err := b.ReadFrames(bufs, sizes)
				if n != want || err != nil {
					t.Fatalf("ReadFrames = %d, %v; want %d, nil", n, err, want)
				}
				for i := range n {
					if got := tagOf(bufs[i]); got != next || sizes[i] != 64 {
						t.Fatalf("frame %d: tag %d size %d, want tag %d size 64", i, got, sizes[i], next)
					}
					next++
				}
			}
			if s := b.(StatsReporter).Stats(); s.RxFrames != uint64(tt.written) || s.RxBytes != uint64(64*tt.written) {
				t.Errorf("receiver stats %+v, want %d frames of 64 bytes", s, tt.written)
			}
		})
	}
}

func TestPipeTruncatesToBuffer(t *testing.T) {
	a, b := Pipe(0)
	defer a.Close()
	defer b.Close()
	f := frame(1000, 7)
	a.WriteFrames([][]byte{f})
	bufs, sizes := buffers(1, 100)
	if n, err := b.ReadFrames(bufs, sizes); n != 1 || err != nil {
		t.Fatalf("ReadFrames = %d, %v", n, err)
	}
	if sizes[0] != 100 || !bytes.Equal(bufs[0], f[:100]) {
		t.Errorf("got %d bytes, want the first 100 of the frame", sizes[0])
	}
}

func TestPipeDropsBadLengths(t *testing.T) {
	tests := []struct {
		name      string
		mtu, size int
		dropped   bool
	}{
		{"empty", 1500, 0, true},
		{"shorter than a header", 1500, 13, true},
		{"header only", 1500, 14, false},
		{"MTU", 1500, 1514, false},
		{"MTU+1", 1500, 1515, true},
		{"jumbo MTU", 9000, 9014, false},
		{"jumbo MTU+1", 9000, 9015, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := Pipe(tt.mtu)
			defer a.Close()
			defer b.Close()
			// A good frame after the one under test shows what got through.
			n, err := a.WriteFrames([][]byte{make([]byte, tt.size), frame(60, 42)})
			if n != 2 || err != nil {
				t.Fatalf("WriteFrames = %d, %v; want 2, nil (a dropped frame counts as taken)", n, err)
			}
			bufs, sizes := buffers(2, tt.mtu+14)
			n, _ = b.ReadFrames(bufs, sizes)
			wantN, wantDrops := 2, uint64(0)
			if tt.dropped {
				wantN, wantDrops = 1, 1
			}
			if n != wantN {
				t.Errorf("read %d frames, want %d", n, wantN)
			}
			if tagOf(bufs[n-1]) != 42 {
				t.Errorf("last frame read is not the good one")
			}
			if s := a.(StatsReporter).Stats(); s.Drops != wantDrops || s.TxFrames != uint64(wantN) {
				t.Errorf("sender stats %+v, want %d drops, %d sent", s, wantDrops, wantN)
			}
		})
	}
}

func TestPipeDropsWhenFull(t *testing.T) {
	a, b := Pipe(0)
	defer a.Close()
	defer b.Close()
	const extra = 10
	f := frame(100, 0)
	for i := range queueLen + extra {
		binary.BigEndian.PutUint32(f, uint32(i))
		if n, err := a.WriteFrames([][]byte{f}); n != 1 || err != nil {
			t.Fatalf("write %d: %d, %v; want 1, nil (never block, never fail)", i, n, err)
		}
	}
	if s := b.(StatsReporter).Stats(); s.Drops != extra {
		t.Errorf("receiver Drops = %d, want %d", s.Drops, extra)
	}
	if s := a.(StatsReporter).Stats(); s.TxFrames != queueLen+extra || s.Drops != 0 {
		t.Errorf("sender stats %+v, want %d sent, 0 dropped", s, queueLen+extra)
	}
	// The queue kept the oldest frames, in order, and has room again
	// once read.
	bufs, sizes := buffers(64, 1514)
	next := uint32(0)
	for next < queueLen {
		n, err := b.ReadFrames(bufs, sizes)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if got := tagOf(bufs[i]); got != next {
				t.Fatalf("got frame %d, want %d", got, next)
			}
			next++
		}
	}
	binary.BigEndian.PutUint32(f, 9999)
	a.WriteFrames([][]byte{f})
	if n, err := b.ReadFrames(bufs, sizes); n != 1 || err != nil || tagOf(bufs[0]) != 9999 {
		t.Errorf("after draining: ReadFrames = %d, %v (tag %d); want the new frame", n, err, tagOf(bufs[0]))
	}
}

func TestPipeClose(t *testing.T) {
	a, b := Pipe(0)
	defer a.Close()
	bufs, sizes := buffers(4, 1514)

	// Frames queued for a before b closes stay readable.
	b.WriteFrames([][]byte{frame(60, 1)})
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n, err := b.ReadFrames(bufs, sizes); n != 0 || !errors.Is(err, ErrClosed) {
		t.Errorf("closed end: ReadFrames = %d, %v; want 0, ErrClosed", n, err)
	}
	if n, err := b.WriteFrames([][]byte{frame(60, 2)}); n != 0 || !errors.Is(err, ErrClosed) {
		t.Errorf("closed end: WriteFrames = %d, %v; want 0, ErrClosed", n, err)
	}
	// The open end is a NIC with its cable cut: writes vanish, counted.
	if n, err := a.WriteFrames([][]byte{frame(60, 3), frame(60, 4)}); n != 2 || err != nil {
		t.Errorf("open end: WriteFrames = %d, %v; want 2, nil", n, err)
	}
	if s := a.(StatsReporter).Stats(); s.Drops != 2 || s.TxFrames != 0 {
		t.Errorf("open end stats %+v, want 2 drops, 0 sent", s)
	}
	if n, err := a.ReadFrames(bufs, sizes); n != 1 || err != nil || tagOf(bufs[0]) != 1 {
		t.Errorf("open end: ReadFrames = %d, %v; want the frame queued before the close", n, err)
	}
}

func TestPipeCloseUnblocksReader(t *testing.T) {
	for _, name := range []string{"pipe", "loopback", "null"} {
		t.Run(name, func(t *testing.T) {
			var d Device
			switch name {
			case "pipe":
				a, b := Pipe(0)
				defer b.Close()
				d = a
			case "loopback":
				d = Loopback(0)
			case "null":
				d = Null(0)
			}
			done := make(chan error)
			go func() {
				bufs, sizes := buffers(4, 1514)
				_, err := d.ReadFrames(bufs, sizes)
				done <- err
			}()
			d.Close()
			if err := <-done; !errors.Is(err, ErrClosed) {
				t.Errorf("ReadFrames after Close = %v, want ErrClosed", err)
			}
		})
	}
}

func TestPipeConcurrentWriters(t *testing.T) {
	a, b := Pipe(0)
	defer a.Close()
	defer b.Close()
	const writers, perWriter = 8, 100 // 800 frames: fits the queue, none dropped
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			batch := [][]byte{frame(64, 0), frame(64, 0)}
			for i := 0; i < perWriter; i += 2 {
				binary.BigEndian.PutUint32(batch[0], uint32(w<<16|i))
				binary.BigEndian.PutUint32(batch[1], uint32(w<<16|(i+1)))
				if n, err := a.WriteFrames(batch); n != 2 || err != nil {
					t.Errorf("WriteFrames = %d, %v", n, err)
				}
			}
		})
	}
	// Each writer's frames arrive in order, none lost, none duplicated.
	next := make([]int, writers)
	bufs, sizes := buffers(16, 1514)
	for got := 0; got < writers*perWriter; {
		n, err := b.ReadFrames(bufs, sizes)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			tag := tagOf(bufs[i])
			w, seq := int(tag>>16), int(tag&0xffff)
			if w >= writers || seq != next[w] {
				t.Fatalf("got frame %d of writer %d, want frame %d", seq, w, next[min(w, writers-1)])
			}
			next[w]++
		}
		got += n
	}
	wg.Wait()
	if s := b.(StatsReporter).Stats(); s.Drops != 0 || s.RxFrames != writers*perWriter {
		t.Errorf("receiver stats %+v", s)
	}
}

func TestPipeReadEmptyBatch(t *testing.T) {
	a, b := Pipe(0)
	defer a.Close()
	defer b.Close()
	// No buffers: return at once rather than wait for a frame there is
	// nowhere to put.
	if n, err := b.ReadFrames(nil, nil); n != 0 || err != nil {
		t.Errorf("ReadFrames(nil) = %d, %v; want 0, nil", n, err)
	}
	if n, err := a.WriteFrames(nil); n != 0 || err != nil {
		t.Errorf("WriteFrames(nil) = %d, %v; want 0, nil", n, err)
	}
}

func TestPipeNoAllocs(t *testing.T) {
	for _, batch := range []int{1, 32} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			a, b := Pipe(0)
			defer a.Close()
			defer b.Close()
			frames := make([][]byte, batch)
			for i := range frames {
				frames[i] = frame(1514, uint32(i))
			}
			bufs, sizes := buffers(batch, 1514)
			allocs := testing.AllocsPerRun(200, func() {
				a.WriteFrames(frames)
				if n, err := b.ReadFrames(bufs, sizes); n != batch || err != nil {
					t.Fatalf("ReadFrames = %d, %v", n, err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per write and read of %d frames, want 0", allocs, batch)
			}
		})
	}
}

func BenchmarkPipe(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			x, y := Pipe(0)
			defer x.Close()
			defer y.Close()
			frames := make([][]byte, batch)
			for i := range frames {
				frames[i] = frame(1514, uint32(i))
			}
			bufs, sizes := buffers(batch, 1514)
			b.SetBytes(int64(1514 * batch))
			b.ReportAllocs()
			for b.Loop() {
				x.WriteFrames(frames)
				for got := 0; got < batch; {
					n, err := y.ReadFrames(bufs[got:], sizes[got:])
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
		})
	}
}
