package auth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lerianstudio/crm-registry/internal/auth"
	"github.com/lerianstudio/crm-registry/internal/auth/authtest"
	"github.com/lerianstudio/crm-registry/internal/crm"
)

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// check is one Authorize(resource, action) made by the handler under test.
type check struct{ resource, action string }

var holdersGet = check{"holders", "get"}

// repeat returns n copies of c, so a handler asks the same thing n times concurrently.
func repeat(c check, n int) []check {
	out := make([]check, n)
	for i := range out {
		out[i] = c
	}
	return out
}

// serve sends one HTTP request through auth.Middleware to a handler that calls
// a.Authorize concurrently for every check, and returns the errors in check order.
// An empty authorization sends no Authorization header at all.
func serve(t *testing.T, a auth.Authorizer, authorization string, checks ...check) []error {
	t.Helper()
	errs := make([]error, len(checks))
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = a.Authorize(r.Context(), c.resource, c.action)
			}()
		}
		wg.Wait()
		w.WriteHeader(http.StatusNoContent)
	}))
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{}`))
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Errorf("handler answered %d, want %d", rec.Code, http.StatusNoContent)
	}
	return errs
}

// serve1 is serve with a single check.
func serve1(t *testing.T, a auth.Authorizer, authorization string, c check) error {
	t.Helper()
	return serve(t, a, authorization, c)[0]
}

func bearer(token string) string { return "Bearer " + token }

func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := crm.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (err %v), want %q", got, err, want)
	}
}

func wantCalls(t *testing.T, am *authtest.Server, want int) []authtest.Request {
	t.Helper()
	reqs := am.Requests()
	if len(reqs) != want {
		t.Fatalf("Access Manager received %d calls, want %d: %+v", len(reqs), want, reqs)
	}
	return reqs
}

// countingServer is a plain httptest server answering status and body to every request,
// counting the requests it receives.
func countingServer(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// unsignedToken returns an HS256 JWT with exactly the given claims.
func unsignedToken(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("client-test-key"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	owner   = "acme"
	user    = "alice"
	userSub = owner + "/" + user
)

var (
	userToken    = authtest.UserToken(owner, user)
	machineToken = authtest.MachineToken("midaz")
	machineSub   = "admin/plugin-crm-editor-role"
)

// fakeObserver records what the Client reports.
type fakeObserver struct {
	mu       sync.Mutex
	outcomes []string
	durs     []time.Duration
	hits     int
	misses   int
}

func (o *fakeObserver) AuthorizeCall(d time.Duration, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outcomes = append(o.outcomes, outcome)
	o.durs = append(o.durs, d)
}

func (o *fakeObserver) CacheLookup(hit bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if hit {
		o.hits++
	} else {
		o.misses++
	}
}

func (o *fakeObserver) snapshot() (outcomes []string, hits, misses int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.outcomes...), o.hits, o.misses
}

// ---------------------------------------------------------------------------
// Bearer parsing and tokens
// ---------------------------------------------------------------------------

func TestBearerParsing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, header string }{
		{"Bearer", "Bearer " + userToken},
		{"lowercase bearer", "bearer " + userToken},
		{"uppercase BEARER", "BEARER " + userToken},
		{"extra spaces", "  Bearer    " + userToken + "  "},
		{"bare token", userToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
			c := auth.NewClient(auth.ClientOptions{Address: am.URL})
			wantCode(t, serve1(t, c, tc.header, holdersGet), "")
			reqs := wantCalls(t, am, 1)
			if reqs[0].Authorization != userToken {
				t.Fatalf("Access Manager got Authorization %q, want the raw token", reqs[0].Authorization)
			}
		})
	}
}

func TestMissingTokenIsUnauthenticatedWithoutCall(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, header string }{
		{"no header", ""},
		{"blank header", "   "},
		{"Bearer with nothing after it", "Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
			c := auth.NewClient(auth.ClientOptions{Address: am.URL})
			wantCode(t, serve1(t, c, tc.header, holdersGet), crm.EUNAUTHENTICATED)
			wantCalls(t, am, 0)
		})
	}
}

func TestAuthorizeOutsideMiddlewareIsUnauthenticated(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t)
	c := auth.NewClient(auth.ClientOptions{Address: am.URL})
	wantCode(t, c.Authorize(context.Background(), "holders", "get"), crm.EUNAUTHENTICATED)
	wantCalls(t, am, 0)
}

func TestNonJWTTokenIsUnauthenticatedWithoutCall(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"not-a-jwt", "a.b.c", "Basic dXNlcjpwYXNz"} {
		t.Run(tok, func(t *testing.T) {
			t.Parallel()
			am := authtest.NewServer(t)
			c := auth.NewClient(auth.ClientOptions{Address: am.URL})
			wantCode(t, serve1(t, c, bearer(tok), holdersGet), crm.EUNAUTHENTICATED)
			wantCalls(t, am, 0)
		})
	}
}

func TestNormalUserWithoutOwnerOrSubIsUnauthenticated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"no owner", authtest.UserToken("", user)},
		{"no sub", authtest.UserToken(owner, "")},
		{"blank owner", authtest.UserToken("  ", user)},
		{"blank sub", authtest.UserToken(owner, " ")},
		{"neither claim", unsignedToken(t, jwt.MapClaims{"type": "normal-user"})},
		{"non-string owner", unsignedToken(t, jwt.MapClaims{"type": "normal-user", "owner": 42, "sub": user})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			am := authtest.NewServer(t)
			c := auth.NewClient(auth.ClientOptions{Address: am.URL})
			wantCode(t, serve1(t, c, bearer(tc.token), holdersGet), crm.EUNAUTHENTICATED)
			wantCalls(t, am, 0)
		})
	}
}

// ---------------------------------------------------------------------------
// Request body and headers (lib-auth protocol)
// ---------------------------------------------------------------------------

func TestRequestNormalUser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, app, wantProduct string }{
		{"default application name", "", "plugin-crm"},
		{"custom application name", "crm-eu", "crm-eu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			am := authtest.NewServer(t, authtest.Rule(userSub, "aliases", "patch"))
			c := auth.NewClient(auth.ClientOptions{Address: am.URL, ApplicationName: tc.app})
			wantCode(t, serve1(t, c, bearer(userToken), check{"aliases", "patch"}), "")
			r := wantCalls(t, am, 1)[0]
			if r.Method != http.MethodPost || r.Path != "/v1/authorize" {
				t.Errorf("request = %s %s, want POST /v1/authorize", r.Method, r.Path)
			}
			if r.ContentType != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", r.ContentType)
			}
			if r.Authorization != userToken {
				t.Errorf("Authorization = %q, want the raw token without Bearer", r.Authorization)
			}
			want := map[string]any{"sub": userSub, "resource": "aliases", "action": "patch", "product": tc.wantProduct}
			if !reflect.DeepEqual(r.Body, want) {
				t.Errorf("body = %v, want %v", r.Body, want)
			}
		})
	}
}

func TestRequestMachineToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, app, token, wantSub string
	}{
		{"type application", "", machineToken, "admin/plugin-crm-editor-role"},
		{"no type claim", "", unsignedToken(t, jwt.MapClaims{"sub": "midaz"}), "admin/plugin-crm-editor-role"},
		{"no claims at all", "", unsignedToken(t, jwt.MapClaims{}), "admin/plugin-crm-editor-role"},
		{"other type, owner ignored", "", unsignedToken(t, jwt.MapClaims{"type": "service", "owner": owner, "sub": user}), "admin/plugin-crm-editor-role"},
		{"custom application name", "crm-eu", machineToken, "admin/crm-eu-editor-role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			am := authtest.NewServer(t, authtest.Rule(tc.wantSub, "holders", "delete"))
			c := auth.NewClient(auth.ClientOptions{Address: am.URL, ApplicationName: tc.app})
			wantCode(t, serve1(t, c, bearer(tc.token), check{"holders", "delete"}), "")
			r := wantCalls(t, am, 1)[0]
			if r.Method != http.MethodPost || r.Path != "/v1/authorize" {
				t.Errorf("request = %s %s, want POST /v1/authorize", r.Method, r.Path)
			}
			if r.Authorization != tc.token {
				t.Errorf("Authorization = %q, want the raw token without Bearer", r.Authorization)
			}
			if _, ok := r.Body["product"]; ok {
				t.Errorf("machine request carries a product key: %v", r.Body)
			}
			want := map[string]any{"sub": tc.wantSub, "resource": "holders", "action": "delete"}
			if !reflect.DeepEqual(r.Body, want) {
				t.Errorf("body = %v, want %v", r.Body, want)
			}
		})
	}
}

func TestAddressWithTrailingSlash(t *testing.T) {
	t.Parallel()
	for _, suffix := range []string{"/", "//"} {
		t.Run(suffix, func(t *testing.T) {
			t.Parallel()
			am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
			c := auth.NewClient(auth.ClientOptions{Address: am.URL + suffix})
			wantCode(t, serve1(t, c, bearer(userToken), holdersGet), "")
			if r := wantCalls(t, am, 1)[0]; r.Path != "/v1/authorize" {
				t.Fatalf("path = %q, want /v1/authorize", r.Path)
			}
		})
	}
}

func TestInvalidAddressIsUnavailable(t *testing.T) {
	t.Parallel()
	c := auth.NewClient(auth.ClientOptions{Address: "http://bad host\x7f", Timeout: 100 * time.Millisecond})
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), crm.EAUTHUNAVAILABLE)
}

// ---------------------------------------------------------------------------
// Status handling
// ---------------------------------------------------------------------------

func TestStatusHandling(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		want    string
		amCode  string // expected Extensions["accessManagerCode"], "" for none
		noCodes bool   // assert there are no extensions
	}{
		{"200 authorized true", 200, `{"authorized":true}`, "", "", false},
		{"201 authorized true", 201, `{"authorized":true}`, "", "", false},
		{"200 authorized false", 200, `{"authorized":false}`, crm.EFORBIDDEN, "", false},
		{"200 no decision", 200, `{}`, crm.EAUTHUNAVAILABLE, "", false},
		{"200 null decision", 200, `{"authorized":null}`, crm.EAUTHUNAVAILABLE, "", false},
		{"200 string decision", 200, `{"authorized":"true"}`, crm.EAUTHUNAVAILABLE, "", false},
		{"200 non-JSON", 200, `<html>ok</html>`, crm.EAUTHUNAVAILABLE, "", false},
		{"200 empty body", 200, ``, crm.EAUTHUNAVAILABLE, "", false},
		{"204 no content", 204, ``, crm.EAUTHUNAVAILABLE, "", false},
		{"401 with code", 401, `{"code":"AUT-1001","message":"invalid token"}`, crm.EUNAUTHENTICATED, "AUT-1001", false},
		{"401 without body", 401, ``, crm.EUNAUTHENTICATED, "", true},
		{"401 with oversized code", 401, `{"code":"` + strings.Repeat("X", 65) + `"}`, crm.EUNAUTHENTICATED, "", true},
		{"403", 403, `{"code":"AUT-1003","message":"forbidden"}`, crm.EFORBIDDEN, "AUT-1003", false},
		{"403 even with authorized true", 403, `{"authorized":true}`, crm.EFORBIDDEN, "", false},
		{"404", 404, `not found`, crm.EFORBIDDEN, "", false},
		{"400", 400, `{"code":"AUT-0400"}`, crm.EAUTHUNAVAILABLE, "AUT-0400", false},
		{"408", 408, ``, crm.EAUTHUNAVAILABLE, "", false},
		{"422", 422, `{"authorized":true}`, crm.EAUTHUNAVAILABLE, "", false},
		{"429", 429, `{"authorized":true}`, crm.EAUTHUNAVAILABLE, "", false},
		{"500", 500, `{"authorized":true}`, crm.EAUTHUNAVAILABLE, "", false},
		{"503", 503, `{"code":"AUT-503"}`, crm.EAUTHUNAVAILABLE, "AUT-503", false},
		{"304", 304, ``, crm.EAUTHUNAVAILABLE, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, n := countingServer(t, tc.status, tc.body)
			c := auth.NewClient(auth.ClientOptions{Address: srv.URL, Timeout: time.Second})
			err := serve1(t, c, bearer(userToken), holdersGet)
			wantCode(t, err, tc.want)
			if got := n.Load(); got != 1 {
				t.Fatalf("server received %d calls, want 1", got)
			}
			if err == nil {
				return
			}
			var ce *crm.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *crm.Error", err)
			}
			if tc.amCode != "" && ce.Extensions["accessManagerCode"] != tc.amCode {
				t.Fatalf("Extensions = %v, want accessManagerCode %q", ce.Extensions, tc.amCode)
			}
			if tc.noCodes && ce.Extensions != nil {
				t.Fatalf("Extensions = %v, want none", ce.Extensions)
			}
		})
	}
}

func TestStandInFailureModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode authtest.Mode
	}{
		{"garbage", authtest.Garbage},
		{"500", authtest.Fail500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
			am.SetMode(tc.mode)
			c := auth.NewClient(auth.ClientOptions{Address: am.URL})
			wantCode(t, serve1(t, c, bearer(userToken), holdersGet), crm.EAUTHUNAVAILABLE)
			wantCalls(t, am, 1)
		})
	}
}

func TestRedirectIsNeverFollowed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		hc     *http.Client
	}{
		{"302 default client", http.StatusFound, nil},
		{"307 default client", http.StatusTemporaryRedirect, nil},
		{"308 default client", http.StatusPermanentRedirect, nil},
		{"302 caller's client that follows redirects", http.StatusFound, &http.Client{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target, targetCalls := countingServer(t, 200, `{"authorized":true}`)
			var redirects atomic.Int32
			redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				redirects.Add(1)
				http.Redirect(w, r, target.URL+"/v1/authorize", tc.status)
			}))
			t.Cleanup(redirector.Close)

			c := auth.NewClient(auth.ClientOptions{Address: redirector.URL, HTTPClient: tc.hc, Timeout: time.Second})
			wantCode(t, serve1(t, c, bearer(userToken), holdersGet), crm.EAUTHUNAVAILABLE)
			if got := redirects.Load(); got != 1 {
				t.Fatalf("redirecting server received %d calls, want 1", got)
			}
			if got := targetCalls.Load(); got != 0 {
				t.Fatalf("redirect target was called %d times, want never", got)
			}
			if tc.hc != nil && tc.hc.CheckRedirect != nil {
				t.Fatal("NewClient modified the caller's http.Client")
			}
		})
	}
}

func TestHangingServerTimesOut(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	am.SetMode(authtest.Hang)
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, Timeout: 100 * time.Millisecond})
	start := time.Now()
	err := serve1(t, c, bearer(userToken), holdersGet)
	elapsed := time.Since(start)
	wantCode(t, err, crm.EAUTHUNAVAILABLE)
	if elapsed > 2*time.Second {
		t.Fatalf("Authorize took %v with a 100ms timeout: it did not give up", elapsed)
	}
	wantCalls(t, am, 1)
}

func TestHangingBodyTimesOut(t *testing.T) {
	t.Parallel()
	// Headers arrive promptly, the body never finishes.
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"authorized":`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	c := auth.NewClient(auth.ClientOptions{Address: srv.URL, Timeout: 100 * time.Millisecond})
	start := time.Now()
	err := serve1(t, c, bearer(userToken), holdersGet)
	wantCode(t, err, crm.EAUTHUNAVAILABLE)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("Authorize took %v with a 100ms timeout: it did not give up", elapsed)
	}
}

