package tcp

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// The harness of the Conn tests: a capture Emitter that turns what a Conn
// sends back into Segments, and a pair of Conns wired back to back
// through a queue on a fake clock, with loss, reordering and duplication
// injected by a seeded generator. Nothing runs on another goroutine.

var (
	addrA = netip.MustParseAddrPort("192.0.2.1:40000")
	addrB = netip.MustParseAddrPort("192.0.2.2:80")
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// sent is one segment a Conn emitted, as the peer will see it.
type sent struct {
	seg  Segment
	data []byte // the payload, owned
}

func (s sent) String() string {
	return s.seg.Flags.String() + " " + seqStr(s.seg.Seq, len(s.data)) + " ack " + itoa(uint32(s.seg.Ack)) +
		" win " + itoa(uint32(s.seg.Window)) + " <" + s.seg.Options.String() + ">"
}

func seqStr(s Seq, n int) string {
	return itoa(uint32(s)) + ":" + itoa(uint32(s.Add(n))) + "(" + itoa(uint32(n)) + ")"
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// capture records every segment emitted, round-tripping the header and
// options through the wire format so that what a test sees is what a
// peer would parse.
type capture struct {
	maxSeg   int       // the most options plus payload in one segment
	acks     []Segment // with keepAcks, the headers of every segment with ACK, in order
	keepAcks bool
	segs     []sent
	buf      []byte
}

func (c *capture) Emit(f *Fields, o *Options, p1, p2 []byte) {
	n := HeaderLen + OptionsLen(o) + len(p1) + len(p2)
	c.maxSeg = max(c.maxSeg, n-HeaderLen)
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	b := c.buf[:n]
	hl := HeaderLen + OptionsLen(o)
	copy(b[hl:], p1)
	copy(b[hl+len(p1):], p2)
	PutHeader(b, *f, o)
	h, err := Parse(b)
	if err != nil {
		panic(err)
	}
	seg, err := SegmentFrom(h)
	if err != nil {
		panic(err)
	}
	data := bytes.Clone(seg.Payload)
	seg.Payload = data
	c.segs = append(c.segs, sent{seg, data})
	if c.keepAcks && seg.Flags&ACK != 0 {
		h := seg
		h.Payload = nil
		c.acks = append(c.acks, h)
	}
}

// take returns and forgets what was captured.
func (c *capture) take() []sent {
	s := c.segs
	c.segs = nil
	return s
}

// pair is two Conns, a (the client) and b (the server), on a fake clock.
type pair struct {
	t        testing.TB
	now      time.Time
	a, b     *Conn
	ea, eb   *capture
	evA, evB Events
	// Impairment of segments in flight, decided by rng.
	rng                *rand.Rand
	loss, reorder, dup float64
	delay              time.Duration
	inflight           []flight
	delivered, dropped int
	recvA, recvB       bytes.Buffer
	readBuf            []byte
	noAutoRead         bool
	bcfg               Config
}

type flight struct {
	at    time.Time
	toB   bool
	s     sent
	order int
}

func defaultCfg() Config {
	return Config{NoDelay: true}
}

// newPair makes the two Conns with configurations ca and cb (ports and
// ISS filled in) and opens a to b through the listener path: b is made
// by AcceptSYN when a's SYN arrives.
func newPair(t testing.TB, ca, cb Config) *pair {
	p := &pair{t: t, now: t0, ea: &capture{}, eb: &capture{}, delay: time.Millisecond, readBuf: make([]byte, 1<<16)}
	ca.Local, ca.Remote = addrA, addrB
	cb.Local, cb.Remote = addrB, addrA
	if ca.ISS == 0 {
		ca.ISS = 0xfffff000 // wraps during the tests
	}
	if cb.ISS == 0 {
		cb.ISS = 1000000
	}
	if ca.TSEpoch.IsZero() {
		ca.TSEpoch = t0.Add(-time.Hour)
	}
	if cb.TSEpoch.IsZero() {
		cb.TSEpoch = t0.Add(-2 * time.Hour)
	}
	p.a = NewConn(&ca, p.ea)
	p.bcfg = cb
	p.rng = rand.New(rand.NewPCG(1, 2))
	return p
}

// connect opens a and runs until both are ESTABLISHED.
func (p *pair) connect() {
	p.t.Helper()
	p.a.Open(p.now)
	p.run(5 * time.Second)
	if p.a.State() != Established || p.b == nil || p.b.State() != Established {
		p.t.Fatalf("connect: states %v %v", p.a.State(), p.bState())
	}
}

func (p *pair) bState() State {
	if p.b == nil {
		return Closed
	}
	return p.b.State()
}

// collect moves what the Conns emitted onto the wire, impaired.
func (p *pair) collect() {
	for _, s := range p.ea.take() {
		p.send(true, s)
	}
	for _, s := range p.eb.take() {
		p.send(false, s)
	}
}

func (p *pair) send(toB bool, s sent) {
	if p.loss > 0 && p.rng.Float64() < p.loss {
		p.dropped++
		return
	}
	at := p.now.Add(p.delay)
	if p.reorder > 0 && p.rng.Float64() < p.reorder {
		at = at.Add(time.Duration(p.rng.IntN(5)+1) * time.Millisecond)
	}
	p.inflight = append(p.inflight, flight{at: at, toB: toB, s: s, order: len(p.inflight)})
	if p.dup > 0 && p.rng.Float64() < p.dup {
		p.inflight = append(p.inflight, flight{at: at.Add(time.Millisecond), toB: toB, s: s})
	}
}

// step advances the clock to the next event (a delivery or a deadline)
// no later than limit and processes it. It reports false if there was
// none.
func (p *pair) step(limit time.Time) bool {
	p.collect()
	next := time.Time{}
	idx := -1
	for i, f := range p.inflight {
		if idx < 0 || f.at.Before(next) {
			next, idx = f.at, i
		}
	}
	for _, c := range []*Conn{p.a, p.b} {
		if c == nil {
			continue
		}
		if d := c.Deadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next, idx = d, -1
		}
	}
	if next.IsZero() || next.After(limit) {
		return false
	}
	if next.After(p.now) {
		p.now = next
	}
	if idx >= 0 {
		f := p.inflight[idx]
		p.inflight = append(p.inflight[:idx], p.inflight[idx+1:]...)
		p.deliver(f)
	} else {
		for _, c := range []*Conn{p.a, p.b} {
			if c != nil {
				if d := c.Deadline(); !d.IsZero() && !d.After(p.now) {
					p.note(c, c.Timer(p.now))
				}
			}
		}
	}
	p.autoRead()
	p.collect()
	return true
}

func (p *pair) note(c *Conn, ev Events) {
	if c == p.a {
		p.evA |= ev
	} else {
		p.evB |= ev
	}
}

func (p *pair) deliver(f flight) {
	p.delivered++
	seg := f.s.seg
	seg.Payload = f.s.data
	if !f.toB {
		p.note(p.a, p.a.Input(&seg, p.now))
		return
	}
	if p.b == nil {
		if seg.Flags&(SYN|ACK) == SYN {
			cb := p.bcfg
			p.b = NewConn(&cb, p.eb)
			p.note(p.b, p.b.AcceptSYN(&seg, p.now))
		}
		return
	}
	p.note(p.b, p.b.Input(&seg, p.now))
}

// autoRead drains both receive queues into recvA and recvB.
func (p *pair) autoRead() {
	if p.noAutoRead {
		return
	}
	for _, x := range []struct {
		c *Conn
		b *bytes.Buffer
	}{{p.a, &p.recvA}, {p.b, &p.recvB}} {
		if x.c == nil {
			continue
		}
		for {
			n, _ := x.c.Read(p.readBuf, p.now)
			if n == 0 {
				break
			}
			x.b.Write(p.readBuf[:n])
		}
	}
}

// run processes events for d of fake time.
func (p *pair) run(d time.Duration) {
	limit := p.now.Add(d)
	for p.step(limit) {
	}
	if p.now.Before(limit) {
		p.now = limit
	}
}

// runUntil processes events until cond holds or d passes; it reports
// whether cond held.
func (p *pair) runUntil(d time.Duration, cond func() bool) bool {
	limit := p.now.Add(d)
	for !cond() {
		if !p.step(limit) {
			return cond()
		}
	}
	return true
}

// writeAll writes data from c, feeding the pipe until all is queued.
func (p *pair) writeAll(c *Conn, data []byte, d time.Duration) {
	p.t.Helper()
	limit := p.now.Add(d)
	for len(data) > 0 {
		n, err := c.Write(data, p.now)
		if err != nil {
			p.t.Fatalf("write: %v", err)
		}
		data = data[n:]
		if len(data) > 0 && !p.step(limit) {
			p.t.Fatalf("write stalled with %d left; a=%v b=%v", len(data), p.a.Info(), p.b.Info())
		}
	}
}

// readAll is what Read returns until EOF or an error, for a test of the
// end of a stream.
func readAll(c *Conn, now time.Time) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf, now)
		out = append(out, buf[:n]...)
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		if n == 0 {
			return out, nil
		}
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed + byte(i>>8)
	}
	return b
}
