package link_test

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/link/linktest"
	"github.com/stacknet/stacknet/proto/ether"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/tcp"
)

// Helpers for the tests of a TAP with offloads: a host played by hand.

// handHost builds, sends and reads frames for the test, as the host at
// handAddr.
type handHost struct {
	t          *testing.T
	dev        *link.TAP
	mac, kmac  ether.Addr
	bufs       [][]byte
	sizes      []int
	reads      []link.VnetRead // every frame read, in order, as the device saw it
	used       int             // reads already paired with frames
	queue      []readFrame     // frames read and not yet taken
	port, peer uint16          // TCP ports, ours and the kernel's
}

// readFrame is a frame read, with the virtio-net header it came with.
type readFrame struct {
	b   []byte
	hdr link.VnetRead
}

func newHandHost(t *testing.T, k *linktest.Kernel) *handHost {
	h := &handHost{t: t, dev: k.Dev, bufs: make([][]byte, 4), sizes: make([]int, 4)}
	h.mac, _ = ether.AddrFrom(k.Dev.HardwareAddr())
	h.kmac, _ = ether.AddrFrom(kernelMAC(t, k.Do, k.Name))
	for i := range h.bufs {
		h.bufs[i] = make([]byte, link.MaxOffloadFrame)
	}
	link.ObserveVnet(k.Dev, func(r link.VnetRead) { h.reads = append(h.reads, r) })
	// Not a test of speed: only a guard against waiting for ever.
	guard := time.AfterFunc(60*time.Second, func() { k.Dev.Close() })
	t.Cleanup(func() { guard.Stop() })
	return h
}

// next returns the next frame the device delivers.
func (h *handHost) next() readFrame {
	h.t.Helper()
	for len(h.queue) == 0 {
		n, err := h.dev.ReadFrames(h.bufs, h.sizes)
		if err != nil {
			h.t.Fatalf("ReadFrames: %v (stats %+v)", err, h.dev.Stats())
		}
		for i := range n {
			// Pair the frame with its header: the next delivered one.
			for h.reads[h.used].Result != "deliver" && h.reads[h.used].Result != "completed" {
				h.used++
			}
			r := h.reads[h.used]
			h.used++
			if r.Size != h.sizes[i] {
				h.t.Fatalf("frame of %d bytes paired with a header for %d", h.sizes[i], r.Size)
			}
			h.queue = append(h.queue, readFrame{bytes.Clone(h.bufs[i][:h.sizes[i]]), r})
		}
	}
	f := h.queue[0]
	h.queue = h.queue[1:]
	return f
}

// nextIPv4 returns the next IPv4 datagram of protocol proto from the
// kernel to us, skipping other frames.
func (h *handHost) nextIPv4(proto uint8) (ipv4.Header, readFrame) {
	h.t.Helper()
	for {
		f := h.next()
		eh, err := ether.Parse(f.b)
		if err != nil || eh.Type != ether.TypeIPv4 || eh.Dst != h.mac {
			continue
		}
		ip, err := ipv4.Parse(f.b[eh.Len:])
		if err != nil {
			h.t.Fatalf("a datagram from the kernel does not parse: %v", err)
		}
		if ip.Protocol() == proto && ip.Dst() == handAddr {
			return ip, f
		}
	}
}

// nextTCP returns the next segment of our connection from the kernel.
func (h *handHost) nextTCP() (tcp.Header, readFrame) {
	h.t.Helper()
	for {
		ip, f := h.nextIPv4(ipv4.ProtoTCP)
		th, err := tcp.Parse(ip.Payload())
		if err != nil {
			h.t.Fatalf("a segment from the kernel does not parse: %v", err)
		}
		if th.DstPort() == h.port && th.SrcPort() == h.peer {
			if th.Flags()&tcp.RST != 0 {
				h.t.Fatalf("the kernel reset the connection: %v", th)
			}
			return th, f
		}
	}
}

// tcpFrame builds a frame holding a segment from us to the kernel, with
// its checksum left zero, as a stack under OffloadChecksum leaves it.
func (h *handHost) tcpFrame(f tcp.Fields, o *tcp.Options, payload []byte) []byte {
	f.SrcPort, f.DstPort = h.port, h.peer
	hl := tcp.HeaderLen + tcp.OptionsLen(o)
	b := make([]byte, ether.HeaderLen+ipv4.HeaderLen+hl+len(payload))
	ether.Put(b, h.kmac, h.mac, ether.TypeIPv4)
	ipv4.PutHeader(b[ether.HeaderLen:], ipv4.Fields{
		TotalLen: ipv4.HeaderLen + hl + len(payload), ID: uint16(rand.Uint32()), Flags: ipv4.FlagDF,
		TTL: 64, Protocol: ipv4.ProtoTCP, Src: handAddr, Dst: kernelPrefix.Addr(),
	})
	t := b[ether.HeaderLen+ipv4.HeaderLen:]
	copy(t[hl:], payload)
	tcp.PutHeader(t, f, o)
	return b
}

func (h *handHost) send(f tcp.Fields, o *tcp.Options, payload []byte) {
	h.t.Helper()
	if n, err := h.dev.WriteFrames([][]byte{h.tcpFrame(f, o, payload)}); n != 1 || err != nil {
		h.t.Fatalf("WriteFrames = %d, %v", n, err)
	}
}

// tcpFrameTo returns a frame to dst holding a TCP segment from 192.0.2.2
// to 198.51.100.9 (no address of the kernel's) with payload bytes of
// data, tag its first byte, and its checksum filled in if csum.
func tcpFrameTo(dst net.HardwareAddr, tag byte, payload int, csum bool) []byte {
	b := make([]byte, 14+20+20+payload)
	d, _ := ether.AddrFrom(dst)
	ether.Put(b, d, ether.Addr{2, 0, 0, 0, 0, 9}, ether.TypeIPv4)
	ipv4.PutHeader(b[14:], ipv4.Fields{TotalLen: 40 + payload, Flags: ipv4.FlagDF, TTL: 64, Protocol: ipv4.ProtoTCP, Src: handAddr, Dst: netip.MustParseAddr("198.51.100.9")})
	for i := 54; i < len(b); i++ {
		b[i] = byte(i)
	}
	if payload > 0 {
		b[54] = tag
	}
	f := tcp.Fields{SrcPort: 1, DstPort: 2, Seq: 3, Flags: tcp.ACK | tcp.PSH, Window: 100}
	if csum {
		tcp.Put(b[34:], f, nil, handAddr.As4(), [4]byte{198, 51, 100, 9})
	} else {
		tcp.PutHeader(b[34:], f, nil)
	}
	return b
}
