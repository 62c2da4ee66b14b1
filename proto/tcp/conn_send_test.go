package tcp

import (
	"errors"
	"testing"
	"time"
)

// established with no options but MSS 1000: easy numbers. Peer window
// win is unscaled.
func plain(t *testing.T, cfg Config, win uint16) *single {
	o := Options{MSS: 1000, HasMSS: true}
	return passive(t, cfg, &o, win)
}

func TestConnNagle(t *testing.T) {
	s := plain(t, Config{}, 60000)
	s.write(10)
	if a := s.one(); len(a.data) != 10 || a.seg.Flags != ACK|PSH {
		t.Fatalf("first small segment: %v", &a)
	}
	s.write(10)
	s.none() // a small segment is unacknowledged: Nagle holds this one
	s.write(2000)
	segs := s.e.take()
	if len(segs) != 2 || len(segs[0].data) != 1000 || len(segs[1].data) != 1000 {
		t.Fatalf("sent %v, want two full segments", segs)
	}
	s.in(ACK, peerISS+1, connISS+11, 60000, nil)
	if a := s.one(); len(a.data) != 10 || a.seg.Flags&PSH == 0 {
		t.Fatalf("after the ACK: %v", &a)
	}
	s.c.SetNoDelay(true, s.now)
	s.write(5)
	if a := s.one(); len(a.data) != 5 {
		t.Fatalf("NoDelay: %v", &a)
	}
}

func TestConnSenderSWS(t *testing.T) {
	s := plain(t, Config{NoDelay: true}, 4000)
	s.write(3000)
	s.e.take()
	s.in(ACK, peerISS+1, connISS+3001, 300, nil) // the window shrinks to 300
	s.write(1000)
	s.none() // 300 < half of the largest window (4000): wait
	s.in(ACK, peerISS+1, connISS+3001, 2500, nil)
	if a := s.one(); len(a.data) != 1000 {
		t.Fatalf("sent %v", &a)
	}
}

func TestConnZeroWindowPersist(t *testing.T) {
	s := plain(t, Config{NoDelay: true}, 1000)
	s.write(1000)
	s.one()
	s.in(ACK, peerISS+1, connISS+1001, 0, nil)
	s.write(500)
	s.none()
	var gaps []time.Duration
	for range 4 {
		segs, d := s.untilSent(5 * time.Minute)
		if len(segs) != 1 || segs[0].seg.Seq != connISS+1000 || len(segs[0].data) != 0 {
			t.Fatalf("probe: %v", segs)
		}
		gaps = append(gaps, d)
		s.in(ACK, peerISS+1, connISS+1001, 0, nil) // answered, still shut
		s.none()
	}
	for i := 1; i < len(gaps); i++ {
		if gaps[i] != 2*gaps[i-1] {
			t.Fatalf("probe intervals %v, want doubling", gaps)
		}
	}
	// Answered probes keep it alive far beyond Retries2 probes.
	for range 20 {
		segs, _ := s.untilSent(5 * time.Minute)
		if len(segs) != 1 {
			t.Fatalf("probe: %v", segs)
		}
		s.in(ACK, peerISS+1, connISS+1001, 0, nil)
	}
	if s.c.State() != Established {
		t.Fatalf("state %v", s.c.State())
	}
	// The window opens: the data goes.
	s.in(ACK, peerISS+1, connISS+1001, 1000, nil)
	if a := s.one(); len(a.data) != 500 {
		t.Fatalf("sent %v", &a)
	}
}

func TestConnPersistGiveUp(t *testing.T) {
	s := plain(t, Config{NoDelay: true}, 1000)
	s.write(1000)
	s.one()
	s.in(ACK, peerISS+1, connISS+1001, 0, nil)
	s.write(1)
	s.advance(time.Hour)
	if s.c.State() != Closed || !errors.Is(s.c.Err(), ErrTimedOut) {
		t.Fatalf("state %v err %v", s.c.State(), s.c.Err())
	}
}

func TestConnRTOBackoffAndGiveUp(t *testing.T) {
	s := plain(t, Config{NoDelay: true}, 60000)
	s.write(100)
	s.one()
	var gaps []time.Duration
	for range 15 {
		segs, d := s.untilSent(time.Hour)
		if len(segs) != 1 || segs[0].seg.Seq != connISS+1 || len(segs[0].data) != 100 {
			t.Fatalf("retransmission %v", segs)
		}
		gaps = append(gaps, d)
	}
	// 15 retransmissions (Retries2), from the 200 ms floor (the
	// handshake measured an RTT of 0) doubling to the 120 s ceiling, and
	// the end 120 s after the last, with no RST: 924.6 s in all, as
	// Linux's tcp_retries2 = 15.
	if gaps[0] != 200*time.Millisecond || gaps[1] != 400*time.Millisecond || gaps[14] != 120*time.Second {
		t.Fatalf("gaps %v", gaps)
	}
	s.advance(119 * time.Second)
	if s.c.State() != Established {
		t.Fatalf("state %v", s.c.State())
	}
	s.advance(time.Second)
	s.none()
	if s.c.State() != Closed || !errors.Is(s.c.Err(), ErrTimedOut) || s.c.Info().Retransmits != 15 {
		t.Fatalf("state %v err %v", s.c.State(), s.c.Err())
	}
	if d := s.now.Sub(t0); d != 924600*time.Millisecond {
		t.Fatalf("gave up after %v", d)
	}
}

