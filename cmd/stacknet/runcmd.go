package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const runSynopsis = `  stacknet run (--tap NAME | --packet IFNAME) --addr ADDR/BITS [--gateway IP]
               [--udp-echo ADDR:PORT] [--pcap FILE] [--trace] [--stats-interval D]
               [--loss P] [--dup P] [--reorder P] [--corrupt P] [--delay D] [--seed N]`

const runAbout = `Run brings up a stack on a TAP interface (see 'stacknet tap create') or,
through a PF_PACKET socket, on an Ethernet interface beside the kernel,
and keeps it running until SIGINT (Ctrl-C) or SIGTERM; then it prints a
summary and the stack's counters. The stack answers ARP and ping, and with --udp-echo it
echoes UDP datagrams. For example, as root:

  stacknet tap create tap0 --kernel-addr 192.0.2.1/24
  stacknet run --tap tap0 --addr 192.0.2.2/24 --udp-echo :7

and from another terminal: ping 192.0.2.2, or socat - UDP:192.0.2.2:7.
The impairment flags degrade the wire in both directions.`

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		dev      deviceFlags
		echo     string
		interval time.Duration
	)
	fs := newFlagSet("run", runSynopsis, runAbout, stdout)
	dev.register(fs)
	fs.StringVar(&echo, "udp-echo", "", "run a UDP echo server (RFC 862) on `ADDR:PORT`, such as :7")
	fs.DurationVar(&interval, "stats-interval", 0, "also print the counters every `D`, such as 10s")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, ""); err != nil {
		return err
	}
	if interval < 0 {
		return usageErrorf("--stats-interval %v: want a positive duration such as 10s", interval)
	}
	if err := dev.check(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := &syncWriter{w: stdout}
	h, err := dev.open(stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "stacknet: up")
	h.describe(out, "  ")
	h.describeWire(out, "  ")
	if dev.gateway.IsValid() {
		fmt.Fprintf(out, "  default route via %v\n", dev.gateway)
	}

	echoDone := make(chan struct{})
	var pc net.PacketConn
	if echo != "" {
		if pc, err = h.stack.ListenPacket("udp", echo); err != nil {
			return errors.Join(fmt.Errorf("--udp-echo %s: %w", echo, err), h.Close())
		}
		go func() {
			defer close(echoDone)
			echoServer(pc, out, "udp echo")
		}()
		fmt.Fprintf(out, "  UDP echo server on %v\n", pc.LocalAddr())
	} else {
		close(echoDone)
	}
	fmt.Fprintf(out, "stacknet: running; try `ping %v` from another terminal. Ctrl-C stops.\n", h.ifc.Addr().Addr())

	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick:
			fmt.Fprintf(out, "stacknet: counters at %s:\n", time.Now().Format(time.TimeOnly))
			writeStats(out, h.stack.Stats(), "  ")
		}
	}

	fmt.Fprintln(out) // after the terminal's ^C
	fmt.Fprintln(out, "stacknet: stopping")
	if pc != nil {
		pc.Close()
	}
	<-echoDone
	st := h.stack.Stats()
	fmt.Fprintln(out, "summary:")
	fmt.Fprintf(out, "  UDP:     %d datagrams received, %d sent\n", st.UDP.InDatagrams, st.UDP.OutDatagrams)
	writeTraffic(out, st)
	fmt.Fprintln(out, "counters:")
	writeStats(out, st, "  ")
	h.impairReport(out, "  ")
	return h.Close()
}
