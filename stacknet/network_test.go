package stacknet

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/proto/arp"
)

// echoServer answers every datagram on pc with the same bytes, until pc
// is closed.
func echoServer(pc net.PacketConn) {
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(buf[:n], from)
	}
}

// TestFragmentsThroughImpairment sends 60 KB datagrams, fragmented at MTU
// 1500, through a wire that reorders, duplicates and drops frames. A
// datagram that lost a fragment is lost; every one that arrives must be
// byte-exact, and most must arrive.
func TestFragmentsThroughImpairment(t *testing.T) {
	da, db := link.Pipe(1500)
	bad := link.Impairment{Loss: 0.002, Duplicate: 0.05, Reorder: 0.1}
	ia := link.Impair(da, 1, bad, link.Impairment{})
	ib := link.Impair(db, 2, bad, link.Impairment{})
	a, b := pairOn(t, Config{}, ia, ib)

	srv, err := b.ListenPacket("udp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go echoServer(srv)
	c, err := a.Dial("udp", "192.0.2.2:7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const rounds = 40
	ok := 0
	buf := make([]byte, 65536)
	for r := 0; r < rounds; r++ {
		msg := bytes.Repeat([]byte{byte(r), byte(r >> 8), 0x5a}, 20000)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		for {
			n, err := c.Read(buf)
			if errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatal(err)
			}
			if err != nil {
				break // lost
			}
			if n == len(msg) && buf[0] == byte(r) && buf[1] == byte(r>>8) {
				if !bytes.Equal(buf[:n], msg) {
					t.Fatalf("round %d: datagram corrupted", r)
				}
				ok++
				break
			}
			// An echo of an earlier round, late: keep reading.
		}
	}
	if ok < rounds/2 {
		t.Errorf("only %d of %d 60 KB datagrams came back", ok, rounds)
	}
	sa, sb := a.Stats(), b.Stats()
	if sb.IP.ReasmOKs == 0 || sa.IP.FragCreates == 0 {
		t.Errorf("no fragmentation seen: A %+v B %+v", sa.IP, sb.IP)
	}
	if sb.IP.ReasmOverlaps != 0 {
		t.Errorf("duplicates were taken for overlaps: %d", sb.IP.ReasmOverlaps)
	}
	out, _ := ia.Stats()
	if out.Reordered == 0 || out.Duplicated == 0 {
		t.Errorf("the wire did not impair: %+v", out)
	}
	t.Logf("%d/%d round trips; B reassembled %d, failed %d", ok, rounds, sb.IP.ReasmOKs, sb.IP.ReasmFails)
}

// TestARPUnderLoss resolves neighbours over a wire that loses a third of
// the frames: ARP's retries must get through.
func TestARPUnderLoss(t *testing.T) {
	da, db := link.Pipe(1500)
	lossy := link.Impairment{Loss: 0.33}
	a, b := pairOn(t, Config{ARP: arp.Config{RetransTime: 20 * time.Millisecond, MaxRetries: 10}},
		link.Impair(da, 7, lossy, link.Impairment{}), link.Impair(db, 8, lossy, link.Impairment{}))
	got := 0
	for try := 0; try < 20 && got < 3; try++ {
		if _, err := a.Ping(ctxTimeout(t, 2*time.Second), addrB.Addr()); err == nil {
			got++
		}
	}
	if got < 3 {
		t.Fatalf("only %d pings answered", got)
	}
	if st := a.Stats(); st.ARP.OutRequests < 1 || st.ARP.Resolved < 1 {
		t.Errorf("arp: %+v", st.ARP)
	}
	_ = b
}

// TestDeadNeighbour: a neighbour that never answers ARP gives EHOSTUNREACH,
// to Ping and to a connected UDP socket's next Read, not a hang.
func TestDeadNeighbour(t *testing.T) {
	s, err := New(Config{ARP: arp.Config{RetransTime: 10 * time.Millisecond, MaxRetries: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dev := link.Null(1500)
	if _, err := s.AddInterface(dev, addrA); err != nil {
		t.Fatal(err)
	}
	dead := netip.MustParseAddr("192.0.2.99")
	_, err = s.Ping(ctxTimeout(t, 5*time.Second), dead)
	if !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("ping dead neighbour: %v", err)
	}
	c, err := s.Dial("udp", "192.0.2.99:53")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("query"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 100))
	var oe *net.OpError
	if !errors.Is(err, syscall.EHOSTUNREACH) || !errors.As(err, &oe) || oe.Op != "read" {
		t.Errorf("read from dead neighbour: %v", err)
	}
	if st := s.Stats(); st.ARP.Failed < 2 {
		t.Errorf("arp failures: %+v", st.ARP)
	}
}

// TestForwarding: A - R - B over two pipes, R forwarding. A reaches B
// through R; a TTL that runs out at R brings back time exceeded.
func TestForwarding(t *testing.T) {
	a1, r1 := link.Pipe(1500)
	r2, b2 := link.Pipe(1500)
	mk := func(cfg Config) *Stack {
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, r, b := mk(Config{}), mk(Config{Forwarding: true}), mk(Config{})
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.AddInterface(a1, netip.MustParsePrefix("192.0.2.1/24")))
	must(r.AddInterface(r1, netip.MustParsePrefix("192.0.2.254/24")))
	must(r.AddInterface(r2, netip.MustParsePrefix("198.51.100.254/24")))
	must(b.AddInterface(b2, netip.MustParsePrefix("198.51.100.1/24")))
	must(nil, a.AddRoute(netip.MustParsePrefix("0.0.0.0/0"), netip.MustParseAddr("192.0.2.254")))
	must(nil, b.AddRoute(netip.MustParsePrefix("0.0.0.0/0"), netip.MustParseAddr("198.51.100.254")))

	if _, err := a.Ping(ctxTimeout(t, 5*time.Second), netip.MustParseAddr("198.51.100.1")); err != nil {
		t.Fatalf("ping through the router: %v", err)
	}
	srv, err := b.ListenPacket("udp", ":7")
	must(nil, err)
	defer srv.Close()
	go echoServer(srv)
	c, err := a.Dial("udp", "198.51.100.1:7")
	must(nil, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := bytes.Repeat([]byte("routed "), 3000) // fragmented on the way
	must(c.Write(msg))
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	must(nil, err)
	if !bytes.Equal(buf[:n], msg) {
		t.Fatalf("routed echo differs")
	}
	if st := r.Stats(); st.IP.ForwDatagrams == 0 {
		t.Errorf("router forwarded nothing: %+v", st.IP)
	}

	// TTL 1 from A dies at R.
	a.cfg.TTL = 1
	_, err = a.Ping(ctxTimeout(t, 5*time.Second), netip.MustParseAddr("198.51.100.1"))
	if !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("ping with TTL 1: %v, want the time-exceeded error", err)
	}
	if st := r.Stats(); st.ICMP.OutTimeExcds == 0 {
		t.Errorf("router sent no time exceeded: %+v", st.ICMP)
	}
	// No route: ENETUNREACH at once.
	if _, err := b.Dial("udp", "203.0.113.1:7"); err != nil {
		t.Errorf("b has a default route, dial should work: %v", err)
	}
	lone := mk(Config{})
	if _, err := lone.Dial("udp", "203.0.113.1:7"); !errors.Is(err, syscall.ENETUNREACH) {
		t.Errorf("dial with no route: %v", err)
	}
}

// TestCloseLeavesNothing: after Close, no goroutine of the stack is left.
func TestCloseLeavesNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		da, db := link.Pipe(1500)
		a, _ := New(Config{})
		b, _ := New(Config{})
		a.AddInterface(da, addrA)
		b.AddInterface(db, addrB)
		pc, _ := b.ListenPacket("udp", ":7")
		go echoServer(pc)
		a.Ping(ctxTimeout(t, 5*time.Second), addrB.Addr())
		c, _ := a.Dial("udp", "192.0.2.2:7")
		c.SetReadDeadline(time.Now().Add(time.Hour))
		c.Write([]byte("x"))
		c.Read(make([]byte, 10))
		a.Close()
		b.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestStatsAreWords(t *testing.T) {
	if !statsAreWords() {
		t.Fatal("Stats must hold only uint64 counters: snapshot reads it as words")
	}
}
