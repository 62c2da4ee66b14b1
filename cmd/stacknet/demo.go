package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/stacknet/stacknet/link"
)

// The demo's two hosts, on 192.0.2.0/24 (TEST-NET-1, RFC 5737).
var (
	demoAddrA = netip.MustParsePrefix("192.0.2.1/24")
	demoAddrB = netip.MustParsePrefix("192.0.2.2/24")
)

const demoMTU = 1500

const demoSynopsis = `  stacknet demo [--trace] [--pcap FILE] [--loss P] [--seed N]`

const demoAbout = `Demo builds two stacks in this process, A at 192.0.2.1/24 and B at
192.0.2.2/24, joined by an in-memory Ethernet wire, and walks through
what they do: ping both ways, the ARP caches that resolving took, UDP
echo (one datagram big enough to be fragmented), a connected UDP socket
meeting a closed port, an HTTP server on B and a client on A talking
over TCP, and the counters of both stacks. It needs no root and touches
no interface of the system.

With --loss the wire drops frames; the demo retries as a careful
program would and says what it lost.`

// demoOptions are the demo's flags.
type demoOptions struct {
	trace  bool
	pcap   string
	impair impairFlags
}

// A demoStep is one part of the demo's transcript. Steps run in order on
// the same two hosts; a step that fails stops the demo.
type demoStep struct {
	title string
	run   func(d *demo, ctx context.Context) error
}

// demoSteps lists the demo's steps. A new protocol adds its step here.
func demoSteps() []demoStep {
	return []demoStep{
		{"The two hosts and their interfaces", (*demo).stepInterfaces},
		{"Ping, both ways (ICMP echo, RFC 792)", (*demo).stepPing},
		{"The ARP caches (RFC 826) that the pings filled", (*demo).stepARP},
		{"UDP echo (RFC 768), and IP fragmentation (RFC 791)", (*demo).stepUDPEcho},
		{"A connected UDP socket meets a closed port", (*demo).stepRefused},
		{"HTTP over TCP (RFC 9293, RFC 9112)", (*demo).stepHTTP},
		{"Counters, as netstat -s shows them", (*demo).stepStats},
	}
}

// demo is the state the steps share.
type demo struct {
	out  io.Writer // safe for concurrent use: the echo server writes too
	a, b *host
	loss float64
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o demoOptions
	fs := newFlagSet("demo", demoSynopsis, demoAbout, stdout)
	fs.BoolVar(&o.trace, "trace", false, "log every packet's headers to stderr")
	fs.StringVar(&o.pcap, "pcap", "", "write every frame on the wire, as A sees it, to `FILE`")
	o.impair.register(fs, true)
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, ""); err != nil {
		return err
	}
	imp, err := o.impair.impairment()
	if err != nil {
		return err
	}
	out := &syncWriter{w: stdout}
	d := &demo{out: out, loss: imp.Loss}

	// The impairment and capture wrap A's end only, so that each frame
	// meets the loss once, and the capture shows what A sends and gets.
	log := newLogger(stderr, o.trace, slog.LevelWarn)
	endA, endB := link.Pipe(demoMTU)
	if d.a, err = newHost(hostConfig{
		label: "A", dev: endA, ifname: "eth0", addr: demoAddrA,
		impair: imp, seed: o.impair.seed, pcap: o.pcap,
		logger: log.With("stack", "A"),
	}); err != nil {
		endB.Close()
		return err
	}
	if d.b, err = newHost(hostConfig{
		label: "B", dev: endB, ifname: "eth0", addr: demoAddrB,
		logger: log.With("stack", "B"),
	}); err != nil {
		d.a.Close()
		return err
	}

	fmt.Fprintf(out, "stacknet demo: two stacks in one process, joined by an in-memory Ethernet wire (MTU %d).\n", demoMTU)
	if d.a.impaired != nil {
		fmt.Fprintf(out, "The wire drops each frame with probability %g.\n", imp.Loss)
	}
	err = d.steps(ctx)
	errClose := errors.Join(d.a.Close(), d.b.Close())
	if err == nil && errClose == nil && o.pcap != "" {
		fmt.Fprintf(out, "\nThe frames A sent and received are in %s: try `tcpdump -nr %s` or Wireshark.\n", o.pcap, o.pcap)
	}
	return errors.Join(err, errClose)
}

// steps runs every step, numbering its heading.
func (d *demo) steps(ctx context.Context) error {
	for i, s := range demoSteps() {
		fmt.Fprintf(d.out, "\n== %d. %s ==\n\n", i+1, s.title)
		if err := s.run(d, ctx); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.title, err)
		}
	}
	return nil
}

func (d *demo) stepInterfaces(ctx context.Context) error {
	for _, h := range []*host{d.a, d.b} {
		fmt.Fprintf(d.out, "Host %s:\n", h.label)
		h.describe(d.out, "  ")
		h.describeWire(d.out, "  ")
	}
	fmt.Fprintln(d.out, "\nEach stack also has a loopback interface. The MAC addresses are random and")
	fmt.Fprintln(d.out, "locally administered; neither host knows the other's yet.")
	return nil
}

func (d *demo) stepARP(ctx context.Context) error {
	for _, h := range []*host{d.a, d.b} {
		fmt.Fprintf(d.out, "Host %s, %s:\n", h.label, h.ifc.Name())
		entries := h.ifc.Neighbours()
		if len(entries) == 0 {
			fmt.Fprintln(d.out, "  (empty)")
		}
		for _, e := range entries {
			fmt.Fprintf(d.out, "  %-15s at %s  %s\n", e.Addr, e.HW, e.State)
		}
	}
	fmt.Fprintln(d.out, "\nEach host learnt the other's MAC address from the ARP exchange before the")
	fmt.Fprintln(d.out, "first echo request could leave; later packets go straight out.")
	return nil
}

func (d *demo) stepStats(ctx context.Context) error {
	for _, h := range []*host{d.a, d.b} {
		fmt.Fprintf(d.out, "Host %s:\n", h.label)
		writeStats(d.out, h.stack.Stats(), "  ")
		if h.impaired != nil {
			fmt.Fprintln(d.out, "  The wire at A's end:")
			h.impairReport(d.out, "    ")
		}
	}
	return nil
}

// echoServer answers every datagram on pc with its copy (RFC 862),
// saying so on out in lines that begin with who, until pc is closed.
func echoServer(pc net.PacketConn, out io.Writer, who string) {
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				fmt.Fprintf(out, "%s stopped: %v\n", who, err)
			}
			return
		}
		fmt.Fprintf(out, "%s got %d bytes from %v and sends them back\n", who, n, from)
		if _, err := pc.WriteTo(buf[:n], from); err != nil {
			fmt.Fprintf(out, "%s could not answer %v: %v\n", who, from, err)
		}
	}
}

// syncWriter serialises writes to w, so that lines from several
// goroutines do not interleave.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
