package stacknet

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// The stub resolver: A queries for Config.DNSServers, sent over the stack
// itself. It behaves as the pure-Go resolver of package net does with
// resolv.conf's defaults (RFC 1035 section 7, RFC 1123 section 6.1.3.3):
// each of attempts rounds asks every server in order, waiting at most
// timeout for each; a UDP answer with the TC bit set is asked again over
// TCP (RFC 7766 section 5); NXDOMAIN (RFC 1035 section 4.1.1, RCODE 3)
// ends the search, as no other server would know better. It has no cache,
// no search list and no IPv6 (the stack has none).

// Defaults of the stub resolver, those of resolv.conf(5) and package net.
const (
	dnsTimeout  = 5 * time.Second
	dnsAttempts = 2

	// maxDNSPacketSize is the UDP payload size the queries advertise
	// with EDNS(0) (RFC 6891 section 6.2.5), package net's: 1232 bytes
	// stays clear of fragmentation on any path (DNS Flag Day 2020).
	maxDNSPacketSize = 1232
)

// resolverConf is what a lookup needs: the servers, asked in order, how
// long to wait for each answer, and how many rounds to make.
type resolverConf struct {
	servers  []netip.AddrPort
	timeout  time.Duration
	attempts int
}

// The errors of a lookup, as package net words them: they become the Err
// string of a *net.DNSError.
var (
	errNoSuchHost                   = errors.New("no such host")
	errCannotUnmarshalDNSMessage    = errors.New("cannot unmarshal DNS message")
	errCannotMarshalDNSMessage      = errors.New("cannot marshal DNS message")
	errServerMisbehaving            = errors.New("server misbehaving")
	errServerTemporarilyMisbehaving = errors.New("server misbehaving") // SERVFAIL: IsTemporary
	errLameReferral                 = errors.New("lame referral")
	errNoAnswerFromDNSServer        = errors.New("no answer from DNS server")

	// errNotReply is a message that is not the reply to our query: over
	// UDP it is dropped (it may be a forgery) and the wait goes on.
	errNotReply = errors.New("not the reply to the query")
)

// LookupNetIP looks host up, as net.Resolver.LookupNetIP does, by asking
// the servers of Config.DNSServers for its A records over the stack.
// Network is "ip" or "ip4"; an IPv4 literal or "localhost" is returned as
// is, without a query. Errors are *net.DNSError with Name and Server set:
// IsNotFound for a name that does not exist (NXDOMAIN) or has no IPv4
// address, IsTimeout when no server answered in time, IsTemporary for
// SERVFAIL and network errors. A cancelled ctx gives an error that
// errors.Is matches with ctx's error.
func (s *Stack) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	switch network {
	case "ip", "ip4":
	default:
		return nil, net.UnknownNetworkError(network)
	}
	if host == "localhost" {
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip = ip.Unmap(); !ip.Is4() {
			return nil, &net.AddrError{Err: "IPv6 is not supported by stacknet", Addr: host}
		}
		return []netip.Addr{ip}, nil
	}
	if len(s.cfg.DNSServers) == 0 {
		return nil, &net.DNSError{Err: "no DNS servers: set Config.DNSServers", Name: host, IsNotFound: true}
	}
	return s.lookup(ctx, resolverConf{servers: s.cfg.DNSServers, timeout: dnsTimeout, attempts: dnsAttempts}, host)
}

