package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Exit statuses, as most Unix tools use them.
const (
	exitOK    = 0 // success
	exitFail  = 1 // the command ran and failed
	exitUsage = 2 // the command line was wrong
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args (without the program name) and returns
// the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run with a context: cancelling it stops a long-running
// subcommand (run, ping) as SIGINT does.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText())
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return help(rest, stdout, stderr)
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "stacknet: unknown command %q; run 'stacknet help' for the list of commands\n", name)
		return exitUsage
	}
	err := cmd.run(ctx, rest, stdout, stderr)
	return exitStatus(err, name, stderr)
}

// A command is one subcommand: its name, a one-line summary for the
// overall usage, and its body.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands in the order that help shows them.
func commands() []command {
	return []command{
		{"demo", "two stacks on an in-memory wire: ping, ARP, UDP, fragments, errors, stats", runDemo},
		{"tap", "create or delete a TAP interface for a stack to use (needs root)", runTap},
		{"run", "bring up a stack on a TAP or Ethernet interface until interrupted", runRun},
		{"ping", "send ICMP echo requests from a stack on an interface", runPing},
		{"serve", "serve HTTP, echo and discard from a stack on a TAP interface", runServe},
		{"cat", "netcat over a stack: connect or listen, stdin and stdout", runCat},
	}
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return &c
		}
	}
	return nil
}

const usage = `stacknet runs a userspace TCP/IP stack.

Usage:
  stacknet demo [--trace] [--pcap FILE] [--loss P] [--seed N]
  stacknet tap create NAME [--mtu N] [--kernel-addr ADDR/BITS]
  stacknet tap delete NAME
  stacknet run (--tap NAME | --packet IFNAME) --addr ADDR/BITS [options]
  stacknet ping (--tap NAME | --packet IFNAME) --addr ADDR/BITS [options] DEST
  stacknet serve (--tap NAME | --packet IFNAME) --addr ADDR/BITS [options]
  stacknet cat (--tap NAME | --packet IFNAME) --addr ADDR/BITS [-l] HOST PORT
  stacknet help [COMMAND]

Commands:
` + "%s" + `
Run 'stacknet help COMMAND' or 'stacknet COMMAND -h' for a command's options.
Flags may be written -flag or --flag, before or after the arguments.

Quick start, no root needed:
  stacknet demo

Against the kernel, as root:
  stacknet tap create tap0 --kernel-addr 192.0.2.1/24
  stacknet run --tap tap0 --addr 192.0.2.2/24 --udp-echo :7
  # then, in another terminal: ping 192.0.2.2; socat - UDP:192.0.2.2:7
  stacknet tap delete tap0
`

// usageText is usage with the command list filled in.
func usageText() string {
	var b strings.Builder
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-6s %s\n", c.name, c.summary)
	}
	return fmt.Sprintf(usage, b.String())
}

// help prints the overall usage, or a command's.
func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, usageText())
		return exitOK
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "stacknet help: unknown command %q; run 'stacknet help' for the list of commands\n", args[0])
		return exitUsage
	}
	// A command prints its own usage for -h.
	return exitStatus(cmd.run(context.Background(), append(args[1:], "-h"), stdout, stderr), cmd.name, stderr)
}

// usageError is a mistake on the command line: it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errHelp reports that -h was given and usage printed: exit 0.
var errHelp = flag.ErrHelp

// exitStatus prints err, if any, and returns the status to exit with.
func exitStatus(err error, name string, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "stacknet %s: %s\nRun 'stacknet help %s' for usage.\n", name, ue.msg, name)
		return exitUsage
	}
	fmt.Fprintf(stderr, "stacknet %s: %v\n", name, err)
	if errors.Is(err, fs.ErrPermission) {
		fmt.Fprintf(stderr, "stacknet %s: this needs root: run it with sudo, or grant CAP_NET_ADMIN and CAP_NET_RAW\n", name)
	}
	return exitFail
}