func TestConnRTOSoftError(t *testing.T) {
	s := plain(t, Config{NoDelay: true}, 60000)
	s.write(100)
	s.one()
	soft := errors.New("host unreachable")
	s.c.SoftError(soft, false, s.now)
	s.advance(time.Hour)
	if !errors.Is(s.c.Err(), soft) {
		t.Fatalf("err %v, want the soft error", s.c.Err())
	}
}

func TestConnUserTimeout(t *testing.T) {
	s := plain(t, Config{NoDelay: true, UserTimeout: 5 * time.Second}, 60000)
	s.write(100)
	s.one()
	s.advance(time.Minute)
	if !errors.Is(s.c.Err(), ErrTimedOut) {
		t.Fatalf("err %v", s.c.Err())
	}
	if d := s.now.Sub(t0); d < 5*time.Second {
		t.Fatalf("gave up at %v", d)
	}
}

func TestConnRTOGoBack(t *testing.T) {
	s := plain(t, Config{NoDelay: true}, 60000)
	s.write(5000)
	if segs := s.e.take(); len(segs) != 5 {
		t.Fatalf("sent %d", len(segs))
	}
	segs, d := s.untilSent(time.Hour)
	if d != 200*time.Millisecond || len(segs) != 1 || segs[0].seg.Seq != connISS+1 {
		t.Fatalf("after %v: %v", d, segs)
	}
	if i := s.c.Info(); i.CWND != 1000 || i.Ssthresh != 3500 {
		t.Fatalf("cwnd %d ssthresh %d after RTO", i.CWND, i.Ssthresh)
	}
	s.in(ACK, peerISS+1, connISS+1001, 60000, nil)
	segs = s.e.take()
	if len(segs) != 2 || segs[0].seg.Seq != connISS+1001 || segs[1].seg.Seq != connISS+2001 {
		t.Fatalf("slow start after RTO: %v", segs)
	}
}

func TestConnFastRetransmitNewReno(t *testing.T) {
	s := plain(t, Config{NoDelay: true, Congestion: NewReno}, 60000)
	s.write(10000)
	if segs := s.e.take(); len(segs) != 10 {
		t.Fatalf("initial window: %d segments", len(segs))
	}
	// Segments 1 and 3 are lost: duplicate ACKs for SND.UNA.
	s.in(ACK, peerISS+1, connISS+1, 60000, nil)
	s.in(ACK, peerISS+1, connISS+1, 60000, nil)
	s.none() // limited transmit has nothing new to send
	s.in(ACK, peerISS+1, connISS+1, 60000, nil)
	rx := s.one()
	if rx.seg.Seq != connISS+1 || len(rx.data) != 1000 {
		t.Fatalf("fast retransmit: %v", &rx)
	}
	if i := s.c.Info(); i.Ssthresh != 5000 || i.CWND != 5000 {
		t.Fatalf("cwnd %d ssthresh %d", i.CWND, i.Ssthresh)
	}
	// A partial ACK (up to the second hole) retransmits it at once.
	s.in(ACK, peerISS+1, connISS+2001, 60000, nil)
	rx = s.one()
	if rx.seg.Seq != connISS+2001 {
		t.Fatalf("partial ACK: %v", &rx)
	}
	// The full ACK ends recovery.
	s.in(ACK, peerISS+1, connISS+10001, 60000, nil)
	if s.c.inRecovery || s.c.Info().CWND != 5000 {
		t.Fatalf("after the full ACK: recovery %v cwnd %d", s.c.inRecovery, s.c.Info().CWND)
	}
	if s.c.Info().Retransmits != 2 {
		t.Fatalf("retransmits %d", s.c.Info().Retransmits)
	}
}

func TestConnSACKRecovery(t *testing.T) {
	o := Options{MSS: 1000, HasMSS: true, SACKPermitted: true}
	s := passive(t, Config{NoDelay: true}, &o, 60000)
	s.write(10000)
	s.e.take()
	sack := func(blocks ...SACKBlock) func(*Options) {
		return func(o *Options) {
			copy(o.SACK[:], blocks)
			o.NumSACK = len(blocks)
		}
	}
	b := func(a, z int) SACKBlock { return SACKBlock{connISS + 1 + Seq(a), connISS + 1 + Seq(z)} }
	// Segments 0 and 2 lost; 1, 3, 4, 5 arrive.
	s.in(ACK, peerISS+1, connISS+1, 60000, nil, sack(b(1000, 2000)))
	s.in(ACK, peerISS+1, connISS+1, 60000, nil, sack(b(3000, 4000), b(1000, 2000)))
	s.none()
	s.in(ACK, peerISS+1, connISS+1, 60000, nil, sack(b(3000, 5000), b(1000, 2000)))
	segs := s.e.take()
	if len(segs) == 0 || segs[0].seg.Seq != connISS+1 {
		t.Fatalf("SACK recovery: %v", segs)
	}
	s.in(ACK, peerISS+1, connISS+1, 60000, nil, sack(b(3000, 6000), b(1000, 2000)))
	segs = append(segs, s.e.take()...)
	found := false
	for _, x := range segs {
		if x.seg.Seq == connISS+2001 {
			found = true
		}
		if x.seg.Seq == connISS+1001 || x.seg.Seq == connISS+3001 {
			t.Fatalf("retransmitted SACKed data: %v", segs)
		}
	}
	if !found {
		t.Fatalf("second hole not retransmitted: %v", segs)
	}
}

