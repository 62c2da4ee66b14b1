package tcptest

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// Step is one line of a script: at a time, a segment in (Dir In), a
// segment out (Dir Out), or a call (Dir Call).
type Step struct {
	Line int // the line number in the script, from 1
	Time TimeSpec
	Dir  Dir

	Seg Segment // Dir In and Out

	// Dir Call: name(args...) = Result [Errno]. The arguments are kept
	// as written, trimmed of spaces; what they mean is the runner's
	// business. Errno is the errno name after a result of -1
	// ("EAGAIN"), and only then.
	Call   string
	Args   []string
	Result int
	Errno  string
}

// String writes the step as one line of a script, without the comment or
// the line number: "+0.01 < . 1:1(0) ack 1 win 512",
// "0 read(100) = -1 EAGAIN". Parsing it gives back the step.
func (s Step) String() string {
	t := s.Time.String()
	switch s.Dir {
	case In, Out:
		return t + " " + s.Dir.String() + " " + s.Seg.String()
	case Call:
		r := s.Call + "(" + strings.Join(s.Args, ", ") + ") = " + strconv.Itoa(s.Result)
		if s.Errno != "" {
			r += " " + s.Errno
		}
		return t + " " + r
	}
	return t + " " + s.Dir.String()
}

// Error is a syntax error in a script, at a line.
type Error struct {
	File string // the path given to ParseFile; "" for Parse
	Line int    // from 1
	Msg  string
}

// Error returns "line 7: msg", or "path:7: msg" for a file, the form
// editors jump to.
func (e *Error) Error() string {
	if e.File != "" {
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
	}
	return "line " + strconv.Itoa(e.Line) + ": " + e.Msg
}

// Parse parses a script (see the package documentation for the
// language) into its steps, in order. On the first malformed line it
// stops and returns an *Error with the line number. It never panics,
// whatever src holds.
func Parse(src string) ([]Step, error) {
	var steps []Step
	for n := 1; src != ""; n++ {
		var line string
		line, src, _ = strings.Cut(src, "\n")
		st, ok, err := parseLine(strings.TrimSuffix(line, "\r"))
		if err != nil {
			return nil, &Error{Line: n, Msg: err.Error()}
		}
		if ok {
			st.Line = n
			steps = append(steps, st)
		}
	}
	return steps, nil
}

// ParseFile reads and parses the script at path. A syntax error is an
// *Error naming the file.
func ParseFile(path string) ([]Step, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	steps, err := Parse(string(b))
	if e, ok := err.(*Error); ok {
		e.File = path
	}
	return steps, err
}

// parseLine parses one line; ok is false for a line with nothing but
// space and comment.
func parseLine(line string) (st Step, ok bool, err error) {
	line, err = stripComment(line)
	if err != nil {
		return Step{}, false, err
	}
	line = strings.Trim(line, " \t")
	if line == "" {
		return Step{}, false, nil
	}
	timeTok, rest := line, ""
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		timeTok, rest = line[:i], strings.TrimLeft(line[i:], " \t")
	}
	if st.Time, err = parseTime(timeTok); err != nil {
		return Step{}, false, err
	}
	if rest == "" {
		return Step{}, false, errors.New("expected '<', '>' or a call after the time")
	}
	switch rest[0] {
	case '<':
		st.Dir = In
		st.Seg, err = parseSegment(rest[1:], In)
	case '>':
		st.Dir = Out
		st.Seg, err = parseSegment(rest[1:], Out)
	default:
		st.Dir = Call
		err = parseCall(rest, &st)
	}
	if err != nil {
		return Step{}, false, err
	}
	return st, true, nil
}

// stripComment cuts a "//" comment from the line. A "//" inside a
// double-quoted string, which only a call's argument can hold, is not a
// comment; a backslash in a string escapes the next character.
func stripComment(line string) (string, error) {
	inString := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && c == '/' && i+1 < len(line) && line[i+1] == '/':
			return line[:i], nil
		}
	}
	if inString {
		return "", errors.New("unterminated string: a '\"' without its closing '\"'")
	}
	return line, nil
}

