package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"time"
)

const (
	demoHTTPPort = 80
	demoPostSize = 100000 // bytes of the POST body: about 70 full segments
	// demoHTTPWait bounds each HTTP exchange; on a lossy wire TCP
	// retransmits, which takes seconds at worst, never this long.
	demoHTTPWait = time.Minute
)

// demoHTTPHandler serves B's two pages: /hello, a few lines of text, and
// /echo, which sends a POST's body back.
func demoHTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s! This page came from host B's http.Server.\n", r.RemoteAddr)
		fmt.Fprintln(w, "It is package net/http unchanged, on a stacknet listener.")
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		// An HTTP/1.1 handler reads the body before it answers: once the
		// response starts, net/http may close the body.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(body)
	})
	return mux
}

func (d *demo) stepHTTP(ctx context.Context) error {
	ln, err := d.b.stack.Listen("tcp", fmt.Sprintf(":%d", demoHTTPPort))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: demoHTTPHandler(), ReadHeaderTimeout: demoHTTPWait}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer srv.Close()
	fmt.Fprintf(d.out, "B: http.Server listening on %v\n", ln.Addr())

	tr := &http.Transport{DialContext: d.a.stack.DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: demoHTTPWait}
	base := fmt.Sprintf("http://%v", d.b.ifc.Addr().Addr())

	// GET: the status, the size and the first line of the page.
	body, err := d.httpDo(ctx, client, "GET", base+"/hello", nil)
	if err != nil {
		return err
	}
	first, _, _ := strings.Cut(string(body), "\n")
	fmt.Fprintf(d.out, "   first line: %q\n\n", first)

	// POST: a body too big for one segment, echoed back.
	post := make([]byte, demoPostSize)
	for i := range post {
		post[i] = byte('a' + i%26)
	}
	if body, err = d.httpDo(ctx, client, "POST", base+"/echo", post); err != nil {
		return err
	}
	if !bytes.Equal(body, post) {
		return fmt.Errorf("the echo of %d bytes came back as %d different bytes", len(post), len(body))
	}
	fmt.Fprintf(d.out, "   identical to what A sent. TCP carried it in segments of at most %d bytes (a\n", demoMTU-20-20-12)
	fmt.Fprintf(d.out, "   %d-byte frame less the IP and TCP headers and the timestamp option),\n", demoMTU)
	fmt.Fprintln(d.out, "   acknowledged and delivered in order as one byte stream.")
	fmt.Fprintln(d.out)

	sctx, cancel := context.WithTimeout(ctx, demoHTTPWait)
	defer cancel()
	tr.CloseIdleConnections()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting the server down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("the server stopped with %w", err)
	}
	fmt.Fprintln(d.out, "B: the server shuts down (http.Server.Shutdown): its listener closes and Serve returns.")
	return nil
}

// httpDo makes one request from A, saying on d.out what went out, over
// which connection, and what came back.
func (d *demo) httpDo(ctx context.Context, client *http.Client, method, url string, body []byte) ([]byte, error) {
	var conn httptrace.GotConnInfo
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { conn = i },
	})
	var rd io.Reader
	what := ""
	if body != nil {
		rd = bytes.NewReader(body)
		what = fmt.Sprintf(" with a %d-byte body", len(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(d.out, "A: %s %s%s\n", method, url, what)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the response to %s %s: %w", method, url, err)
	}
	if conn.Conn != nil {
		how := "a new TCP connection (SYN, SYN-ACK, ACK)"
		if conn.Reused {
			how = "the same connection, kept alive"
		}
		fmt.Fprintf(d.out, "   over %s from %v to %v\n", how, conn.Conn.LocalAddr(), conn.Conn.RemoteAddr())
	}
	fmt.Fprintf(d.out, "A: %s %s, %d bytes of %s\n", resp.Proto, resp.Status, len(got), resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	return got, nil
}
