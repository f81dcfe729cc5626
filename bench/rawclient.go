package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"
)

// The raw load client (-client raw, the default): a minimal HTTP/1.1 client for the
// harness's one kind of exchange, so that the load generator, which shares the
// machine's cores with the server under test and PostgreSQL, costs as little CPU per
// request as it can (pgbench, the reference, is a lean C client). Each worker owns one
// persistent TCP connection (Go's default TCP_NODELAY); a request is one Write of a
// reused buffer — the request line, Host, Content-Type, X-Organization-Id and
// Content-Length, then the body — and the response is read through a bufio.Reader
// reused per connection: the status line, the headers it needs (Content-Length,
// Transfer-Encoding: chunked, Connection: close; names case-insensitive), then the body
// by Content-Length, by chunked decoding (net/http servers chunk responses larger than
// their buffer) or, with neither, up to the end of the connection, into a reused
// buffer. After Connection: close or any I/O error the connection is closed and the
// next request dials anew.

const (
	// rawTimeout bounds an exchange, as net/http's Client.Timeout does for the other
	// client. The connection's deadline is moved only when less than half of it is
	// left, so every exchange gets between rawTimeout/2 and rawTimeout.
	rawTimeout = 30 * time.Second
	// rawReadBuffer is the size of a connection's bufio.Reader: most responses fit in
	// one read.
	rawReadBuffer = 32 << 10
	// rawMaxBody refuses absurd lengths (a corrupt stream) instead of allocating them.
	rawMaxBody = 256 << 20
)

// rawRequestHead is the constant part of every request to host and path, up to
// and including "Content-Length: " (the length, CRLF CRLF and the body follow).
func rawRequestHead(host, path, org string) []byte {
	return fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nX-Organization-Id: %s\r\nContent-Length: ", path, host, org)
}

// rawConn is one worker's connection; not safe for concurrent use.
type rawConn struct {
	addr string // host:port dialled
	head []byte // rawRequestHead

	conn   net.Conn // nil: dial before the next request
	br     *bufio.Reader
	ctx    context.Context // the context conn is bound to (closed when it is done)
	stop   func() bool     // unbinds conn from ctx
	reused bool            // conn has answered a request
	until  time.Time       // conn's deadline

	req  []byte // the request being sent
	body []byte // the last response's body

	// For the tests and the curious: connections dialled, and whether the last
	// response came chunked.
	dials   int
	chunked bool
}

func newRawConn(addr string, head []byte) *rawConn {
	return &rawConn{addr: addr, head: head, req: make([]byte, 0, 2048), body: make([]byte, 0, 4096)}
}

// close closes the connection, if any; the next request dials anew.
func (c *rawConn) close() {
	if c.conn == nil {
		return
	}
	c.stop()
	c.conn.Close()
	c.conn, c.ctx, c.stop, c.reused = nil, nil, nil, false
}

// dial opens the connection and binds it to ctx: when ctx is done the connection is
// closed, so that a blocked write or read returns at once.
func (c *rawConn) dial(ctx context.Context) error {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, rawTimeout)
	conn, err := d.DialContext(dctx, "tcp", c.addr)
	cancel()
	if err != nil {
		return err
	}
	c.dials++
	c.conn, c.until = conn, time.Time{}
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, rawReadBuffer)
	} else {
		c.br.Reset(conn)
	}
	c.bind(ctx)
	return nil
}

func (c *rawConn) bind(ctx context.Context) {
	if c.stop != nil {
		c.stop()
	}
	conn := c.conn
	c.ctx, c.stop = ctx, context.AfterFunc(ctx, func() { conn.Close() })
}

