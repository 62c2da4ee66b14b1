//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

func TestServeUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{args: []string{"serve", "-h"}, code: exitOK, stdout: "-discard ADDR:PORT"},
		{args: []string{"help", "serve"}, code: exitOK, stdout: "--create --peer ADDR/BITS"},
		{args: []string{"serve"}, code: exitUsage, stderr: "--tap NAME or --packet IFNAME"},
		{args: []string{"serve", "--tap", "a"}, code: exitUsage, stderr: "--addr is required"},
		{args: []string{"serve", "--tap", "a", "--addr", "192.0.2.2/24", "--bogus"}, code: exitUsage, stderr: "flag provided but not defined: -bogus"},
		{args: []string{"serve", "--tap", "a", "--addr", "192.0.2.2/24", "--gw", "198.51.100.1"}, code: exitUsage, stderr: "not on the subnet 192.0.2.0/24"},
		{args: []string{"serve", "--tap", "a", "--addr", "192.0.2.2/24", "--gw", "nonsense"}, code: exitUsage, stderr: "such as 192.0.2.1"},
		{args: []string{"serve", "--tap", "a", "--addr", "192.0.2.2/24", "--create"}, code: exitUsage, stderr: "--create needs --peer ADDR/BITS"},
		{args: []string{"serve", "--packet", "a", "--addr", "192.0.2.2/24", "--create", "--peer", "192.0.2.1/24"}, code: exitUsage, stderr: "give its name with --tap NAME"},
		{args: []string{"serve", "--tap", "a", "--addr", "192.0.2.2/24", "--peer", "192.0.2.1/24"}, code: exitUsage, stderr: "add --create"},
		{args: []string{"serve", "--tap", "a", "--addr", "192.0.2.2/24", "--create", "--peer", "192.0.2.2/24"}, code: exitUsage, stderr: "are the same address"},
		{args: []string{"serve", "--tap", "a", "--addr", "192.0.2.2/24", "--create", "--peer", "198.51.100.1/24"}, code: exitUsage, stderr: "is not on the subnet"},
		{args: []string{"serve", "--tap", "a", "--addr", "192.0.2.2/24", "--create", "--peer", "x"}, code: exitUsage, stderr: "such as 192.0.2.1/24"},
		{args: []string{"serve", "--tap", "a", "--addr", "192.0.2.2/24", "--http", ":8080"}, code: exitUsage, stderr: "--http needs --root DIR"},
		{args: []string{"serve", "--tap", "a", "--addr", "192.0.2.2/24", "--root", filepath.Join(dir, "missing")}, code: exitUsage, stderr: "not a directory"},
		{args: []string{"serve", "--tap", "a", "--addr", "192.0.2.2/24", "stray"}, code: exitUsage, stderr: `unexpected argument "stray"`},
		{args: []string{"serve", "--tap", "snmissing0", "--addr", "192.0.2.2/24"}, code: exitFail,
			stderr: `TAP device "snmissing0" does not exist: create it with ` + "`stacknet tap create snmissing0`"},
		{args: []string{"serve", "--tap", "snmissing0", "--addr", "192.0.2.2/24"}, code: exitFail, stderr: "--create --peer ADDR/BITS"},
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
		})
	}
}

