package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoWorkload sends {"n":<random>} and wants a response holding "echo".
var echoWorkload = workload{
	name: "echo",
	body: func(r *rand.Rand, buf []byte) []byte {
		return fmt.Appendf(buf, `{"n":%d}`, r.IntN(1_000_000))
	},
	ok: func(b []byte) bool { return bytes.Contains(b, []byte(`"echo"`)) },
}

// testServer is an httptest.Server (a real net/http server) counting the connections
// it accepted and checking every request as the servers under test would see it.
type testServer struct {
	*httptest.Server
	conns    atomic.Int64
	requests atomic.Int64
	mu       sync.Mutex
	bad      []string // requests that were not as expected
}

func newTestServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, body []byte, n int64)) *testServer {
	t.Helper()
	s := &testServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.requests.Add(1)
		body, err := io.ReadAll(r.Body)
		var bad []string
		if err != nil {
			bad = append(bad, "body: "+err.Error())
		}
		if r.Method != http.MethodPost || r.URL.Path != "/graphql" || r.Proto != "HTTP/1.1" {
			bad = append(bad, fmt.Sprintf("%s %s %s", r.Method, r.URL, r.Proto))
		}
		if r.Host != s.Listener.Addr().String() {
			bad = append(bad, "Host "+r.Host)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			bad = append(bad, "Content-Type "+got)
		}
		if got := r.Header.Get("X-Organization-Id"); got != benchOrg.String() {
			bad = append(bad, "X-Organization-Id "+got)
		}
		if r.ContentLength != int64(len(body)) || !bytes.HasPrefix(body, []byte(`{"n":`)) {
			bad = append(bad, fmt.Sprintf("Content-Length %d, body %q", r.ContentLength, body))
		}
		for k := range r.Header { // net/http's client adds its User-Agent
			if k != "Content-Type" && k != "X-Organization-Id" && k != "Content-Length" && k != "User-Agent" {
				bad = append(bad, "header "+k)
			}
		}
		if len(bad) > 0 {
			s.mu.Lock()
			s.bad = append(s.bad, bad...)
			s.mu.Unlock()
		}
		h(w, r, body, n)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(func() {
		s.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, b := range s.bad {
			t.Errorf("server saw a bad request: %s", b)
		}
	})
	return s
}