func TestClosedServerIsUnavailable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	c := auth.NewClient(auth.ClientOptions{Address: addr, Timeout: time.Second})
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), crm.EAUTHUNAVAILABLE)
}

// ---------------------------------------------------------------------------
// Per-request dedup
// ---------------------------------------------------------------------------

func TestDedupWithinRequest(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	c := auth.NewClient(auth.ClientOptions{Address: am.URL})

	errs := serve(t, c, bearer(userToken), repeat(holdersGet, 50)...)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v, want allowed", i, err)
		}
	}
	wantCalls(t, am, 1)
}

func TestDedupWithinRequestDeniedSharesAnswer(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t) // allows nothing
	c := auth.NewClient(auth.ClientOptions{Address: am.URL})

	errs := serve(t, c, bearer(userToken), repeat(check{"holders", "post"}, 50)...)
	for i, err := range errs {
		wantCode(t, err, crm.EFORBIDDEN)
		if err != errs[0] {
			t.Fatalf("call %d got a different answer (%p) than call 0 (%p)", i, err, errs[0])
		}
	}
	wantCalls(t, am, 1)
}

func TestDedupWithinRequestDifferentActionAsksAgain(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	c := auth.NewClient(auth.ClientOptions{Address: am.URL})

	post := check{"holders", "post"}
	aliases := check{"aliases", "get"}
	checks := append(append(repeat(holdersGet, 50), repeat(post, 50)...), repeat(aliases, 10)...)
	errs := serve(t, c, bearer(userToken), checks...)
	for i, err := range errs {
		want := ""
		if checks[i] != holdersGet {
			want = crm.EFORBIDDEN
		}
		wantCode(t, err, want)
	}
	reqs := wantCalls(t, am, 3)
	seen := map[string]int{}
	for _, r := range reqs {
		seen[r.Body["resource"].(string)+"/"+r.Body["action"].(string)]++
	}
	want := map[string]int{"holders/get": 1, "holders/post": 1, "aliases/get": 1}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("calls per (resource, action) = %v, want %v", seen, want)
	}
}

