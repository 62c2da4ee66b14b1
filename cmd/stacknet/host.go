package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/stacknet"
)

// A host is a stack with one interface on one device, and what is wrapped
// around that device: an impairment and a pcap capture, both optional.
type host struct {
	label    string // "A", or the device's name: for messages and logs
	stack    *stacknet.Stack
	ifc      *stacknet.Interface
	impaired *link.Impaired // nil without impairment
	seed     uint64         // the impairment's seed
	captured *link.Captured // nil without a capture
	pcap     *os.File       // the capture's file
	pcapPath string
	offload  link.Offload // what the device offers the stack
}

// hostConfig says how to build a host.
type hostConfig struct {
	label   string
	dev     link.Device // owned by the host from newHost on, even on error
	ifname  string      // the interface's name; empty keeps the device's own
	addr    netip.Prefix
	gateway netip.Addr // the default route's gateway; zero for none
	impair  link.Impairment
	seed    uint64 // the impairment's seed; 0 picks one at random
	pcap    string // file to capture frames to; empty for none
	logger  *slog.Logger
}

// newHost wraps cfg.dev as asked (impairment innermost, so that the
// capture sees what the stack sends and receives, as tcpdump on the host
// would), attaches it to a new stack and sets the default route.
func newHost(cfg hostConfig) (h *host, err error) {
	h = &host{label: cfg.label}
	dev := cfg.dev
	defer func() {
		if err != nil {
			if h.stack != nil {
				h.stack.Close()
			} else {
				dev.Close()
			}
			if h.pcap != nil {
				h.pcap.Close()
			}
		}
	}()
	if cfg.impair != (link.Impairment{}) {
		h.seed = cfg.seed
		if h.seed == 0 {
			h.seed = rand.Uint64()
		}
		h.impaired = link.Impair(dev, h.seed, cfg.impair, cfg.impair)
		dev = h.impaired
	}
	if cfg.impair == (link.Impairment{}) && cfg.pcap == "" {
		h.offload = link.OffloadsOf(dev) // the wrappers hide a device's offloads
	}
	if cfg.pcap != "" {
		if h.pcap, err = os.Create(cfg.pcap); err != nil {
			return nil, fmt.Errorf("creating the capture file: %w", err)
		}
		h.pcapPath = cfg.pcap
		if h.captured, err = link.Capture(dev, h.pcap, 0); err != nil {
			return nil, err
		}
		dev = h.captured
	}
	if n, ok := dev.(link.Namer); cfg.ifname != "" && (!ok || n.Name() != cfg.ifname) {
		// Renamed only when it must be: the wrapper would hide the
		// device's offloads, which a TAP device delivers frames for.
		dev = named{dev, cfg.ifname}
	}
	if h.stack, err = stacknet.New(stacknet.Config{Logger: cfg.logger}); err != nil {
		return nil, err
	}
	if h.ifc, err = h.stack.AddInterface(dev, cfg.addr); err != nil {
		return nil, err
	}
	if cfg.gateway.IsValid() {
		if err = h.stack.AddRoute(netip.MustParsePrefix("0.0.0.0/0"), cfg.gateway); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Close closes the stack, and with it the device, then the capture file.
// It reports a capture that failed along the way.
func (h *host) Close() error {
	errs := []error{h.stack.Close()}
	if h.captured != nil {
		if err := h.captured.Err(); err != nil {
			errs = append(errs, fmt.Errorf("capture to %s stopped: %w", h.pcapPath, err))
		}
	}
	if h.pcap != nil {
		if err := h.pcap.Close(); err != nil {
			errs = append(errs, fmt.Errorf("capture to %s: %w", h.pcapPath, err))
		}
	}
	return errors.Join(errs...)
}

// named names a device that has no name of its own (the demo's pipes).
type named struct {
	link.Device
	name string
}

func (n named) Name() string { return n.name }

// describe writes one line per interface of the host: name, address,
// MAC and MTU.
func (h *host) describe(w io.Writer, indent string) {
	for _, ifc := range h.stack.Interfaces() {
		mac := "-"
		if hw := ifc.HardwareAddr(); hw != nil {
			mac = hw.String()
		}
		fmt.Fprintf(w, "%s%-6s inet %-16s ether %-17s  mtu %d\n", indent, ifc.Name(), ifc.Addr(), mac, ifc.MTU())
	}
}

// describeWire says what the impairment and capture of the host do, if
// anything.
func (h *host) describeWire(w io.Writer, indent string) {
	if h.impaired != nil {
		fmt.Fprintf(w, "%simpairment seed %d (give --seed %d to repeat the same choices)\n", indent, h.seed, h.seed)
	}
	if h.captured != nil {
		fmt.Fprintf(w, "%scapturing %s's frames to %s\n", indent, h.ifc.Name(), h.pcapPath)
	}
	if h.offload&link.OffloadTSO != 0 {
		fmt.Fprintf(w, "%soffloads: %v (64 KiB TCP segments each way; --no-offload for plain frames)\n", indent, h.offload)
	}
}

// impairReport says what the impairment did, in both directions.
func (h *host) impairReport(w io.Writer, indent string) {
	if h.impaired == nil {
		return
	}
	out, in := h.impaired.Stats()
	for _, d := range []struct {
		dir string
		s   link.ImpairStats
	}{{"sent", out}, {"received", in}} {
		var parts []string
		for _, c := range []struct {
			n    uint64
			what string
		}{
			{d.s.Dropped, "dropped"}, {d.s.Duplicated, "duplicated"}, {d.s.Reordered, "reordered"},
			{d.s.Corrupted, "corrupted"}, {d.s.Delayed, "delayed"}, {d.s.QueueDrops, "dropped from a full queue"},
		} {
			if c.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
			}
		}
		if len(parts) == 0 {
			parts = []string{"none impaired"}
		}
		fmt.Fprintf(w, "%sframes %s: %d, %s\n", indent, d.dir, d.s.Frames, strings.Join(parts, ", "))
	}
}

// newLogger returns the logger for stacks: with trace, every packet's
// headers at debug level; otherwise messages at level and above. Stacks
// that share w must share the logger (With keeps its handler's lock), so
// that their lines do not interleave.
func newLogger(w io.Writer, trace bool, level slog.Level) *slog.Logger {
	if trace {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// impairFlags are the flags that impair a device's wire.
type impairFlags struct {
	loss, dup, reorder, corrupt float64
	delay                       time.Duration
	seed                        uint64
}

// register adds the flags to fs: all of them, or with lossOnly just
// --loss and --seed.
func (f *impairFlags) register(fs *flagSet, lossOnly bool) {
	fs.Float64Var(&f.loss, "loss", 0, "drop each frame, in either direction, with probability `P` (0 to 1)")
	if !lossOnly {
		fs.Float64Var(&f.dup, "dup", 0, "send each frame twice with probability `P`")
		fs.Float64Var(&f.reorder, "reorder", 0, "hold each frame back behind the next with probability `P`")
		fs.Float64Var(&f.corrupt, "corrupt", 0, "flip one bit of each frame with probability `P`")
		fs.DurationVar(&f.delay, "delay", 0, "delay each frame by `D`, such as 50ms")
	}
	fs.Uint64Var(&f.seed, "seed", 0, "use `N` as the seed of the impairment's random choices; 0 picks one and prints it")
}

// impairment checks the flags and returns the Impairment they describe.
func (f *impairFlags) impairment() (link.Impairment, error) {
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", f.loss}, {"dup", f.dup}, {"reorder", f.reorder}, {"corrupt", f.corrupt}} {
		if math.IsNaN(p.v) || p.v < 0 || p.v > 1 {
			return link.Impairment{}, usageErrorf("--%s %v: want a probability from 0 to 1, such as 0.05", p.name, p.v)
		}
	}
	if f.delay < 0 {
		return link.Impairment{}, usageErrorf("--delay %v: want a duration of 0 or more, such as 50ms", f.delay)
	}
	return link.Impairment{Loss: f.loss, Duplicate: f.dup, Reorder: f.reorder, Corrupt: f.corrupt, Delay: f.delay}, nil
}

// deviceFlags are the flags that run and ping share: which device, the
// stack's address on it, and how to impair, capture and trace it.
type deviceFlags struct {
	tap, packet string
	addr        netip.Prefix
	gateway     netip.Addr
	pcap        string
	trace       bool
	noOffload   bool
	impair      impairFlags
}

func (f *deviceFlags) register(fs *flagSet) {
	fs.StringVar(&f.tap, "tap", "", "attach to the TAP interface `NAME` (see 'stacknet tap create')")
	fs.StringVar(&f.packet, "packet", "", "attach to the Ethernet interface `IFNAME` through a PF_PACKET socket, beside the kernel")
	fs.Func("addr", "the stack's `ADDR/BITS`: its address and subnet, such as 192.0.2.2/24 (required)", func(s string) error {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return errors.New("want an IPv4 address with its prefix length, such as 192.0.2.2/24")
		}
		f.addr = p
		return nil
	})
	fs.Func("gateway", "send datagrams for other subnets through the router at `IP`", func(s string) error {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return errors.New("want an IPv4 address such as 192.0.2.1")
		}
		f.gateway = a
		return nil
	})
	fs.StringVar(&f.pcap, "pcap", "", "write every frame the stack sends or receives to `FILE`, for tcpdump -r or Wireshark")
	fs.BoolVar(&f.trace, "trace", false, "log every packet's headers to stderr")
	fs.BoolVar(&f.noOffload, "no-offload", false, "send and receive plain frames on the TAP device, without its offloads (64 KiB TCP segments each way, checksums left undone), which --pcap and the impairments turn off anyway")
	f.impair.register(fs, false)
}

