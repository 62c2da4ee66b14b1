package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// flagSet is a subcommand's flags: a flag.FlagSet that prints nothing by
// itself, so that parse can send help to stdout and errors to stderr.
type flagSet struct {
	*flag.FlagSet
	synopsis string // the usage line(s), without "Usage:"
	about    string // a paragraph on what the command does
	stdout   io.Writer
}

func newFlagSet(name, synopsis, about string, stdout io.Writer) *flagSet {
	fs := flag.NewFlagSet("stacknet "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, synopsis: synopsis, about: about, stdout: stdout}
}

// printUsage writes the command's usage and its flags' defaults to stdout.
func (fs *flagSet) printUsage() {
	fmt.Fprintf(fs.stdout, "Usage:\n%s\n", fs.synopsis)
	if fs.about != "" {
		fmt.Fprintf(fs.stdout, "\n%s\n", strings.TrimRight(fs.about, "\n"))
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(fs.stdout, "\nFlags:")
		fs.SetOutput(fs.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// parse parses args, in which flags may come before, between or after the
// positional arguments (as in `tap create tap0 --mtu 9000`); "--" ends
// the flags. It returns the positional arguments. On -h it prints the
// usage and returns errHelp; a bad flag is a usageError.
func (fs *flagSet) parse(args []string) ([]string, error) {
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fs.printUsage()
			return nil, errHelp
		}
		if err != nil {
			return nil, &usageError{msg: err.Error()}
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// wantArgs checks the number of positional arguments.
func wantArgs(pos []string, n int, what string) error {
	switch {
	case len(pos) < n:
		return usageErrorf("missing %s", what)
	case len(pos) > n:
		return usageErrorf("unexpected argument %q", pos[n])
	}
	return nil
}
