package stacknet

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"
)

// The UDP benchmarks run the same round trip over two stacks on a Pipe and
// over the kernel's loopback, side by side, so that their ratio can be
// read from one run (see ../shared/TARGETS.md).

type udpPair struct {
	client interface {
		Write([]byte) (int, error)
		Read([]byte) (int, error)
	}
	server interface {
		ReadFromUDPAddrPort([]byte) (int, netip.AddrPort, error)
		WriteToUDPAddrPort([]byte, netip.AddrPort) (int, error)
	}
}

func benchRoundTrip(b *testing.B, p udpPair, size int) {
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := p.server.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			p.server.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	msg, buf := make([]byte, size), make([]byte, 65536)
	p.client.Write(msg)
	p.client.Read(buf)
	b.SetBytes(int64(2 * size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.client.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := p.client.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUDPRoundTrip(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run("stacknet-pipe/"+strconv.Itoa(size), func(b *testing.B) {
			sa, sb := pair(b, Config{})
			srvAddr := netip.MustParseAddrPort("192.0.2.2:7")
			srv, err := sb.ListenUDP("udp", srvAddr)
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			c, err := sa.DialUDP(context.Background(), "udp", netip.AddrPort{}, srvAddr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			benchRoundTrip(b, udpPair{c, srv}, size)
		})
		b.Run("kernel-loopback/"+strconv.Itoa(size), func(b *testing.B) {
			srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			c, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			benchRoundTrip(b, udpPair{c, srv}, size)
		})
	}
}
