package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stacknet/stacknet/stacknet"

	"net/netip"
)

// runArgs runs the command line and returns its status and output.
func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q; it is:\n%s", what, w, got)
		}
	}
}

func TestDemo(t *testing.T) {
	code, out, errOut := runArgs(t, "demo")
	if code != exitOK {
		t.Fatalf("demo exited %d; stderr:\n%s\nstdout:\n%s", code, errOut, out)
	}
	if errOut != "" {
		t.Errorf("demo wrote to stderr:\n%s", errOut)
	}
	wantContains(t, "demo output", out,
		"eth0   inet 192.0.2.1/24", "eth0   inet 192.0.2.2/24",
		"64 bytes from 192.0.2.2: icmp_seq=1 time=", "64 bytes from 192.0.2.2: icmp_seq=3 time=",
		"64 bytes from 192.0.2.1: icmp_seq=1 time=", "64 bytes from 192.0.2.1: icmp_seq=3 time=",
		"192.0.2.2       at ", "192.0.2.1       at ", "reachable",
		"B: UDP echo server listening on 0.0.0.0:7",
		`A: got 5 bytes "hello" back`,
		"IP splits it into 41\nfragments",
		"B: echo server got 60000 bytes from 192.0.2.1:",
		"A: got 60000 bytes back, identical to what it sent.",
		"read: connection refused",
		"errors.Is(err, syscall.ECONNREFUSED) is true",
		"\n  Link:\n", "\n  ARP:\n", "\n  IP:\n", "\n  ICMP:\n", "\n  UDP:\n",
		"1 packets reassembled ok", "41 fragments created", "1 packets to unknown port received",
	)
	// The steps come in order.
	last := -1
	for i, s := range demoSteps() {
		at := strings.Index(out, s.title)
		if at < 0 || at < last {
			t.Errorf("step %d %q is missing or out of order", i+1, s.title)
		}
		last = at
	}
}

func TestDemoLoss(t *testing.T) {
	code, out, errOut := runArgs(t, "demo", "--loss", "0.05", "--seed", "1")
	if code != exitOK {
		t.Fatalf("demo --loss 0.05 exited %d; stderr:\n%s\nstdout:\n%s", code, errOut, out)
	}
	wantContains(t, "demo output", out,
		"The wire drops each frame with probability 0.05.",
		"impairment seed 1 ",
		"64 bytes from 192.0.2.2: icmp_seq=3", "64 bytes from 192.0.2.1: icmp_seq=3",
		`A: got 8 bytes "stacknet" back`,
		"connection refused",
		"The wire at A's end:", "frames sent: ",
	)
	// The big datagram either came back or its loss was explained.
	if !strings.Contains(out, "A: got 60000 bytes back") && !strings.Contains(out, "did not come back in 3 tries") {
		t.Errorf("demo output says nothing of the 60000-byte datagram's fate:\n%s", out)
	}
}

func TestDemoPcap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.pcap")
	code, out, errOut := runArgs(t, "demo", "--pcap", path)
	if code != exitOK {
		t.Fatalf("demo --pcap exited %d; stderr:\n%s", code, errOut)
	}
	wantContains(t, "demo output", out, "capturing eth0's frames to "+path, "tcpdump -nr "+path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("pcapgo cannot read the capture: %v", err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Errorf("link type %v, want Ethernet", r.LinkType())
	}
	types := map[layers.EthernetType]int{}
	n := 0
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		n++
		if len(data) >= 14 {
			types[layers.EthernetType(uint16(data[12])<<8|uint16(data[13]))]++
		}
	}
	if n == 0 {
		t.Fatal("the capture holds no packets")
	}
	if types[layers.EthernetTypeARP] == 0 || types[layers.EthernetTypeIPv4] == 0 {
		t.Errorf("capture of %d frames by EtherType: %v; want ARP and IPv4", n, types)
	}
}

