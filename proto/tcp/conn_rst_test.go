package tcp

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestConnRSTRFC5961(t *testing.T) {
	for _, tc := range []struct {
		name      string
		seq       Seq
		reset     bool
		challenge bool
	}{
		{"exact", peerISS + 1, true, false},
		{"in-window", peerISS + 100, false, true},
		{"below", peerISS, false, false},
		{"far", peerISS + 1<<30, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := passive(t, Config{}, nil, 100)
			ev := s.in(RST, tc.seq, 0, 0, nil)
			segs := s.e.take()
			if tc.reset {
				if s.c.State() != Closed || !errors.Is(s.c.Err(), ErrReset) || ev&(EvError|EvClosed|EvReadable) != EvError|EvClosed|EvReadable {
					t.Fatalf("state %v err %v ev %b", s.c.State(), s.c.Err(), ev)
				}
				if len(segs) != 0 {
					t.Fatalf("sent %v after RST", segs)
				}
				return
			}
			if s.c.State() != Established {
				t.Fatalf("state %v", s.c.State())
			}
			if tc.challenge != (len(segs) == 1) || tc.challenge && (segs[0].seg.Flags != ACK || segs[0].seg.Ack != peerISS+1) {
				t.Fatalf("sent %v, challenge %v", segs, tc.challenge)
			}
			// RFC 5961 7: a second challenge within 500 ms is not sent.
			s.in(RST, tc.seq, 0, 0, nil)
			s.none()
		})
	}
}

func TestConnResetErrorSemantics(t *testing.T) {
	s := passive(t, Config{}, nil, 100)
	s.in(ACK|PSH, peerISS+1, connISS+1, 100, []byte("abc"))
	s.in(RST, peerISS+4, 0, 0, nil)
	buf := make([]byte, 10)
	// Data queued before the reset is read first, then the error once,
	// then EOF.
	if n, err := s.c.Read(buf, s.now); n != 3 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if _, err := s.c.Read(buf, s.now); !errors.Is(err, ErrReset) {
		t.Fatalf("Read: %v, want ErrReset", err)
	}
	if _, err := s.c.Read(buf, s.now); err != io.EOF {
		t.Fatalf("Read: %v, want EOF", err)
	}
	if _, err := s.c.Write(buf, s.now); !errors.Is(err, ErrClosedWrite) {
		t.Fatalf("Write: %v, want ErrClosedWrite (EPIPE)", err)
	}
	if !errors.Is(s.c.Err(), ErrReset) {
		t.Fatalf("Err %v", s.c.Err())
	}
	// Write first: it reports the reset, and Read then EOF.
	s = passive(t, Config{}, nil, 100)
	s.in(RST, peerISS+1, 0, 0, nil)
	if _, err := s.c.Write(buf, s.now); !errors.Is(err, ErrReset) {
		t.Fatalf("Write: %v, want ErrReset", err)
	}
	if _, err := s.c.Write(buf, s.now); !errors.Is(err, ErrClosedWrite) {
		t.Fatalf("Write: %v", err)
	}
	if _, err := s.c.Read(buf, s.now); err != io.EOF {
		t.Fatalf("Read: %v", err)
	}
}

func TestConnSynInSynchronizedState(t *testing.T) {
	s := passive(t, Config{}, nil, 100)
	for _, seq := range []Seq{peerISS + 1, peerISS + 50, peerISS - 100} {
		s.now = s.now.Add(time.Second)
		s.in(SYN, seq, 0, 100, nil)
		a := s.one()
		if a.seg.Flags != ACK || a.seg.Ack != peerISS+1 || s.c.State() != Established {
			t.Fatalf("SYN at %d: sent %v, state %v", seq, &a, s.c.State())
		}
	}
}

func TestConnAckOutsideWindow(t *testing.T) {
	s := passive(t, Config{}, nil, 100)
	s.write(100)
	s.one()
	// RFC 5961 5.2: an ACK beyond SND.NXT gets an ACK and is dropped,
	// with its data.
	s.in(ACK, peerISS+1, connISS+500, 100, []byte("x"))
	a := s.one()
	if a.seg.Ack != peerISS+1 || s.c.Readable() != 0 || s.c.Info().SndUna != connISS+1 {
		t.Fatalf("sent %v, readable %d", &a, s.c.Readable())
	}
}

func TestConnPAWS(t *testing.T) {
	s := passive(t, Config{}, nil, 100)
	s.ts += 10
	s.in(ACK, peerISS+1, connISS+1, 100, []byte("new"))
	if s.c.Readable() != 3 {
		t.Fatalf("readable %d", s.c.Readable())
	}
	s.e.take()
	s.ts -= 100 // an old duplicate's TSval
	s.in(ACK, peerISS+4, connISS+1, 100, []byte("old"))
	a := s.one()
	if s.c.Readable() != 3 || a.seg.Ack != peerISS+4 {
		t.Fatalf("PAWS: readable %d, sent %v", s.c.Readable(), &a)
	}
	// A RST is exempt from PAWS.
	s.in(RST, peerISS+4, 0, 0, nil)
	if s.c.State() != Closed {
		t.Fatalf("state %v", s.c.State())
	}
	// TS.Recent older than 24 days no longer rejects.
	s = passive(t, Config{}, nil, 100)
	s.now = s.now.Add(25 * 24 * time.Hour)
	s.ts -= 100
	s.in(ACK, peerISS+1, connISS+1, 100, []byte("x"))
	if s.c.Readable() != 1 {
		t.Fatalf("readable %d after 25 days", s.c.Readable())
	}
}