func TestDedupWithinRequestSharesUnavailable(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	am.SetMode(authtest.Hang)
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, Timeout: 100 * time.Millisecond})
	for _, err := range serve(t, c, bearer(userToken), repeat(holdersGet, 20)...) {
		wantCode(t, err, crm.EAUTHUNAVAILABLE)
	}
	wantCalls(t, am, 1)
}

func TestNoDedupAcrossRequestsWithoutCache(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	c := auth.NewClient(auth.ClientOptions{Address: am.URL})
	for range 2 {
		wantCode(t, serve1(t, c, bearer(userToken), holdersGet), "")
	}
	wantCalls(t, am, 2)
}

// ---------------------------------------------------------------------------
// Decision cache
// ---------------------------------------------------------------------------

func TestCacheAllow(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, AllowTTL: time.Minute})
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), "")
	wantCalls(t, am, 1)
	am.Reset()
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), "")
	wantCalls(t, am, 0)
}

func TestCacheDenyTTLZeroReasksDenies(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, AllowTTL: time.Minute, DenyTTL: 0})
	post := check{"holders", "post"}
	for i := range 3 {
		am.Reset()
		errs := serve(t, c, bearer(userToken), holdersGet, post)
		wantCode(t, errs[0], "")
		wantCode(t, errs[1], crm.EFORBIDDEN)
		reqs := am.Requests()
		var gets, posts int
		for _, r := range reqs {
			switch r.Body["action"] {
			case "get":
				gets++
			case "post":
				posts++
			}
		}
		wantGets := 0
		if i == 0 {
			wantGets = 1
		}
		if gets != wantGets || posts != 1 {
			t.Fatalf("request %d: %d allow calls and %d deny calls, want %d and 1", i, gets, posts, wantGets)
		}
	}
}