func TestDemoTrace(t *testing.T) {
	code, _, errOut := runArgs(t, "demo", "--trace")
	if code != exitOK {
		t.Fatalf("demo --trace exited %d", code)
	}
	wantContains(t, "trace", errOut, "level=DEBUG", "stack=A", "stack=B", `msg="arp input"`, `msg="ip output"`)
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		code       int
		stdout     string // a part of stdout, if not empty
		stderr     string // a part of stderr, if not empty
		quietError bool   // stderr must be empty
	}{
		{args: nil, code: exitUsage, stderr: "Usage:"},
		{args: []string{"help"}, code: exitOK, stdout: "stacknet tap create NAME", quietError: true},
		{args: []string{"-h"}, code: exitOK, stdout: "Commands:", quietError: true},
		{args: []string{"--help"}, code: exitOK, stdout: "Quick start", quietError: true},
		{args: []string{"help", "run"}, code: exitOK, stdout: "-udp-echo ADDR:PORT", quietError: true},
		{args: []string{"help", "tap"}, code: exitOK, stdout: "stacknet tap delete NAME", quietError: true},
		{args: []string{"demo", "-h"}, code: exitOK, stdout: "-loss P", quietError: true},
		{args: []string{"ping", "--help"}, code: exitOK, stdout: "-count N", quietError: true},
		{args: []string{"tap", "create", "-h"}, code: exitOK, stdout: "-kernel-addr ADDR/BITS", quietError: true},
		{args: []string{"help", "bogus"}, code: exitUsage, stderr: `unknown command "bogus"`},
		{args: []string{"bogus"}, code: exitUsage, stderr: `unknown command "bogus"; run 'stacknet help'`},
		{args: []string{"demo", "--bogus"}, code: exitUsage, stderr: "flag provided but not defined: -bogus\nRun 'stacknet help demo' for usage."},
		{args: []string{"demo", "--loss", "2"}, code: exitUsage, stderr: "--loss 2: want a probability from 0 to 1"},
		{args: []string{"demo", "--loss", "NaN"}, code: exitUsage, stderr: "want a probability"},
		{args: []string{"demo", "--seed", "x"}, code: exitUsage, stderr: `invalid value "x" for flag -seed`},
		{args: []string{"demo", "extra"}, code: exitUsage, stderr: `unexpected argument "extra"`},
		{args: []string{"run"}, code: exitUsage, stderr: "--tap NAME or --packet IFNAME"},
		{args: []string{"run", "--tap", "a", "--packet", "b", "--addr", "192.0.2.2/24"}, code: exitUsage, stderr: "cannot both be given"},
		{args: []string{"run", "--tap", "a"}, code: exitUsage, stderr: "--addr is required"},
		{args: []string{"run", "--tap", "a", "--addr", "192.0.2.2"}, code: exitUsage, stderr: "with its prefix length, such as 192.0.2.2/24"},
		{args: []string{"run", "--tap", "a", "--addr", "2001:db8::1/64"}, code: exitUsage, stderr: "IPv4"},
		{args: []string{"run", "--tap", "a", "--addr", "192.0.2.2/24", "--gateway", "198.51.100.1"}, code: exitUsage, stderr: "not on the subnet 192.0.2.0/24"},
		{args: []string{"run", "--tap", "a", "--addr", "192.0.2.2/24", "--dup", "-0.5"}, code: exitUsage, stderr: "--dup -0.5"},
		{args: []string{"run", "--tap", "a", "--addr", "192.0.2.2/24", "--delay", "-1s"}, code: exitUsage, stderr: "--delay -1s"},
		{args: []string{"run", "--tap", "a", "--addr", "192.0.2.2/24", "--stats-interval", "-1s"}, code: exitUsage, stderr: "--stats-interval"},
		{args: []string{"run", "--tap", "a", "--addr", "192.0.2.2/24", "stray"}, code: exitUsage, stderr: `unexpected argument "stray"`},
		{args: []string{"ping", "--tap", "a", "--addr", "192.0.2.2/24"}, code: exitUsage, stderr: "missing DEST"},
		{args: []string{"ping", "--tap", "a", "--addr", "192.0.2.2/24", "example.com"}, code: exitUsage, stderr: "resolves no names"},
		{args: []string{"ping", "--tap", "a", "--addr", "192.0.2.2/24", "--count", "-1", "192.0.2.1"}, code: exitUsage, stderr: "--count -1"},
		{args: []string{"ping", "--tap", "a", "--addr", "192.0.2.2/24", "--interval", "0s", "192.0.2.1"}, code: exitUsage, stderr: "--interval 0s"},
		{args: []string{"ping", "--addr", "192.0.2.2/24", "192.0.2.1"}, code: exitUsage, stderr: "--tap NAME or --packet IFNAME"},
		{args: []string{"tap"}, code: exitUsage, stderr: "missing the action: create or delete"},
		{args: []string{"tap", "frob"}, code: exitUsage, stderr: `unknown action "frob"`},
		{args: []string{"tap", "create"}, code: exitUsage, stderr: "missing the interface's NAME"},
		{args: []string{"tap", "create", "a", "b"}, code: exitUsage, stderr: `unexpected argument "b"`},
		{args: []string{"tap", "create", "a", "--mtu", "-1"}, code: exitUsage, stderr: "--mtu -1"},
		{args: []string{"tap", "create", "a", "--kernel-addr", "nonsense"}, code: exitUsage, stderr: "such as 192.0.2.1/24"},
		{args: []string{"tap", "delete"}, code: exitUsage, stderr: "missing the interface's NAME"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runArgs(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, errOut)
			}
			if tc.stdout != "" {
				wantContains(t, "stdout", out, tc.stdout)
			}
			if tc.stderr != "" {
				wantContains(t, "stderr", errOut, tc.stderr)
			}
			if tc.quietError && errOut != "" {
				t.Errorf("stderr is not empty:\n%s", errOut)
			}
			if code == exitUsage && tc.args != nil && !strings.Contains(errOut, "stacknet help") {
				t.Errorf("a usage error does not say where to find help:\n%s", errOut)
			}
		})
	}
}

