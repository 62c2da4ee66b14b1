package stacknet

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsReply is what a test DNS server answers to one question.
type dnsReply struct {
	rcode     dnsmessage.RCode
	addrs     []netip.Addr
	truncated bool // set TC and leave the answers out
	drop      bool // do not answer at all
}

// dnsHandler answers a question, asked over TCP or UDP.
type dnsHandler func(q dnsmessage.Question, tcp bool) dnsReply

// testZone is the zone the tests' server serves: name.test is stack B,
// big.test has more A records than fit in 512 bytes and answers over UDP
// only with TC set, fail.test gives SERVFAIL, anything else NXDOMAIN.
// Questions other than A (the AAAA of net.Resolver) get no answers.
func testZone(q dnsmessage.Question, tcp bool) dnsReply {
	if q.Type != dnsmessage.TypeA {
		switch q.Name.String() {
		case "name.test.", "big.test.":
			return dnsReply{}
		}
		return dnsReply{rcode: dnsmessage.RCodeNameError}
	}
	switch q.Name.String() {
	case "name.test.", "NAME.Test.":
		return dnsReply{addrs: []netip.Addr{addrB.Addr()}}
	case "two.test.":
		// The first address refuses: a dial must go on to the second.
		return dnsReply{addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1"), addrB.Addr()}}
	case "big.test.":
		if !tcp {
			return dnsReply{truncated: true}
		}
		return dnsReply{addrs: bigAddrs()}
	case "fail.test.":
		return dnsReply{rcode: dnsmessage.RCodeServerFailure}
	}
	return dnsReply{rcode: dnsmessage.RCodeNameError}
}

// bigAddrs are 100 addresses, 1.6 KB of answers: too many for UDP.
func bigAddrs() []netip.Addr {
	var addrs []netip.Addr
	for i := range 100 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}))
	}
	return addrs
}

// dnsServer serves h on port of st over UDP and TCP, and counts the
// queries it gets over each.
type dnsServer struct {
	udp, tcp atomic.Int32
}

func serveDNS(t *testing.T, st *Stack, port uint16, h dnsHandler) *dnsServer {
	t.Helper()
	srv := &dnsServer{}
	pc, err := st.ListenUDP("udp", netip.AddrPortFrom(netip.Addr{}, port))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := st.ListenTCP(netip.AddrPortFrom(netip.Addr{}, port))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		pc.Close()
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			srv.udp.Add(1)
			if resp := dnsAnswer(t, buf[:n], h, false); resp != nil {
				pc.WriteToUDPAddrPort(resp, from)
			}
		}
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				msg := make([]byte, int(l[0])<<8|int(l[1]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				srv.tcp.Add(1)
				resp := dnsAnswer(t, msg, h, true)
				if resp == nil {
					return
				}
				c.Write(append([]byte{byte(len(resp) >> 8), byte(len(resp))}, resp...))
			})
		}
	})
	return srv
}

// dnsAnswer builds the reply of h to the query msg; nil to stay silent.
func dnsAnswer(t testing.TB, msg []byte, h dnsHandler, tcp bool) []byte {
	var p dnsmessage.Parser
	hdr, err := p.Start(msg)
	if err != nil {
		t.Errorf("server: bad query: %v", err)
		return nil
	}
	q, err := p.Question()
	if err != nil {
		t.Errorf("server: bad question: %v", err)
		return nil
	}
	r := h(q, tcp)
	if r.drop {
		return nil
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{
		ID: hdr.ID, Response: true, Authoritative: true, RecursionDesired: hdr.RecursionDesired,
		RCode: r.rcode, Truncated: r.truncated,
	})
	b.EnableCompression()
	must := func(err error) {
		if err != nil {
			t.Errorf("server: build: %v", err)
		}
	}
	must(b.StartQuestions())
	must(b.Question(q))
	must(b.StartAnswers())
	for _, a := range r.addrs {
		must(b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: a.As4()}))
	}
	resp, err := b.Finish()
	must(err)
	return resp
}

