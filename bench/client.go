package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// workload is one kind of request: GraphQL, or the plain reference server's lookup.
type workload struct {
	name string
	// body appends a request body to buf, using r for its random choices.
	body func(r *rand.Rand, buf []byte) []byte
	// ok checks a 200 response body beyond "no errors".
	ok func(body []byte) bool
}

// gqlBody returns the constant prefix of a request body for query, up to and
// including `"variables":{` (the caller appends the variables and `}}`).
func gqlBody(query string) []byte {
	q, _ := json.Marshal(query)
	return append(append([]byte(`{"query":`), q...), `,"variables":{`...)
}

const (
	hotPathQuery = `query($a: ID!){ aliasAccountByLedgerAccount(accountId: $a) { id holder { id name document } } }`
	// Oldest first, so the pages stay those of the loaded dataset (every holder with its
	// 3 alias accounts) while createHolder runs add holders without alias accounts.
	pageQuery      = `query($after: String){ holders(first: 100, after: $after, orderBy: CREATED_AT_ASC) { edges { node { id name aliasAccounts { id accountId } } } } }`
	byDocQuery     = `query($d: String!){ holderByDocument(document: $d) { id name } }`
	createMutation = `mutation($in: CreateHolderInput!){ createHolder(input: $in) { holder { id } } }`
)

func hotPathWorkload(d *dataset) workload {
	prefix := gqlBody(hotPathQuery)
	marker := []byte(`"holder":{"id":"`)
	return workload{
		name: "hot path",
		body: func(r *rand.Rand, buf []byte) []byte {
			id := accountID(d.seed, r.IntN(d.holders), r.IntN(aliasesPerHolder))
			buf = append(append(buf, prefix...), `"a":"`...)
			buf = append(buf, id.String()...)
			return append(buf, `"}}`...)
		},
		ok: func(b []byte) bool { return bytes.Contains(b, marker) },
	}
}

func pageWorkload(d *dataset) workload {
	prefix := gqlBody(pageQuery)
	node := []byte(`"aliasAccounts":[{`)
	return workload{
		name: "page of 100",
		body: func(r *rand.Rand, buf []byte) []byte {
			buf = append(buf, prefix...)
			// One request in ten reads the first page; the others a random full page.
			if len(d.pageCursors) == 0 || r.IntN(10) == 0 {
				return append(buf, `"after":null}}`...)
			}
			buf = append(buf, `"after":"`...)
			buf = append(buf, d.pageCursors[r.IntN(len(d.pageCursors))]...)
			return append(buf, `"}}`...)
		},
		// 100 holders, each with its alias accounts (every loaded holder has some).
		ok: func(b []byte) bool { return bytes.Count(b, node) >= 100 },
	}
}

func byDocumentWorkload(d *dataset) workload {
	prefix := gqlBody(byDocQuery)
	marker := []byte(`"holderByDocument":{"id":"`)
	return workload{
		name: "holderByDocument",
		body: func(r *rand.Rand, buf []byte) []byte {
			buf = append(append(buf, prefix...), `"d":"`...)
			buf = append(buf, document(r.IntN(d.holders))...)
			return append(buf, `"}}`...)
		},
		ok: func(b []byte) bool { return bytes.Contains(b, marker) },
	}
}

// createWorkload creates holders with fresh documents (numbered after the dataset's),
// of the same shape as the loaded ones.
func createWorkload(d *dataset) workload {
	prefix := gqlBody(createMutation)
	marker := []byte(`"createHolder":{"holder":{"id":"`)
	return workload{
		name: runCreate,
		body: func(r *rand.Rand, buf []byte) []byte {
			buf = appendCreateInput(append(append(buf, prefix...), `"in":`...), r, d)
			return append(buf, `}}`...)
		},
		ok: func(b []byte) bool { return bytes.Contains(b, marker) },
	}
}

// appendCreateInput appends createHolder's input, a holder-sized JSON object with a
// fresh document, to buf: the mutation's $in, and the plain reference's whole body.
func appendCreateInput(buf []byte, r *rand.Rand, d *dataset) []byte {
	n := d.nextDocument.Add(1) - 1
	buf = append(buf, `{"type":"NATURAL_PERSON","name":"`...)
	buf = append(buf, pick(r, firstNames)+" "+pick(r, lastNames)...)
	buf = append(buf, `","document":"`...)
	buf = append(buf, document(int(n))...)
	buf = fmt.Appendf(buf, `","externalId":"ext-%d","contact":{"primaryEmail":"bench.%d@example.com","mobilePhone":"+55 11 91234-5678"},`, n, n)
	buf = append(buf, `"addresses":{"primary":{"line1":"Rua Augusta 1500","line2":"Apto 12","zipCode":"01304-001","city":"São Paulo","state":"SP","country":"BR"}},`...)
	buf = append(buf, `"naturalPerson":{"favoriteName":"Bench","birthDate":"1990-05-01","nationality":"Brazilian","status":"active"},`...)
	return append(buf, `"metadata":{"segment":"retail"}}`...)
}