func TestMissingDevice(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--tap", "snmissing0", "--addr", "192.0.2.2/24"},
		{"ping", "--tap", "snmissing0", "--addr", "192.0.2.2/24", "--count", "1", "192.0.2.1"},
	} {
		code, _, errOut := runArgs(t, args...)
		if code != exitFail {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", args, code, exitFail, errOut)
		}
		wantContains(t, "stderr", errOut, `TAP device "snmissing0" does not exist`, "stacknet tap create snmissing0")
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		mtu  int
		v    bool
	}{
		{args: []string{"tap0", "--mtu", "9000"}, pos: []string{"tap0"}, mtu: 9000},
		{args: []string{"--mtu=9000", "tap0"}, pos: []string{"tap0"}, mtu: 9000},
		{args: []string{"a", "-v", "b", "--mtu", "1"}, pos: []string{"a", "b"}, mtu: 1, v: true},
		{args: []string{"a", "--", "-v", "--mtu"}, pos: []string{"a", "-v", "--mtu"}},
		{args: []string{"--", "--mtu", "3"}, pos: []string{"--mtu", "3"}},
		{args: []string{"-", "-v"}, pos: []string{"-"}, v: true},
		{args: nil, pos: nil},
	} {
		var out bytes.Buffer
		fs := newFlagSet("x", "  x", "", &out)
		mtu := fs.Int("mtu", 0, "")
		v := fs.Bool("v", false, "")
		pos, err := fs.parse(tc.args)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !reflect.DeepEqual(pos, tc.pos) || *mtu != tc.mtu || *v != tc.v {
			t.Errorf("%q: positional %q, mtu %d, v %v; want %q, %d, %v", tc.args, pos, *mtu, *v, tc.pos, tc.mtu, tc.v)
		}
	}
}

