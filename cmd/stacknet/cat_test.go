//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestCatUsage(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{args: []string{"cat", "-h"}, code: exitOK, stdout: "-l\tlisten on [HOST] PORT"},
		{args: []string{"cat", "--tap", "a", "--addr", "192.0.2.2/24"}, code: exitUsage, stderr: "missing HOST PORT"},
		{args: []string{"cat", "--tap", "a", "--addr", "192.0.2.2/24", "-l"}, code: exitUsage, stderr: "missing PORT to listen on"},
		{args: []string{"cat", "--tap", "a", "--addr", "192.0.2.2/24", "192.0.2.1"}, code: exitUsage, stderr: "missing HOST PORT"},
		{args: []string{"cat", "--tap", "a", "--addr", "192.0.2.2/24", "example.com", "80"}, code: exitUsage, stderr: "resolves no names"},
		{args: []string{"cat", "--tap", "a", "--addr", "192.0.2.2/24", "192.0.2.1", "http"}, code: exitUsage, stderr: "from 1 to 65535"},
		{args: []string{"cat", "--tap", "a", "--addr", "192.0.2.2/24", "192.0.2.1", "0"}, code: exitUsage, stderr: "from 1 to 65535"},
		{args: []string{"cat", "--tap", "a", "--addr", "192.0.2.2/24", "1", "2", "3"}, code: exitUsage, stderr: `unexpected argument "3"`},
		{args: []string{"cat", "192.0.2.1", "80"}, code: exitUsage, stderr: "--tap NAME or --packet IFNAME"},
		{args: []string{"cat", "--tap", "snmissing0", "--addr", "192.0.2.2/24", "192.0.2.1", "80"}, code: exitFail, stderr: "stacknet tap create snmissing0"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runCatIO(context.Background(), tc.args[1:], strings.NewReader(""), &stdout, &stderr)
			code := exitStatus(err, "cat", &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			wantContains(t, "stdout", stdout.String(), tc.stdout)
			wantContains(t, "stderr", stderr.String(), tc.stderr)
		})
	}
}

// TestCatTAP sends a few MB with cat to a listener on the kernel's side,
// which answers with the sha256 of what it got; and the other way round
// with cat -l.
func TestCatTAP(t *testing.T) {
	ns := newTestNS(t)
	if code, _, errOut := ns.runIn(t, context.Background(), "tap", "create", "tap0", "--kernel-addr", "192.0.2.1/24"); code != exitOK {
		t.Fatalf("tap create: exit %d; stderr:\n%s", code, errOut)
	}
	data := make([]byte, 4<<20+777)
	rand.Read(data)
	sum := sha256.Sum256(data)
	want := fmt.Sprintf("%x\n", sum)
	dev := []string{"--tap", "tap0", "--addr", "192.0.2.2/24"}

	t.Run("connect", func(t *testing.T) {
		var l net.Listener
		if err := ns.do(func() (err error) { l, err = net.Listen("tcp", "192.0.2.1:5000"); return err }); err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		served := make(chan error, 1)
		go func() { served <- sha256Server(l) }()
		var stdout, stderr bytes.Buffer
		var err error
		ns.do(func() error {
			err = runCatIO(context.Background(), append(dev, "192.0.2.1", "5000"), bytes.NewReader(data), &stdout, &stderr)
			return nil
		})
		if err != nil {
			t.Fatalf("cat: %v; stderr:\n%s", err, stderr.String())
		}
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		if stdout.String() != want {
			t.Errorf("the kernel's sha256 of what cat sent is %q, want %q", stdout.String(), want)
		}
	})

	t.Run("listen", func(t *testing.T) {
		stderr := &watchWriter{}
		listening := stderr.wait("stacknet cat: listening on 0.0.0.0:6000")
		var stdout bytes.Buffer
		done := make(chan error, 1)
		go func() {
			var err error
			ns.do(func() error {
				err = runCatIO(context.Background(), append(dev, "-v", "-l", "6000"), strings.NewReader("thanks\n"), &stdout, stderr)
				return nil
			})
			done <- err
		}()
		select {
		case <-listening:
		case err := <-done:
			t.Fatalf("cat -l returned %v before listening; stderr:\n%s", err, stderr.String())
		}
		var c net.Conn
		if err := ns.do(func() (err error) { c, err = net.Dial("tcp", "192.0.2.2:6000"); return err }); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(data)
			if err == nil {
				err = c.(*net.TCPConn).CloseWrite()
			}
			werr <- err
		}()
		back, err := io.ReadAll(c)
		if err != nil || string(back) != "thanks\n" {
			t.Errorf("the kernel read %q (%v) from cat -l, want %q", back, err, "thanks\n")
		}
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("cat -l: %v; stderr:\n%s", err, stderr.String())
		}
		if got := sha256.Sum256(stdout.Bytes()); got != sum {
			t.Errorf("cat -l wrote %d bytes with sha256 %x, want %d bytes with %x", stdout.Len(), got, len(data), sum)
		}
		wantContains(t, "stderr", stderr.String(), "stacknet cat: connection from 192.0.2.1:",
			fmt.Sprintf("stacknet cat: 7 bytes sent, %d bytes received", len(data)))
	})

	t.Run("interrupted", func(t *testing.T) {
		var l net.Listener
		if err := ns.do(func() (err error) { l, err = net.Listen("tcp", "192.0.2.1:5001"); return err }); err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		// Standard input that stays open: only the interruption ends cat.
		stdin, feed := io.Pipe()
		defer feed.Close()
		go feed.Write([]byte("hello"))
		ctx, interrupt := context.WithCancel(context.Background())
		defer interrupt()
		stdout, stderr := &watchWriter{}, &watchWriter{}
		replied := stdout.wait("hi\n")
		done := make(chan error, 1)
		go func() {
			var err error
			ns.do(func() error {
				err = runCatIO(ctx, append(dev, "192.0.2.1", "5001"), stdin, stdout, stderr)
				return nil
			})
			done <- err
		}()
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		got := make([]byte, 5)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
			t.Fatalf("the kernel read %q (%v), want %q", got, err, "hello")
		}
		if _, err := c.Write([]byte("hi\n")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-replied:
		case <-time.After(time.Minute):
			t.Fatal("cat did not write the kernel's reply")
		}
		interrupt()
		if err := <-done; err != nil {
			t.Fatalf("an interrupted cat returned %v, want a clean exit; stderr:\n%s", err, stderr.String())
		}
		if stdout.String() != "hi\n" {
			t.Errorf("stdout %q, want %q", stdout.String(), "hi\n")
		}
		wantContains(t, "stderr", stderr.String(), "stacknet cat: interrupted",
			"cat:     1 connections, 3 bytes received, 5 bytes sent", "packets: ", "drops:   0 ")
		// cat closed its connection on the way out.
		if n, err := c.Read(got); err != io.EOF {
			t.Errorf("after the interruption the kernel read %d bytes, %v; want EOF", n, err)
		}
	})

	if code, _, errOut := ns.runIn(t, context.Background(), "tap", "delete", "tap0"); code != exitOK {
		t.Errorf("tap delete: exit %d; stderr:\n%s", code, errOut)
	}
}

// sha256Server accepts one connection, reads it to its end and answers
// with the hex sha256 of what it read.
func sha256Server(l net.Listener) error {
	c, err := l.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	h := sha256.New()
	if _, err := io.Copy(h, c); err != nil {
		return fmt.Errorf("the kernel's side reading: %w", err)
	}
	if _, err := fmt.Fprintf(c, "%x\n", h.Sum(nil)); err != nil {
		return err
	}
	return c.(*net.TCPConn).CloseWrite()
}