// check validates the flags that must be given.
func (f *deviceFlags) check() error {
	switch {
	case f.tap == "" && f.packet == "":
		return usageErrorf("say which device to use: --tap NAME or --packet IFNAME")
	case f.tap != "" && f.packet != "":
		return usageErrorf("--tap and --packet cannot both be given: a stack here has one device")
	case !f.addr.IsValid():
		return usageErrorf("--addr is required: the stack's address and subnet, such as --addr 192.0.2.2/24")
	case f.gateway.IsValid() && !f.addr.Contains(f.gateway):
		return usageErrorf("--gateway %v is not on the subnet %v of --addr", f.gateway, f.addr.Masked())
	}
	_, err := f.impair.impairment()
	return err
}

// open opens the device the flags name and builds a host on it. stderr
// receives the stack's warnings, or its packet trace with --trace.
func (f *deviceFlags) open(stderr io.Writer) (*host, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	imp, err := f.impair.impairment()
	if err != nil {
		return nil, err
	}
	var dev link.Device
	var name string
	if f.tap != "" {
		var opts []link.TAPOption
		if !f.noOffload && f.pcap == "" && imp == (link.Impairment{}) {
			// A capture or an impairment sees each wire frame: the
			// stack then works with plain frames.
			opts = append(opts, link.WithOffloads())
		}
		t, err := link.OpenTAP(f.tap, opts...)
		if err != nil {
			return nil, err
		}
		dev, name = t, f.tap
	} else {
		p, err := link.OpenPacket(f.packet)
		if err != nil {
			return nil, err
		}
		dev, name = p, f.packet
	}
	return newHost(hostConfig{
		label:   name,
		dev:     dev,
		ifname:  name,
		addr:    f.addr,
		gateway: f.gateway,
		impair:  imp,
		seed:    f.impair.seed,
		pcap:    f.pcap,
		logger:  newLogger(stderr, f.trace, slog.LevelWarn),
	})
}
