package stacknet

import "sync"

// packetBuf is a buffer for building one outgoing packet. It carries a
// one-element slice of frames so that handing the frame to a device's
// WriteFrames does not allocate.
type packetBuf struct {
	b   []byte
	vec [1][]byte
	// gso, when non-zero, says the packet is a TCP segment longer than
	// the MTU, for a device with link.OffloadTSO to cut into segments of
	// gso payload octets (tcp.Fields.GSOSize).
	gso int
}

// Buffer size classes: a frame on an ordinary link, a frame on a jumbo or
// in-memory link, and a whole 64 KiB datagram with room for headers.
var bufClasses = [...]int{2048, 16 << 10, 64<<10 + 256}

// bufPool hands out packet buffers by size class. It is per stack: two
// stacks share nothing.
type bufPool struct {
	pools [len(bufClasses)]sync.Pool
}

// get returns a buffer with len(b) == n. n must not exceed the largest
// class.
func (p *bufPool) get(n int) *packetBuf {
	for i, size := range bufClasses {
		if n <= size {
			pb, _ := p.pools[i].Get().(*packetBuf)
			if pb == nil {
				pb = &packetBuf{}
			}
			if cap(pb.b) < size {
				pb.b = make([]byte, size)
			}
			pb.b = pb.b[:n]
			return pb
		}
	}
	panic("stacknet: packet buffer too large")
}

// put returns pb to its pool. After put, pb must not be used.
func (p *bufPool) put(pb *packetBuf) {
	pb.vec[0] = nil
	pb.gso = 0
	c := cap(pb.b)
	for i := len(bufClasses) - 1; i >= 0; i-- {
		if c >= bufClasses[i] {
			p.pools[i].Put(pb)
			return
		}
	}
	// Its buffer was given away (see detach): drop the holder.
}

// detach gives pb's buffer away (to a queue that will drop it to the
// garbage collector) and returns the holder to the pool without it.
func (p *bufPool) detach(pb *packetBuf) []byte {
	b := pb.b
	pb.b = nil
	pb.vec[0] = nil
	p.pools[0].Put(pb)
	return b
}
