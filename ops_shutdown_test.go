package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/lerianstudio/crm-registry/internal/devdb"
)

// opsChildVar selects what TestOpsServerChild does in a re-executed test binary.
const opsChildVar = "OPS_CHILD"

// TestOpsServerChild is not a test: it is the server process (or the container
// health probe) of TestOpsGracefulShutdown and TestOpsTLS, which re-execute this test
// binary with -test.run=^TestOpsServerChild$ and OPS_CHILD set. Otherwise it does nothing.
func TestOpsServerChild(t *testing.T) {
	switch os.Getenv(opsChildVar) {
	case "server":
		main() // exits 1 when run fails; returns after a graceful shutdown
	case "healthcheck":
		os.Exit(healthcheck())
	}
}

// opsChild prepares the test binary re-executed as TestOpsServerChild, in dir (so that no
// .env of the repository is read), with exactly env plus PATH and HOME.
func opsChild(t *testing.T, dir, mode string, env map[string]string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestOpsServerChild$", "-test.count=1", "-test.timeout=5m")
	cmd.Dir = dir
	cmd.Env = []string{opsChildVar + "=" + mode, "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if v := os.Getenv("GORACE"); v != "" {
		cmd.Env = append(cmd.Env, "GORACE="+v)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// opsHealthcheck runs `crm-registry healthcheck` (the container probe) with env in a
// directory without .env and returns its exit status.
func opsHealthcheck(t *testing.T, env map[string]string) int {
	t.Helper()
	cmd := opsChild(t, t.TempDir(), "healthcheck", env)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("healthcheck: %v\n%s", err, out.String())
		}
		return cmd.ProcessState.ExitCode()
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("healthcheck did not finish within 60s\n%s", out.String())
	}
	return -1
}

// opsLogLine returns the first JSON log line in text whose msg is msg.
func opsLogLine(text, msg string) map[string]any {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
			return line
		}
	}
	return nil
}