// lookup asks conf's servers for host's A records.
func (s *Stack) lookup(ctx context.Context, conf resolverConf, host string) ([]netip.Addr, error) {
	fqdn := host
	if !strings.HasSuffix(fqdn, ".") {
		fqdn += "."
	}
	name, err := dnsmessage.NewName(fqdn)
	if err != nil || !isDomainName(host) {
		return nil, newDNSError(errNoSuchHost, host, "")
	}
	q := dnsmessage.Question{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	var lastErr error
	for range conf.attempts {
		for _, server := range conf.servers {
			if err := ctx.Err(); err != nil {
				// Package net's resolver would go on dialling, each dial
				// failing at once; the answer is the same.
				return nil, newDNSError(mapContextErr(err), host, server.String())
			}
			addrs, err := s.exchange(ctx, server, q, conf.timeout)
			if err == nil {
				return addrs, nil
			}
			dnsErr := newDNSError(err, host, server.String())
			var opErr *net.OpError
			if errors.As(err, &opErr) {
				// Package net: socket errors are temporary.
				dnsErr.IsTemporary = true
			}
			if err == errNoSuchHost {
				// RFC 1035 section 4.1.1: the name does not exist;
				// another server will not say otherwise.
				return nil, dnsErr
			}
			lastErr = dnsErr
		}
	}
	return nil, lastErr
}

// newDNSError is a lookup's error as package net builds it.
func newDNSError(err error, name, server string) *net.DNSError {
	e := &net.DNSError{
		Err:         err.Error(),
		Name:        name,
		Server:      server,
		IsNotFound:  err == errNoSuchHost,
		IsTemporary: err == errServerTemporarilyMisbehaving,
	}
	var ne net.Error
	if errors.As(err, &ne) {
		e.IsTimeout = ne.Timeout()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		e.UnwrapErr = err
	}
	return e
}

// exchange asks server q over UDP, and again over TCP if the UDP answer
// is truncated, each waiting at most timeout, and returns the addresses
// of the answer's A records.
func (s *Stack) exchange(ctx context.Context, server netip.AddrPort, q dnsmessage.Question, timeout time.Duration) ([]netip.Addr, error) {
	id := uint16(rand.Uint32())
	req, err := newDNSQuery(id, q)
	if err != nil {
		return nil, errCannotMarshalDNSMessage
	}
	for _, tcp := range []bool{false, true} {
		addrs, trunc, err := s.roundTrip(ctx, server, id, q, req, timeout, tcp)
		if err != nil {
			return nil, err
		}
		// RFC 7766 section 5 (and RFC 1123 section 6.1.3.2): a truncated
		// UDP answer is asked again over TCP. A truncated TCP answer is
		// used as it is, as glibc and package net do.
		if trunc && !tcp {
			continue
		}
		return addrs, nil
	}
	return nil, errNoAnswerFromDNSServer
}

// roundTrip sends the query req (with its 2-byte TCP length prefix) to
// server over UDP or TCP, and waits for the reply until timeout or ctx
// ends. It returns the A records' addresses, or only that the UDP reply
// is truncated.
func (s *Stack) roundTrip(ctx context.Context, server netip.AddrPort, id uint16, q dnsmessage.Question, req []byte, timeout time.Duration, tcp bool) ([]netip.Addr, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var c net.Conn
	var err error
	if tcp {
		c, err = s.dialTCP(ctx, "tcp", netip.AddrPort{}, server)
	} else {
		c, err = s.DialUDP(ctx, "udp", netip.AddrPort{}, server)
	}
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	// A cancelled ctx ends the wait at once, not at the deadline.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(err error) ([]netip.Addr, bool, error) {
		// The wait ended for ctx, or at its deadline (whose timer may
		// fire before ctx's own): say so as package net's dial does, a
		// timeout matching context.DeadlineExceeded or "operation was
		// canceled".
		var ne net.Error
		if cerr := ctx.Err(); cerr != nil {
			err = mapContextErr(cerr)
		} else if errors.As(err, &ne) && ne.Timeout() {
			err = errTimeout
		}
		return nil, false, err
	}
	if tcp {
		addrs, err := tcpRoundTrip(c, id, q, req)
		if err != nil {
			return fail(err)
		}
		return addrs, false, nil
	}
	if _, err := c.Write(req[2:]); err != nil {
		return fail(err)
	}
	buf := make([]byte, maxDNSPacketSize)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return fail(err)
		}
		addrs, trunc, err := parseDNSReply(buf[:n], id, q, true, nil)
		if err == errNotReply {
			// Not ours, perhaps a forgery: keep waiting for the reply
			// (RFC 5452 section 9.1).
			continue
		}
		return addrs, trunc, err
	}
}

// tcpRoundTrip sends req on the TCP connection c and reads the reply,
// each message prefixed by its length (RFC 1035 section 4.2.2).
func tcpRoundTrip(c net.Conn, id uint16, q dnsmessage.Question, req []byte) ([]netip.Addr, error) {
	if _, err := c.Write(req); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, int(l[0])<<8|int(l[1]))
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, err
	}
	addrs, _, err := parseDNSReply(buf, id, q, false, nil)
	if err == errNotReply {
		// One query per connection: this can only be a broken server.
		return nil, errCannotUnmarshalDNSMessage
	}
	return addrs, err
}

// newDNSQuery builds the query for q with id, recursion desired and an
// EDNS(0) OPT record advertising maxDNSPacketSize, prefixed by its length
// for TCP (RFC 1035 section 4.2.2); over UDP it is sent without the two
// bytes.
func newDNSQuery(id uint16, q dnsmessage.Question) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 2, 514), dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, err
	}
	var rh dnsmessage.ResourceHeader
	if err := rh.SetEDNS0(maxDNSPacketSize, dnsmessage.RCodeSuccess, false); err != nil {
		return nil, err
	}
	if err := b.OPTResource(rh, dnsmessage.OPTResource{}); err != nil {
		return nil, err
	}
	msg, err := b.Finish()
	if err != nil {
		return nil, err
	}
	l := len(msg) - 2
	msg[0], msg[1] = byte(l>>8), byte(l)
	return msg, nil
}