// parseCall parses "name(args...) = result [ERRNO [(text)]]".
func parseCall(s string, st *Step) error {
	i := 0
	for i < len(s) && isIdentChar(s[i], i == 0) {
		i++
	}
	if i == 0 {
		return errors.New("expected '<', '>' or a call such as \"read(100) = 100\" after the time, found " + quoteRest(s))
	}
	st.Call = s[:i]
	s = strings.TrimLeft(s[i:], " \t")
	if s == "" || s[0] != '(' {
		return errors.New("expected '(' after " + strconv.Quote(st.Call))
	}
	args, rest, err := splitArgs(s[1:])
	if err != nil {
		return errors.New(st.Call + ": " + err.Error())
	}
	st.Args = args
	rest = strings.TrimLeft(rest, " \t")
	if rest == "" || rest[0] != '=' {
		return errors.New("expected \"= result\" after " + strconv.Quote(st.Call+"(...)") + ", found " + quoteRest(rest))
	}
	rest = strings.TrimLeft(rest[1:], " \t")
	num, rest := cutWord(rest, func(c byte) bool { return c == '-' || c >= '0' && c <= '9' })
	r, err := strconv.Atoi(num)
	if errors.Is(err, strconv.ErrRange) {
		return errors.New("result " + quoteRest(num) + " out of range")
	}
	if err != nil {
		return errors.New("expected an integer result after '=', found " + quoteRest(num+rest))
	}
	st.Result = r
	rest = strings.TrimLeft(rest, " \t")
	errno, rest := cutWord(rest, func(c byte) bool { return isIdentChar(c, false) })
	switch {
	case r == -1 && errno == "":
		return errors.New("expected an errno name such as EAGAIN after the result -1")
	case r != -1 && errno != "":
		return errors.New("an errno name (" + errno + ") follows only a result of -1")
	case errno != "" && !isErrnoName(errno):
		return errors.New("bad errno name " + strconv.Quote(errno) + ": want E and capitals or digits, such as ECONNRESET")
	}
	st.Errno = errno
	rest = strings.TrimLeft(rest, " \t")
	// packetdrill allows the errno's text after it, as strace prints it:
	// "-1 EAGAIN (Resource temporarily unavailable)". It is dropped.
	if errno != "" && strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") {
		rest = ""
	}
	if rest != "" {
		return errors.New("unexpected " + quoteRest(rest) + " after the result")
	}
	return nil
}

// splitArgs reads a call's arguments up to the ')' that closes them,
// splitting at the commas outside brackets and strings, and returns
// them trimmed and the text after the ')'. No arguments is nil.
func splitArgs(s string) (args []string, rest string, err error) {
	var closers []byte // the brackets open, innermost last
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			// stripComment has checked the strings are closed.
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '(':
			closers = append(closers, ')')
		case '[':
			closers = append(closers, ']')
		case '{':
			closers = append(closers, '}')
		case ')', ']', '}':
			if len(closers) == 0 && c == ')' {
				if a := strings.Trim(s[start:i], " \t"); a != "" || len(args) > 0 {
					if a == "" {
						return nil, "", errors.New("empty argument")
					}
					args = append(args, a)
				}
				return args, s[i+1:], nil
			}
			if len(closers) == 0 || closers[len(closers)-1] != c {
				return nil, "", errors.New("unbalanced " + strconv.QuoteRune(rune(c)) + " in the arguments")
			}
			closers = closers[:len(closers)-1]
		case ',':
			if len(closers) == 0 {
				a := strings.Trim(s[start:i], " \t")
				if a == "" {
					return nil, "", errors.New("empty argument")
				}
				args = append(args, a)
				start = i + 1
			}
		}
	}
	return nil, "", errors.New("expected ')' to close the arguments")
}

// cutWord splits s after its leading run of characters that ok accepts.
func cutWord(s string, ok func(byte) bool) (word, rest string) {
	i := 0
	for i < len(s) && ok(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isIdentChar(c byte, first bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
}

// isErrnoName reports whether s looks like an errno name: E, then
// capitals and digits.
func isErrnoName(s string) bool {
	if len(s) < 2 || s[0] != 'E' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// quoteRest quotes text for an error message, "end of line" when there
// is none, and shortened when long.
func quoteRest(s string) string {
	if s == "" {
		return "end of line"
	}
	const max = 24
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