// noDNSStack is a stack with no DNSServers.
func noDNSStack(t *testing.T) *Stack {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var dnsServerB = netip.AddrPortFrom(addrB.Addr(), 53)

// dnsPair is two stacks on a Pipe: A resolves through servers, B serves
// testZone on port 53.
func dnsPair(t *testing.T, servers ...netip.AddrPort) (a, b *Stack, srv *dnsServer) {
	t.Helper()
	a, b = pair(t, Config{DNSServers: servers})
	return a, b, serveDNS(t, b, 53, testZone)
}

func TestLookupNetIP(t *testing.T) {
	a, _, srv := dnsPair(t, dnsServerB)
	for _, tc := range []struct {
		host    string
		want    []netip.Addr
		wantTCP int32 // TCP queries the lookup makes
	}{
		{"name.test", []netip.Addr{addrB.Addr()}, 0},
		{"name.test.", []netip.Addr{addrB.Addr()}, 0},
		{"NAME.Test", []netip.Addr{addrB.Addr()}, 0},
		{"big.test", bigAddrs(), 1},
		{"192.0.2.9", []netip.Addr{netip.MustParseAddr("192.0.2.9")}, 0},
		{"localhost", []netip.Addr{netip.MustParseAddr("127.0.0.1")}, 0},
	} {
		before := srv.tcp.Load()
		got, err := a.LookupNetIP(ctxTimeout(t, 10*time.Second), "ip4", tc.host)
		if err != nil {
			t.Errorf("%s: %v", tc.host, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.host, got, tc.want)
		}
		if n := srv.tcp.Load() - before; n != tc.wantTCP {
			t.Errorf("%s: %d TCP queries, want %d", tc.host, n, tc.wantTCP)
		}
	}
}

// checkDNSError checks that err is a *net.DNSError about name from
// server with the flags given.
func checkDNSError(t *testing.T, err error, name, server string, notFound, timeout bool) {
	t.Helper()
	var de *net.DNSError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *net.DNSError", err, err)
	}
	if de.Name != name || de.Server != server || de.IsNotFound != notFound || de.IsTimeout != timeout {
		t.Errorf("DNSError %+v: want Name %q Server %q IsNotFound %v IsTimeout %v", de, name, server, notFound, timeout)
	}
}

func TestLookupErrors(t *testing.T) {
	a, _, _ := dnsPair(t, dnsServerB)
	for _, tc := range []struct {
		host, server       string
		notFound, temp     bool
		errText            string
		network            string
		wantUnknownNetwork bool
	}{
		{host: "missing.test", server: "192.0.2.2:53", notFound: true, errText: "no such host"},
		{host: "fail.test", server: "192.0.2.2:53", temp: true, errText: "server misbehaving"},
		{host: "bad..name", notFound: true, errText: "no such host"},
		{host: "name.test", network: "ip6", wantUnknownNetwork: true},
	} {
		network := tc.network
		if network == "" {
			network = "ip"
		}
		_, err := a.LookupNetIP(ctxTimeout(t, 30*time.Second), network, tc.host)
		if tc.wantUnknownNetwork {
			if _, ok := err.(net.UnknownNetworkError); !ok {
				t.Errorf("%s: error %v, want net.UnknownNetworkError", tc.host, err)
			}
			continue
		}
		checkDNSError(t, err, tc.host, tc.server, tc.notFound, false)
		var de *net.DNSError
		if errors.As(err, &de) && (de.Err != tc.errText || de.IsTemporary != tc.temp) {
			t.Errorf("%s: Err %q IsTemporary %v, want %q %v", tc.host, de.Err, de.IsTemporary, tc.errText, tc.temp)
		}
	}
	// No servers: names are not looked up.
	_, err := noDNSStack(t).LookupNetIP(context.Background(), "ip", "name.test")
	checkDNSError(t, err, "name.test", "", true, false)
}

// TestLookupServerOrder: the servers are asked in order, a failing one
// passed over, and NXDOMAIN ends the search.
func TestLookupServerOrder(t *testing.T) {
	failing := netip.AddrPortFrom(addrB.Addr(), 5300)
	refusing := netip.AddrPortFrom(addrB.Addr(), 5301) // no socket: ICMP port unreachable
	a, b, good := dnsPair(t, refusing, failing, dnsServerB)
	bad := serveDNS(t, b, 5300, func(dnsmessage.Question, bool) dnsReply {
		return dnsReply{rcode: dnsmessage.RCodeServerFailure}
	})
	got, err := a.LookupNetIP(ctxTimeout(t, 30*time.Second), "ip", "name.test")
	if err != nil || !slices.Equal(got, []netip.Addr{addrB.Addr()}) {
		t.Fatalf("got %v, %v; want %v", got, err, addrB.Addr())
	}
	if bad.udp.Load() != 1 || good.udp.Load() != 1 {
		t.Errorf("queries: failing server %d, good server %d; want 1 each", bad.udp.Load(), good.udp.Load())
	}
	_, err = a.LookupNetIP(ctxTimeout(t, 30*time.Second), "ip", "missing.test")
	checkDNSError(t, err, "missing.test", dnsServerB.String(), true, false)
	if bad.udp.Load() != 2 || good.udp.Load() != 2 {
		t.Errorf("after NXDOMAIN: failing server %d, good server %d queries; want 2 each", bad.udp.Load(), good.udp.Load())
	}
}

