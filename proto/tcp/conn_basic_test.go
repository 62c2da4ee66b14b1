package tcp

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

func TestConnHandshakeAndTransfer(t *testing.T) {
	p := newPair(t, defaultCfg(), defaultCfg())
	p.connect()
	ia, ib := p.a.Info(), p.b.Info()
	if !ia.SACK || !ia.Timestamps || ia.SndWScale != 7 || ib.RcvWScale != 7 {
		t.Fatalf("negotiation: a %+v b %+v", ia, ib)
	}
	if ia.SndMSS != 1448 {
		t.Fatalf("SndMSS = %d, want 1448", ia.SndMSS)
	}
	data := pattern(1<<20, 1)
	p.writeAll(p.a, data, time.Minute)
	if !p.runUntil(time.Minute, func() bool { return p.recvB.Len() == len(data) }) {
		t.Fatalf("got %d of %d", p.recvB.Len(), len(data))
	}
	if !bytes.Equal(p.recvB.Bytes(), data) {
		t.Fatal("data differs")
	}
	back := pattern(100000, 3)
	p.writeAll(p.b, back, time.Minute)
	if !p.runUntil(time.Minute, func() bool { return p.recvA.Len() == len(back) }) {
		t.Fatalf("got %d of %d", p.recvA.Len(), len(back))
	}
	p.a.Close(false, p.now)
	p.run(time.Second)
	if p.b.State() != CloseWait || p.a.State() != FinWait2 {
		t.Fatalf("states %v %v", p.a.State(), p.b.State())
	}
	p.b.Close(false, p.now)
	p.run(time.Second)
	if p.b.State() != Closed || p.a.State() != TimeWait {
		t.Fatalf("states %v %v", p.a.State(), p.b.State())
	}
	p.run(61 * time.Second)
	if p.a.State() != Closed {
		t.Fatalf("a %v", p.a.State())
	}
}

func TestConnLossyTransfer(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"default", Config{NoDelay: true}},
		{"nosack", Config{NoDelay: true, NoSACK: true}},
		{"nots-reno", Config{NoDelay: true, NoTimestamps: true, Congestion: NewReno}},
		{"nagle-nows", Config{NoWScale: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				p := newPair(t, tc.cfg, tc.cfg)
				p.connect()
				p.rng = rand.New(rand.NewPCG(seed, seed*7))
				p.loss, p.reorder, p.dup = 0.05, 0.02, 0.01
				data := pattern(300000, byte(seed))
				back := pattern(200000, byte(seed+9))
				p.writeAll(p.a, data, 10*time.Minute)
				p.writeAll(p.b, back, 10*time.Minute)
				if !p.runUntil(30*time.Minute, func() bool { return p.recvB.Len() >= len(data) && p.recvA.Len() >= len(back) }) {
					t.Fatalf("seed %d: got %d of %d, %d of %d; a %+v b %+v", seed, p.recvB.Len(), len(data), p.recvA.Len(), len(back), p.a.Info(), p.b.Info())
				}
				if !bytes.Equal(p.recvB.Bytes(), data) || !bytes.Equal(p.recvA.Bytes(), back) {
					t.Fatalf("seed %d: data differs", seed)
				}
				// Both directions carry data while out-of-order data is
				// held: a data segment's SACK blocks must not push it
				// past the MSS, which would make IP fragment it.
				if p.ea.maxSeg > defaultMSS || p.eb.maxSeg > defaultMSS {
					t.Fatalf("seed %d: a segment of %d, %d octets of options and data: more than the MSS, %d", seed, p.ea.maxSeg, p.eb.maxSeg, defaultMSS)
				}
				if p.dropped == 0 || p.a.Info().Retransmits == 0 || p.b.Info().Retransmits == 0 {
					t.Fatalf("seed %d: %d dropped, retransmits %d %d: the test tested nothing", seed, p.dropped, p.a.Info().Retransmits, p.b.Info().Retransmits)
				}
				p.a.Close(false, p.now)
				p.b.Close(false, p.now)
				if !p.runUntil(30*time.Minute, func() bool { return p.a.State() == Closed && p.b.State() == Closed }) {
					t.Fatalf("seed %d: close: %v %v", seed, p.a.State(), p.b.State())
				}
				if p.a.Err() != nil || p.b.Err() != nil {
					t.Fatalf("seed %d: errs %v %v", seed, p.a.Err(), p.b.Err())
				}
			}
		})
	}
}

func TestConnAutoTune(t *testing.T) {
	p := newPair(t, defaultCfg(), defaultCfg())
	p.delay = 10 * time.Millisecond
	p.connect()
	data := pattern(8<<20, 5)
	p.writeAll(p.a, data, time.Hour)
	p.runUntil(time.Hour, func() bool { return p.recvB.Len() == len(data) })
	if !bytes.Equal(p.recvB.Bytes(), data) {
		t.Fatal("data differs")
	}
	if got := p.b.Info().RecvBuffer; got <= 128<<10 || got > 6<<20 {
		t.Fatalf("receive buffer %d after a bulk transfer: not grown, or beyond the maximum", got)
	}
	// SetRecvBuffer turns auto-tuning off.
	q := newPair(t, defaultCfg(), defaultCfg())
	q.delay = 10 * time.Millisecond
	q.connect()
	q.b.SetRecvBuffer(200<<10, q.now)
	q.writeAll(q.a, data, time.Hour)
	q.runUntil(time.Hour, func() bool { return q.recvB.Len() == len(data) })
	if got := q.b.Info().RecvBuffer; got != 200<<10 {
		t.Fatalf("receive buffer %d, want 200 KiB fixed", got)
	}
}
