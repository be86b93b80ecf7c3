// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// go_tls: the Go side of spanprobe's crypto/tls tests (go_cases.py) and
// benchmark (tests/bench). Standard library only, 127.0.0.1 only.
//
//	go_tls server -addr 127.0.0.1:0 -cert C -key K [-h2] [-log FILE]
//	    HTTPS server; prints "listening PORT". /echo/... answers the
//	    request body, /stream writes a chunked response flushed in pieces,
//	    /hello answers "hello from go". With -log, every request it saw (method,
//	    path, body) is appended to FILE as one JSON line: the plaintext
//	    the test checks spans against.
//	go_tls client -url URL [-n N] [-c C] [-wait-stdin] [-h2] [-body S]
//	    N requests on C concurrent keep-alive connections (one goroutine
//	    each, each its own http.Transport, so one connection each). To
//	    URL /echo request i of goroutine g is POST URL/g/i with the body
//	    "conn=g req=i S" and g*7+i bytes of padding, so that path and
//	    body size name the exchange; any other URL is fetched with GET.
//	    Checks each echo answers its own body. -wait-stdin waits for a
//	    line on stdin before the first request (a client started before
//	    spanprobe).
//	go_tls pipe -cert C -key K
//	    one HTTP/1.1 exchange between a tls.Client and a tls.Server over
//	    net.Pipe (no socket under the *tls.Conn); prints the answer.
//	go_tls bench -url URL -n N
//	    tests/bench: N sequential GETs on one keep-alive HTTP/1.1
//	    connection (after N/20, at most 1000, warm-up requests), printed
//	    as tls_client prints them: "req/s=R us/request=U".
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

func server(args []string) {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	cert := fs.String("cert", "", "certificate (PEM)")
	key := fs.String("key", "", "key (PEM)")
	h2 := fs.Bool("h2", false, "allow HTTP/2 (default: HTTP/1.1 only)")
	logf := fs.String("log", "", "append what the server saw to this file")
	fs.Parse(args)

	var mu sync.Mutex
	var log *os.File
	if *logf != "" {
		var err error
		log, err = os.OpenFile(*logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	note := func(r *http.Request, body []byte) {
		if log == nil {
			return
		}
		line, _ := json.Marshal(map[string]string{
			"method": r.Method, "path": r.URL.Path, "body": string(body),
			"proto": r.Proto, "conn": r.Header.Get("X-Conn"),
		})
		mu.Lock()
		log.Write(append(line, '\n'))
		mu.Unlock()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		note(r, body)
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		note(r, nil)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello from go")
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		note(r, nil)
		w.Header().Set("Content-Type", "text/plain")
		f := w.(http.Flusher)
		for i := 0; i < 5; i++ {
			fmt.Fprintf(w, "piece %d;", i)
			f.Flush()
			time.Sleep(20 * time.Millisecond)
		}
	})
	srv := &http.Server{Handler: mux}
	if !*h2 {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	if err := srv.ServeTLS(ln, *cert, *key); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func client(args []string) {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	url := fs.String("url", "", "URL to request")
	n := fs.Int("n", 1, "requests per connection")
	c := fs.Int("c", 1, "concurrent connections")
	wait := fs.Bool("wait-stdin", false, "wait for a line on stdin first")
	h2 := fs.Bool("h2", false, "allow HTTP/2 (default: HTTP/1.1 only)")
	text := fs.String("body", "ping", "request body suffix")
	quiet := fs.Bool("q", false, "print only the summary")
	fs.Parse(args)

	if *wait {
		bufio.NewReader(os.Stdin).ReadString('\n')
	}
	var wg sync.WaitGroup
	errs := make(chan error, *c)
	start := time.Now()
	for g := 0; g < *c; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			tr := &http.Transport{
				TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
				ForceAttemptHTTP2: *h2,
				MaxConnsPerHost:   1,
			}
			if !*h2 {
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			}
			cl := &http.Client{Transport: tr}
			for i := 0; i < *n; i++ {
				body := fmt.Sprintf("conn=%d req=%d %s", g, i, *text) +
					strings.Repeat("x", g*7+i)
				echo := strings.Contains(*url, "/echo")
				var req *http.Request
				if echo {
					req, _ = http.NewRequest("POST", fmt.Sprintf("%s/%d/%d", *url, g, i),
						bytes.NewBufferString(body))
				} else {
					req, _ = http.NewRequest("GET", *url, nil)
				}
				req.Header.Set("X-Conn", fmt.Sprintf("%d/%d", g, i))
				resp, err := cl.Do(req)
				if err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					errs <- err
					return
				}
				if echo && string(got) != body {
					errs <- fmt.Errorf("%d/%d: answer %q, want %q", g, i, got, body)
					return
				}
				if !*quiet {
					fmt.Printf("%d/%d %s %d %s\n", g, i, resp.Proto, resp.StatusCode, got)
				}
			}
			tr.CloseIdleConnections()
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("done %d requests in %d us\n", *n**c, time.Since(start).Microseconds())
}

func bench(args []string) {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	url := fs.String("url", "", "URL to GET")
	n := fs.Int("n", 20000, "requests")
	fs.Parse(args)

	tr := &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	cl := &http.Client{Transport: tr}
	get := func() error {
		resp, err := cl.Get(*url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return err
	}
	warm := *n / 20
	if warm > 1000 {
		warm = 1000
	}
	for i := 0; i < warm; i++ {
		if err := get(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	start := time.Now()
	for i := 0; i < *n; i++ {
		if err := get(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	el := time.Since(start).Seconds()
	fmt.Printf("requests=%d req/s=%.1f us/request=%.2f\n", *n, float64(*n)/el, el*1e6/float64(*n))
}

func pipe(args []string) {
	fs := flag.NewFlagSet("pipe", flag.ExitOnError)
	certf := fs.String("cert", "", "certificate (PEM)")
	keyf := fs.String("key", "", "key (PEM)")
	fs.Parse(args)

	cert, err := tls.LoadX509KeyPair(*certf, *keyf)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	a, b := net.Pipe()
	srv := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{cert}})
	cli := tls.Client(a, &tls.Config{InsecureSkipVerify: true})
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		if _, err := srv.Read(buf); err != nil {
			done <- err
			return
		}
		_, err := io.WriteString(srv, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		done <- err
	}()
	if _, err := io.WriteString(cli, "GET /pipe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buf := make([]byte, 4096)
	n, err := cli.Read(buf)
	if err == nil {
		err = <-done
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%q\n", buf[:n])
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go_tls server|client|bench|pipe ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "server":
		server(os.Args[2:])
	case "client":
		client(os.Args[2:])
	case "bench":
		bench(os.Args[2:])
	case "pipe":
		pipe(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "usage: go_tls server|client|bench|pipe ...")
		os.Exit(2)
	}
}
