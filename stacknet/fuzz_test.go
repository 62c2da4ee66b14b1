package stacknet

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/arp"
	"github.com/stacknet/stacknet/proto/ether"
	"github.com/stacknet/stacknet/proto/icmp"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/udp"
)

// fuzzMAC is the MAC of the fuzzed interface's peer.
var fuzzPeer = ether.Addr{0x02, 0, 0, 0, 0, 0x99}

// buildIPFrame builds an Ethernet frame to dst carrying an IPv4 datagram.
func buildIPFrame(dst ether.Addr, f ipv4.Fields, payload []byte) []byte {
	b := make([]byte, ether.HeaderLen+ipv4.HeaderLen+len(payload))
	ether.Put(b, dst, fuzzPeer, ether.TypeIPv4)
	f.TotalLen = ipv4.HeaderLen + len(payload)
	if f.TTL == 0 {
		f.TTL = 64
	}
	ipv4.PutHeader(b[ether.HeaderLen:], f)
	copy(b[ether.HeaderLen+ipv4.HeaderLen:], payload)
	return b
}

// seedFrames are valid frames of every kind the stack handles.
func seedFrames(ifc *Interface) [][]byte {
	peer, me := netip.MustParseAddr("192.0.2.9"), ifc.addr.Addr()
	var frames [][]byte

	a := make([]byte, ether.MinFrameLen)
	ether.Put(a, ether.Broadcast, fuzzPeer, ether.TypeARP)
	arp.Put(a[ether.HeaderLen:], arp.OpRequest, fuzzPeer, peer, ether.Addr{}, me)
	frames = append(frames, a)

	echo := make([]byte, icmp.HeaderLen+16)
	icmp.Put(echo, icmp.TypeEcho, 0, icmp.EchoRest(1, 1))
	frames = append(frames, buildIPFrame(ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoICMP, Src: peer, Dst: me}, echo))

	u := make([]byte, udp.HeaderLen+5)
	copy(u[udp.HeaderLen:], "hello")
	udp.Put(u, peer.As4(), me.As4(), 1234, 7)
	frames = append(frames, buildIPFrame(ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoUDP, Src: peer, Dst: me}, u))
	// The same to a closed port: a port unreachable goes back.
	u2 := append([]byte(nil), u...)
	udp.Put(u2, peer.As4(), me.As4(), 1234, 8)
	frames = append(frames, buildIPFrame(ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoUDP, Src: peer, Dst: me}, u2))

	// Two fragments of one UDP datagram.
	big := make([]byte, udp.HeaderLen+40)
	udp.Put(big, peer.As4(), me.As4(), 1234, 7)
	frames = append(frames,
		buildIPFrame(ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoUDP, Src: peer, Dst: me, ID: 9, Flags: ipv4.FlagMF}, big[:24]),
		buildIPFrame(ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoUDP, Src: peer, Dst: me, ID: 9, FragOff: 24}, big[24:]))

	// A port unreachable about a datagram we sent, and a tagged frame.
	pu := make([]byte, icmp.HeaderLen+ipv4.HeaderLen+8)
	ipv4.PutHeader(pu[icmp.HeaderLen:], ipv4.Fields{TotalLen: 36, Protocol: ipv4.ProtoUDP, TTL: 64, Src: me, Dst: peer})
	icmp.Put(pu, icmp.TypeDestUnreach, icmp.CodePortUnreach, 0)
	frames = append(frames, buildIPFrame(ifc.hw, ipv4.Fields{Protocol: ipv4.ProtoICMP, Src: peer, Dst: me}, pu))
	tagged := append(append(append([]byte(nil), frames[1][:12]...), 0x81, 0x00, 0x00, 0x05), frames[1][12:]...)
	frames = append(frames, tagged)
	return frames
}

var fuzzStack struct {
	once sync.Once
	s    *Stack
	ifc  *Interface
	sock *UDPConn
}

// FuzzInput runs any frame through the whole input path of a stack with
// an open UDP socket: it must never panic, and the bounded structures must
// stay bounded.
func FuzzInput(f *testing.F) {
	fs := &fuzzStack
	fs.once.Do(func() {
		s, err := New(Config{Forwarding: true, Reassembly: ipv4.ReasmConfig{MaxBytes: 1 << 20}})
		if err != nil {
			f.Fatal(err)
		}
		ifc, err := s.AddInterface(link.Null(1500), netip.MustParsePrefix("192.0.2.1/24"))
		if err != nil {
			f.Fatal(err)
		}
		sock, err := s.ListenUDP("udp", netip.MustParseAddrPort("0.0.0.0:7"))
		if err != nil {
			f.Fatal(err)
		}
		fs.s, fs.ifc, fs.sock = s, ifc, sock
	})
	for _, fr := range seedFrames(fs.ifc) {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		before := fs.s.Stats().Link.InFrames
		fs.ifc.input(frame)
		st := fs.s.Stats()
		if st.Link.InFrames != before+1 {
			t.Fatalf("frame not counted: %d -> %d", before, st.Link.InFrames)
		}
		if r := fs.s.reasm.Stats(); r.Bytes > 1<<20 {
			t.Fatalf("reassembly holds %d bytes, over its 1 MiB bound", r.Bytes)
		}
		fs.sock.mu.Lock()
		queued, limit := fs.sock.queued, fs.sock.rcvbuf
		fs.sock.mu.Unlock()
		// As on Linux, a datagram is taken while what is queued does not
		// exceed the buffer, so the queue may pass it by one datagram.
		if queued > limit+ipv4.MaxDatagram+udpOverhead {
			t.Fatalf("socket queue %d bytes, more than one datagram over its %d-byte buffer", queued, limit)
		}
	})
}

// TestSeedFramesAreHandled checks that the seeds exercise the paths they
// are meant to: echo answered, datagram delivered, port unreachable sent.
func TestSeedFramesAreHandled(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ifc, err := s.AddInterface(link.Null(1500), netip.MustParsePrefix("192.0.2.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	sock, err := s.ListenUDP("udp", netip.MustParseAddrPort("0.0.0.0:7"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	for _, fr := range seedFrames(ifc) {
		ifc.input(fr)
	}
	st := s.Stats()
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"ARP requests in", st.ARP.InRequests, 1},
		{"ARP replies out", st.ARP.OutReplies, 1},
		{"echo requests in", st.ICMP.InEchos, 1},
		{"echo replies out", st.ICMP.OutEchoReps, 1},
		{"UDP delivered", st.UDP.InDatagrams, 2},
		{"UDP no port", st.UDP.NoPorts, 1},
		{"port unreachables out", st.ICMP.OutDestUnreachs, 1},
		{"reassembled", st.IP.ReasmOKs, 1},
		{"VLAN dropped", st.Link.InVLAN, 1},
		{"ICMP errors in", st.ICMP.InDestUnreachs, 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
}

// TestWriteSeedCorpus regenerates testdata/fuzz/FuzzInput from seedFrames
// when STACKNET_WRITE_CORPUS=1.
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("STACKNET_WRITE_CORPUS") != "1" {
		t.Skip("set STACKNET_WRITE_CORPUS=1 to regenerate the seed corpus")
	}
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ifc, err := s.AddInterface(link.Null(1500), netip.MustParsePrefix("192.0.2.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzInput")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, fr := range seedFrames(ifc) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", fr)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
