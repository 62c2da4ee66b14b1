package stacknet

import (
	"context"
	"log/slog"

	"github.com/stacknet/stacknet/proto/ether"
)

// The packet trace: at slog.LevelDebug every layer logs the header it
// decodes or builds, in the manner of microps's dump functions:
//
//	level=DEBUG msg="ip input" dev=tap0 header="vhl: 0x45 [v: 4, hl: 5 (20)], tos: 0x00, total: 84, ..."
//
// Callers check s.tracing() first, so a trace that is off formats nothing.

func (s *Stack) trace(msg string, i *Interface, header string) {
	s.log.LogAttrs(context.Background(), slog.LevelDebug, msg,
		slog.String("dev", i.name), slog.String("header", header))
}

func (s *Stack) traceEther(i *Interface, msg string, frame []byte, h ether.Header, err error) {
	if err != nil {
		s.log.LogAttrs(context.Background(), slog.LevelDebug, msg,
			slog.String("dev", i.name), slog.Int("len", len(frame)), slog.String("error", err.Error()))
		return
	}
	s.log.LogAttrs(context.Background(), slog.LevelDebug, msg,
		slog.String("dev", i.name), slog.Int("len", len(frame)), slog.String("header", h.String()))
}
