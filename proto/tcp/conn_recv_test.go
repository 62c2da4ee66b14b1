package tcp

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestConnDelayedAck(t *testing.T) {
	s := plain(t, Config{}, 60000)
	seq := peerISS + 1
	data := func(n int) {
		s.in(ACK, seq, connISS+1, 60000, pattern(n, 0))
		seq = seq.Add(n)
	}
	// Quick-ACK mode first: the first segments are acknowledged at once.
	for s.c.quickAcks > 0 || !s.c.quickStarted {
		data(1000)
		s.one()
	}
	// Then one full segment waits up to 40 ms ...
	data(1000)
	s.none()
	segs, d := s.untilSent(time.Second)
	if d != 40*time.Millisecond || len(segs) != 1 || segs[0].seg.Ack != seq {
		t.Fatalf("delayed ACK after %v: %v", d, segs)
	}
	// ... and the second full segment is acknowledged at once.
	data(1000)
	s.none()
	data(1000)
	if a := s.one(); a.seg.Ack != seq {
		t.Fatalf("ACK %v", a)
	}
	// Out-of-order data: an immediate ACK for RCV.NXT.
	s.in(ACK, seq.Add(1000), connISS+1, 60000, pattern(100, 0))
	if a := s.one(); a.seg.Ack != seq {
		t.Fatalf("OOO ACK %v", a)
	}
	// Filling the hole: immediate.
	data(1000)
	if a := s.one(); a.seg.Ack != seq.Add(100) {
		t.Fatalf("hole-filling ACK %v", a)
	}
	// An in-order FIN in ESTABLISHED: delayed, to ride on the answer
	// (Linux's pingpong mode).
	s.in(FIN|ACK, seq.Add(100), connISS+1, 60000, nil)
	s.none()
	if segs, d := s.untilSent(time.Second); d != 40*time.Millisecond || len(segs) != 1 || segs[0].seg.Ack != seq.Add(101) || s.c.State() != CloseWait {
		t.Fatalf("FIN ACK after %v: %v, state %v", d, segs, s.c.State())
	}
}

func TestConnSACKBlocksAndDSACK(t *testing.T) {
	o := Options{MSS: 1000, HasMSS: true, SACKPermitted: true}
	s := passive(t, Config{}, &o, 60000)
	base := peerISS + 1
	s.in(ACK, base.Add(2000), connISS+1, 60000, pattern(500, 0))
	a := s.one()
	if a.seg.Options.NumSACK != 1 || a.seg.Options.SACK[0] != (SACKBlock{base.Add(2000), base.Add(2500)}) {
		t.Fatalf("SACK %v", a)
	}
	s.in(ACK, base.Add(4000), connISS+1, 60000, pattern(500, 0))
	a = s.one()
	if a.seg.Options.NumSACK != 2 || a.seg.Options.SACK[0].Start != base.Add(4000) {
		t.Fatalf("SACK %v", a)
	}
	// A duplicate of held data: D-SACK first.
	s.in(ACK, base.Add(2000), connISS+1, 60000, pattern(500, 0))
	a = s.one()
	if a.seg.Options.NumSACK != 3 || a.seg.Options.SACK[0] != (SACKBlock{base.Add(2000), base.Add(2500)}) {
		t.Fatalf("D-SACK %v", a)
	}
	// A duplicate below RCV.NXT (an unacceptable segment): D-SACK too.
	s.in(ACK, base, connISS+1, 60000, pattern(2000, 0))
	s.e.take()
	s.in(ACK, base, connISS+1, 60000, pattern(1000, 0))
	a = s.one()
	if a.seg.Options.NumSACK < 1 || a.seg.Options.SACK[0] != (SACKBlock{base, base.Add(1000)}) {
		t.Fatalf("D-SACK below RCV.NXT %v", a)
	}
}

func TestConnReceiveWindow(t *testing.T) {
	// Without window scaling, a 4000-octet buffer: the window closes as
	// data arrives unread and reopens, without silly steps, as it is read.
	o := Options{MSS: 1000, HasMSS: true}
	s := passive(t, Config{RecvBuffer: 4000, RecvBufferMax: 4000}, &o, 60000)
	seq := peerISS + 1
	for range 4 {
		s.in(ACK, seq, connISS+1, 60000, pattern(1000, 0))
		seq = seq.Add(1000)
	}
	s.advance(time.Second)
	s.e.take()
	if w := s.c.Info().RcvWnd; w != 0 {
		t.Fatalf("window %d with a full buffer", w)
	}
	// Data beyond a zero window is not taken; the ACK says so at once.
	s.in(ACK, seq, connISS+1, 60000, pattern(10, 0))
	if a := s.one(); a.seg.Window != 0 || a.seg.Ack != seq || s.c.Readable() != 4000 {
		t.Fatalf("sent %v", a)
	}
	buf := make([]byte, 100)
	s.c.Read(buf, s.now)
	s.none() // 100 octets: no window update (SWS)
	big := make([]byte, 2000)
	s.c.Read(big, s.now)
	a := s.one() // half the buffer free: the window update goes
	if a.seg.Window != 2100 {
		t.Fatalf("window update %v", a)
	}
}