func TestCacheDeny(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t) // allows nothing
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, DenyTTL: time.Minute})
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), crm.EFORBIDDEN)
	wantCalls(t, am, 1)
	am.Reset()
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), crm.EFORBIDDEN)
	wantCalls(t, am, 0)
}

func TestCacheDenyTTLOnlyReasksAllows(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, DenyTTL: time.Minute})
	for range 2 {
		wantCode(t, serve1(t, c, bearer(userToken), holdersGet), "")
	}
	wantCalls(t, am, 2)
}

func TestCachedDenyOutlivesPolicyChangeUntilExpiry(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t)
	// The TTL is generous so that a loaded CI machine still asks twice within it.
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, DenyTTL: time.Second})
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), crm.EFORBIDDEN)
	am.Allow(authtest.Rule(userSub, "holders", "get"))
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), crm.EFORBIDDEN) // cached
	wantCalls(t, am, 1)
	time.Sleep(1200 * time.Millisecond)
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), "")
	wantCalls(t, am, 2)
}

func TestCacheExpiry(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, AllowTTL: 50 * time.Millisecond, DenyTTL: 50 * time.Millisecond})
	post := check{"holders", "post"}
	errs := serve(t, c, bearer(userToken), holdersGet, post)
	wantCode(t, errs[0], "")
	wantCode(t, errs[1], crm.EFORBIDDEN)
	wantCalls(t, am, 2)
	time.Sleep(100 * time.Millisecond)
	errs = serve(t, c, bearer(userToken), holdersGet, post)
	wantCode(t, errs[0], "")
	wantCode(t, errs[1], crm.EFORBIDDEN)
	wantCalls(t, am, 4)
}