// TestServeNeedsRoot checks that serve --create without CAP_NET_ADMIN
// says what to do.
func TestServeNeedsRoot(t *testing.T) {
	ns := newTestNS(t)
	var stdout, stderr bytes.Buffer
	code := -1
	err := ns.do(func() error {
		if err := dropNetCaps(); err != nil {
			return err
		}
		code = runContext(context.Background(), []string{"serve", "--tap", "tap0", "--create", "--peer", "192.0.2.1/24", "--addr", "192.0.2.2/24"}, &stdout, &stderr)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if code != exitFail {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitFail, stderr.String())
	}
	wantContains(t, "stderr", stderr.String(), "needs CAP_NET_ADMIN: run as root")
}

// TestServeTAP runs serve with --create in a namespace and uses its
// services from the kernel's side with Go's net, the kernel's TCP.
func TestServeTAP(t *testing.T) {
	ns := newTestNS(t)
	root := t.TempDir()
	file := make([]byte, 3<<20+12345)
	rand.Read(file)
	if err := os.WriteFile(filepath.Join(root, "blob.bin"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &watchWriter{}
	running := out.wait("stacknet serve: running")
	var stderr bytes.Buffer
	exited := make(chan int, 1)
	go func() {
		code := -1
		ns.do(func() error {
			code = runContext(ctx, []string{"serve", "--tap", "tap0", "--create", "--peer", "192.0.2.1/24", "--addr", "192.0.2.2/24",
				"--http", ":80", "--root", root, "--echo", ":7", "--discard", ":9"}, out, &stderr)
			return nil
		})
		exited <- code
	}()
	select {
	case <-running:
	case code := <-exited:
		t.Fatalf("serve exited with %d before it was running; stderr:\n%s\nstdout:\n%s", code, stderr.String(), out.String())
	case <-time.After(time.Minute):
		t.Fatalf("serve is not running after a minute; stdout:\n%s", out.String())
	}

	// Dial in the namespace, whichever goroutine http.Transport dials on.
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := ns.do(func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	err := func() error {
		if err := ns.do(func() error { return kernelPing(netip4(192, 0, 2, 2)) }); err != nil {
			return fmt.Errorf("the kernel's ping: %w", err)
		}
		tr := &http.Transport{DialContext: dial}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: time.Minute}
		resp, err := client.Get("http://192.0.2.2/blob.bin")
		if err != nil {
			return err
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("reading the HTTP body: %w", err)
		}
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, file) {
			return fmt.Errorf("GET /blob.bin: %s, %d bytes; want 200 OK and the file's %d bytes", resp.Status, len(got), len(file))
		}
		resp, err = client.Get("http://192.0.2.2/missing")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			return fmt.Errorf("GET /missing: %s, want 404", resp.Status)
		}

		// TCP echo: send, half-close, read everything back.
		msg := file[:1<<20]
		c, err := dial(context.Background(), "tcp", "192.0.2.2:7")
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(msg)
			if err == nil {
				err = c.(*net.TCPConn).CloseWrite()
			}
			werr <- err
		}()
		back, err := io.ReadAll(c)
		if err := <-werr; err != nil {
			return fmt.Errorf("writing to the TCP echo: %w", err)
		}
		if err != nil || !bytes.Equal(back, msg) {
			return fmt.Errorf("TCP echo: got %d bytes (%v), want the %d sent", len(back), err, len(msg))
		}

		// UDP echo.
		u, err := dial(context.Background(), "udp", "192.0.2.2:7")
		if err != nil {
			return err
		}
		defer u.Close()
		u.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := u.Write([]byte("hello udp")); err != nil {
			return err
		}
		buf := make([]byte, 100)
		n, err := u.Read(buf)
		if err != nil || string(buf[:n]) != "hello udp" {
			return fmt.Errorf("UDP echo: %q, %v", buf[:n], err)
		}

		// Discard: what is sent is taken, and nothing comes back.
		d, err := dial(context.Background(), "tcp", "192.0.2.2:9")
		if err != nil {
			return err
		}
		defer d.Close()
		d.SetDeadline(time.Now().Add(time.Minute))
		if _, err := d.Write(file[:100000]); err != nil {
			return err
		}
		d.(*net.TCPConn).CloseWrite()
		if n, err := io.Copy(io.Discard, d); n != 0 || err != nil {
			return fmt.Errorf("discard sent back %d bytes (%v), want 0 and EOF", n, err)
		}
		return nil
	}()
	cancel()
	code := <-exited
	if err != nil {
		t.Fatalf("%v\nserve's stdout:\n%s", err, out.String())
	}
	if code != exitOK {
		t.Errorf("serve exited %d after it was stopped; stderr:\n%s", code, stderr.String())
	}
	wantContains(t, "serve output", out.String(),
		"tap0   inet 192.0.2.2/24", "created tap0; the kernel's side is 192.0.2.1/24",
		"HTTP on 0.0.0.0:80", "TCP echo on 0.0.0.0:7", "UDP echo on 0.0.0.0:7", "TCP discard on 0.0.0.0:9",
		"stacknet serve: stopping", "summary:",
		"echo:    1 connections, 1048576 bytes received, 1048576 bytes sent",
		"1 UDP datagrams echoed, 9 bytes",
		"discard: 1 connections, 100000 bytes received, 0 bytes sent",
		"packets: ", "drops: ", "counters:", "echo replies sent", "removed tap0")
	err = ns.do(func() error {
		if _, err := netlink.LinkByName("tap0"); err == nil {
			t.Error("tap0 is still there after serve --create stopped")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