func TestConnWindowScaleAdvertised(t *testing.T) {
	s := passive(t, Config{}, nil, 100)
	s.in(ACK, peerISS+1, connISS+1, 100, pattern(10, 0))
	s.advance(time.Second)
	a := s.one()
	// 128 KiB less 10, shifted by 7, rounded so as not to shrink.
	if got := int(a.seg.Window) << 7; got < 128<<10-10-127 || got > 128<<10 {
		t.Fatalf("window %d (<<7 = %d)", a.seg.Window, got)
	}
	if s.c.Info().SndWnd != 100<<7 {
		t.Fatalf("SndWnd %d", s.c.Info().SndWnd)
	}
}

func TestConnUrgentInline(t *testing.T) {
	s := plain(t, Config{}, 60000)
	seg := Segment{Seq: peerISS + 1, Ack: connISS + 1, Flags: ACK | URG | PSH, Window: 60000, Urgent: 3, Payload: []byte("abcdef")}
	s.c.Input(&seg, s.now)
	got, err := readAll(s.c, s.now)
	if string(got) != "abcdef" || err != nil {
		t.Fatalf("read %q %v", got, err)
	}
}

func TestConnCloseWithUnreadData(t *testing.T) {
	s := plain(t, Config{}, 60000)
	s.in(ACK, peerISS+1, connISS+1, 60000, pattern(10, 0))
	s.e.take()
	ev := s.c.Close(false, s.now)
	r := s.one()
	if r.seg.Flags != RST|ACK || r.seg.Seq != connISS+1 || r.seg.Ack != peerISS+11 {
		t.Fatalf("sent %v", r)
	}
	if s.c.State() != Closed || ev&EvClosed == 0 || !errors.Is(s.c.Err(), ErrAborted) {
		t.Fatalf("state %v ev %b err %v", s.c.State(), ev, s.c.Err())
	}
	// Nothing more goes to the peer.
	s.in(ACK, peerISS+11, connISS+1, 60000, pattern(10, 0))
	s.advance(time.Hour)
	s.none()
}

func TestConnCloseLinger0(t *testing.T) {
	s := plain(t, Config{}, 60000)
	s.write(10)
	s.e.take()
	s.c.Close(true, s.now)
	if r := s.one(); r.seg.Flags != RST|ACK || r.seg.Seq != connISS+11 {
		t.Fatalf("sent %v", r)
	}
}

func TestConnDataAfterClose(t *testing.T) {
	s := plain(t, Config{}, 60000)
	s.c.Close(false, s.now)
	s.one() // FIN
	s.in(ACK, peerISS+1, connISS+2, 60000, nil)
	if s.c.State() != FinWait2 {
		t.Fatalf("state %v", s.c.State())
	}
	s.in(ACK, peerISS+1, connISS+2, 60000, pattern(10, 0))
	r := s.one()
	if r.seg.Flags != RST || r.seg.Seq != connISS+2 || s.c.State() != Closed {
		t.Fatalf("sent %v, state %v", r, s.c.State())
	}
}

func TestConnOrphanFinWait2Timeout(t *testing.T) {
	s := plain(t, Config{}, 60000)
	s.c.Close(false, s.now)
	s.one()
	s.in(ACK, peerISS+1, connISS+2, 60000, nil)
	s.advance(59 * time.Second)
	if s.c.State() != FinWait2 {
		t.Fatalf("state %v", s.c.State())
	}
	s.advance(2 * time.Second)
	if s.c.State() != Closed || s.c.Err() != nil {
		t.Fatalf("state %v err %v", s.c.State(), s.c.Err())
	}
	s.none()
}

func TestConnHalfClose(t *testing.T) {
	p := newPair(t, defaultCfg(), defaultCfg())
	p.connect()
	p.a.CloseWrite(p.now)
	p.run(time.Second)
	if _, err := p.b.Read(make([]byte, 10), p.now); err != io.EOF {
		t.Fatalf("b Read: %v", err)
	}
	if _, err := p.a.Write([]byte("x"), p.now); !errors.Is(err, ErrClosedWrite) {
		t.Fatalf("a Write: %v", err)
	}
	// b still sends to a.
	p.writeAll(p.b, pattern(5000, 2), time.Second)
	p.run(time.Second)
	if p.recvA.Len() != 5000 {
		t.Fatalf("a got %d", p.recvA.Len())
	}
	p.b.CloseWrite(p.now)
	p.run(time.Second)
	if p.a.State() != TimeWait || p.b.State() != Closed {
		t.Fatalf("states %v %v", p.a.State(), p.b.State())
	}
	if _, err := p.a.Read(make([]byte, 1), p.now); err != io.EOF {
		t.Fatalf("a Read: %v", err)
	}
}

