// Package authtest is a stand-in Access Manager for tests: a real HTTP server that
// speaks the plugin-auth authorize protocol, decides from a policy table, records every
// request it receives, and can be made to fail the ways a real one does.
package authtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Request is one authorize call as the Access Manager received it.
type Request struct {
	Method        string
	Path          string
	Authorization string
	ContentType   string
	Body          map[string]any
}

// Mode makes the server misbehave.
type Mode int

// Modes.
const (
	Normal  Mode = iota
	Hang         // never answers (until the client gives up)
	Garbage      // answers 200 with a body that is not JSON
	Fail500      // answers 500
)

// Server is the stand-in Access Manager.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	policy   map[string]bool // "sub|resource|action" → allowed
	requests []Request
	mode     Mode
	release  chan struct{}
}

// Rule builds a policy key.
func Rule(sub, resource, action string) string { return sub + "|" + resource + "|" + action }

// NewServer starts a stand-in Access Manager allowing exactly the rules given; it is
// closed when the test ends.
func NewServer(tb interface {
	Cleanup(func())
}, allowed ...string) *Server {
	s := &Server{policy: map[string]bool{}, release: make(chan struct{})}
	for _, r := range allowed {
		s.policy[r] = true
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(func() {
		close(s.release)
		s.Server.Close()
	})
	return s
}

// SetMode switches how the server answers from now on.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// Allow adds rules to the policy.
func (s *Server) Allow(rules ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rules {
		s.policy[r] = true
	}
}

// Requests returns the authorize calls received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Reset forgets the recorded calls.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
	_ = json.Unmarshal(raw, &req.Body)
	s.mu.Lock()
	s.requests = append(s.requests, req)
	mode := s.mode
	sub, _ := req.Body["sub"].(string)
	res, _ := req.Body["resource"].(string)
	act, _ := req.Body["action"].(string)
	allowed := s.policy[Rule(sub, res, act)]
	s.mu.Unlock()

	switch {
	case mode == Hang:
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
		return
	case mode == Garbage:
		_, _ = io.WriteString(w, "<html>definitely not json</html>")
		return
	case mode == Fail500:
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"code":"AUT-500","message":"boom"}`)
		return
	case r.Method != http.MethodPost || r.URL.Path != "/v1/authorize":
		w.WriteHeader(http.StatusNotFound)
		return
	case req.Authorization == "":
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"code":"AUT-1001","message":"missing token"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]bool{"authorized": allowed})
}

// UserToken returns a JWT of a normal user (claims type=normal-user, owner, sub).
// The stand-in does not verify signatures; the key is a fixed test key.
func UserToken(owner, sub string) string {
	return sign(jwt.MapClaims{"type": "normal-user", "owner": owner, "sub": sub, "exp": time.Now().Add(time.Hour).Unix()})
}

// MachineToken returns a JWT of an application (claim type=application).
func MachineToken(sub string) string {
	return sign(jwt.MapClaims{"type": "application", "sub": sub, "exp": time.Now().Add(time.Hour).Unix()})
}

func sign(c jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte("authtest-signing-key"))
	if err != nil {
		panic(err)
	}
	return s
}