// roundTrip posts body and returns the response's status code and body; the body is
// valid until the next call. After an error the connection is closed. As net/http's
// Transport does, a request that fails on a reused connection before any byte of the
// response arrived (the server closed it while idle) is sent once more on a new one.
func (c *rawConn) roundTrip(ctx context.Context, body []byte) (int, []byte, error) {
	c.req = append(c.req[:0], c.head...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(append(c.req, "\r\n\r\n"...), body...)
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		if c.conn == nil {
			if err := c.dial(ctx); err != nil {
				return 0, nil, fmt.Errorf("raw client: %w", err)
			}
		} else if c.ctx != ctx {
			c.bind(ctx)
		}
		if err := ctx.Err(); err != nil { // done before bind: the conn may be open still
			c.close()
			return 0, nil, err
		}
		reused := c.reused
		status, keep, nothing, err := c.exchange()
		if err == nil {
			c.reused = true
			if !keep {
				c.close()
			}
			return status, c.body, nil
		}
		c.close()
		var ne net.Error
		if !reused || !nothing || attempt > 0 || ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
			return 0, nil, fmt.Errorf("raw client: %w", err)
		}
	}
}

// exchange writes c.req and reads the response into c.body: its status, whether the
// connection may be used again, and, on error, whether nothing of the response had
// arrived.
func (c *rawConn) exchange() (status int, keep, nothing bool, err error) {
	if now := time.Now(); c.until.Sub(now) < rawTimeout/2 {
		c.until = now.Add(rawTimeout)
		if err := c.conn.SetDeadline(c.until); err != nil {
			return 0, false, true, err
		}
	}
	if _, err := c.conn.Write(c.req); err != nil {
		return 0, false, true, fmt.Errorf("write request: %w", err)
	}
	first := true
	var http10 bool
	for {
		line, err := c.line()
		if err != nil {
			return 0, false, first && len(line) == 0, fmt.Errorf("read status line: %w", err)
		}
		first = false
		status, http10, err = parseStatusLine(line)
		if err != nil {
			return 0, false, false, err
		}
		if status >= 200 || status == 101 {
			break
		}
		// 1xx informational: its headers, then the real response.
		if _, err := c.headers(false); err != nil {
			return 0, false, false, err
		}
	}
	h, err := c.headers(http10)
	if err != nil {
		return 0, false, false, err
	}
	c.body, c.chunked = c.body[:0], false
	switch {
	case status == 204 || status == 304 || status == 101:
		// no body
	case h.chunked:
		c.chunked = true
		if err := c.readChunked(); err != nil {
			return 0, false, false, err
		}
	case h.length >= 0:
		if err := c.readN(h.length); err != nil {
			return 0, false, false, err
		}
	default: // delimited by the end of the connection
		if err := c.readToEOF(); err != nil {
			return 0, false, false, err
		}
		h.close = true
	}
	return status, !h.close && status != 101, false, nil
}

// line reads one line, up to and including its '\n'; it is valid until the next read.
func (c *rawConn) line() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		err = errors.New("line longer than the read buffer")
	}
	return line, err
}

// parseStatusLine parses "HTTP/1.x ddd reason\r\n".
func parseStatusLine(line []byte) (status int, http10 bool, err error) {
	l := trimEOL(line)
	if len(l) < 12 || !bytes.HasPrefix(l, []byte("HTTP/1.")) || l[8] != ' ' || (len(l) > 12 && l[12] != ' ') {
		return 0, false, fmt.Errorf("malformed status line %.80q", l)
	}
	for _, d := range l[9:12] {
		if d < '0' || d > '9' {
			return 0, false, fmt.Errorf("malformed status line %.80q", l)
		}
		status = status*10 + int(d-'0')
	}
	return status, l[7] == '0', nil
}

// respHeaders is what the client needs of a response's headers.
type respHeaders struct {
	length  int64 // Content-Length; -1 when absent
	chunked bool  // Transfer-Encoding: chunked
	close   bool  // the connection ends after this response
}

var (
	hdrContentLength    = []byte("Content-Length")
	hdrTransferEncoding = []byte("Transfer-Encoding")
	hdrConnection       = []byte("Connection")
)

