package stacknet

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/ether"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/tcp"
)

// tfLastFrame is an Ethernet device that keeps the last frame the stack
// wrote and drops the rest, so that a fuzzer can read a SYN-ACK back.
type tfLastFrame struct {
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	last []byte
}

func (d *tfLastFrame) ReadFrames([][]byte, []int) (int, error) {
	<-d.done
	return 0, link.ErrClosed
}

func (d *tfLastFrame) WriteFrames(frames [][]byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range frames {
		d.last = append(d.last[:0], f...)
	}
	return len(frames), nil
}

func (d *tfLastFrame) lastFrame() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]byte(nil), d.last...)
}

func (d *tfLastFrame) MTU() int                       { return 1500 }
func (d *tfLastFrame) HardwareAddr() net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, 0, 0x22} }
func (d *tfLastFrame) Kind() link.Kind                { return link.Ethernet }
func (d *tfLastFrame) Close() error                   { d.once.Do(func() { close(d.done) }); return nil }

// tfFuzz is the stack FuzzTCPSegments feeds: 192.0.2.2 with a listener
// on port 80 and, as far as the fuzzer leaves it alive, one connection
// from 192.0.2.9 whose sequence numbers the harness knows, so that
// segments given relative to them reach its synchronized states.
type tfFuzzStack struct {
	once    sync.Once
	s       *Stack
	ifc     *Interface
	dev     *tfLastFrame
	l       *TCPListener
	conn    *TCPConn // the server end, accepted
	port    uint16   // the peer's port of conn
	peerISS tcp.Seq
	ourISS  tcp.Seq
}

var tfFuzz tfFuzzStack

var tfFuzzPeer = netip.MustParseAddr("192.0.2.9")

const tfFuzzSynMax, tfFuzzBacklog = 4, 4

func (fs *tfFuzzStack) setup(tb testing.TB) {
	fs.once.Do(func() {
		s, err := New(Config{NoLoopback: true, TCP: TCPConfig{SynBacklog: tfFuzzSynMax, ListenBacklog: tfFuzzBacklog}})
		if err != nil {
			tb.Fatal(err)
		}
		fs.dev = &tfLastFrame{done: make(chan struct{})}
		ifc, err := s.AddInterface(fs.dev, netip.MustParsePrefix("192.0.2.2/24"))
		if err != nil {
			tb.Fatal(err)
		}
		ifc.AddNeighbour(tfFuzzPeer, net.HardwareAddr{2, 0, 0, 0, 0, 9})
		l, err := s.ListenTCP(netip.MustParseAddrPort("0.0.0.0:80"))
		if err != nil {
			tb.Fatal(err)
		}
		fs.s, fs.ifc, fs.l, fs.port = s, ifc, l, 20000
	})
}

// segment sends a segment from the peer's port to 80 on the stack, with
// the option bytes opts as they are (a multiple of 4 long).
func (fs *tfFuzzStack) segment(sport uint16, f tcp.Fields, opts, payload []byte, goodSum bool) {
	hl := tcp.HeaderLen + len(opts)
	seg := make([]byte, hl+len(payload))
	f.SrcPort, f.DstPort = sport, 80
	tcp.PutHeader(seg, f, nil)
	seg[12] = byte(hl/4) << 4
	copy(seg[tcp.HeaderLen:], opts)
	copy(seg[hl:], payload)
	tcp.Header(seg).SetChecksum(tfFuzzPeer.As4(), [4]byte{192, 0, 2, 2})
	if !goodSum {
		seg[16] ^= 0x5a
	}
	fs.ifc.input(buildIPFrame(fs.ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoTCP, Src: tfFuzzPeer, Dst: netip.MustParseAddr("192.0.2.2")}, seg))
}

// connect makes a new connection by a handshake, if the old one is gone.
func (fs *tfFuzzStack) connect(tb testing.TB) {
	if fs.conn != nil {
		fs.conn.mu.Lock()
		dead := fs.conn.dead
		fs.conn.mu.Unlock()
		if !dead {
			return
		}
		fs.conn.Close()
		fs.conn = nil
	}
	fs.port++
	fs.peerISS = tcp.Seq(uint32(fs.port) * 100003)
	o := tcp.Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, TSVal: 100, WScale: 7, HasWScale: true}
	fs.segment(fs.port, tcp.Fields{Seq: fs.peerISS, Flags: tcp.SYN, Window: 65535}, tcp.AppendOptions(nil, &o), nil, true)
	th, err := tcp.Parse(ipv4.Header(fs.dev.lastFrame()[ether.HeaderLen:]).Payload())
	if err != nil || th.Flags() != tcp.SYN|tcp.ACK || th.DstPort() != fs.port {
		return // the queues are full of the fuzzer's connections: try later
	}
	fs.ourISS = th.Seq()
	so, _ := tcp.ParseOptions(th.Options())
	ack := tcp.Options{TS: true, TSVal: 101, TSEcr: so.TSVal}
	fs.segment(fs.port, tcp.Fields{Seq: fs.peerISS.Add(1), Ack: fs.ourISS.Add(1), Flags: tcp.ACK, Window: 1024}, tcp.AppendOptions(nil, &ack), nil, true)
	fs.l.SetDeadline(time.Now().Add(time.Second))
	for {
		c, err := fs.l.AcceptTCP()
		if err != nil {
			return
		}
		if c.remote().Port() == fs.port {
			fs.conn = c
			return
		}
		c.Close() // one of the fuzzer's own
	}
}