func TestConnSimultaneousClose(t *testing.T) {
	p := newPair(t, defaultCfg(), defaultCfg())
	p.connect()
	p.a.Close(false, p.now)
	p.b.Close(false, p.now)
	p.runUntil(time.Second, func() bool { return p.a.State() == TimeWait && p.b.State() == TimeWait })
	if p.a.State() != TimeWait || p.b.State() != TimeWait {
		t.Fatalf("states %v %v", p.a.State(), p.b.State())
	}
}

func TestConnKeepAlive(t *testing.T) {
	k := KeepAlive{Enable: true, Idle: 15 * time.Second, Interval: 15 * time.Second, Count: 9}
	s := plain(t, Config{KeepAlive: k}, 60000)
	segs, d := s.untilSent(time.Minute)
	if d != 15*time.Second || len(segs) != 1 || segs[0].seg.Seq != connISS || len(segs[0].data) != 0 {
		t.Fatalf("probe after %v: %v", d, segs)
	}
	// Answered: the idle time starts again.
	s.in(ACK, peerISS+1, connISS+1, 60000, nil)
	segs, d = s.untilSent(time.Minute)
	if d != 15*time.Second || len(segs) != 1 {
		t.Fatalf("probe after %v: %v", d, segs)
	}
	// Unanswered: 8 more probes 15 s apart, then RST and ErrTimedOut.
	for i := range 8 {
		segs, d = s.untilSent(time.Minute)
		if d != 15*time.Second || len(segs) != 1 || segs[0].seg.Flags != ACK {
			t.Fatalf("probe %d after %v: %v", i+2, d, segs)
		}
	}
	segs, d = s.untilSent(time.Minute)
	if d != 15*time.Second || len(segs) != 1 || segs[0].seg.Flags != RST|ACK {
		t.Fatalf("after %v: %v", d, segs)
	}
	if s.c.State() != Closed || !errors.Is(s.c.Err(), ErrTimedOut) {
		t.Fatalf("state %v err %v", s.c.State(), s.c.Err())
	}
}

func TestConnReadEOFAlways(t *testing.T) {
	s := plain(t, Config{}, 60000)
	s.in(FIN|ACK, peerISS+1, connISS+1, 60000, []byte("hi"))
	buf := make([]byte, 10)
	if n, err := s.c.Read(buf, s.now); n != 2 || err != nil {
		t.Fatalf("Read %d %v", n, err)
	}
	for range 3 {
		if n, err := s.c.Read(buf, s.now); n != 0 || err != io.EOF {
			t.Fatalf("Read %d %v", n, err)
		}
	}
	if n, err := s.c.Write([]byte("x"), s.now); n != 1 || err != nil {
		t.Fatalf("Write in CLOSE-WAIT: %d %v", n, err)
	}
}

// TestConnWindowPromiseKept: a receiver whose application does not read
// never moves its right edge left, however the scaled window rounds (RFC
// 9293 3.8.6; a Linux sender's pure ACKs start at the edge it last saw),
// and takes in everything the sender was allowed to send, even where
// rounding up set the edge a little past the buffer: nothing in the
// window is dropped for want of room, and the overshoot stays small.
func TestConnWindowPromiseKept(t *testing.T) {
	for _, mss := range []int{536, 1000, 1460} {
		cfg := Config{NoDelay: true, MSS: mss, RecvBuffer: 50_000, RecvBufferMax: 6 << 20}
		p := newPair(t, cfg, cfg)
		p.connect()
		p.noAutoRead = true
		data := pattern(200_000, 5)
		p.writeAll(p.a, data, 0)
		p.eb.keepAcks = true
		p.run(10 * time.Second)
		var edge Seq
		acks := 0
		for _, s := range p.eb.acks {
			e := s.Ack.Add(int(s.Window) << p.b.rcvWScale)
			if acks > 0 && e.LessThan(edge) {
				t.Fatalf("mss %d: ack %d win %d: the right edge moved left, from %d to %d", mss, s.Ack, s.Window, edge, e)
			}
			edge, acks = e, acks+1
		}
		if acks == 0 {
			t.Fatalf("mss %d: no ACK checked", mss)
		}
		if got := p.a.Info().SndUna; got != edge {
			t.Errorf("mss %d: the sender's data is acknowledged up to %d, want the last edge advertised, %d", mss, got, edge)
		}
		if got, c := p.b.Readable(), p.b.rq.Capacity(); got < c-mss || got > c+c/8 {
			t.Errorf("mss %d: the receiver holds %d octets, want its buffer (%d) full, overshooting by less than an eighth", mss, got, c)
		}
	}
}
