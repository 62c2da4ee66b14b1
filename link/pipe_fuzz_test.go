package link

import (
	"bytes"
	"testing"
)

// FuzzPipe drives one direction of a Pipe with small queues through a
// sequence of writes and reads read from the input, and checks every
// frame read, and the counters, against a model: a FIFO that drops
// frames of bad length at the sender and frames arriving when full at the
// receiver.
func FuzzPipe(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 3, 20, 0, 40, 0, 1, 2, 64})                   // write 3 frames, read
	f.Add([]byte{0, 4, 1, 0, 13, 0, 14, 0, 200, 0, 1, 4, 255})    // bad lengths
	f.Add(bytes.Repeat([]byte{0, 4, 60, 0, 60, 0, 60, 0, 60}, 6)) // fill the queue
	f.Fuzz(func(t *testing.T, ops []byte) {
		const mtu, qlen = 100, 8
		maxLen := mtu + 14
		a, b := pipe(mtu, qlen)
		defer a.Close()
		defer b.Close()
		next := func() byte {
			if len(ops) == 0 {
				return 0
			}
			c := ops[0]
			ops = ops[1:]
			return c
		}
		var model [][]byte
		var seq byte
		var want DeviceStats // the sender's Tx and Drops, the receiver's Rx and Drops
		var rxDrops uint64
		for len(ops) > 0 {
			switch next() % 2 {
			case 0: // write a batch of frames
				frames := make([][]byte, next()%5)
				for i := range frames {
					n := (int(next()) | int(next())<<8) % (maxLen + 20)
					fr := make([]byte, n)
					for j := range fr {
						fr[j] = seq + byte(j)
					}
					seq++
					frames[i] = fr
					switch {
					case n < 14 || n > maxLen:
						want.Drops++
					case len(model) == qlen:
						want.TxFrames++
						want.TxBytes += uint64(n)
						rxDrops++
					default:
						want.TxFrames++
						want.TxBytes += uint64(n)
						model = append(model, fr)
					}
				}
				if n, err := a.WriteFrames(frames); n != len(frames) || err != nil {
					t.Fatalf("WriteFrames = %d, %v; want %d, nil", n, err, len(frames))
				}
			case 1: // read a batch, if a frame is waiting: ReadFrames would block
				k := int(next()%5) + 1
				size := int(next()) % (maxLen + 1)
				if len(model) == 0 {
					continue
				}
				bufs, sizes := buffers(k, size)
				n, err := b.ReadFrames(bufs, sizes)
				if wantN := min(k, len(model)); n != wantN || err != nil {
					t.Fatalf("ReadFrames = %d, %v; want %d, nil", n, err, wantN)
				}
				for i := range n {
					fr := model[i]
					w := fr[:min(len(fr), size)]
					if !bytes.Equal(bufs[i][:sizes[i]], w) {
						t.Fatalf("frame %d: got %d bytes % x, want %d bytes % x", i, sizes[i], bufs[i][:sizes[i]], len(w), w)
					}
					want.RxFrames++
					want.RxBytes += uint64(sizes[i])
				}
				model = model[n:]
			}
		}
		as, bs := a.Stats(), b.Stats()
		got := DeviceStats{RxFrames: bs.RxFrames, RxBytes: bs.RxBytes, TxFrames: as.TxFrames, TxBytes: as.TxBytes, Drops: as.Drops}
		if got != want || bs.Drops != rxDrops {
			t.Errorf("stats %+v, receiver drops %d; want %+v, %d", got, bs.Drops, want, rxDrops)
		}
	})
}