// headers reads the header lines up to the empty line. An HTTP/1.0 response closes
// the connection unless it says keep-alive.
func (c *rawConn) headers(http10 bool) (respHeaders, error) {
	h := respHeaders{length: -1, close: http10}
	for {
		line, err := c.line()
		if err != nil {
			return h, fmt.Errorf("read headers: %w", err)
		}
		line = trimEOL(line)
		if len(line) == 0 {
			return h, nil
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return h, fmt.Errorf("malformed header line %.80q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, hdrContentLength):
			n, err := parseDecimal(value)
			if err != nil {
				return h, fmt.Errorf("Content-Length %.40q: %w", value, err)
			}
			h.length = n
		case bytes.EqualFold(name, hdrTransferEncoding):
			h.chunked = hasToken(value, "chunked")
		case bytes.EqualFold(name, hdrConnection):
			if hasToken(value, "close") {
				h.close = true
			} else if http10 && hasToken(value, "keep-alive") {
				h.close = false
			}
		}
	}
}

// readN appends n bytes of the response to c.body.
func (c *rawConn) readN(n int64) error {
	if n > rawMaxBody || int64(len(c.body))+n > rawMaxBody {
		return fmt.Errorf("response body over %d bytes", rawMaxBody)
	}
	at := len(c.body)
	c.body = slices.Grow(c.body, int(n))[:at+int(n)]
	if _, err := io.ReadFull(c.br, c.body[at:]); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	return nil
}

// readChunked decodes a chunked body into c.body: chunks of "size[;extensions]\r\n
// data\r\n", a last chunk of size 0, then trailer lines (usually none) and an empty
// line. Extensions and trailers are ignored.
func (c *rawConn) readChunked() error {
	for {
		line, err := c.line()
		if err != nil {
			return fmt.Errorf("read chunk size: %w", err)
		}
		l := trimEOL(line)
		if i := bytes.IndexByte(l, ';'); i >= 0 {
			l = l[:i]
		}
		size, err := parseHex(bytes.TrimSpace(l))
		if err != nil {
			return fmt.Errorf("chunk size line %.40q: %w", trimEOL(line), err)
		}
		if size == 0 {
			for { // trailers, up to the empty line
				line, err := c.line()
				if err != nil {
					return fmt.Errorf("read trailers: %w", err)
				}
				if len(trimEOL(line)) == 0 {
					return nil
				}
			}
		}
		if err := c.readN(size); err != nil {
			return err
		}
		line, err = c.line()
		if err != nil {
			return fmt.Errorf("read chunk end: %w", err)
		}
		if len(trimEOL(line)) != 0 {
			return fmt.Errorf("chunk not followed by CRLF: %.40q", line)
		}
	}
}

// readToEOF appends the rest of the connection's stream to c.body.
func (c *rawConn) readToEOF() error {
	for {
		if len(c.body) == cap(c.body) {
			if len(c.body) >= rawMaxBody {
				return fmt.Errorf("response body over %d bytes", rawMaxBody)
			}
			c.body = slices.Grow(c.body, 4096)
		}
		n, err := c.br.Read(c.body[len(c.body):cap(c.body)])
		c.body = c.body[:len(c.body)+n]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
	}
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

func parseDecimal(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 18 {
		return 0, errors.New("not a length")
	}
	var n int64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, errors.New("not a length")
		}
		n = n*10 + int64(d-'0')
	}
	return n, nil
}

func parseHex(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 15 {
		return 0, errors.New("not a chunk size")
	}
	var n int64
	for _, d := range b {
		switch {
		case d >= '0' && d <= '9':
			d -= '0'
		case d >= 'a' && d <= 'f':
			d -= 'a' - 10
		case d >= 'A' && d <= 'F':
			d -= 'A' - 10
		default:
			return 0, errors.New("not a chunk size")
		}
		n = n<<4 | int64(d)
	}
	return n, nil
}

// hasToken reports whether the comma-separated list v holds token, ignoring case.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, []byte{','})
		if bytes.EqualFold(bytes.TrimSpace(t), []byte(token)) {
			return true
		}
	}
	return false
}
