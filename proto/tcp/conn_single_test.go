package tcp

import (
	"testing"
	"time"
)

// A single Conn against hand-made segments: the peer is the test. The
// peer's ISN is peerISS and its TS clock peerTS; the Conn's ISS is
// connISS.

const (
	peerISS Seq    = 1000
	connISS Seq    = 5000
	peerTS  uint32 = 7000
)

type single struct {
	t   *testing.T
	c   *Conn
	e   *capture
	now time.Time
	ev  Events
	ts  uint32 // the peer's TSval, advanced by the test
}

func newSingle(t *testing.T, cfg Config) *single {
	cfg.Local, cfg.Remote = addrB, addrA
	cfg.ISS = connISS
	if cfg.TSEpoch.IsZero() {
		cfg.TSEpoch = t0
	}
	s := &single{t: t, e: &capture{}, now: t0, ts: peerTS}
	s.c = NewConn(&cfg, s.e)
	return s
}

// synOpts is what a Linux peer's SYN carries.
func (s *single) synOpts() Options {
	return Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, TSVal: s.ts, WScale: 7, HasWScale: true}
}

// passive makes an ESTABLISHED server Conn from a SYN with opts and the
// ACK of its SYN-ACK; peer window win (scaled by 7 if negotiated).
func passive(t *testing.T, cfg Config, opts *Options, win uint16) *single {
	s := newSingle(t, cfg)
	o := s.synOpts()
	if opts != nil {
		o = *opts
	}
	s.c.AcceptSYN(&Segment{Seq: peerISS, Flags: SYN, Window: 65535, Options: o}, s.now)
	sa := s.one()
	if sa.seg.Flags != SYN|ACK || sa.seg.Ack != peerISS+1 || sa.seg.Seq != connISS {
		t.Fatalf("SYN-ACK: %v", &sa)
	}
	s.ev = s.in(ACK, peerISS+1, connISS+1, win, nil)
	if s.c.State() != Established || s.ev&EvEstablished == 0 {
		t.Fatalf("state %v, events %b", s.c.State(), s.ev)
	}
	s.e.take()
	return s
}

// in delivers a segment from the peer, with a timestamp option when the
// connection uses them.
func (s *single) in(flags Flags, seq, ack Seq, win uint16, data []byte, opts ...func(*Options)) Events {
	seg := Segment{Seq: seq, Ack: ack, Flags: flags, Window: win, Payload: data}
	if s.c.tsOK {
		seg.Options.TS, seg.Options.TSVal, seg.Options.TSEcr = true, s.ts, s.c.tsVal(s.now)
	}
	for _, f := range opts {
		f(&seg.Options)
	}
	ev := s.c.Input(&seg, s.now)
	s.ev |= ev
	return ev
}

// one expects exactly one segment sent, and returns it.
func (s *single) one() sent {
	s.t.Helper()
	segs := s.e.take()
	if len(segs) != 1 {
		s.t.Fatalf("sent %d segments, want 1: %v", len(segs), segs)
	}
	return segs[0]
}

// none expects no segment sent.
func (s *single) none() {
	s.t.Helper()
	if segs := s.e.take(); len(segs) != 0 {
		s.t.Fatalf("sent %v, want nothing", segs)
	}
}

// advance moves the clock by d, running timers as they fall due.
func (s *single) advance(d time.Duration) {
	end := s.now.Add(d)
	for {
		dl := s.c.Deadline()
		if dl.IsZero() || dl.After(end) {
			break
		}
		s.now = dl
		s.ev |= s.c.Timer(s.now)
	}
	s.now = end
}

// untilSent runs timers until the Conn sends something or d passes, and
// returns what it sent and when.
func (s *single) untilSent(d time.Duration) ([]sent, time.Duration) {
	start := s.now
	end := s.now.Add(d)
	for {
		dl := s.c.Deadline()
		if dl.IsZero() || dl.After(end) {
			s.now = end
			return nil, d
		}
		s.now = dl
		s.ev |= s.c.Timer(s.now)
		if segs := s.e.take(); len(segs) > 0 {
			return segs, s.now.Sub(start)
		}
	}
}

func (s *single) write(n int) {
	s.t.Helper()
	if k, err := s.c.Write(pattern(n, 0), s.now); k != n || err != nil {
		s.t.Fatalf("Write = %d, %v", k, err)
	}
}