// Load clients (-client): raw, the harness's own lean HTTP/1.1 client (rawclient.go),
// or nethttp, net/http's Client.
const (
	clientRaw     = "raw"
	clientNetHTTP = "nethttp"
)

// httpClient posts requests to one URL (the server's /graphql, or the plain reference
// server's /lookup) as the benchmark organization, through the client of its kind.
type httpClient struct {
	kind string
	url  string
	// nethttp: one Client whose Transport keeps up to conns keep-alive connections,
	// shared by the workers.
	hc *http.Client
	// raw: every worker has a connection of its own to addr, taken from idle (or new)
	// when it starts and put back when it is done, so that the measured run after a
	// warm-up reuses the warm-up's connections as net/http's pool does.
	addr string
	head []byte // rawRequestHead
	mu   sync.Mutex
	idle []*rawConn
}

// newHTTPClient returns a client of rawURL (http://host:port/path) of kind raw or
// nethttp, for up to conns concurrent workers.
func newHTTPClient(rawURL string, conns int, kind string) (*httpClient, error) {
	c := &httpClient{kind: kind, url: rawURL}
	switch kind {
	case clientRaw:
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, err
		}
		if u.Scheme != "http" || u.Host == "" || u.Port() == "" {
			return nil, fmt.Errorf("raw client: want http://host:port/path, not %q", rawURL)
		}
		c.addr, c.head = u.Host, rawRequestHead(u.Host, u.RequestURI(), benchOrg.String())
	case clientNetHTTP:
		tr := &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		}
		c.hc = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	default:
		return nil, fmt.Errorf("unknown client %q (want %s or %s)", kind, clientRaw, clientNetHTTP)
	}
	return c, nil
}

// close closes the idle connections (those of no running worker).
func (c *httpClient) close() {
	if c.hc != nil {
		c.hc.CloseIdleConnections()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rc := range c.idle {
		rc.close()
	}
	c.idle = nil
}

// getConn returns an idle raw connection, or a new one (dialled on first use).
func (c *httpClient) getConn() *rawConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.idle); n > 0 {
		rc := c.idle[n-1]
		c.idle = c.idle[:n-1]
		return rc
	}
	return newRawConn(c.addr, c.head)
}

// putConn keeps rc for the next worker, when it is still open.
func (c *httpClient) putConn(rc *rawConn) {
	if rc.conn == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle = append(c.idle, rc)
}

// worker is one sequential client: its own buffers, headers, random source and, for
// the raw client, connection.
type worker struct {
	c    *httpClient
	w    workload
	r    *rand.Rand
	body []byte
	// nethttp
	hdr  http.Header
	resp bytes.Buffer
	// raw
	rc *rawConn
}

func newWorker(c *httpClient, w workload, seed, n uint64) *worker {
	k := &worker{c: c, w: w, r: rand.New(rand.NewPCG(seed, n)), body: make([]byte, 0, 1024)}
	if c.kind == clientRaw {
		k.rc = c.getConn()
	} else {
		hdr := http.Header{}
		hdr.Set("Content-Type", "application/json")
		hdr.Set("X-Organization-Id", benchOrg.String())
		k.hdr = hdr
	}
	return k
}

// close hands the worker's connection (raw client) back to its client, once the
// worker's loop is over.
func (k *worker) close() {
	if k.rc != nil {
		k.c.putConn(k.rc)
		k.rc = nil
	}
}

