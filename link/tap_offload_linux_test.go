package link_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/link/linktest"
	"github.com/stacknet/stacknet/proto/checksum"
	"github.com/stacknet/stacknet/proto/ipv4"
	"github.com/stacknet/stacknet/proto/tcp"
	"github.com/stacknet/stacknet/proto/udp"
	"github.com/vishvananda/netlink"
)

// Tests of a TAP opened WithOffloads against the kernel. The test plays a
// host by hand, with frames it builds itself, and its TCP checksums left
// zero as a stack under OffloadChecksum leaves them.

const allOffloads = link.OffloadChecksum | link.OffloadTSO | link.OffloadGRO

var (
	kernelPrefix = netip.MustParsePrefix("192.0.2.1/24")
	handAddr     = netip.MustParseAddr("192.0.2.2")
)

// offloadKernel makes a TAP with offloads whose kernel side is kernelPrefix,
// with a static neighbour entry for handAddr at the device's MAC address,
// so that the kernel never needs ARP, and IPv6 off on the interface, so
// that the kernel sends nothing unasked.
func offloadKernel(t *testing.T) *linktest.Kernel {
	t.Helper()
	k := linktest.NewKernelTAP(t, kernelPrefix, 0, link.WithOffloads())
	if got := k.Dev.Offloads(); got != allOffloads {
		t.Fatalf("Offloads = %v, want %v", got, allOffloads)
	}
	if err := k.Sysctl("net.ipv6.conf."+k.Name+".disable_ipv6", "1"); err != nil {
		t.Fatal(err)
	}
	err := k.Do(func() error {
		l, err := netlink.LinkByName(k.Name)
		if err != nil {
			return err
		}
		return netlink.NeighSet(&netlink.Neigh{
			LinkIndex: l.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
			IP: handAddr.AsSlice(), HardwareAddr: k.Dev.HardwareAddr(),
		})
	})
	if err != nil {
		t.Fatalf("adding a neighbour entry: %v", err)
	}
	return k
}

