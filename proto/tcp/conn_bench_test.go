package tcp

import (
	"testing"
	"time"
)

// BenchmarkConnTransfer is bulk transfer through two Conns, in MB/s: the
// cost of the machine per octet, wire format included.
func BenchmarkConnTransfer(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"mss1460", Config{NoDelay: true}},
		{"mss65000", Config{NoDelay: true, MSS: 65000}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			x := newBulk(b, tc.cfg)
			const chunk = 64 << 10
			x.round(chunk)
			b.SetBytes(chunk)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if x.round(chunk) != chunk {
					b.Fatal("short round")
				}
			}
		})
	}
}

// BenchmarkConnRoundTrip is a 64-octet request and its 64-octet
// response, each piggybacking the ACK of the other.
func BenchmarkConnRoundTrip(b *testing.B) {
	x := newBulk(b, Config{NoDelay: true})
	msg := make([]byte, 64)
	echo := func() {
		x.a.Write(msg, x.now)
		x.ab.deliver(x.b, x.now)
		n, _ := x.b.Read(x.buf, x.now)
		x.b.Write(x.buf[:n], x.now)
		x.ba.deliver(x.a, x.now)
		if k, _ := x.a.Read(x.buf, x.now); k != 64 {
			b.Fatalf("echo of %d", k)
		}
		x.now = x.now.Add(10 * time.Microsecond)
		x.timers()
		x.ab.deliver(x.b, x.now)
		x.ba.deliver(x.a, x.now)
	}
	echo()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		echo()
	}
}