// FuzzTCPSegments feeds segments, each given by the fuzzer as flags,
// sequence and acknowledgment offsets from the connection's, window,
// options and payload, to a stack with a listener and a connection. No
// input may panic, break the accounting of the drop counters, or let a
// listener's queues grow past their bounds.
func FuzzTCPSegments(f *testing.F) {
	tfFuzz.setup(f)
	for _, seed := range tfFuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fs := &tfFuzz
		fs.connect(t)
		// Each segment: ctl (bit 0: to the connection's port, else a port
		// of its own; bit 1: a bad checksum), flags, seq and ack offsets
		// (int16 each), window, options length and payload length, then
		// the options and payload.
		for len(in) >= 10 {
			ctl, flags := in[0], tcp.Flags(in[1])
			dseq := int16(binary.BigEndian.Uint16(in[2:4]))
			dack := int16(binary.BigEndian.Uint16(in[4:6]))
			win := binary.BigEndian.Uint16(in[6:8])
			olen, plen := int(in[8]&0x3f), int(in[9])
			in = in[10:]
			olen = min(olen&^3, len(in), tcp.MaxOptionsLen)
			rawOpts := in[:olen]
			in = in[olen:]
			plen = min(plen, len(in))
			payload := in[:plen]
			in = in[plen:]
			port, seq, ack := fs.port, fs.peerISS.Add(1), fs.ourISS.Add(1)
			if ctl&1 == 0 {
				port, seq, ack = 30000+uint16(ctl>>2), tcp.Seq(1000), tcp.Seq(2000)
			}
			fs.segment(port, tcp.Fields{Seq: seq.Add(int(dseq)), Ack: ack.Add(int(dack)), Flags: flags, Window: win}, rawOpts, payload, ctl&2 == 0)
		}
		st := fs.s.Stats().TCP
		if st.InErrs != st.InCsumErrors+st.InBadHeader+st.InBadOptions+st.InNotUnicast {
			t.Fatalf("InErrs %d is not the sum of its reasons: %+v", st.InErrs, st)
		}
		fs.l.mu.Lock()
		syn, queued := len(fs.l.syn), len(fs.l.queue)-fs.l.head
		fs.l.mu.Unlock()
		if syn > tfFuzzSynMax || queued > tfFuzzBacklog+1 {
			t.Fatalf("listener queues %d and %d, bounds %d and %d", syn, queued, tfFuzzSynMax, tfFuzzBacklog)
		}
		if c := fs.conn; c != nil {
			// Drain what arrived, so the window stays open.
			c.mu.Lock()
			if !c.dead && c.tc.Readable() > 0 {
				c.tc.Read(make([]byte, 1<<16), fs.s.now())
			}
			c.mu.Unlock()
		}
	})
}

// tfFuzzSeeds are segment lists that reach the paths worth fuzzing from:
// data, a FIN, an in-window RST, a SYN on the connection, a SYN and its
// ACK to the listener, a bad checksum.
func tfFuzzSeeds() [][]byte {
	seg := func(ctl byte, flags tcp.Flags, dseq, dack int16, win uint16, opts, payload []byte) []byte {
		b := []byte{ctl, byte(flags), 0, 0, 0, 0, 0, 0, byte(len(opts)), byte(len(payload))}
		binary.BigEndian.PutUint16(b[2:], uint16(dseq))
		binary.BigEndian.PutUint16(b[4:], uint16(dack))
		binary.BigEndian.PutUint16(b[6:], win)
		return append(append(b, opts...), payload...)
	}
	ts := []byte{1, 1, 8, 10, 0, 0, 0, 200, 0, 0, 0, 0}
	mss := []byte{2, 4, 5, 180}
	join := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	return [][]byte{
		seg(1, tcp.ACK|tcp.PSH, 0, 0, 1024, ts, []byte("hello")),
		join(seg(1, tcp.ACK, 0, 0, 1024, nil, []byte("abc")), seg(1, tcp.ACK|tcp.FIN, 3, 0, 1024, nil, nil)),
		seg(1, tcp.RST, 10, 0, 0, nil, nil),
		seg(1, tcp.RST, 0, 0, 0, nil, nil),
		seg(1, tcp.SYN, 0, 0, 1024, mss, nil),
		seg(1, tcp.ACK, 100, 0, 1024, nil, []byte("out of order")),
		seg(1, tcp.ACK, 0, 50, 0, nil, nil),
		join(seg(4, tcp.SYN, 0, 0, 65535, mss, nil), seg(4, tcp.ACK, 1, 0, 100, nil, nil)),
		seg(6, tcp.ACK, 0, 0, 100, nil, nil),
		seg(3, tcp.ACK, 0, 0, 100, nil, []byte("bad sum")),
		seg(1, tcp.ACK, 0, 0, 100, []byte{2, 3, 1, 1}, nil),
	}
}

// TestTCPFacadeFuzzHarness checks that the fuzz harness reaches what it
// means to: a connection made by its handshake takes the data of the
// first seed, in order.
func TestTCPFacadeFuzzHarness(t *testing.T) {
	var fs tfFuzzStack
	fs.setup(t)
	defer fs.s.Close()
	fs.connect(t)
	if fs.conn == nil {
		t.Fatal("the harness's handshake made no connection")
	}
	fs.segment(fs.port, tcp.Fields{Seq: fs.peerISS.Add(1), Ack: fs.ourISS.Add(1), Flags: tcp.ACK | tcp.PSH, Window: 1024}, nil, []byte("hello"), true)
	if n := fs.conn.Info().Readable; n != 5 {
		t.Fatalf("the connection holds %d bytes, want the 5 sent", n)
	}
	if st := fs.s.Stats().TCP; st.PassiveOpens != 1 || st.InErrs != 0 {
		t.Errorf("stats %+v", st)
	}
}
