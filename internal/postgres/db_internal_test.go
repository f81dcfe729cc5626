package postgres

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func TestIOTimeout(t *testing.T) {
	if got, want := ioTimeout(time.Second), time.Second+statementTimeoutMargin; got != want {
		t.Errorf("ioTimeout(1s) = %v, want %v", got, want)
	}
	if got := ioTimeout(0); got != noStatementTimeoutIOTimeout {
		t.Errorf("ioTimeout(0) = %v, want the fixed bound %v", got, noStatementTimeoutIOTimeout)
	}
}

func TestParseStatementTimeout(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"1000", time.Second},
		{"0", 0},
		{"10s", 10 * time.Second},
		{" 250 ms ", 250 * time.Millisecond},
		{"1min", time.Minute},
		{"1.5s", 1500 * time.Millisecond},
		{"2h", 2 * time.Hour},
		{"1d", 24 * time.Hour},
		{"500us", 500 * time.Microsecond},
	}
	for _, tt := range tests {
		got, err := parseStatementTimeout(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseStatementTimeout(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	// Unreadable here; Open then falls back to the fixed bound (PostgreSQL itself takes 1e4).
	for _, bad := range []string{"", "abc", "10x", "s", "1e4"} {
		if got, err := parseStatementTimeout(bad); err == nil {
			t.Errorf("parseStatementTimeout(%q) = %v, want an error", bad, got)
		}
	}
}

// result waits for a Read's outcome, failing the test if it has not come within a
// bound that only a missing deadline can exceed.
func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Read still blocked after 10s: no deadline applied")
		return nil
	}
}

// TestDeadlineConn_OwnDeadlineCloses: a peer that sends nothing fails the Read at the
// conn's own deadline, and the connection is closed for good.
func TestDeadlineConn_OwnDeadlineCloses(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	c := newDeadlineConn(client, 20*time.Millisecond)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	if err := result(t, done); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v, want a deadline error", err)
	}
	if _, err := server.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("peer Write after the timeout = %v, want io.ErrClosedPipe (connection closed)", err)
	}
}

// TestDeadlineConn_DriverDeadline: an earlier deadline the driver sets applies, and its
// expiry is the driver's business: the connection stays open and reads again once the
// driver clears it.
func TestDeadlineConn_DriverDeadline(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	c := newDeadlineConn(client, time.Hour)
	defer c.Close()
	if err := c.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the driver's deadline = %v, want a deadline error", err)
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = server.Write([]byte("x")) }()
	b := make([]byte, 1)
	if n, err := c.Read(b); err != nil || n != 1 || b[0] != 'x' {
		t.Fatalf("Read after the driver cleared its deadline = %d, %v; want the peer's byte", n, err)
	}
}

// TestDeadlineConn_DriverInterrupts: a deadline set from another goroutine while a Read
// blocks (pgx's context watcher does this) interrupts it even though the conn's own
// deadline is far away, and leaves the connection open.
func TestDeadlineConn_DriverInterrupts(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	c := newDeadlineConn(client, time.Hour)
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	if err := c.SetDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := result(t, done); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("interrupted Read = %v, want a deadline error", err)
	}
	// The expiry was the driver's: the connection is still open.
	if err := c.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = server.Write([]byte("x")) }()
	if n, err := c.Read(make([]byte, 1)); err != nil || n != 1 {
		t.Fatalf("Read after the driver cleared its deadline = %d, %v; want the peer's byte", n, err)
	}
}

// BenchmarkDeadlineConn: one 64-byte round trip over loopback TCP (a write, then a read
// of the echo), on the plain connection and through deadlineConn, which sets a deadline
// before each: the difference is the deadlines' cost per round trip.
func BenchmarkDeadlineConn(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	for _, wrap := range []bool{false, true} {
		name := "plain"
		if wrap {
			name = "deadline"
		}
		b.Run(name, func(b *testing.B) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			if wrap {
				c = newDeadlineConn(c, ioTimeout(10*time.Second))
			}
			defer c.Close()
			msg, buf := make([]byte, 64), make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