func TestErrorsAreNeverCached(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode authtest.Mode
	}{
		{"garbage", authtest.Garbage},
		{"500", authtest.Fail500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
			c := auth.NewClient(auth.ClientOptions{Address: am.URL, AllowTTL: time.Minute, DenyTTL: time.Minute})
			am.SetMode(tc.mode)
			wantCode(t, serve1(t, c, bearer(userToken), holdersGet), crm.EAUTHUNAVAILABLE)
			am.SetMode(authtest.Normal)
			wantCode(t, serve1(t, c, bearer(userToken), holdersGet), "")
			wantCalls(t, am, 2)
		})
	}
}

func TestUnauthenticatedIsNotCached(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"code":"AUT-1001"}`)
			return
		}
		_, _ = io.WriteString(w, `{"authorized":true}`)
	}))
	t.Cleanup(srv.Close)
	c := auth.NewClient(auth.ClientOptions{Address: srv.URL, AllowTTL: time.Minute, DenyTTL: time.Minute})
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), crm.EUNAUTHENTICATED)
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), "")
	if got := n.Load(); got != 2 {
		t.Fatalf("server received %d calls, want 2", got)
	}
}

func TestCacheIsPerToken(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, AllowTTL: time.Minute, DenyTTL: time.Minute})

	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), "")
	// Another user of the same owner, not allowed: must be asked, not served alice's allow.
	bob := authtest.UserToken(owner, "bob")
	wantCode(t, serve1(t, c, bearer(bob), holdersGet), crm.EFORBIDDEN)
	// A machine token is not served either cached decision.
	wantCode(t, serve1(t, c, bearer(machineToken), holdersGet), crm.EFORBIDDEN)
	reqs := wantCalls(t, am, 3)
	for i, want := range []string{userSub, owner + "/bob", machineSub} {
		if reqs[i].Body["sub"] != want {
			t.Fatalf("call %d sub = %v, want %q", i, reqs[i].Body["sub"], want)
		}
	}
	// The cached entries still hold per token.
	am.Reset()
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), "")
	wantCode(t, serve1(t, c, bearer(bob), holdersGet), crm.EFORBIDDEN)
	wantCalls(t, am, 0)
}

func TestCacheIsPerResourceAndAction(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, AllowTTL: time.Minute, DenyTTL: time.Minute})
	wantCode(t, serve1(t, c, bearer(userToken), holdersGet), "")
	wantCode(t, serve1(t, c, bearer(userToken), check{"holders", "delete"}), crm.EFORBIDDEN)
	wantCode(t, serve1(t, c, bearer(userToken), check{"aliases", "get"}), crm.EFORBIDDEN)
	wantCalls(t, am, 3)
}

func TestConcurrentRequestsWithCache(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, AllowTTL: time.Minute, DenyTTL: time.Minute})
	const n = 20
	var wg sync.WaitGroup
	codes := make([][]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, err := range serve(t, c, bearer(userToken), holdersGet, check{"holders", "post"}) {
				codes[i] = append(codes[i], crm.ErrorCode(err))
			}
		}()
	}
	wg.Wait()
	for i, got := range codes {
		if want := []string{"", crm.EFORBIDDEN}; !reflect.DeepEqual(got, want) {
			t.Fatalf("request %d codes = %q, want %q", i, got, want)
		}
	}
	if got := len(am.Requests()); got < 2 || got > 2*n {
		t.Fatalf("Access Manager received %d calls, want between 2 and %d", got, 2*n)
	}
	am.Reset()
	serve(t, c, bearer(userToken), holdersGet, check{"holders", "post"})
	wantCalls(t, am, 0)
}

// ---------------------------------------------------------------------------
// Observer
// ---------------------------------------------------------------------------

func TestObserver(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	obs := &fakeObserver{}
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, AllowTTL: time.Minute, Observe: obs, Timeout: time.Second})

	type step struct {
		check
		mode                 authtest.Mode
		wantCode             string
		wantOutcomes         []string
		wantHits, wantMisses int
	}
	steps := []step{
		{holdersGet, authtest.Normal, "", []string{"allow"}, 0, 1},                                           // miss, allow
		{holdersGet, authtest.Normal, "", []string{"allow"}, 1, 1},                                           // hit, no call
		{check{"holders", "post"}, authtest.Normal, crm.EFORBIDDEN, []string{"allow", "deny"}, 1, 2},         // miss, deny (not cached)
		{check{"holders", "post"}, authtest.Normal, crm.EFORBIDDEN, []string{"allow", "deny", "deny"}, 1, 3}, // deny re-asked
		{check{"aliases", "get"}, authtest.Garbage, crm.EAUTHUNAVAILABLE, []string{"allow", "deny", "deny", "unavailable"}, 1, 4},
		{holdersGet, authtest.Garbage, "", []string{"allow", "deny", "deny", "unavailable"}, 2, 4}, // still cached
	}
	for i, s := range steps {
		am.SetMode(s.mode)
		wantCode(t, serve1(t, c, bearer(userToken), s.check), s.wantCode)
		outcomes, hits, misses := obs.snapshot()
		if !reflect.DeepEqual(outcomes, s.wantOutcomes) || hits != s.wantHits || misses != s.wantMisses {
			t.Fatalf("step %d: outcomes %q hits %d misses %d, want %q hits %d misses %d",
				i, outcomes, hits, misses, s.wantOutcomes, s.wantHits, s.wantMisses)
		}
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	for i, d := range obs.durs {
		if d < 0 {
			t.Fatalf("call %d reported negative duration %v", i, d)
		}
	}
}

func TestObserverStatusOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status  int
		body    string
		outcome string
	}{
		{200, `{"authorized":true}`, "allow"},
		{200, `{"authorized":false}`, "deny"},
		{401, `{"code":"AUT-1001"}`, "unauthenticated"},
		{403, ``, "deny"},
		{404, ``, "deny"},
		{429, ``, "unavailable"},
		{500, ``, "unavailable"},
		{200, `nope`, "unavailable"},
	} {
		t.Run(http.StatusText(tc.status)+" "+tc.outcome, func(t *testing.T) {
			t.Parallel()
			srv, _ := countingServer(t, tc.status, tc.body)
			obs := &fakeObserver{}
			c := auth.NewClient(auth.ClientOptions{Address: srv.URL, Observe: obs, Timeout: time.Second})
			serve1(t, c, bearer(userToken), holdersGet)
			outcomes, _, _ := obs.snapshot()
			if want := []string{tc.outcome}; !reflect.DeepEqual(outcomes, want) {
				t.Fatalf("outcomes = %q, want %q", outcomes, want)
			}
		})
	}
}

func TestObserverTimeoutAndDedup(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t, authtest.Rule(userSub, "holders", "get"))
	obs := &fakeObserver{}
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, Observe: obs, AllowTTL: time.Minute, Timeout: 100 * time.Millisecond})

	// 50 concurrent checks in one request: one lookup, one call.
	serve(t, c, bearer(userToken), repeat(holdersGet, 50)...)
	outcomes, hits, misses := obs.snapshot()
	if !reflect.DeepEqual(outcomes, []string{"allow"}) || hits != 0 || misses != 1 {
		t.Fatalf("outcomes %q hits %d misses %d, want [allow] 0 1", outcomes, hits, misses)
	}

	am.SetMode(authtest.Hang)
	wantCode(t, serve1(t, c, bearer(userToken), check{"aliases", "get"}), crm.EAUTHUNAVAILABLE)
	outcomes, _, _ = obs.snapshot()
	if !reflect.DeepEqual(outcomes, []string{"allow", "unavailable"}) {
		t.Fatalf("outcomes = %q, want [allow unavailable]", outcomes)
	}
	obs.mu.Lock()
	d := obs.durs[1]
	obs.mu.Unlock()
	if d < 50*time.Millisecond {
		t.Fatalf("timed-out call reported %v, want about the 100ms timeout", d)
	}
}

func TestObserverNotToldOfUnusableTokens(t *testing.T) {
	t.Parallel()
	am := authtest.NewServer(t)
	obs := &fakeObserver{}
	c := auth.NewClient(auth.ClientOptions{Address: am.URL, Observe: obs, AllowTTL: time.Minute})
	wantCode(t, serve1(t, c, "", holdersGet), crm.EUNAUTHENTICATED)
	wantCode(t, serve1(t, c, bearer("garbage"), holdersGet), crm.EUNAUTHENTICATED)
	outcomes, hits, misses := obs.snapshot()
	if len(outcomes) != 0 || hits != 0 || misses != 0 {
		t.Fatalf("observer told of outcomes %q hits %d misses %d, want nothing", outcomes, hits, misses)
	}
}

// ---------------------------------------------------------------------------
// Disabled
// ---------------------------------------------------------------------------

func TestDisabledAllowsEverything(t *testing.T) {
	t.Parallel()
	var a auth.Authorizer = auth.Disabled{}
	for _, header := range []string{"", "Bearer not-a-jwt", bearer(userToken), bearer(machineToken)} {
		checks := append(repeat(holdersGet, 5), check{"aliases", "delete"}, check{"", ""})
		for i, err := range serve(t, a, header, checks...) {
			if err != nil {
				t.Fatalf("header %q check %d: %v, want allowed", header, i, err)
			}
		}
	}
	if err := a.Authorize(context.Background(), "holders", "post"); err != nil {
		t.Fatalf("outside a request: %v, want allowed", err)
	}
}

func TestTokenFromContext(t *testing.T) {
	t.Parallel()
	if got := auth.TokenFromContext(context.Background()); got != "" {
		t.Fatalf("TokenFromContext outside Middleware = %q, want empty", got)
	}
	var got string
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = auth.TokenFromContext(r.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "bearer "+userToken)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got != userToken {
		t.Fatalf("TokenFromContext = %q, want the token without its scheme", got)
	}
}

// Regression (fixed bug): auth.go:87-88 (once) — a caller waiting on another caller's in-flight decision
// returns the bare ctx.Err() when the request is cancelled (client gone, request
// timeout). That is not a *crm.Error, so crm.ErrorCode gives INTERNAL_SERVER_ERROR,
// breaking the Authorizer contract (nil, UNAUTHENTICATED, FORBIDDEN or AUTH_UNAVAILABLE)
// while the caller that made the call gets AUTH_UNAVAILABLE for the same cancellation.
func TestDedupWaiterOnCancelledRequestIsUnavailable(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	c := auth.NewClient(auth.ClientOptions{Address: srv.URL, Timeout: 5 * time.Second})

	var first, waiter error
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); first = c.Authorize(ctx, "holders", "get") }()
		<-arrived // the first caller's decision is in flight
		go func() { defer wg.Done(); waiter = c.Authorize(ctx, "holders", "get") }()
		time.Sleep(50 * time.Millisecond) // let the second caller park on the in-flight decision
		cancel()                          // the request is cancelled
		wg.Wait()
	}))
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	req.Header.Set("Authorization", bearer(userToken))
	h.ServeHTTP(httptest.NewRecorder(), req)

	wantCode(t, first, crm.EAUTHUNAVAILABLE)
	wantCode(t, waiter, crm.EAUTHUNAVAILABLE)
}