func TestWriteStats(t *testing.T) {
	var st stacknet.Stats
	st.IP.InReceives = 7
	st.IP.InHdrErrors = 2
	st.IP.InCsumErrors = 2
	st.UDP.OutDatagrams = 1
	var b bytes.Buffer
	writeStats(&b, st, "")
	want := "IP:\n" +
		"    7 total packets received\n" +
		"    2 with invalid headers\n" +
		"      2 with a bad checksum\n" +
		"UDP:\n" +
		"    1 packets sent\n"
	if b.String() != want {
		t.Errorf("writeStats:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	writeStats(&b, stacknet.Stats{}, "")
	if b.Len() != 0 {
		t.Errorf("writeStats of zero counters printed:\n%s", b.String())
	}
}

// TestCounterLayout checks that the layout names every counter of
// stacknet.Stats, and only those, so that a new counter gets words.
func TestCounterLayout(t *testing.T) {
	fields := map[string]bool{}
	st := reflect.TypeOf(stacknet.Stats{})
	for g := 0; g < st.NumField(); g++ {
		gt := st.Field(g).Type
		for c := 0; c < gt.NumField(); c++ {
			fields[st.Field(g).Name+"."+gt.Field(c).Name] = true
		}
	}
	seen := map[string]bool{}
	for _, c := range counterLayout {
		if !fields[c.key] {
			t.Errorf("counterLayout has %s, which stacknet.Stats does not", c.key)
		}
		if seen[c.key] {
			t.Errorf("counterLayout has %s twice", c.key)
		}
		seen[c.key] = true
	}
	for f := range fields {
		if !seen[f] {
			t.Errorf("stacknet.Stats has %s, which counterLayout does not describe", f)
		}
	}
}

func TestPeerAddr(t *testing.T) {
	for _, tc := range []struct {
		kernel string
		want   string // empty: no suggestion
	}{
		{"192.0.2.1/24", "192.0.2.2/24"},
		{"198.51.100.7/25", "198.51.100.8/25"},
		{"192.0.2.253/24", "192.0.2.254/24"},
		{"192.0.2.254/24", ""}, // the next is the broadcast address
		{"192.0.2.255/24", ""},
		{"192.0.2.1/31", ""},
		{"192.0.2.1/32", ""},
	} {
		got, ok := peerAddr(netip.MustParsePrefix(tc.kernel))
		if tc.want == "" {
			if ok {
				t.Errorf("peerAddr(%s) = %v, want none", tc.kernel, got)
			}
			continue
		}
		if !ok || got.String() != tc.want {
			t.Errorf("peerAddr(%s) = %v, %v; want %s", tc.kernel, got, ok, tc.want)
		}
	}
}

func TestFragmentCount(t *testing.T) {
	for _, tc := range []struct{ n, mtu, want int }{
		{8 + 60000, 1500, 41},
		{1480, 1500, 1},
		{1481, 1500, 2},
		{8 + 65507, 1500, 45},
		{100, 576, 1},
		{600, 576, 2}, // 552 bytes a fragment
	} {
		if got := fragmentCount(tc.n, tc.mtu); got != tc.want {
			t.Errorf("fragmentCount(%d, %d) = %d, want %d", tc.n, tc.mtu, got, tc.want)
		}
	}
}

func TestFormatRTT(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{45 * time.Microsecond, "0.045 ms"},
		{1500 * time.Microsecond, "1.50 ms"},
		{123456 * time.Microsecond, "123.5 ms"},
	} {
		if got := formatRTT(tc.d); got != tc.want {
			t.Errorf("formatRTT(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// scripted is a ping function that answers from a list.
type scripted struct {
	results []error
	rtt     time.Duration
	calls   int
}

func (s *scripted) ping(ctx context.Context, dst netip.Addr) (time.Duration, error) {
	err := s.results[s.calls]
	s.calls++
	if errors.Is(err, context.DeadlineExceeded) {
		<-ctx.Done() // wait out the timeout, as the stack would
	}
	if err != nil {
		return 0, err
	}
	return s.rtt, nil
}

func TestPinger(t *testing.T) {
	dst, src := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	noRoute := os.NewSyscallError("sendto", syscall.ENETUNREACH)
	for _, tc := range []struct {
		name    string
		results []error
		count   int
		wantErr bool
		want    []string
	}{
		{
			name:    "replies",
			results: []error{nil, nil, nil},
			count:   3,
			want: []string{
				"PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.\n",
				"64 bytes from 192.0.2.1: icmp_seq=1 time=0.250 ms\n",
				"64 bytes from 192.0.2.1: icmp_seq=3 time=0.250 ms\n",
				"--- 192.0.2.1 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time ",
				"rtt min/avg/max/mdev = 0.250/0.250/0.250/0.000 ms\n",
			},
		},
		{
			name:    "mixed",
			results: []error{context.DeadlineExceeded, syscall.EHOSTUNREACH, nil},
			count:   3,
			want: []string{
				"no reply to icmp_seq=1 within 1ms\n",
				"From 192.0.2.2 icmp_seq=2 Destination Host Unreachable\n",
				"64 bytes from 192.0.2.1: icmp_seq=3 time=0.250 ms\n",
				"3 packets transmitted, 1 received, +1 errors, 66% packet loss",
			},
		},
		{
			name:    "no reply",
			results: []error{context.DeadlineExceeded, context.DeadlineExceeded},
			count:   2,
			wantErr: true,
			want:    []string{"2 packets transmitted, 0 received, 100% packet loss"},
		},
		{
			name:    "no route",
			results: []error{noRoute},
			count:   5,
			wantErr: true,
			want:    []string{"PING 192.0.2.1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{results: tc.results, rtt: 250 * time.Microsecond}
			var out bytes.Buffer
			p := pinger{ping: s.ping, out: &out, dst: dst, src: src, interval: time.Millisecond, timeout: time.Millisecond}
			err := p.run(context.Background(), tc.count)
			if (err != nil) != tc.wantErr {
				t.Errorf("run: %v, want error %v", err, tc.wantErr)
			}
			if s.calls != len(tc.results) {
				t.Errorf("%d pings sent, want %d", s.calls, len(tc.results))
			}
			wantContains(t, "ping output", out.String(), tc.want...)
		})
	}
}

// TestPingerInterrupted checks that cancelling the context ends an
// endless ping with its summary.
func TestPingerInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	ping := func(context.Context, netip.Addr) (time.Duration, error) {
		calls++
		if calls == 2 {
			cancel()
		}
		return time.Millisecond, nil
	}
	var out bytes.Buffer
	p := pinger{ping: ping, out: &out, dst: netip.MustParseAddr("192.0.2.1"), interval: time.Millisecond, timeout: time.Second}
	if err := p.run(ctx, 0); err != nil {
		t.Fatal(err)
	}
	wantContains(t, "ping output", out.String(), "2 packets transmitted, 2 received, 0% packet loss")
}