func newTestClient(t *testing.T, url, kind string) *httpClient {
	t.Helper()
	c, err := newHTTPClient(url, 8, kind)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

// sendSequentially sends n requests, one after another, through one worker (seeded with
// seed) of a new client of kind to url, failing the test at the first failed request;
// check, when set, looks at each response (i counts from 1). The worker is closed when
// the test ends, so its connection state can be inspected after the last request.
func sendSequentially(t *testing.T, url, kind string, seed uint64, n int, check func(i int, k *worker)) *worker {
	t.Helper()
	k := newWorker(newTestClient(t, url, kind), echoWorkload, seed, seed+1)
	t.Cleanup(k.close)
	for i := 1; i <= n; i++ {
		if ok, msg := k.do(t.Context()); !ok {
			t.Fatalf("request %d failed: %.300s", i, msg)
		}
		if check != nil {
			check(i, k)
		}
	}
	return k
}

// echo answers {"data":{"echo":<request body>}}, with a Content-Length (small).
func echo(w http.ResponseWriter, _ *http.Request, body []byte, _ int64) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"data":{"echo":%s}}`, body)
}

var clientKinds = []string{clientRaw, clientNetHTTP}

func TestClientSmallResponses(t *testing.T) {
	for _, kind := range clientKinds {
		t.Run(kind, func(t *testing.T) {
			s := newTestServer(t, echo)
			k := sendSequentially(t, s.URL+"/graphql", kind, 1, 50, func(_ int, k *worker) {
				if kind == clientRaw {
					if want := fmt.Sprintf(`{"data":{"echo":%s}}`, k.body); string(k.rc.body) != want {
						t.Fatalf("response %q, want %q", k.rc.body, want)
					}
					if k.rc.chunked {
						t.Fatal("a small response came chunked")
					}
				}
			})
			if got := s.requests.Load(); got != 50 {
				t.Errorf("server answered %d requests, want 50", got)
			}
			if got := s.conns.Load(); got != 1 {
				t.Errorf("%d connections for 50 sequential requests, want 1 (keep-alive)", got)
			}
			if kind == clientRaw && k.rc.dials != 1 {
				t.Errorf("%d dials, want 1", k.rc.dials)
			}
		})
	}
}

func TestClientLargeChunkedResponse(t *testing.T) {
	// ~100 KiB in several flushes, no Content-Length: net/http chunks it.
	writeLarge := func(w io.Writer, body []byte, n int64, flush func()) {
		fmt.Fprintf(w, `{"data":{"echo":%s,"items":[`, body)
		for i := range 2000 {
			if i > 0 {
				io.WriteString(w, ",")
			}
			fmt.Fprintf(w, `{"id":%d,"name":"holder %d of request %d with some padding"}`, i, i, n)
			if i%500 == 499 {
				flush()
			}
		}
		io.WriteString(w, `]}}`)
	}
	large := func(w http.ResponseWriter, _ *http.Request, body []byte, n int64) {
		w.Header().Set("Content-Type", "application/json")
		writeLarge(w, body, n, w.(http.Flusher).Flush)
	}
	want := func(body []byte, n int64) string {
		var b strings.Builder
		writeLarge(&b, body, n, func() {})
		return b.String()
	}
	for _, kind := range clientKinds {
		t.Run(kind, func(t *testing.T) {
			s := newTestServer(t, large)
			sendSequentially(t, s.URL+"/graphql", kind, 3, 5, func(i int, k *worker) {
				if kind == clientRaw {
					if !k.rc.chunked {
						t.Fatal("the large response did not come chunked: the test tests nothing")
					}
					w := want(k.body, int64(i))
					if len(w) < 8<<10 {
						t.Fatalf("response only %d bytes", len(w))
					}
					if string(k.rc.body) != w {
						t.Fatalf("decoded body of %d bytes differs from the %d sent", len(k.rc.body), len(w))
					}
				}
			})
			if got := s.conns.Load(); got != 1 {
				t.Errorf("%d connections, want 1: chunked responses keep the connection", got)
			}
		})
	}
}

func TestClientConnectionClose(t *testing.T) {
	// Every third response says Connection: close (and the server closes).
	closing := func(w http.ResponseWriter, r *http.Request, body []byte, n int64) {
		if n%3 == 0 {
			w.Header().Set("Connection", "close")
		}
		echo(w, r, body, n)
	}
	for _, kind := range clientKinds {
		t.Run(kind, func(t *testing.T) {
			s := newTestServer(t, closing)
			k := sendSequentially(t, s.URL+"/graphql", kind, 5, 9, nil) // closes after requests 3, 6 and 9
			if got := s.conns.Load(); got != 3 {
				t.Errorf("%d connections, want 3 (a new one after each Connection: close but the last)", got)
			}
			if kind == clientRaw {
				if k.rc.dials != 3 {
					t.Errorf("%d dials, want 3", k.rc.dials)
				}
				if k.rc.conn != nil {
					t.Error("the connection is open after a Connection: close response")
				}
			}
		})
	}
}

func TestClientFailures(t *testing.T) {
	cases := []struct {
		name, prefix string
		h            func(w http.ResponseWriter, r *http.Request, body []byte, n int64)
	}{
		{"non-200", "HTTP 503: unavailable", func(w http.ResponseWriter, _ *http.Request, _ []byte, _ int64) {
			http.Error(w, `unavailable {"echo"}`, http.StatusServiceUnavailable)
		}},
		{"GraphQL errors", "GraphQL errors: ", func(w http.ResponseWriter, _ *http.Request, _ []byte, _ int64) {
			io.WriteString(w, `{"errors":[{"message":"boom"}],"data":{"echo":null}}`)
		}},
		{"workload check", "unexpected response: ", func(w http.ResponseWriter, _ *http.Request, _ []byte, _ int64) {
			io.WriteString(w, `{"data":{"other":1}}`)
		}},
	}
	for _, tc := range cases {
		for _, kind := range clientKinds {
			t.Run(tc.name+"/"+kind, func(t *testing.T) {
				s := newTestServer(t, tc.h)
				c := newTestClient(t, s.URL+"/graphql", kind)
				k := newWorker(c, echoWorkload, 7, 8)
				for range 3 {
					ok, msg := k.do(t.Context())
					if ok || !strings.HasPrefix(msg, tc.prefix) {
						t.Fatalf("do = %v, %q; want a failure %q…", ok, msg, tc.prefix)
					}
				}
				k.close()
				// The closed loop counts every one of them as a failure.
				res := closedLoop(t.Context(), c, echoWorkload, 2, 150*time.Millisecond, 9)
				if res.requests == 0 || res.failures != res.requests || len(res.lat) != 0 || !strings.HasPrefix(res.firstErr, tc.prefix) {
					t.Errorf("closed loop: %d requests, %d failures, %d latencies, first %q", res.requests, res.failures, len(res.lat), res.firstErr)
				}
				if got := s.conns.Load(); got != 2 && (kind == clientRaw || got > 8) { // see TestClientLoops
					t.Errorf("%d connections, want 2: failed responses keep the connection", got)
				}
			})
		}
	}
}

func TestClientLoops(t *testing.T) {
	for _, kind := range clientKinds {
		t.Run(kind, func(t *testing.T) {
			s := newTestServer(t, echo)
			c := newTestClient(t, s.URL+"/graphql", kind)
			for range 2 { // the second run reuses the first one's connections
				res := closedLoop(t.Context(), c, echoWorkload, 3, 200*time.Millisecond, 11)
				if res.requests == 0 || res.failures != 0 || int64(len(res.lat)) != res.requests {
					t.Fatalf("closed loop: %d requests, %d failures (%s), %d latencies", res.requests, res.failures, res.firstErr, len(res.lat))
				}
				if !slices.IsSorted(res.lat) || res.lat[0] <= 0 {
					t.Errorf("latencies not sorted or not positive: %v…", res.lat[:min(5, len(res.lat))])
				}
			}
			// net/http's pool may dial one more when a worker asks just before another
			// one's connection is back.
			if got := s.conns.Load(); got != 3 && (kind == clientRaw || got > 8) {
				t.Errorf("%d connections after two 3-client runs, want 3", got)
			}
			before := s.requests.Load()
			res, err := openLoop(t.Context(), c, echoWorkload, 400, 250*time.Millisecond, 4, 12)
			if err != nil {
				t.Fatal(err)
			}
			if res.requests != 100 || res.failures != 0 || len(res.lat) != 100 || res.rate != 400 {
				t.Errorf("open loop: %d requests, %d failures (%s), %d latencies, rate %v; want 100, 0, 100, 400", res.requests, res.failures, res.firstErr, len(res.lat), res.rate)
			}
			if got := s.requests.Load() - before; got != 100 {
				t.Errorf("server answered %d open-loop requests, want 100", got)
			}
		})
	}
}

// TestRawClientCancel: a request blocked on a server that does not answer returns as
// soon as the context is done, and is not counted by the closed loop.
func TestRawClientCancel(t *testing.T) {
	release := make(chan struct{})
	s := newTestServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte, _ int64) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release) // before the server's Close, which waits for the handlers
	c := newTestClient(t, s.URL+"/graphql", clientRaw)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	res := closedLoop(ctx, c, echoWorkload, 2, 10*time.Second, 13)
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("closed loop returned %v after its context was done", d)
	}
	if res.requests != 0 || res.failures != 0 {
		t.Errorf("cancelled requests counted: %d requests, %d failures", res.requests, res.failures)
	}
}

// rawTestServer is a hand-written HTTP/1.1 server: for each connection, it reads
// requests and writes the responses respond returns, closing the connection after
// perConn of them (0: never), without saying so.
func rawTestServer(t *testing.T, perConn int, respond func(n int) string) (url string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	var served atomic.Int64
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			wg.Go(func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(conn)
				for i := 0; perConn == 0 || i < perConn; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(conn, respond(int(served.Add(1)))); err != nil {
						return
					}
				}
			})
		}
	})
	return "http://" + ln.Addr().String() + "/graphql", conns
}

// TestRawClientResponseForms: what net/http's server never sends — chunk extensions,
// trailers, upper-case hex sizes, header names in odd case, an informational 1xx
// before the response, a body delimited by the connection's end.
func TestRawClientResponseForms(t *testing.T) {
	responses := []struct{ name, resp, body string }{
		{"chunk extensions and trailers",
			"HTTP/1.1 200 OK\r\ntransfer-ENCODING: Chunked\r\nContent-Type: application/json\r\n\r\n" +
				"7;name=value\r\n{\"echo\"\r\n" + "1C ; x=\"y\"\r\n:[1,2,3],\"pad\":\"abcdefghij\"}\r\n" + "0;last\r\nX-Trailer: 1\r\nOther-Trailer: two\r\n\r\n",
			`{"echo":[1,2,3],"pad":"abcdefghij"}`},
		{"chunked, no trailers",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"echo\":1\r\n1\r\n}\r\n0\r\n\r\n",
			`{"echo":1}`},
		{"content-length in lower case after a 100 Continue",
			"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 10\r\nCONNECTION: keep-alive\r\n\r\n{\"echo\":2}",
			`{"echo":2}`},
	}
	for _, tc := range responses {
		t.Run(tc.name, func(t *testing.T) {
			url, conns := rawTestServer(t, 0, func(int) string { return tc.resp })
			sendSequentially(t, url, clientRaw, 1, 3, func(_ int, k *worker) {
				if string(k.rc.body) != tc.body {
					t.Fatalf("body %q, want %q", k.rc.body, tc.body)
				}
			})
			if got := conns.Load(); got != 1 {
				t.Errorf("%d connections, want 1", got)
			}
		})
	}
	t.Run("body to the end of the connection", func(t *testing.T) {
		url, conns := rawTestServer(t, 1, func(n int) string { return fmt.Sprintf("HTTP/1.1 200 OK\r\n\r\n{\"echo\":%d}", n) })
		sendSequentially(t, url, clientRaw, 1, 3, wantEcho(t))
		if got := conns.Load(); got != 3 {
			t.Errorf("%d connections, want 3", got)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		url, _ := rawTestServer(t, 0, func(int) string { return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" })
		c := newTestClient(t, url, clientRaw)
		k := newWorker(c, echoWorkload, 1, 1)
		defer k.close()
		if ok, msg := k.do(t.Context()); ok || !strings.Contains(msg, "chunk size") {
			t.Fatalf("do = %v, %q; want a chunk size error", ok, msg)
		}
		if k.rc.conn != nil {
			t.Error("connection kept after a malformed response")
		}
	})
}

// TestRawClientStaleConnection: a server that closes a kept-alive connection without
// saying so (as on its idle timeout) costs no failure: as net/http's Transport does,
// the request is sent again on a new connection when nothing of the response came.
func TestRawClientStaleConnection(t *testing.T) {
	url, conns := rawTestServer(t, 1, func(n int) string {
		b := fmt.Sprintf(`{"echo":%d}`, n)
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
	})
	check := wantEcho(t)
	k := sendSequentially(t, url, clientRaw, 1, 4, func(i int, k *worker) {
		check(i, k)
		time.Sleep(20 * time.Millisecond) // the server closes this connection meanwhile
	})
	if got := conns.Load(); got != 4 || k.rc.dials != 4 {
		t.Errorf("%d connections, %d dials; want 4", got, k.rc.dials)
	}
}

// wantEcho returns a check that the i-th response of a raw test server's sequence is
// {"echo":i}.
func wantEcho(t *testing.T) func(i int, k *worker) {
	return func(i int, k *worker) {
		t.Helper()
		if want := fmt.Sprintf(`{"echo":%d}`, i); string(k.rc.body) != want {
			t.Fatalf("body %q, want %q", k.rc.body, want)
		}
	}
}
