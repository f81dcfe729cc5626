// Package auth authorises GraphQL operations through the Midaz Access Manager
// (plugin-auth), speaking the same protocol as the Midaz plugins' lib-auth:
// POST {address}/v1/authorize with the caller's raw token and {sub, resource, action,
// product}. It fails closed: an Access Manager that cannot be reached, is slow, or
// answers anything but a clear decision refuses the operation.
package auth

import (
	"context"
	"net/http"
	"strings"
	"sync"
)

// Authorizer decides whether the caller of a request may perform action on resource.
type Authorizer interface {
	// Authorize returns nil when allowed, or a *crm.Error with code UNAUTHENTICATED
	// (no or unusable token), FORBIDDEN (denied) or AUTH_UNAVAILABLE (no decision could be
	// had: the operation is refused).
	Authorize(ctx context.Context, resource, action string) error
}

// Disabled allows everything: access control is off (PLUGIN_AUTH_ENABLED=false).
type Disabled struct{}

// Authorize implements Authorizer.
func (Disabled) Authorize(context.Context, string, string) error { return nil }

type requestKey struct{}

// request is the per-request authorisation state: the caller's token and the decisions
// made so far, so each (resource, action) is asked at most once per request however
// many fields need it.
type request struct {
	token string
	mu    sync.Mutex
	calls map[string]*decisionCall
}

type decisionCall struct {
	done chan struct{}
	err  error
}

// Middleware reads the bearer token of each request into its context and gives the
// request its own decision memo. It rejects nothing: operations that need no
// authorisation (federation's _service) stay reachable without a token.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &request{token: bearerToken(r.Header.Get("Authorization")), calls: map[string]*decisionCall{}}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, req)))
	})
}

// bearerToken returns the token of an Authorization header: "Bearer <jwt>" (any case), or
// a bare token as some Midaz clients send it.
func bearerToken(h string) string {
	h = strings.TrimSpace(h)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return h
}

// TokenFromContext returns the request's raw bearer token, "" when none was sent.
func TokenFromContext(ctx context.Context) string {
	if r, ok := ctx.Value(requestKey{}).(*request); ok {
		return r.token
	}
	return ""
}

// once runs decide for (resource, action) at most once per request; concurrent callers
// wait for the first one's answer. Outside a request (no Middleware) it just decides.
func once(ctx context.Context, resource, action string, decide func() error) error {
	r, ok := ctx.Value(requestKey{}).(*request)
	if !ok {
		return decide()
	}
	key := resource + "\x00" + action
	r.mu.Lock()
	if c, ok := r.calls[key]; ok {
		r.mu.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return unavailable("the request ended before a decision")
		}
	}
	c := &decisionCall{done: make(chan struct{})}
	r.calls[key] = c
	r.mu.Unlock()
	c.err = decide()
	close(c.done)
	return c.err
}