// TestLookupTimeout: a server that never answers is asked attempts times,
// and the error is a timeout naming it.
func TestLookupTimeout(t *testing.T) {
	a, b := pair(t, Config{})
	silent := netip.AddrPortFrom(addrB.Addr(), 5353)
	srv := serveDNS(t, b, 5353, func(dnsmessage.Question, bool) dnsReply { return dnsReply{drop: true} })
	conf := resolverConf{servers: []netip.AddrPort{silent}, timeout: 50 * time.Millisecond, attempts: 2}
	_, err := a.lookup(context.Background(), conf, "name.test")
	checkDNSError(t, err, "name.test", silent.String(), false, true)
	if n := srv.udp.Load(); n != 2 {
		t.Errorf("silent server got %d queries, want 2 (attempts)", n)
	}
	var de *net.DNSError
	if errors.As(err, &de) && !de.Timeout() {
		t.Errorf("%v: Timeout() false", err)
	}
}

// TestDialName: Dial and DialContext look names up over the stack; their
// errors are those of package net's dial.
func TestDialName(t *testing.T) {
	a, b, _ := dnsPair(t, dnsServerB)
	ln, err := b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, tc := range []struct{ network, address string }{
		{"tcp", "name.test:80"},
		{"tcp4", "name.test:http"},
		{"tcp", "two.test:80"}, // 127.0.0.1:80 refuses, then 192.0.2.2
		{"udp", "name.test:53"},
	} {
		c, err := a.DialContext(ctxTimeout(t, 10*time.Second), tc.network, tc.address)
		if err != nil {
			t.Errorf("dial %s %s: %v", tc.network, tc.address, err)
			continue
		}
		got, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		if got.Addr() != addrB.Addr() {
			t.Errorf("dial %s %s: remote %v, want %v", tc.network, tc.address, got, addrB.Addr())
		}
		c.Close()
	}

	_, err = a.Dial("tcp", "missing.test:80")
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || oe.Net != "tcp" || oe.Source != nil || oe.Addr != nil {
		t.Fatalf("dial missing.test: %#v, want *net.OpError{Op: dial, Net: tcp} with no addresses", err)
	}
	checkDNSError(t, oe.Err, "missing.test", dnsServerB.String(), true, false)
	if want := "dial tcp: lookup missing.test on 192.0.2.2:53: no such host"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	// Without DNSServers, names fail as before.
	_, err = noDNSStack(t).Dial("tcp", "name.test:80")
	if !errors.As(err, &oe) || oe.Op != "dial" {
		t.Fatalf("dial without servers: %v", err)
	}
	checkDNSError(t, oe.Err, "name.test", "", true, false)
}

// TestDialNameContext: a dial whose ctx ends while the server is silent
// fails with a timeout, or with context.Canceled, in the DNSError.
func TestDialNameContext(t *testing.T) {
	silent := netip.AddrPortFrom(addrB.Addr(), 5353)
	a, b := pair(t, Config{DNSServers: []netip.AddrPort{silent}})
	serveDNS(t, b, 5353, func(dnsmessage.Question, bool) dnsReply { return dnsReply{drop: true} })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := a.DialContext(ctx, "tcp", "name.test:80")
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" {
		t.Fatalf("dial: %v, want a *net.OpError", err)
	}
	checkDNSError(t, oe.Err, "name.test", silent.String(), false, true)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not match context.DeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%v: not a timeout", err)
	}

	// Cancelled while the query waits for its answer: the dial ends at
	// once, not when the 5 s timeout passes.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	serveDNS(t, b, 5354, func(dnsmessage.Question, bool) dnsReply {
		cancel()
		return dnsReply{drop: true}
	})
	conf := resolverConf{servers: []netip.AddrPort{netip.AddrPortFrom(addrB.Addr(), 5354)}, timeout: time.Hour, attempts: 2}
	_, err = a.lookup(ctx, conf, "name.test")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled lookup: %v, want context.Canceled", err)
	}
	checkDNSError(t, err, "name.test", "192.0.2.2:5354", false, false)
}

// TestNetResolverOverStack: package net's own resolver works with the
// stack's DialContext as its Dial.
func TestNetResolverOverStack(t *testing.T) {
	a, _, srv := dnsPair(t)
	r := &net.Resolver{
		PreferGo: true,
		// net.Resolver dials the servers of /etc/resolv.conf: send it
		// to the test server instead.
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return a.DialContext(ctx, network, dnsServerB.String())
		},
	}
	for _, tc := range []struct {
		host string
		want []string
		tcp  bool
	}{
		{"name.test", []string{"192.0.2.2"}, false},
		{"big.test", nil, true},
	} {
		before := srv.tcp.Load()
		got, err := r.LookupHost(ctxTimeout(t, 10*time.Second), tc.host)
		if err != nil {
			t.Errorf("%s: %v", tc.host, err)
			continue
		}
		if tc.want != nil && !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.host, got, tc.want)
		}
		if tc.host == "big.test" && len(got) != 100 {
			t.Errorf("%s: %d addresses, want 100", tc.host, len(got))
		}
		if (srv.tcp.Load() > before) != tc.tcp {
			t.Errorf("%s: TCP used %v, want %v", tc.host, srv.tcp.Load() > before, tc.tcp)
		}
	}
	_, err := r.LookupHost(ctxTimeout(t, 10*time.Second), "missing.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("missing.test: %v, want a not-found *net.DNSError", err)
	}
}

