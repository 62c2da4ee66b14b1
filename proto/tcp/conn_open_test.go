package tcp

import (
	"errors"
	"testing"
	"time"
)

func TestConnActiveOpenOptions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		want   Options // of the SYN, TSVal aside
		synAck Options
		sndMSS int
		wscale int
		sack   bool
		tsOK   bool
	}{
		{"all", Config{MSS: 1460},
			Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, WScale: 7, HasWScale: true},
			Options{MSS: 1400, HasMSS: true, SACKPermitted: true, TS: true, TSVal: 9, TSEcr: 1, WScale: 2, HasWScale: true},
			1388, 2, true, true},
		{"peer-none", Config{MSS: 1460},
			Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, WScale: 7, HasWScale: true},
			Options{},
			536, -1, false, false},
		{"we-none", Config{MSS: 1460, NoSACK: true, NoTimestamps: true, NoWScale: true},
			Options{MSS: 1460, HasMSS: true},
			Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, TSVal: 9, WScale: 7, HasWScale: true},
			1460, -1, false, false},
		{"small-buffer", Config{MSS: 1460, RecvBuffer: 65535, RecvBufferMax: 65535},
			Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TS: true, WScale: 0, HasWScale: true},
			Options{MSS: 1460, HasMSS: true, TS: true, TSVal: 9, WScale: 14, HasWScale: true},
			1448, 14, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSingle(t, tc.cfg)
			s.c.Open(s.now)
			syn := s.one()
			got := syn.seg.Options
			got.TSVal = 0
			if got != tc.want || syn.seg.Flags != SYN || syn.seg.Seq != connISS {
				t.Fatalf("SYN %v, want options %v", &syn, tc.want)
			}
			s.now = s.now.Add(10 * time.Millisecond)
			ev := s.c.Input(&Segment{Seq: peerISS, Ack: connISS + 1, Flags: SYN | ACK, Window: 1000, Options: tc.synAck}, s.now)
			if ev&EvEstablished == 0 || s.c.State() != Established {
				t.Fatalf("events %b state %v", ev, s.c.State())
			}
			ack := s.one()
			if ack.seg.Flags != ACK || ack.seg.Seq != connISS+1 || ack.seg.Ack != peerISS+1 {
				t.Fatalf("ACK %v", &ack)
			}
			i := s.c.Info()
			if i.SndMSS != tc.sndMSS || i.SndWScale != tc.wscale || i.SACK != tc.sack || i.Timestamps != tc.tsOK {
				t.Fatalf("info %+v", i)
			}
			if i.SndWnd != 1000 {
				t.Fatalf("SndWnd %d: a SYN-ACK's window is not scaled", i.SndWnd)
			}
			if ack.seg.Options.TS != tc.tsOK || tc.tsOK && ack.seg.Options.TSEcr != 9 {
				t.Fatalf("ACK options %v", ack.seg.Options)
			}
		})
	}
}

func TestConnPassiveOpenEchoesOffered(t *testing.T) {
	s := newSingle(t, Config{MSS: 1460})
	o := Options{MSS: 1200, HasMSS: true, TS: true, TSVal: 55}
	s.c.AcceptSYN(&Segment{Seq: peerISS, Flags: SYN, Window: 5000, Options: o}, s.now)
	sa := s.one()
	want := Options{MSS: 1460, HasMSS: true, TS: true, TSVal: sa.seg.Options.TSVal, TSEcr: 55}
	if sa.seg.Options != want || sa.seg.Flags != SYN|ACK || sa.seg.Window != 65535 {
		t.Fatalf("SYN-ACK %v", &sa)
	}
	// TSval is ms since TSEpoch plus TSOffset.
	if sa.seg.Options.TSVal != 0 {
		t.Fatalf("TSval %d, want 0 at the epoch", sa.seg.Options.TSVal)
	}
	if s.c.Info().SndMSS != 1188 {
		t.Fatalf("SndMSS %d", s.c.Info().SndMSS)
	}
}

func TestConnSynRetransmitAndGiveUp(t *testing.T) {
	s := newSingle(t, Config{})
	s.c.Open(s.now)
	s.one()
	var at []time.Duration
	var total time.Duration
	for {
		segs, d := s.untilSent(10 * time.Minute)
		total += d
		if segs == nil {
			break
		}
		if segs[0].seg.Flags != SYN {
			t.Fatalf("sent %v", segs)
		}
		at = append(at, d)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32}
	if len(at) != len(want) {
		t.Fatalf("retransmissions after %v, want %v s", at, want)
	}
	for i := range want {
		if at[i] != want[i]*time.Second {
			t.Fatalf("retransmissions after %v, want %v s", at, want)
		}
	}
	if s.c.State() != Closed || !errors.Is(s.c.Err(), ErrTimedOut) || s.ev&(EvError|EvClosed) != EvError|EvClosed {
		t.Fatalf("state %v err %v ev %b", s.c.State(), s.c.Err(), s.ev)
	}
	// Given up 64 s after the last: 127 s in all.
	if got := s.now.Sub(t0); got < 127*time.Second || got > 128*time.Second+10*time.Minute {
		t.Fatalf("gave up at %v", got)
	}
}

