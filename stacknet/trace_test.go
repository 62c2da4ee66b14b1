package stacknet

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the stacks' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPacketTrace: at debug level every layer logs its decoded header, in
// the manner of microps's dumps; at info level nothing per packet.
func TestPacketTrace(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		var out syncBuffer
		log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: level}))
		a, _ := pair(t, Config{Logger: log})
		if _, err := a.Ping(ctxTimeout(t, 5*time.Second), addrB.Addr()); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		want := []string{
			`msg="arp output"`, `op: 1 (request)`,
			`msg="arp input"`, `op: 2 (reply)`,
			`msg="ether output"`, `type: 0x0800 (IPv4)`,
			`msg="ip output"`, `vhl: 0x45 [v: 4, hl: 5 (20)]`, `protocol: 1`,
			`msg="icmp output"`, `type: 8 (echo)`,
			`msg="ip input"`, `msg="icmp input"`, `type: 0 (echo reply)`,
		}
		for _, w := range want {
			if has := strings.Contains(got, w); has != (level == slog.LevelDebug) {
				t.Errorf("level %v: trace contains %q: %v", level, w, has)
			}
		}
		if level == slog.LevelInfo && !strings.Contains(got, "interface up") {
			t.Errorf("info log lacks the interface-up line:\n%s", got)
		}
	}
}