// parseDNSReply reads the message b as the reply to the query id for q,
// and appends the addresses of its A records for class IN to addrs. It
// returns errNotReply if b is not that reply (the ID, the QR bit or the
// question differ), and for a reply with the TC bit set, if stopAtTC,
// only that it is truncated. The other errors are those package net's
// resolver gives; with an error, addrs comes back as it was. It never
// panics, whatever b holds, and allocates only to grow addrs.
func parseDNSReply(b []byte, id uint16, q dnsmessage.Question, stopAtTC bool, addrs []netip.Addr) ([]netip.Addr, bool, error) {
	n0 := len(addrs) // on an error, addrs is given back as it came
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil {
		return addrs[:n0], false, errNotReply
	}
	rq, err := p.Question()
	if err != nil || !h.Response || h.ID != id || rq.Type != q.Type || rq.Class != q.Class || !equalASCIIName(rq.Name, q.Name) {
		return addrs[:n0], false, errNotReply
	}
	if h.Truncated && stopAtTC {
		return addrs, true, nil
	}
	if err := p.SkipAllQuestions(); err != nil {
		return addrs[:n0], false, errCannotUnmarshalDNSMessage
	}
	rcode, hasAdd := replyRCode(p, h)
	switch rcode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return addrs[:n0], false, errNoSuchHost
	case dnsmessage.RCodeServerFailure:
		return addrs[:n0], false, errServerTemporarilyMisbehaving
	default:
		return addrs[:n0], false, errServerMisbehaving
	}
	found, answers := false, false
	for {
		ah, err := p.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return addrs[:n0], false, errCannotUnmarshalDNSMessage
		}
		answers = true
		if ah.Type != dnsmessage.TypeA || ah.Class != dnsmessage.ClassINET {
			// A CNAME chain: the recursive server follows it and
			// gives the A records too.
			if err := p.SkipAnswer(); err != nil {
				return addrs[:n0], false, errCannotUnmarshalDNSMessage
			}
			continue
		}
		a, err := p.AResource()
		if err != nil {
			return addrs[:n0], false, errCannotUnmarshalDNSMessage
		}
		addrs = append(addrs, netip.AddrFrom4(a.A))
		found = true
	}
	if !answers && !h.Authoritative && !h.RecursionAvailable && !hasAdd {
		// A referral from a server that will not recurse: another
		// server may do better, as libresolv and package net judge.
		return addrs[:n0], false, errLameReferral
	}
	if !found {
		return addrs[:n0], false, errNoSuchHost
	}
	return addrs, false, nil
}

// replyRCode is the reply's RCODE, extended by its OPT record if it has
// one (RFC 6891 section 6.1.3), and whether it has additional records.
// p is a copy, positioned after the questions.
func replyRCode(p dnsmessage.Parser, h dnsmessage.Header) (dnsmessage.RCode, bool) {
	if p.SkipAllAnswers() != nil || p.SkipAllAuthorities() != nil {
		return h.RCode, false
	}
	hasAdd := false
	for {
		ah, err := p.AdditionalHeader()
		if err != nil {
			return h.RCode, hasAdd
		}
		hasAdd = true
		if ah.Type == dnsmessage.TypeOPT {
			return ah.ExtendedRCode(h.RCode), true
		}
		if p.SkipAdditional() != nil {
			return h.RCode, true
		}
	}
}

// equalASCIIName compares two names ignoring ASCII case (RFC 4343).
func equalASCIIName(x, y dnsmessage.Name) bool {
	if x.Length != y.Length {
		return false
	}
	for i := range int(x.Length) {
		a, b := x.Data[i], y.Data[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// isDomainName reports whether s is a name a lookup may ask for: labels
// of 1 to 63 letters, digits, hyphens and underscores, not starting or
// ending with a hyphen, 253 bytes at most without the root (RFC 1035
// section 2.3.4; underscores as package net allows for SRV-style names).
func isDomainName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := range len(label) {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// resolveDial looks the host of address ("host:port") up for a dial and
// returns the addresses to try, in the order the server gave them.
func (s *Stack) resolveDial(ctx context.Context, network, address string) ([]netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := parsePort(network, portStr)
	if err != nil {
		return nil, err
	}
	ips, err := s.LookupNetIP(ctx, "ip4", host)
	if err != nil {
		return nil, err
	}
	aps := make([]netip.AddrPort, len(ips))
	for i, ip := range ips {
		aps[i] = netip.AddrPortFrom(ip, port)
	}
	return aps, nil
}

// dialName dials address, whose host is a name, as package net's dial
// does: it looks the name up over the stack (a failure is a
// *net.OpError{Op: "dial"} wrapping the *net.DNSError, with no
// addresses), then tries each address in turn until one connects,
// returning the first address's error if none does.
func (s *Stack) dialName(ctx context.Context, network, address string) (net.Conn, error) {
	raddrs, err := s.resolveDial(ctx, network, address)
	if err != nil {
		return nil, opError("dial", network, nil, nil, err)
	}
	var firstErr error
	for _, raddr := range raddrs {
		c, err := s.dialResolved(ctx, network, raddr)
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}