// TestOpsGracefulShutdown is the SIGTERM check: the real binary serves a stream of
// createHolder mutations from 8 clients; SIGTERM arrives in the middle; the process
// drains, exits 0 and logs its shutdown; every mutation that got a success response is
// in the database afterwards; and the embedded PostgreSQL was stopped by the server
// (cleanly: no postmaster.pid left, and a new start does not find it running).
func TestOpsGracefulShutdown(t *testing.T) {
	t.Parallel()
	dir := reachableTempDir(t)
	dataDir := filepath.Join(dir, "data")
	logs, stderr := &syncBuffer{}, &syncBuffer{}
	cmd := opsChild(t, dir, "server", map[string]string{
		"SERVER_ADDRESS":             "127.0.0.1:0",
		"DATA_DIR":                   dataDir,
		"LCRYPTO_ENCRYPT_SECRET_KEY": opsEncryptKey,
		"LCRYPTO_HASH_SECRET_KEY":    opsHashKey,
		"GRAPHQL_PLAYGROUND":         "false",
		"SHUTDOWN_TIMEOUT":           "20s",
	})
	cmd.Stdout, cmd.Stderr = logs, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default: // the test failed before the child stopped: kill it, and stop the
			// cluster it leaves running before its directory goes.
			_ = cmd.Process.Kill()
			<-exited
			if c, err := devdb.Start(context.Background(), devdb.Options{DataDir: filepath.Join(dataDir, "postgres")}); err == nil {
				_ = c.Stop()
			}
		}
	})

	// The child logs its address once it accepts requests.
	var base string
	for deadline := time.Now().Add(3 * time.Minute); base == ""; {
		if line := opsLogLine(logs.String(), "CRM registry listening"); line != nil {
			addr, _ := line["addr"].(string)
			base = "http://" + addr
			break
		}
		select {
		case <-exited:
			t.Fatalf("server exited before listening: %v\nstdout:\n%s\nstderr:\n%s", cmd.ProcessState, logs, stderr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not listening within 3 minutes\nstdout:\n%s\nstderr:\n%s", logs, stderr)
		}
	}
	if r := opsRequest(t, opsClient, http.MethodGet, base+"/readyz", nil, nil); r.Status != http.StatusOK {
		t.Fatalf("GET /readyz: %s", r)
	}

	// The stream: 8 clients, each sending mutations back to back until the server is gone.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	var (
		mu         sync.Mutex
		acked      []string // ids of mutations answered with success
		ackedAfter int      // of which answered after SIGTERM was sent
		failures   []string // answers that were neither a success nor a transport error
		signalled  atomic.Bool
		sigAt      time.Time // written before signalled is set
		stopAll    = make(chan struct{})
		wg         sync.WaitGroup
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopAll:
					return
				default:
				}
				body, _ := json.Marshal(map[string]any{"query": opsCreateHolder, "variables": map[string]any{"in": map[string]any{
					"type": "NATURAL_PERSON", "name": fmt.Sprintf("Load %d-%d", w, i), "document": fmt.Sprintf("SIGTERM-%02d-%06d", w, i)}}})
				req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Organization-Id", opsOrg)
				resp, err := client.Do(req)
				if err != nil {
					if signalled.Load() {
						return // the server is going away: connections fail from now on
					}
					mu.Lock()
					failures = append(failures, "before SIGTERM: "+err.Error())
					mu.Unlock()
					return
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					if signalled.Load() {
						return
					}
					mu.Lock()
					failures = append(failures, "before SIGTERM: read: "+err.Error())
					mu.Unlock()
					return
				}
				var out map[string]any
				_ = json.Unmarshal(raw, &out)
				id, _ := opsDig(out, "data", "createHolder", "holder", "id").(string)
				mu.Lock()
				if resp.StatusCode == http.StatusOK && out["errors"] == nil && id != "" {
					acked = append(acked, id)
					if signalled.Load() {
						ackedAfter++
					}
				} else {
					failures = append(failures, fmt.Sprintf("HTTP %d %s", resp.StatusCode, raw))
				}
				mu.Unlock()
			}
		}()
	}

	time.Sleep(time.Second)
	sigAt = time.Now()
	signalled.Store(true)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(90 * time.Second):
		close(stopAll)
		t.Fatalf("server still running 90s after SIGTERM\nstdout:\n%s\nstderr:\n%s", logs, stderr)
	}
	close(stopAll)
	wg.Wait()
	t.Logf("stopped %v after SIGTERM; %d mutations acknowledged, %d of them after SIGTERM was sent",
		time.Since(sigAt).Round(time.Millisecond), len(acked), ackedAfter)

	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("server exit status %d, want 0\nstderr:\n%s", code, stderr)
	}
	logText := logs.String()
	if opsLogLine(logText, "shutting down: draining in-flight requests") == nil {
		t.Errorf("the log does not show the shutdown:\n%s", logText)
	}
	for _, l := range strings.Split(logText, "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			t.Errorf("error logged during the run: %s", l)
		}
	}
	for _, f := range failures {
		t.Errorf("a mutation was answered without success: %s", f)
	}
	if len(acked) < 8 {
		t.Fatalf("only %d mutations acknowledged: the load did not run", len(acked))
	}

	// The embedded PostgreSQL was stopped by the server, cleanly.
	ready := opsLogLine(logText, "embedded PostgreSQL ready")
	pgDir, _ := ready["data_dir"].(string)
	if pgDir == "" {
		t.Fatalf("no 'embedded PostgreSQL ready' line with data_dir in the log:\n%s", logText)
	}
	if _, err := os.Stat(filepath.Join(pgDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid still in %s after the server exited (%v): PostgreSQL was not stopped cleanly", pgDir, err)
	}

	// Every acknowledged mutation is in the database.
	var startLog syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster, err := devdb.Start(ctx, devdb.Options{DataDir: filepath.Join(dataDir, "postgres"),
		Logf: func(format string, args ...any) { fmt.Fprintf(&startLog, format+"\n", args...) }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
	}()
	if cluster.DataDir() != pgDir {
		t.Errorf("reopened cluster in %s, the server used %s", cluster.DataDir(), pgDir)
	}
	if strings.Contains(startLog.String(), "adopting") {
		t.Errorf("the server's PostgreSQL was still running after the server exited:\n%s", startLog.String())
	}
	db, err := sql.Open("postgres", cluster.URL("crm"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var found, total int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM holders WHERE id = ANY($1::uuid[])`, pq.Array(acked)).Scan(&found); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM holders`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if found != len(acked) {
		t.Errorf("%d of %d acknowledged mutations are in the database", found, len(acked))
	}
	if total < found {
		t.Errorf("holders table has %d rows, fewer than the %d acknowledged", total, found)
	}
	t.Logf("%d holders in the database, %d acknowledged", total, found)
}

// opsSelfSigned writes a self-signed ECDSA certificate for 127.0.0.1 and localhost
// into dir and returns the cert and key paths and a pool trusting it.
func opsSelfSigned(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "crm-registry ops test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestOpsTLS: with TLS_CERT_FILE and TLS_KEY_FILE the server speaks HTTPS only: a client
// trusting the certificate gets the probes and the API, an untrusting one is refused,
// plain HTTP on the same port is not served; the container health probe follows.
func TestOpsTLS(t *testing.T) {
	t.Parallel()
	dir := reachableTempDir(t)
	certFile, keyFile, pool := opsSelfSigned(t, t.TempDir())
	env := opsEnv(dir, "TLS_CERT_FILE", certFile, "TLS_KEY_FILE", keyFile)
	base, _ := opsStart(t, env, nil)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	httpsBase := "https://" + u.Host

	trusting := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer trusting.CloseIdleConnections()
	r := opsRequest(t, trusting, http.MethodGet, httpsBase+"/health", nil, nil)
	if r.Status != http.StatusOK || opsDig(r.Body, "status") != "ok" {
		t.Fatalf("GET https /health: %s", r)
	}
	if r := opsRequest(t, trusting, http.MethodGet, httpsBase+"/readyz", nil, nil); r.Status != http.StatusOK {
		t.Fatalf("GET https /readyz: %s", r)
	}
	resp, err := trusting.Get(httpsBase + "/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.TLS == nil || !resp.TLS.HandshakeComplete || len(resp.TLS.PeerCertificates) == 0 ||
		resp.TLS.PeerCertificates[0].Subject.CommonName != "crm-registry ops test" {
		t.Fatalf("GET https /version: not served with the configured certificate: %+v", resp.TLS)
	}
	body, _ := json.Marshal(map[string]any{"query": `query ListHolders { holders { totalCount } }`})
	r = opsRequest(t, trusting, http.MethodPost, httpsBase+"/graphql",
		map[string]string{"Content-Type": "application/json", "X-Organization-Id": opsOrg}, body)
	opsOK(t, "GraphQL over HTTPS", r)

	// A client that does not trust the certificate is refused by its own TLS check.
	untrusting := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	defer untrusting.CloseIdleConnections()
	if resp, err := untrusting.Get(httpsBase + "/health"); err == nil {
		resp.Body.Close()
		t.Fatalf("an untrusting client got HTTP %d", resp.StatusCode)
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusting client: %v, want a certificate error", err)
	}

	// Plain HTTP to the same port is not served (Go answers 400 "Client sent an HTTP
	// request to an HTTPS server" and closes).
	plain := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	defer plain.CloseIdleConnections()
	if resp, err := plain.Get("http://" + u.Host + "/health"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(b), `"ok"`) {
			t.Fatalf("plain HTTP on the TLS port was served: %d %s", resp.StatusCode, b)
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP on the TLS port: HTTP %d %s, want 400 or a failed connection", resp.StatusCode, b)
		}
	}

	// The container health probe (`crm-registry healthcheck`) probes over HTTPS when TLS
	// is configured, and fails without it or when nothing listens.
	_, port, _ := net.SplitHostPort(u.Host)
	if code := opsHealthcheck(t, map[string]string{"SERVER_ADDRESS": ":" + port, "TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile}); code != 0 {
		t.Errorf("healthcheck with TLS: exit %d, want 0", code)
	}
	if code := opsHealthcheck(t, map[string]string{"SERVER_ADDRESS": ":" + port}); code != 1 {
		t.Errorf("healthcheck over plain HTTP against the TLS server: exit %d, want 1", code)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closed, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	if code := opsHealthcheck(t, map[string]string{"SERVER_ADDRESS": "127.0.0.1:" + closed}); code != 1 {
		t.Errorf("healthcheck with nothing listening: exit %d, want 1", code)
	}
}
