package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/lerianstudio/crm-registry/internal/crm"
)

// tracerName names this package's tracer, looked up on the global provider at each use
// (see graph's tracerName for why not once).
const tracerName = "github.com/lerianstudio/crm-registry/auth"

// ClientOptions configure the Access Manager client.
type ClientOptions struct {
	// Address is the Access Manager's base URL, e.g. http://plugin-auth:4000.
	Address string
	// ApplicationName is the product sent with normal users' requests and the namespace
	// of machine tokens' role (admin/<app>-editor-role). Default plugin-crm.
	ApplicationName string
	// Timeout bounds one authorize call. Default 2s.
	Timeout time.Duration
	// AllowTTL and DenyTTL are how long allow and deny decisions are cached per
	// (token, resource, action); 0 disables caching that kind of decision.
	AllowTTL, DenyTTL time.Duration
	// HTTPClient overrides the HTTP client (its redirects are never followed).
	HTTPClient *http.Client
	// Observe, when set, is told of each Access Manager call (its duration and outcome:
	// "allow", "deny", "unauthenticated", "unavailable") and of each cache lookup.
	Observe Observer
}

// Observer receives Access Manager metrics.
type Observer interface {
	AuthorizeCall(d time.Duration, outcome string)
	CacheLookup(hit bool)
}

// Client is the Access Manager Authorizer. Safe for concurrent use.
type Client struct {
	endpoint string
	app      string
	http     *http.Client
	timeout  time.Duration
	cache    *decisionCache
	observe  Observer
}

// NewClient returns a Client for the Access Manager at opts.Address.
func NewClient(opts ClientOptions) *Client {
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport}
	}
	c := *hc
	// A redirect must never turn into a decision by another endpoint.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if opts.ApplicationName == "" {
		opts.ApplicationName = "plugin-crm"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	return &Client{
		endpoint: strings.TrimRight(opts.Address, "/") + "/v1/authorize",
		app:      opts.ApplicationName,
		http:     &c,
		timeout:  opts.Timeout,
		cache:    newDecisionCache(opts.AllowTTL, opts.DenyTTL),
		observe:  opts.Observe,
	}
}

// authorizeRequest is the body lib-auth sends.
type authorizeRequest struct {
	Sub      string `json:"sub"`
	Resource string `json:"resource"`
	Action   string `json:"action"`
	Product  string `json:"product,omitempty"`
}

// Authorize implements Authorizer.
func (c *Client) Authorize(ctx context.Context, resource, action string) error {
	token := TokenFromContext(ctx)
	if token == "" {
		return crm.Errorf(crm.EUNAUTHENTICATED, "Authentication required: send Authorization: Bearer <token>.")
	}
	return once(ctx, resource, action, func() error { return c.decide(ctx, token, resource, action) })
}

func (c *Client) decide(ctx context.Context, token, resource, action string) error {
	body, err := c.requestFor(token, resource, action)
	if err != nil {
		return err
	}
	key := cacheKey(token, resource, action)
	if c.cache.enabled() {
		if allowed, ok := c.cache.get(key); ok {
			c.observeCache(true)
			return decision(allowed)
		}
		c.observeCache(false)
	}

	start := time.Now()
	allowed, err := c.call(ctx, token, body)
	outcome := "unavailable"
	switch {
	case err == nil && allowed:
		outcome = "allow"
	case err == nil:
		outcome = "deny"
	case crm.ErrorCode(err) == crm.EUNAUTHENTICATED:
		outcome = "unauthenticated"
	case crm.ErrorCode(err) == crm.EFORBIDDEN:
		outcome = "deny"
	}
	if c.observe != nil {
		c.observe.AuthorizeCall(time.Since(start), outcome)
	}
	if err != nil {
		return err
	}
	c.cache.put(key, allowed)
	return decision(allowed)
}

func (c *Client) observeCache(hit bool) {
	if c.observe != nil {
		c.observe.CacheLookup(hit)
	}
}

func decision(allowed bool) error {
	if !allowed {
		return crm.Errorf(crm.EFORBIDDEN, "You are not allowed to do this.")
	}
	return nil
}

// requestFor derives the authorize body from the token's claims, as lib-auth does: a
// machine token (claim type other than normal-user) acts as admin/<app>-editor-role; a
// normal user as <owner>/<sub>, for product <app>. The signature is not checked here:
// the Access Manager, which receives the token, is the trust anchor.
func (c *Client) requestFor(token, resource, action string) ([]byte, error) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		return nil, crm.Errorf(crm.EUNAUTHENTICATED, "The bearer token is not a valid JWT.")
	}
	r := authorizeRequest{Resource: resource, Action: action}
	if typ, _ := claims["type"].(string); typ != "normal-user" {
		r.Sub = "admin/" + c.app + "-editor-role"
	} else {
		owner, _ := claims["owner"].(string)
		sub, _ := claims["sub"].(string)
		if strings.TrimSpace(owner) == "" || strings.TrimSpace(sub) == "" {
			return nil, crm.Errorf(crm.EUNAUTHENTICATED, "The bearer token names no user (owner and sub claims).")
		}
		r.Sub, r.Product = owner+"/"+sub, c.app
	}
	return json.Marshal(r)
}

