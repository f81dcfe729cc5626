package postgres_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/crm"
	"github.com/lerianstudio/crm-registry/internal/postgres"
	"github.com/lerianstudio/crm-registry/internal/postgres/pgtest"
)

// answerDropper is a TCP proxy in front of PostgreSQL that, once armed with a command
// tag, closes the connection instead of passing on the next answer that carries it: a
// connection that breaks after the server has committed a write but before the client
// hears of it.
type answerDropper struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	tag    []byte // the CommandComplete tag to drop the answer of; nil: disarmed
	wg     sync.WaitGroup
}

// arm makes the proxy drop the next answer completing a command with tag (e.g. "COMMIT").
func (p *answerDropper) arm(tag string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tag = append([]byte(tag), 0)
}

// armed reports whether the proxy is still waiting for the answer to drop.
func (p *answerDropper) armed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tag != nil
}

// fire reports whether answer is the one to drop, and disarms the proxy if it is.
func (p *answerDropper) fire(answer []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tag == nil || !bytes.Contains(answer, p.tag) {
		return false
	}
	p.tag = nil
	return true
}

func newAnswerDropper(t *testing.T, target string) *answerDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &answerDropper{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *answerDropper) serve() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.wg.Add(2)
		go func() { // client → server, as is
			defer p.wg.Done()
			_, _ = io.Copy(server, client)
			server.Close()
		}()
		go func() { // server → client, unless armed
			defer p.wg.Done()
			defer client.Close()
			defer server.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := server.Read(buf)
				if n > 0 && p.fire(buf[:n]) {
					return
				}
				if n > 0 {
					if _, werr := client.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// TestCreate_AnswerLostAfterCommit: when the connection breaks after PostgreSQL committed
// a new holder or alias account but before its answer arrived, the create still succeeds
// (the row is there, with the id it was given) instead of answering an internal error, or
// a duplicate after the driver ran the insert again.
func TestCreate_AnswerLostAfterCommit(t *testing.T) {
	t.Parallel()
	direct := pgtest.MustOpenDB(t)
	var name string
	if err := direct.Get(&name, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(pgtest.URL(name))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newAnswerDropper(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	db, err := postgres.Open(context.Background(), u.String(), postgres.Options{MaxConns: 1, Driver: pgtest.Driver()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	enc := pgtest.Encrypter(t)
	holders, aliases := postgres.NewHolderService(db, enc), postgres.NewAliasAccountService(db, enc)
	ctx, org := orgContext()

	h := simpleHolder("LOST-1")
	proxy.arm("INSERT 0 1")
	if err := holders.CreateHolder(ctx, h); err != nil {
		t.Fatalf("CreateHolder with its answer lost: %v (code %s)", err, crm.ErrorCode(err))
	}
	if proxy.armed() {
		t.Fatal("the proxy dropped nothing: the connection was not broken")
	}
	var ids []uuid.UUID
	if err := direct.Select(&ids, `SELECT id FROM holders WHERE organization_id = $1`, org); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != h.ID {
		t.Fatalf("stored holders %v, want exactly the one answered, %s", ids, h.ID)
	}

	// The alias account's insert runs in a transaction: the answer lost is its commit's.
	a := &crm.AliasAccount{HolderID: h.ID, LedgerID: uuid.New(), AccountID: uuid.New()}
	proxy.arm("COMMIT")
	if err := aliases.CreateAliasAccount(ctx, a); err != nil {
		t.Fatalf("CreateAliasAccount with its commit's answer lost: %v (code %s)", err, crm.ErrorCode(err))
	}
	if proxy.armed() {
		t.Fatal("the proxy dropped nothing: the connection was not broken")
	}
	if err := direct.Select(&ids, `SELECT id FROM alias_accounts WHERE organization_id = $1`, org); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != a.ID {
		t.Fatalf("stored alias accounts %v, want exactly the one answered, %s", ids, a.ID)
	}

	// And a create that fails for a business reason is not taken for a lost answer.
	dup := simpleHolder("LOST-1")
	assertCode(t, holders.CreateHolder(ctx, dup), crm.EDOCUMENTEXISTS)
}