func TestConnTimeWait(t *testing.T) {
	s := passive(t, Config{}, nil, 100)
	s.c.Close(false, s.now)
	fin := s.one()
	if fin.seg.Flags != FIN|ACK || s.c.State() != FinWait1 {
		t.Fatalf("sent %v state %v", &fin, s.c.State())
	}
	s.in(FIN|ACK, peerISS+1, connISS+2, 100, nil)
	a := s.one()
	if s.c.State() != TimeWait || a.seg.Ack != peerISS+2 {
		t.Fatalf("state %v sent %v", s.c.State(), &a)
	}
	// RFC 1337: a RST does not end TIME-WAIT.
	s.in(RST, peerISS+2, 0, 0, nil)
	s.none()
	if s.c.State() != TimeWait {
		t.Fatalf("state %v", s.c.State())
	}
	// A retransmitted FIN is acknowledged and restarts 2 MSL.
	s.advance(30 * time.Second)
	s.ts++
	s.in(FIN|ACK, peerISS+1, connISS+2, 100, nil)
	if a := s.one(); a.seg.Ack != peerISS+2 {
		t.Fatalf("sent %v", &a)
	}
	s.advance(59 * time.Second)
	if s.c.State() != TimeWait {
		t.Fatalf("state %v at 59 s after the FIN", s.c.State())
	}
	// Reuse: a SYN with a newer TSval may start a new incarnation.
	syn := Segment{Seq: peerISS - 10, Flags: SYN, Options: Options{TS: true, TSVal: s.ts + 1}}
	if !s.c.TimeWaitReuse(&syn) {
		t.Fatal("TimeWaitReuse false for a newer TSval")
	}
	syn.Options.TSVal = s.ts - 1
	if s.c.TimeWaitReuse(&syn) {
		t.Fatal("TimeWaitReuse true for an older TSval")
	}
	s.advance(2 * time.Second)
	if s.c.State() != Closed || s.ev&EvClosed == 0 || s.c.Err() != nil {
		t.Fatalf("state %v err %v", s.c.State(), s.c.Err())
	}
	if !s.c.Deadline().IsZero() {
		t.Fatal("Deadline after CLOSED")
	}
}

func TestConnTimeWaitReuseNoTS(t *testing.T) {
	o := Options{MSS: 1460, HasMSS: true}
	s := passive(t, Config{}, &o, 100)
	s.in(FIN|ACK, peerISS+1, connISS+1, 100, nil)
	s.c.Close(false, s.now)
	s.in(ACK, peerISS+2, connISS+2, 100, nil)
	if s.c.State() != Closed {
		t.Fatalf("passive close: state %v", s.c.State())
	}
	// An active close instead, to reach TIME-WAIT without timestamps.
	s = passive(t, Config{}, &o, 100)
	s.c.CloseWrite(s.now)
	s.in(FIN|ACK, peerISS+1, connISS+2, 100, nil)
	if s.c.State() != TimeWait {
		t.Fatalf("state %v", s.c.State())
	}
	for _, tc := range []struct {
		seq  Seq
		want bool
	}{{peerISS + 3, true}, {peerISS + 2, false}, {peerISS, false}} {
		if got := s.c.TimeWaitReuse(&Segment{Seq: tc.seq, Flags: SYN}); got != tc.want {
			t.Fatalf("TimeWaitReuse(seq %d) = %v", tc.seq, got)
		}
	}
}

// TestConnResetAfterFIN: after the peer's FIN, a RST leaves Read at EOF
// (Linux's SOCK_DONE before sk_err) and the error for Write: EPIPE in
// CLOSE-WAIT (tcp_reset), ErrReset once in LAST-ACK.
func TestConnResetAfterFIN(t *testing.T) {
	for _, tc := range []struct {
		name     string
		shutWr   bool // CloseWrite before the RST: LAST-ACK
		err      error
		firstErr error // Write's first error
	}{
		{"close-wait", false, ErrClosedWrite, ErrClosedWrite},
		{"last-ack", true, ErrReset, ErrReset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := passive(t, Config{}, nil, 100)
			s.in(ACK|FIN, peerISS+1, connISS+1, 100, nil)
			if tc.shutWr {
				s.c.CloseWrite(s.now)
			}
			s.e.take()
			ev := s.in(RST, peerISS+2, 0, 0, nil)
			if s.c.State() != Closed || ev&EvError == 0 || !errors.Is(s.c.Err(), tc.err) {
				t.Fatalf("state %v ev %b err %v", s.c.State(), ev, s.c.Err())
			}
			buf := make([]byte, 10)
			for range 2 {
				if _, err := s.c.Read(buf, s.now); err != io.EOF {
					t.Fatalf("Read: %v, want EOF", err)
				}
			}
			if _, err := s.c.Write(buf, s.now); !errors.Is(err, tc.firstErr) {
				t.Fatalf("Write: %v, want %v", err, tc.firstErr)
			}
			if _, err := s.c.Write(buf, s.now); !errors.Is(err, ErrClosedWrite) {
				t.Fatalf("second Write: %v, want ErrClosedWrite", err)
			}
		})
	}
}