// amError is the error body the Access Manager may send: code and message on its
// legacy envelope, detail on an RFC 9457 problem document.
type amError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  string `json:"detail"`
}

// call asks the Access Manager. Only a 2xx answer carrying {"authorized": bool} is a
// decision. 401 is UNAUTHENTICATED; 403, 404 and other 4xx answers about the caller are
// FORBIDDEN; everything else (unreachable, timeout, 3xx, 5xx, 400/408/422/429, a body
// that does not parse) is AUTH_UNAVAILABLE: refused, never allowed.
func (c *Client) call(ctx context.Context, token string, body []byte) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return false, unavailable("the Access Manager address is invalid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", token) // lib-auth sends the raw token, without "Bearer"
	ctx, span := otel.Tracer(tracerName).Start(ctx, "access-manager authorize", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return false, unavailable("the Access Manager did not answer in time")
		}
		return false, unavailable("the Access Manager cannot be reached")
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return false, unavailable("the Access Manager's answer could not be read")
	}
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		var out struct {
			Authorized *bool `json:"authorized"`
		}
		if err := json.Unmarshal(raw, &out); err != nil || out.Authorized == nil {
			return false, unavailable("the Access Manager's answer carries no decision")
		}
		return *out.Authorized, nil
	case s == http.StatusUnauthorized:
		return false, withUpstream(crm.Errorf(crm.EUNAUTHENTICATED, "The Access Manager does not accept this token."), raw)
	case s == http.StatusBadRequest || s == http.StatusRequestTimeout || s == http.StatusUnprocessableEntity || s == http.StatusTooManyRequests:
		return false, withUpstream(unavailable(fmt.Sprintf("the Access Manager answered %d", s)), raw)
	case s >= 400 && s < 500:
		return false, withUpstream(crm.Errorf(crm.EFORBIDDEN, "You are not allowed to do this."), raw)
	default:
		return false, withUpstream(unavailable(fmt.Sprintf("the Access Manager answered %d", s)), raw)
	}
}

func unavailable(why string) *crm.Error {
	return crm.Errorf(crm.EAUTHUNAVAILABLE, "Authorization is unavailable (%s): the operation was refused.", why)
}

// withUpstream passes the Access Manager's error code on to the client.
func withUpstream(e *crm.Error, raw []byte) *crm.Error {
	var am amError
	if json.Unmarshal(raw, &am) == nil && am.Code != "" && len(am.Code) <= 64 {
		e.Extensions = map[string]any{"accessManagerCode": am.Code}
	}
	return e
}

func cacheKey(token, resource, action string) string {
	sum := sha256.Sum256([]byte(token)) // never keep raw tokens in memory longer than needed
	return string(sum[:]) + "\x00" + resource + "\x00" + action
}

// decisionCache keeps allow and deny decisions for their own TTLs.
type decisionCache struct {
	allowTTL, denyTTL time.Duration
	mu                sync.Mutex
	entries           map[string]cacheEntry
}

type cacheEntry struct {
	allowed bool
	expires time.Time
}

// maxCacheEntries bounds memory: past it, expired entries are swept, then the cache is emptied.
const maxCacheEntries = 10000

func newDecisionCache(allowTTL, denyTTL time.Duration) *decisionCache {
	return &decisionCache{allowTTL: allowTTL, denyTTL: denyTTL, entries: map[string]cacheEntry{}}
}

func (dc *decisionCache) enabled() bool { return dc.allowTTL > 0 || dc.denyTTL > 0 }

func (dc *decisionCache) get(key string) (bool, bool) {
	if dc.allowTTL <= 0 && dc.denyTTL <= 0 {
		return false, false
	}
	dc.mu.Lock()
	defer dc.mu.Unlock()
	e, ok := dc.entries[key]
	if !ok || time.Now().After(e.expires) {
		return false, false
	}
	return e.allowed, true
}

func (dc *decisionCache) put(key string, allowed bool) {
	ttl := dc.denyTTL
	if allowed {
		ttl = dc.allowTTL
	}
	if ttl <= 0 {
		return
	}
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if len(dc.entries) >= maxCacheEntries {
		now := time.Now()
		for k, e := range dc.entries {
			if now.After(e.expires) {
				delete(dc.entries, k)
			}
		}
		if len(dc.entries) >= maxCacheEntries {
			dc.entries = map[string]cacheEntry{}
		}
	}
	dc.entries[key] = cacheEntry{allowed: allowed, expires: time.Now().Add(ttl)}
}
