package compat_test

import (
	"context"
	"errors"
	"fmt"
	"go/token"
	"net"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The normalisation of outcomes: see the comment at the top of
// compat_test.go.

var (
	// An IPv4 address, optionally with a port.
	reIPv4 = regexp.MustCompile(`\b(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(:\d+)?`)
	// A bracketed IPv6 address with a port.
	reIPv6 = regexp.MustCompile(`\[([0-9A-Fa-f:.]+)\]:(\d+)`)
	// A port with no host, as in "listen udp :4242".
	reBarePort = regexp.MustCompile(`(^|[\s>])(:\d+)\b`)
)

// normalise replaces addresses and ports in s by placeholders, keeping
// 0.0.0.0, [::] and port 0, which mean something.
func normalise(s string) string {
	s = reIPv6.ReplaceAllStringFunc(s, func(m string) string {
		sub := reIPv6.FindStringSubmatch(m)
		ip := sub[1]
		if a, err := netip.ParseAddr(ip); err == nil && !a.IsUnspecified() {
			ip = "IPv6"
		}
		return "[" + ip + "]" + port(sub[2])
	})
	s = reIPv4.ReplaceAllStringFunc(s, func(m string) string {
		sub := reIPv4.FindStringSubmatch(m)
		ip := sub[1]
		if ip != "0.0.0.0" {
			ip = "IP"
		}
		if sub[2] == "" {
			return ip
		}
		return ip + port(sub[2][1:])
	})
	return reBarePort.ReplaceAllStringFunc(s, func(m string) string {
		sub := reBarePort.FindStringSubmatch(m)
		return sub[1] + port(sub[2][1:])
	})
}

func port(p string) string {
	if p == "0" {
		return ":0"
	}
	return ":PORT"
}

func sprint(v any) string { return fmt.Sprint(v) }

// describeAddr gives an address's shape: its type, nil-ness, IP class and
// length, and whether it has a port.
func describeAddr(a net.Addr) string {
	if a == nil {
		return "net.Addr(nil)"
	}
	v := reflect.ValueOf(a)
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return fmt.Sprintf("%T(nil)", a)
	}
	switch a := a.(type) {
	case *net.UDPAddr:
		return fmt.Sprintf("*net.UDPAddr{IP:%s Port:%s Zone:%q}", ipClass(a.IP), portClass(a.Port), a.Zone)
	case *net.TCPAddr:
		return fmt.Sprintf("*net.TCPAddr{IP:%s Port:%s}", ipClass(a.IP), portClass(a.Port))
	}
	if !exported(reflect.TypeOf(a)) {
		return fmt.Sprintf("opaque{Network:%s String:%s}", a.Network(), normalise(a.String()))
	}
	return fmt.Sprintf("%T{%s}", a, normalise(a.String()))
}

func ipClass(ip net.IP) string {
	var class string
	switch {
	case ip == nil:
		return "nil"
	case ip.IsUnspecified() && ip.To4() != nil:
		class = "0.0.0.0"
	case ip.IsUnspecified():
		class = "::"
	case ip.To4() != nil:
		class = "v4" // net.IP holds IPv4 in 4 or 16 bytes; the length is recorded too
	default:
		class = "v6"
	}
	return fmt.Sprintf("%s/len%d", class, len(ip))
}

func portClass(p int) string {
	if p == 0 {
		return "0"
	}
	return "set"
}

// describeAddrPort gives a netip.AddrPort's shape.
func describeAddrPort(ap netip.AddrPort) string {
	a := ap.Addr()
	var class string
	switch {
	case !ap.IsValid():
		return "invalid"
	case a.Is4() && a.IsUnspecified():
		class = "0.0.0.0"
	case a.Is4():
		class = "v4"
	case a.Is4In6():
		class = "v4in6"
	case a.IsUnspecified():
		class = "::"
	default:
		class = "v6"
	}
	return fmt.Sprintf("netip.AddrPort{%s Port:%s}", class, portClass(int(ap.Port())))
}

// errDesc is the recorded form of an error.
type errDesc struct {
	msg, chain, is, timeout string
}

// sentinels are the errors identified by identity in a chain, and the
// targets of the errors.Is checks.
var sentinels = []struct {
	name string
	err  error
}{
	{"net.ErrClosed", net.ErrClosed},
	{"os.ErrDeadlineExceeded", os.ErrDeadlineExceeded},
	{"net.ErrWriteToConnected", net.ErrWriteToConnected},
	{"context.Canceled", context.Canceled},
	{"context.DeadlineExceeded", context.DeadlineExceeded},
	{"os.ErrClosed", os.ErrClosed},
}

// errnos are the errno targets of the errors.Is checks.
var errnos = []syscall.Errno{
	syscall.ECONNREFUSED, syscall.EADDRINUSE, syscall.EADDRNOTAVAIL,
	syscall.EINVAL, syscall.EMSGSIZE, syscall.EDESTADDRREQ,
	syscall.EAFNOSUPPORT, syscall.ENETUNREACH, syscall.EHOSTUNREACH,
	syscall.ENOBUFS, syscall.EAGAIN,
}

func describeErr(err error) errDesc {
	var d errDesc
	d.msg = normalise(err.Error())
	var links []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		links = append(links, describeLink(e))
		if len(links) > 20 {
			break
		}
	}
	d.chain = strings.Join(links, " -> ")
	var is []string
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			is = append(is, s.name)
		}
	}
	for _, e := range errnos {
		if errors.Is(err, e) {
			is = append(is, unix.ErrnoName(e))
		}
	}
	if len(is) == 0 {
		d.is = "none"
	} else {
		d.is = strings.Join(is, ",")
	}
	var ne net.Error
	if errors.As(err, &ne) {
		d.timeout = fmt.Sprint(ne.Timeout())
	}
	return d
}

// describeLink describes one error of a chain, without what it wraps.
func describeLink(err error) string {
	for _, s := range sentinels {
		if err == s.err {
			return s.name
		}
	}
	switch e := err.(type) {
	case *net.OpError:
		return fmt.Sprintf("*net.OpError{Op:%s Net:%s Source:%s Addr:%s}",
			e.Op, e.Net, describeAddr(e.Source), describeAddr(e.Addr))
	case *os.SyscallError:
		return fmt.Sprintf("*os.SyscallError{Syscall:%s}", e.Syscall)
	case syscall.Errno:
		return fmt.Sprintf("syscall.Errno(%s)", unix.ErrnoName(e))
	case *net.AddrError:
		return fmt.Sprintf("*net.AddrError{Err:%q Addr:%q}", e.Err, normalise(e.Addr))
	case net.UnknownNetworkError:
		return fmt.Sprintf("net.UnknownNetworkError(%q)", string(e))
	case *net.DNSError:
		return fmt.Sprintf("*net.DNSError{Err:%q Name:%q IsNotFound:%v IsTimeout:%v}",
			e.Err, normalise(e.Name), e.IsNotFound, e.IsTimeout)
	case *net.ParseError:
		return fmt.Sprintf("*net.ParseError{Type:%q Text:%q}", e.Type, normalise(e.Text))
	}
	if !exported(reflect.TypeOf(err)) {
		return fmt.Sprintf("opaque(%q)", normalise(err.Error()))
	}
	return fmt.Sprintf("%T(%q)", err, normalise(err.Error()))
}

// exported reports whether a caller outside its package can name t.
func exported(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name() != "" && token.IsExported(t.Name())
}