// fuzzQuestion is the question the fuzz target's replies answer.
var fuzzQuestion = dnsmessage.Question{
	Name: dnsmessage.MustNewName("name.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET,
}

// fuzzReply is testZone's reply to fuzzQuestion with the ID 0x1234.
func fuzzReply(t testing.TB, r dnsReply) []byte {
	q, err := newDNSQuery(0x1234, fuzzQuestion)
	if err != nil {
		t.Fatal(err)
	}
	return dnsAnswer(t, q[2:], func(dnsmessage.Question, bool) dnsReply { return r }, false)
}

func TestParseDNSReply(t *testing.T) {
	two := []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("198.51.100.7")}
	query, err := newDNSQuery(0x1234, fuzzQuestion)
	if err != nil {
		t.Fatal(err)
	}
	other := fuzzReply(t, dnsReply{addrs: two})
	other[0] ^= 1 // another ID
	for _, tc := range []struct {
		name      string
		msg       []byte
		stopAtTC  bool
		want      []netip.Addr
		wantTrunc bool
		wantErr   error
	}{
		{"two", fuzzReply(t, dnsReply{addrs: two}), true, two, false, nil},
		{"truncated", fuzzReply(t, dnsReply{truncated: true}), true, nil, true, nil},
		{"truncated over TCP", fuzzReply(t, dnsReply{truncated: true}), false, nil, false, errNoSuchHost},
		{"nxdomain", fuzzReply(t, dnsReply{rcode: dnsmessage.RCodeNameError}), true, nil, false, errNoSuchHost},
		{"servfail", fuzzReply(t, dnsReply{rcode: dnsmessage.RCodeServerFailure}), true, nil, false, errServerTemporarilyMisbehaving},
		{"refused", fuzzReply(t, dnsReply{rcode: dnsmessage.RCodeRefused}), true, nil, false, errServerMisbehaving},
		{"other id", other, true, nil, false, errNotReply},
		{"the query itself", query[2:], true, nil, false, errNotReply},
		{"empty", nil, true, nil, false, errNotReply},
		{"cut", fuzzReply(t, dnsReply{addrs: two})[:40], true, nil, false, errCannotUnmarshalDNSMessage},
	} {
		got, trunc, err := parseDNSReply(tc.msg, 0x1234, fuzzQuestion, tc.stopAtTC, nil)
		if !slices.Equal(got, tc.want) || trunc != tc.wantTrunc || err != tc.wantErr {
			t.Errorf("%s: got %v %v %v, want %v %v %v", tc.name, got, trunc, err, tc.want, tc.wantTrunc, tc.wantErr)
		}
	}
}

// TestParseDNSReplyAllocs: parsing into a slice with room allocates
// nothing.
func TestParseDNSReplyAllocs(t *testing.T) {
	msg := fuzzReply(t, dnsReply{addrs: bigAddrs()[:10]})
	dst := make([]netip.Addr, 0, 16)
	if n := testing.AllocsPerRun(100, func() {
		if _, _, err := parseDNSReply(msg, 0x1234, fuzzQuestion, true, dst[:0]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("parseDNSReply allocates %v times", n)
	}
}

func FuzzDNSAnswer(f *testing.F) {
	f.Add(fuzzReply(f, dnsReply{addrs: []netip.Addr{addrB.Addr()}}), true)
	f.Add(fuzzReply(f, dnsReply{truncated: true}), true)
	f.Add(fuzzReply(f, dnsReply{rcode: dnsmessage.RCodeNameError}), false)
	f.Add(fuzzReply(f, dnsReply{addrs: bigAddrs()[:3]}), false)
	f.Fuzz(func(t *testing.T, b []byte, stopAtTC bool) {
		addrs, trunc, err := parseDNSReply(b, 0x1234, fuzzQuestion, stopAtTC, nil)
		switch {
		case trunc && (err != nil || !stopAtTC || len(addrs) != 0):
			t.Errorf("truncated with %v, %v, stopAtTC %v", addrs, err, stopAtTC)
		case err == nil && !trunc && len(addrs) == 0:
			t.Error("success with no address")
		case err != nil && len(addrs) != 0:
			t.Errorf("error %v with addresses %v", err, addrs)
		}
	})
}