// do sends one request and reports whether it succeeded: HTTP 200, no GraphQL errors,
// and the workload's own check.
func (k *worker) do(ctx context.Context) (bool, string) {
	k.body = k.w.body(k.r, k.body[:0])
	if k.rc != nil {
		status, b, err := k.rc.roundTrip(ctx, k.body)
		if err != nil {
			return false, err.Error()
		}
		return k.check(status, b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.c.url, bytes.NewReader(k.body))
	if err != nil {
		return false, err.Error()
	}
	req.Header = k.hdr
	resp, err := k.c.hc.Do(req)
	if err != nil {
		return false, err.Error()
	}
	k.resp.Reset()
	_, err = io.Copy(&k.resp, resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err.Error()
	}
	return k.check(resp.StatusCode, k.resp.Bytes())
}

var errorsKey = []byte(`"errors":`)

// check judges a complete response.
func (k *worker) check(status int, b []byte) (bool, string) {
	switch {
	case status != http.StatusOK:
		return false, fmt.Sprintf("HTTP %d: %.200s", status, b)
	case bytes.Contains(b, errorsKey):
		return false, fmt.Sprintf("GraphQL errors: %.300s", b)
	case !k.w.ok(b):
		return false, fmt.Sprintf("unexpected response: %.300s", b)
	}
	return true, ""
}

// runResult is one run of a workload.
type runResult struct {
	requests int64 // sent and answered (ok or not)
	failures int64
	firstErr string
	elapsed  time.Duration
	lat      []time.Duration // sorted; of successful requests
	stmts    int64           // SQL statements the database executed meanwhile
	rate     float64         // open loop: the offered rate
	// profile is the server's CPU profile taken during the run (pprof format), when
	// one was asked for; profileErr says why there is none.
	profile    []byte
	profileErr error
	cpu        cpuUse // over the measured window
}

func (r runResult) throughput() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests-r.failures) / r.elapsed.Seconds()
}

func (r runResult) percentile(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat))*p+0.5) - 1
	return r.lat[max(0, min(i, len(r.lat)-1))]
}

func (r runResult) stmtsPerRequest() float64 {
	if r.requests == 0 {
		return 0
	}
	return float64(r.stmts) / float64(r.requests)
}

// collector gathers the workers' results.
type collector struct {
	mu       sync.Mutex
	requests int64
	failures int64
	firstErr string
	lat      []time.Duration
}

func (c *collector) add(lat []time.Duration, requests, failures int64, firstErr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lat = append(c.lat, lat...)
	c.requests += requests
	c.failures += failures
	if c.firstErr == "" {
		c.firstErr = firstErr
	}
}

func (c *collector) result(elapsed time.Duration) runResult {
	slices.Sort(c.lat)
	return runResult{requests: c.requests, failures: c.failures, firstErr: c.firstErr, elapsed: elapsed, lat: c.lat}
}

// closedLoop runs clients workers, each sending its next request as soon as the
// previous one is answered, for d.
func closedLoop(ctx context.Context, c *httpClient, w workload, clients int, d time.Duration, seed uint64) runResult {
	var col collector
	var wg sync.WaitGroup
	began := time.Now()
	deadline := began.Add(d)
	for n := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := newWorker(c, w, seed, uint64(n))
			defer k.close()
			lat := make([]time.Duration, 0, 1<<14)
			var requests, failures int64
			var firstErr string
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				ok, msg := k.do(ctx)
				requests++
				if ok {
					lat = append(lat, time.Since(t0))
				} else if ctx.Err() == nil {
					failures++
					if firstErr == "" {
						firstErr = msg
					}
				} else {
					requests-- // cut short by Ctrl-C
				}
			}
			col.add(lat, requests, failures, firstErr)
		}()
	}
	wg.Wait()
	return col.result(time.Since(began))
}

// openLoop sends requests on a fixed schedule, rate per second for d, whatever the
// answers' latency; each latency is measured from the request's scheduled time, so a
// stall counts against every request it delays (no coordinated omission). A pool of
// workers goroutines takes the scheduled requests in order.
func openLoop(ctx context.Context, c *httpClient, w workload, rate float64, d time.Duration, workers int, seed uint64) (runResult, error) {
	if rate <= 0 {
		return runResult{}, errors.New("open loop: no rate")
	}
	interval := time.Duration(float64(time.Second) / rate)
	total := int64(d / interval)
	var col collector
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now().Add(20 * time.Millisecond)
	for n := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := newWorker(c, w, seed, uint64(n))
			defer k.close()
			var lat []time.Duration
			var requests, failures int64
			var firstErr string
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= total {
					break
				}
				at := start.Add(time.Duration(i) * interval)
				if wait := time.Until(at); wait > 0 {
					time.Sleep(wait)
				}
				ok, msg := k.do(ctx)
				requests++
				if ok {
					lat = append(lat, time.Since(at))
				} else if ctx.Err() == nil {
					failures++
					if firstErr == "" {
						firstErr = msg
					}
				} else {
					requests--
				}
			}
			col.add(lat, requests, failures, firstErr)
		}()
	}
	wg.Wait()
	r := col.result(time.Since(start))
	r.rate = rate
	return r, ctx.Err()
}
