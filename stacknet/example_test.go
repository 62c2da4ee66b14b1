package stacknet_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/netip"
	"time"

	"github.com/stacknet/stacknet/link"
	"github.com/stacknet/stacknet/stacknet"
)

// newStack returns a stack with one interface, dev, at addr.
func newStack(dev link.Device, addr string) *stacknet.Stack {
	s, err := stacknet.New(stacknet.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.AddInterface(dev, netip.MustParsePrefix(addr)); err != nil {
		log.Fatal(err)
	}
	return s
}

// Two stacks on an in-memory wire: A at 192.0.2.1 pings B at 192.0.2.2.
// On a real network, link.OpenTAP("tap0") takes the place of link.Pipe.
func ExampleStack() {
	devA, devB := link.Pipe(1500) // two Ethernet devices joined by a wire

	a, err := stacknet.New(stacknet.Config{}) // the zero Config is valid
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close() // closes the device and every socket too
	if _, err := a.AddInterface(devA, netip.MustParsePrefix("192.0.2.1/24")); err != nil {
		log.Fatal(err)
	}

	b, err := stacknet.New(stacknet.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	if _, err := b.AddInterface(devB, netip.MustParsePrefix("192.0.2.2/24")); err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.Ping(ctx, netip.MustParseAddr("192.0.2.2")); err != nil {
		log.Fatal(err)
	}
	fmt.Println("192.0.2.2 answered ping")
	fmt.Println("echo requests sent:", a.Stats().ICMP.OutEchos)
	// Output:
	// 192.0.2.2 answered ping
	// echo requests sent: 1
}

// Dial a TCP server on the other stack: the net.Conn behaves as one from
// net.Dial does.
func ExampleStack_Dial() {
	devA, devB := link.Pipe(1500)
	client := newStack(devA, "192.0.2.1/24")
	defer client.Close()
	server := newStack(devB, "192.0.2.2/24")
	defer server.Close()

	ln, err := server.Listen("tcp", ":7")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() { // a one-shot echo server
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()

	conn, err := client.Dial("tcp", "192.0.2.2:7")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	fmt.Println("connected to", conn.RemoteAddr())
	if _, err := io.WriteString(conn, "hello, stacknet"); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, len("hello, stacknet"))
	if _, err := io.ReadFull(conn, buf); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("echoed %q\n", buf)
	// Output:
	// connected to 192.0.2.2:7
	// echoed "hello, stacknet"
}

// An existing net/http server moves onto the stack by taking its listener
// from stack.Listen instead of net.Listen; a client reaches it through an
// http.Transport whose DialContext is the other stack's.
func ExampleStack_Listen() {
	devA, devB := link.Pipe(1500)
	client := newStack(devA, "192.0.2.1/24")
	defer client.Close()
	server := newStack(devB, "192.0.2.2/24")
	defer server.Close()

	// The server: stack.Listen replaces net.Listen; the rest is unchanged.
	ln, err := server.Listen("tcp", ":8080")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", r.Host)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	// The client: net/http dials through the other stack.
	tr := &http.Transport{DialContext: client.DialContext}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	resp, err := hc.Get("http://192.0.2.2:8080/")
	if err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(resp.Status, ": ", string(body))
	// Output:
	// 200 OK: hello from 192.0.2.2:8080
}

// A UDP echo server: ListenPacket gives a net.PacketConn, Dial("udp") a
// connected net.Conn.
func ExampleStack_ListenPacket() {
	devA, devB := link.Pipe(1500)
	client := newStack(devA, "192.0.2.1/24")
	defer client.Close()
	server := newStack(devB, "192.0.2.2/24")
	defer server.Close()

	pc, err := server.ListenPacket("udp", ":7")
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Close()
	go func() { // echo each datagram to its sender until pc is closed
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()

	conn, err := client.Dial("udp", "192.0.2.2:7")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("ping over UDP")); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q from %v\n", buf[:n], conn.RemoteAddr())
	// Output:
	// "ping over UDP" from 192.0.2.2:7
}
