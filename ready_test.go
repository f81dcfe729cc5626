package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// stuckConnector's connections answer a ping only when released, whatever the ping's
// context says: a database that stopped answering, seen through a driver that, like
// lib/pq, does not stop a read at the context's deadline.
type stuckConnector struct{ release chan struct{} }

func (c stuckConnector) Connect(context.Context) (driver.Conn, error) { return stuckConn(c), nil }
func (c stuckConnector) Driver() driver.Driver                        { return nil }

type stuckConn struct{ release chan struct{} }

func (c stuckConn) Ping(context.Context) error        { <-c.release; return nil }
func (stuckConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not supported") }
func (stuckConn) Close() error                        { return nil }
func (stuckConn) Begin() (driver.Tx, error)           { return nil, errors.New("not supported") }

// TestReadyz_DatabaseNotAnswering: /readyz answers 503 once its timeout has passed,
// though the ping is still waiting on the database; and 200 when the ping succeeds.
func TestReadyz_DatabaseNotAnswering(t *testing.T) {
	release := make(chan struct{})
	db := sqlx.NewDb(sql.OpenDB(stuckConnector{release}), "stuck")
	t.Cleanup(func() { db.Close() })
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	h := readyHandler(db, 50*time.Millisecond)

	answered := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		answered <- rec.Code
	}()
	select {
	case code := <-answered:
		if code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz with the database not answering = %d, want 503", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("/readyz still unanswered 30 s after its 50 ms timeout: it waits for the database")
	}

	close(release)
	released = true
	rec := httptest.NewRecorder()
	readyHandler(db, 10*time.Second)(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/readyz with the database answering = %d, want 200", rec.Code)
	}
}