func TestConnSynAckRetriesThenSilent(t *testing.T) {
	s := newSingle(t, Config{})
	s.c.AcceptSYN(&Segment{Seq: peerISS, Flags: SYN, Window: 65535, Options: s.synOpts()}, s.now)
	s.one()
	n := 0
	for {
		segs, _ := s.untilSent(10 * time.Minute)
		if segs == nil {
			break
		}
		if segs[0].seg.Flags != SYN|ACK {
			t.Fatalf("sent %v", segs)
		}
		n++
	}
	if n != 5 || s.c.State() != Closed || s.c.Err() != nil || s.ev&EvClosed == 0 {
		t.Fatalf("%d retransmissions, state %v, err %v", n, s.c.State(), s.c.Err())
	}
}

func TestConnSynSentRST(t *testing.T) {
	for _, tc := range []struct {
		name    string
		flags   Flags
		ack     Seq
		refused bool
		reply   bool // a RST in answer
	}{
		{"rst-ack", RST | ACK, connISS + 1, true, false},
		{"rst-no-ack", RST, 0, false, false},
		{"rst-bad-ack", RST | ACK, connISS + 5, false, false},
		{"ack-bad", ACK, connISS + 5, false, true},
		{"synack-old", SYN | ACK, connISS, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSingle(t, Config{})
			s.c.Open(s.now)
			s.one()
			ev := s.c.Input(&Segment{Seq: peerISS, Ack: tc.ack, Flags: tc.flags}, s.now)
			if tc.refused {
				if !errors.Is(s.c.Err(), ErrRefused) || s.c.State() != Closed || ev&EvError == 0 {
					t.Fatalf("err %v state %v", s.c.Err(), s.c.State())
				}
				if _, err := s.c.Write([]byte("x"), s.now); !errors.Is(err, ErrRefused) {
					t.Fatalf("Write: %v", err)
				}
				return
			}
			if s.c.State() != SynSent {
				t.Fatalf("state %v", s.c.State())
			}
			segs := s.e.take()
			if tc.reply {
				if len(segs) != 1 || segs[0].seg.Flags != RST || segs[0].seg.Seq != tc.ack {
					t.Fatalf("sent %v, want RST at %d", segs, tc.ack)
				}
			} else if len(segs) != 0 {
				t.Fatalf("sent %v", segs)
			}
		})
	}
}

func TestConnSimultaneousOpen(t *testing.T) {
	s := newSingle(t, Config{})
	s.c.Open(s.now)
	s.one()
	o := s.synOpts()
	s.c.Input(&Segment{Seq: peerISS, Flags: SYN, Window: 65535, Options: o}, s.now)
	sa := s.one()
	if s.c.State() != SynReceived || sa.seg.Flags != SYN|ACK || sa.seg.Seq != connISS || sa.seg.Ack != peerISS+1 {
		t.Fatalf("state %v sent %v", s.c.State(), &sa)
	}
	// The peer's SYN-ACK acknowledges our SYN: taken as the ACK, and its
	// duplicate SYN acknowledged (Linux).
	s.in(SYN|ACK, peerISS, connISS+1, 1000, nil)
	if a := s.one(); a.seg.Flags != ACK || a.seg.Ack != peerISS+1 {
		t.Fatalf("sent %v", a)
	}
	if s.c.State() != Established || s.ev&EvEstablished == 0 {
		t.Fatalf("state %v ev %b", s.c.State(), s.ev)
	}
}

func TestConnAcceptCookie(t *testing.T) {
	s := newSingle(t, Config{})
	p := SynParams{MSS: 1460, WScale: 7, HasWScale: true, SACKPermitted: true, TS: true}
	ack := Segment{Seq: peerISS + 1, Ack: 777 + 1, Flags: ACK | PSH, Window: 100, Payload: []byte("hello"),
		Options: Options{TS: true, TSVal: 50, TSEcr: 1}}
	ev := s.c.AcceptCookie(p, &ack, s.now)
	if ev&(EvEstablished|EvReadable) != EvEstablished|EvReadable || s.c.State() != Established {
		t.Fatalf("ev %b state %v", ev, s.c.State())
	}
	i := s.c.Info()
	if i.SndWnd != 100<<7 || !i.SACK || !i.Timestamps || i.SndMSS != 1448 || i.SndUna != 778 {
		t.Fatalf("info %+v", i)
	}
	buf := make([]byte, 10)
	if n, err := s.c.Read(buf, s.now); n != 5 || err != nil || string(buf[:5]) != "hello" {
		t.Fatalf("Read %d %v", n, err)
	}
}