func TestConnPathMTU(t *testing.T) {
	s := plain(t, Config{NoDelay: true}, 60000)
	s.write(3000)
	s.e.take()
	s.c.PathMTU(576, s.now)
	segs := s.e.take()
	if len(segs) == 0 {
		t.Fatal("nothing retransmitted")
	}
	for _, x := range segs {
		if len(x.data) > 536 {
			t.Fatalf("segment of %d after PMTU 576", len(x.data))
		}
	}
	if segs[0].seg.Seq != connISS+1 || s.c.Info().SndMSS != 536 {
		t.Fatalf("sent %v, mss %d", segs, s.c.Info().SndMSS)
	}
	s.c.PathMTU(1500, s.now) // never raises
	if s.c.Info().SndMSS != 536 {
		t.Fatal("MSS raised")
	}
}

// TestConnMinshallStale: Nagle's rule (Minshall's variant) holds a short
// segment only while an earlier short one is unacknowledged, in
// (SND.UNA, SND.NXT] as Linux's tcp_minshall_check: a short segment sent
// more than 2^31 octets ago, which serial arithmetic would put beyond
// SND.UNA again, must not hold back data when nothing is in flight.
func TestConnMinshallStale(t *testing.T) {
	s := passive(t, Config{}, nil, 1000)
	s.c.sndSml = s.c.sndUna.Add(1<<31 - 100) // as if sent 2^31+100 octets ago
	s.write(10)
	if a := s.one(); len(a.data) != 10 {
		t.Fatalf("sent %v, want the 10 octets at once", &a)
	}
}

// TestConnShrunkWindowRetransmitsForever: a receiver that shrinks its
// window to zero under data in flight, and answers every retransmission
// with a zero window, keeps the connection alive past Retries2 (Linux's
// tcp_retransmit_timer: the retransmissions are zero-window probes,
// not counted); it fails only once nothing has arrived for 2 RTO max.
func TestConnShrunkWindowRetransmitsForever(t *testing.T) {
	s := passive(t, Config{NoTimestamps: true}, &Options{MSS: 1460, HasMSS: true}, 1000)
	s.write(100)
	s.one()
	s.in(ACK, peerISS+1, connISS+1, 0, nil) // the window shut, nothing acknowledged
	for i := range 20 {
		segs, _ := s.untilSent(5 * time.Minute)
		if len(segs) != 1 || segs[0].seg.Seq != connISS+1 {
			t.Fatalf("retransmission %d: sent %v, state %v, err %v", i+1, segs, s.c.State(), s.c.Err())
		}
		s.in(ACK, peerISS+1, connISS+1, 0, nil)
	}
	if s.c.State() != Established {
		t.Fatalf("state %v after answered retransmissions, err %v", s.c.State(), s.c.Err())
	}
	// Unanswered: timed out once nothing came for 2 RTO max (240 s).
	s.advance(10 * time.Minute)
	if s.c.State() != Closed || !errors.Is(s.c.Err(), ErrTimedOut) {
		t.Fatalf("unanswered: state %v, err %v", s.c.State(), s.c.Err())
	}
}

// TestConnSentAfterRTO: Sent reports SND.MAX, which a retransmission
// timeout does not move back, while Info's SndNxt goes back to SND.UNA.
func TestConnSentAfterRTO(t *testing.T) {
	p := newPair(t, defaultCfg(), defaultCfg())
	p.connect()
	p.loss = 1 // nothing gets through from now on
	if n, err := p.a.Write(pattern(3000, 1), p.now); n != 3000 || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	una, sndMax := p.a.Sent()
	if got := int(sndMax.Diff(una)); got != 3000 {
		t.Fatalf("before the timeout: %d octets sent, want 3000", got)
	}
	p.run(p.a.Info().RTO + time.Millisecond)
	una2, sndMax2 := p.a.Sent()
	in := p.a.Info()
	if una2 != una || sndMax2 != sndMax {
		t.Fatalf("after the timeout Sent = %d, %d; want %d, %d unchanged", una2, sndMax2, una, sndMax)
	}
	if in.SndNxt == sndMax || in.Retransmits == 0 || p.a.Retransmits() != in.Retransmits {
		t.Fatalf("after the timeout SndNxt %d (SND.MAX %d), Retransmits %d (Info %d): want SND.NXT moved back and one count", in.SndNxt, sndMax, p.a.Retransmits(), in.Retransmits)
	}
}