// TestTAPOffloadTCP drives a TCP connection with the kernel by hand: one
// WriteSegment of about 60 KiB reaches the kernel's socket whole and in
// order, and 64 KiB from the kernel arrives in frames longer than the
// MTU, GSO super-segments.
func TestTAPOffloadTCP(t *testing.T) {
	t.Parallel()
	k := offloadKernel(t)
	h := newHandHost(t, k)
	var ln net.Listener
	if err := k.Do(func() (err error) { ln, err = net.Listen("tcp4", kernelPrefix.Addr().String()+":0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h.port, h.peer = 40000, uint16(ln.Addr().(*net.TCPAddr).Port)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("Accept: %v", err)
			close(accepted)
			return
		}
		accepted <- c
	}()

	// The handshake. Our window is scaled by 2^7, so the kernel may send
	// 8 MiB ahead; we say nothing of SACK or timestamps.
	iss := tcp.Seq(rand.Uint32())
	h.send(tcp.Fields{Seq: iss, Flags: tcp.SYN, Window: 0xffff}, &tcp.Options{MSS: 1460, HasMSS: true, WScale: 7, HasWScale: true}, nil)
	synAck, f := h.nextTCP()
	if synAck.Flags() != tcp.SYN|tcp.ACK || synAck.Ack() != iss+1 {
		t.Fatalf("the kernel answered the SYN with %v", synAck)
	}
	t.Logf("SYN-ACK's header: %+v", f.hdr)
	// The kernel leaves the SYN-ACK's checksum partial (NEEDS_CSUM at
	// the TCP checksum), or marks it checked; the device delivers it as
	// it is, for a stack that does not check TCP checksums.
	switch {
	case f.hdr.Flags&link.VnetNeedsCsum != 0:
		if f.hdr.CsumStart != 34 || f.hdr.CsumOffset != 16 || f.hdr.Result != "deliver" {
			t.Errorf("SYN-ACK's header %+v: want the partial checksum at 34+16, left as it is", f.hdr)
		}
	case f.hdr.Result != "deliver":
		t.Errorf("SYN-ACK's header %+v: want it delivered", f.hdr)
	}
	if f.hdr.GSOType != 0 {
		t.Errorf("SYN-ACK's header %+v has a GSO type", f.hdr)
	}
	irs := synAck.Seq()
	rcvNxt := irs + 1
	sndNxt := iss + 1
	h.send(tcp.Fields{Seq: sndNxt, Ack: rcvNxt, Flags: tcp.ACK, Window: 0xffff}, nil, nil)
	conn := <-accepted
	if conn == nil {
		t.FailNow()
	}
	defer conn.Close()

	// 1. One WriteSegment of about 60 KiB, cut up by the kernel. The
	// kernel's first window is not scaled (RFC 7323 2.2), so the
	// segment must fit in it.
	n := min(60*1024, int(synAck.Window()))
	if n < 32*1024 {
		t.Fatalf("the kernel's first window is only %d bytes", synAck.Window())
	}
	up := make([]byte, n)
	for i := range up {
		up[i] = byte(rand.Uint32())
	}
	received := make(chan []byte, 1)
	go func() {
		got := make([]byte, len(up))
		if _, err := io.ReadFull(conn, got); err != nil {
			t.Errorf("the kernel's socket read: %v", err)
		}
		received <- got
	}()
	before := k.Dev.Stats()
	seg := h.tcpFrame(tcp.Fields{Seq: sndNxt, Ack: rcvNxt, Flags: tcp.PSH | tcp.ACK, Window: 0xffff}, nil, up)
	if err := k.Dev.WriteSegment(seg, 1448); err != nil {
		t.Fatalf("WriteSegment: %v", err)
	}
	if got := <-received; !bytes.Equal(got, up) {
		t.Fatalf("the kernel's socket read %d bytes that differ from the %d written", len(got), len(up))
	}
	sndNxt = sndNxt.Add(n)
	after := k.Dev.Stats()
	if after.TxGSOFrames-before.TxGSOFrames != 1 || after.TxFrames-before.TxFrames != 1 || after.TxBytes-before.TxBytes != uint64(len(seg)) {
		t.Errorf("stats before %+v, after %+v: want one GSO frame of %d bytes more", before, after, len(seg))
	}
	for {
		th, _ := h.nextTCP()
		if th.Flags()&tcp.ACK != 0 && th.Ack() == sndNxt {
			break
		}
		if th.Ack().GreaterThan(sndNxt) || len(th.Payload()) != 0 {
			t.Fatalf("unexpected segment from the kernel %v", th)
		}
	}

	// 2. The kernel sends 64 KiB; we ACK what we read. The kernel's TSO
	// reaches us whole: frames longer than the MTU, gso_type TCPV4.
	down := make([]byte, 64*1024)
	for i := range down {
		down[i] = byte(rand.Uint32())
	}
	go func() {
		if _, err := conn.Write(down); err != nil {
			t.Errorf("the kernel's socket write: %v", err)
		}
	}()
	got := make([]byte, 0, len(down))
	var big, maxSize int
	var bigHdr link.VnetRead
	for len(got) < len(down) {
		th, f := h.nextTCP()
		p := th.Payload()
		if len(p) == 0 {
			continue
		}
		if th.Seq() != rcvNxt {
			t.Fatalf("segment at %d, want %d: the TAP does not reorder", th.Seq()-irs, rcvNxt-irs)
		}
		if len(f.b) > maxSize {
			maxSize = len(f.b)
		}
		if len(f.b) > 1514 {
			big++
			bigHdr = f.hdr
			if f.hdr.GSOType&^0x80 != link.VnetGSOTCPv4 {
				t.Errorf("a frame of %d bytes with header %+v, not GSO TCPv4", len(f.b), f.hdr)
			}
		}
		got = append(got, p...)
		rcvNxt = rcvNxt.Add(len(p))
		h.send(tcp.Fields{Seq: sndNxt, Ack: rcvNxt, Flags: tcp.ACK, Window: 0xffff}, nil, nil)
	}
	if !bytes.Equal(got, down) {
		t.Errorf("the %d bytes read differ from the %d the kernel wrote", len(got), len(down))
	}
	t.Logf("%d frames longer than the MTU, the longest %d bytes; one's header: %+v", big, maxSize, bigHdr)
	if big == 0 {
		t.Errorf("no frame longer than the MTU: the kernel did not hand over its TSO segments")
	}
	if s := k.Dev.Stats(); s.RxGSOFrames < uint64(big) || s.Drops != 0 {
		t.Errorf("stats %+v: want at least %d GSO frames read, no drops", s, big)
	}
}

// TestTAPOffloadUDP: the kernel leaves a UDP checksum partial too; the
// device completes it, since the stack verifies UDP itself.
func TestTAPOffloadUDP(t *testing.T) {
	t.Parallel()
	k := offloadKernel(t)
	h := newHandHost(t, k)
	payload := bytes.Repeat([]byte("offload "), 100)
	err := k.Do(func() error {
		c, err := net.Dial("udp4", netip.AddrPortFrom(handAddr, 9999).String())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(payload)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ip, f := h.nextIPv4(ipv4.ProtoUDP)
	t.Logf("UDP datagram's header: %+v", f.hdr)
	u, err := udp.Parse(ip.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if u.Checksum() == 0 || u.Verify(ip.Src4(), ip.Dst4()) != nil || !bytes.Equal(u.Payload(), payload) {
		t.Errorf("UDP datagram with checksum %#04x (verifies: %v), payload intact %v", u.Checksum(), u.Verify(ip.Src4(), ip.Dst4()), bytes.Equal(u.Payload(), payload))
	}
	if f.hdr.Flags&link.VnetNeedsCsum == 0 || f.hdr.Result != "completed" || f.hdr.CsumStart != 34 || f.hdr.CsumOffset != 6 {
		t.Errorf("UDP datagram's header %+v: want a partial checksum at 34+6, completed", f.hdr)
	}
	if s := k.Dev.Stats(); s.RxChecksumsCompleted != 1 {
		t.Errorf("stats %+v: want 1 checksum completed", s)
	}
}

// TestTAPOffloadReadChecks: frames the kernel did not check (written by a
// PF_PACKET socket on its side) are checked by the device where the stack
// will not: a TCP segment with a bad checksum is dropped; a frame longer
// than its buffer is dropped, not truncated.
func TestTAPOffloadReadChecks(t *testing.T) {
	t.Parallel()
	k := offloadKernel(t)
	var kside *link.Packet
	if err := k.Do(func() (err error) { kside, err = link.OpenPacket(k.Name); return err }); err != nil {
		t.Fatal(err)
	}
	defer kside.Close()
	guard := time.AfterFunc(60*time.Second, func() { k.Dev.Close() }) // against waiting for ever
	defer guard.Stop()

	good := tcpFrameTo(k.Dev.HardwareAddr(), 1, 100, true)
	bad := tcpFrameTo(k.Dev.HardwareAddr(), 2, 100, true)
	bad[len(bad)-1] ^= 1
	long := tcpFrameTo(k.Dev.HardwareAddr(), 3, 1000, true)
	last := experimental(k.Dev.HardwareAddr(), 4)
	if n, err := kside.WriteFrames([][]byte{good, bad, long, last}); n != 4 || err != nil {
		t.Fatalf("WriteFrames = %d, %v", n, err)
	}
	bufs, sizes := [][]byte{make([]byte, 200)}, []int{0}
	var got [][]byte
	for len(got) < 2 {
		n, err := k.Dev.ReadFrames(bufs, sizes)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("ReadFrames = %d", n)
		}
		f := bufs[0][:sizes[0]]
		if len(f) >= 14 && (f[12] == 0x08 && f[13] == 0x00 || f[12] == 0x88 && f[13] == 0xb5) {
			got = append(got, bytes.Clone(f)) // ours, not the kernel's IPv6 before it was turned off
		}
	}
	if !bytes.Equal(got[0], good) || !bytes.Equal(got[1], last) {
		t.Errorf("read %d and %d bytes; want the good TCP frame (%d) and the last (%d)", len(got[0]), len(got[1]), len(good), len(last))
	}
	s := k.Dev.Stats()
	if s.RxChecksumErrors != 1 || s.RxTooLong != 1 || s.Drops != 2 {
		t.Errorf("stats %+v: want 1 checksum error, 1 too long, 2 drops", s)
	}
}

// If the kernel refuses the offloads the device falls back to plain
// frames: it offers none, WriteSegment fails, and frames go both ways.
func TestTAPOffloadRefused(t *testing.T) {
	t.Parallel()
	k := linktest.NewKernelTAP(t, netip.MustParsePrefix("192.0.2.1/24"), 0, link.WithTUNFlags(1|2|1<<30))
	if got := k.Dev.Offloads(); got != 0 {
		t.Errorf("Offloads = %v, want none", got)
	}
	f := tcpFrameTo(net.HardwareAddr{2, 0, 0, 0, 0, 1}, 1, 3000, false)
	if err := k.Dev.WriteSegment(f, 1448); !errors.Is(err, link.ErrNotSupported) {
		t.Errorf("WriteSegment = %v, want ErrNotSupported", err)
	}
	kmac := kernelMAC(t, k.Do, k.Name)
	checkARPExchange(t, k.Dev, kmac, k.KernelAddr.Addr(), netip.MustParseAddr("192.0.2.2"), k.Neighbours)
}

func TestTAPWriteSegmentErrors(t *testing.T) {
	t.Parallel()
	plain := linktest.NewKernelTAP(t, netip.Prefix{}, 0)
	k := linktest.NewKernelTAP(t, netip.Prefix{}, 0, link.WithOffloads())
	seg := tcpFrameTo(net.HardwareAddr{2, 0, 0, 0, 0, 1}, 1, 3000, false)
	udpFrame := bytes.Clone(seg)
	udpFrame[14+9] = ipv4.ProtoUDP
	tests := []struct {
		name    string
		dev     *link.TAP
		frame   []byte
		mss     int
		wantIs  error
		wantErr bool
	}{
		{"plain device", plain.Dev, seg, 1448, link.ErrNotSupported, true},
		{"UDP", k.Dev, udpFrame, 1448, nil, true},
		{"runt", k.Dev, seg[:40], 1448, nil, true},
		{"mss 0", k.Dev, seg, 0, nil, true},
		{"mss 65536", k.Dev, seg, 65536, nil, true},
		{"good", k.Dev, seg, 1448, nil, false},
	}
	for _, tt := range tests {
		err := tt.dev.WriteSegment(tt.frame, tt.mss)
		if (err != nil) != tt.wantErr || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) {
			t.Errorf("%s: WriteSegment = %v, want error %v (%v)", tt.name, err, tt.wantErr, tt.wantIs)
		}
	}
	if s := k.Dev.Stats(); s.TxGSOFrames != 1 || s.TxFrames != 1 {
		t.Errorf("stats %+v: want the one good segment sent", s)
	}
	k.Dev.Close()
	if err := k.Dev.WriteSegment(seg, 1448); err != link.ErrClosed {
		t.Errorf("WriteSegment after Close = %v, want ErrClosed", err)
	}
	if n, err := k.Dev.WriteFrames([][]byte{seg}); n != 0 || err != link.ErrClosed {
		t.Errorf("WriteFrames after Close = %d, %v; want ErrClosed", n, err)
	}
}

// The fast paths of a TAP with offloads allocate nothing: WriteFrames
// (with a TCP frame, whose checksum the header leaves partial),
// WriteSegment and ReadFrames (with a TCP frame the device verifies).
func TestTAPOffloadNoAllocs(t *testing.T) {
	k := offloadKernel(t)
	var kside *link.Packet
	if err := k.Do(func() (err error) { kside, err = link.OpenPacket(k.Name); return err }); err != nil {
		t.Fatal(err)
	}
	defer kside.Close()
	guard := time.AfterFunc(60*time.Second, func() { k.Dev.Close(); kside.Close() }) // against waiting for ever
	defer guard.Stop()
	toKernel := [][]byte{experimental(kside.HardwareAddr(), 1), tcpFrameTo(kside.HardwareAddr(), 2, 100, false)}
	seg := tcpFrameTo(kside.HardwareAddr(), 3, 3000, false)
	fromKernel := [][]byte{experimental(k.Dev.HardwareAddr(), 4), tcpFrameTo(k.Dev.HardwareAddr(), 5, 100, true)}
	bufs := [][]byte{make([]byte, link.MaxOffloadFrame), make([]byte, link.MaxOffloadFrame)}
	sizes := make([]int, 2)
	// await reads from dev until frames tagged tags (byte 54, or 14 for
	// the experimental ones) have arrived.
	await := func(dev link.Device, tags ...byte) {
		for seen := 0; seen < len(tags); {
			n, err := dev.ReadFrames(bufs, sizes)
			if err != nil {
				t.Fatalf("ReadFrames: %v", err)
			}
			for i := range n {
				f := bufs[i][:sizes[i]]
				if (len(f) > 14 && f[12] == 0x88 && f[13] == 0xb5 && f[14] == tags[seen]) ||
					(len(f) > 54 && f[12] == 0x08 && f[23] == ipv4.ProtoTCP && f[54] == tags[seen]) {
					seen++
				}
			}
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		if n, err := k.Dev.WriteFrames(toKernel); n != 2 || err != nil {
			t.Fatalf("WriteFrames = %d, %v", n, err)
		}
		if err := k.Dev.WriteSegment(seg, 1448); err != nil {
			t.Fatalf("WriteSegment: %v", err)
		}
		await(kside, 1, 2, 3)
		if n, err := kside.WriteFrames(fromKernel); n != 2 || err != nil {
			t.Fatalf("WriteFrames = %d, %v", n, err)
		}
		await(k.Dev, 4, 5)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per round, want 0", allocs)
	}
	if s := k.Dev.Stats(); s.Drops != 0 || s.TxGSOFrames == 0 {
		t.Errorf("stats %+v: want GSO frames sent, no drops", s)
	}
}

// An interface keeps the offloads of its last user. A plain device opened
// after one with offloads must get complete frames: here, a UDP
// datagram whose checksum the kernel filled in, not left partial.
func TestTAPPlainAfterOffloads(t *testing.T) {
	t.Parallel()
	k := offloadKernel(t)
	if err := k.Dev.Close(); err != nil {
		t.Fatal(err)
	}
	var dev *link.TAP
	if err := k.Do(func() (err error) { dev, err = link.OpenTAP(k.Name); return err }); err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if got := dev.Offloads(); got != 0 {
		t.Errorf("Offloads = %v, want none", got)
	}
	guard := time.AfterFunc(60*time.Second, func() { dev.Close() }) // against waiting for ever
	defer guard.Stop()
	err := k.Do(func() error {
		c, err := net.Dial("udp4", netip.AddrPortFrom(handAddr, 9999).String())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(make([]byte, 100))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	bufs, sizes := [][]byte{make([]byte, 1514)}, []int{0}
	for {
		if _, err := dev.ReadFrames(bufs, sizes); err != nil {
			t.Fatal(err)
		}
		f := bufs[0][:sizes[0]]
		if len(f) < 34 || f[12] != 0x08 || f[13] != 0x00 || f[23] != ipv4.ProtoUDP {
			continue
		}
		ip, err := ipv4.Parse(f[14:])
		if err != nil {
			t.Fatal(err)
		}
		u, err := udp.Parse(ip.Payload())
		if err != nil {
			t.Fatal(err)
		}
		if u.Checksum() == 0 || u.Verify(ip.Src4(), ip.Dst4()) != nil {
			t.Errorf("UDP checksum %#04x does not verify: the kernel left it partial", u.Checksum())
		}
		return
	}
}

// What a TAP with offloads writes, seen on the kernel's side by a
// PF_PACKET socket (which sees a frame before any checksum is completed
// or segment cut): the frame as given, but for its TCP checksum field,
// which holds the partial sum of the pseudo-header; completed as the
// kernel would, the checksum verifies. The caller's frame is not changed.
func TestTAPOffloadWriteHeader(t *testing.T) {
	t.Parallel()
	k := offloadKernel(t)
	var kside *link.Packet
	if err := k.Do(func() (err error) { kside, err = link.OpenPacket(k.Name); return err }); err != nil {
		t.Fatal(err)
	}
	defer kside.Close()
	guard := time.AfterFunc(60*time.Second, func() { kside.Close() }) // against waiting for ever
	defer guard.Stop()
	bufs, sizes := [][]byte{make([]byte, link.MaxOffloadFrame)}, []int{0}
	for _, tt := range []struct {
		name    string
		tag     byte
		payload int
		segment bool
	}{
		{"WriteFrames", 1, 333, false},
		{"WriteFrames, no payload", 2, 0, false},
		{"WriteSegment", 3, 20000, true},
	} {
		f := tcpFrameTo(kside.HardwareAddr(), tt.tag, tt.payload, false)
		f[54-4] = 0xab // garbage in the checksum field: the device must not use it
		orig := bytes.Clone(f)
		if tt.segment {
			if err := k.Dev.WriteSegment(f, 1000); err != nil {
				t.Fatal(err)
			}
		} else if n, err := k.Dev.WriteFrames([][]byte{f}); n != 1 || err != nil {
			t.Fatalf("WriteFrames = %d, %v", n, err)
		}
		if !bytes.Equal(f, orig) {
			t.Errorf("%s changed the caller's frame", tt.name)
		}
		var got []byte
		for got == nil {
			if _, err := kside.ReadFrames(bufs, sizes); err != nil {
				t.Fatal(err)
			}
			if g := bufs[0][:sizes[0]]; len(g) == len(f) && bytes.Equal(g[:50], f[:50]) && bytes.Equal(g[52:], f[52:]) {
				got = bytes.Clone(g)
			}
		}
		seg := got[34:]
		src, dst := [4]byte(got[26:30]), [4]byte(got[30:34])
		if ps := checksum.Pseudo(src, dst, ipv4.ProtoTCP, uint16(len(seg))); binary.BigEndian.Uint16(seg[16:]) != ps {
			t.Errorf("%s: checksum field %#04x, want the pseudo-header's sum %#04x", tt.name, binary.BigEndian.Uint16(seg[16:]), ps)
		}
		binary.BigEndian.PutUint16(seg[16:], ^checksum.Sum(seg, 0))
		if err := tcp.Header(seg).Verify(src, dst); err != nil {
			t.Errorf("%s: completed, the checksum does not verify: %v", tt.name, err)
		}
	}
}
