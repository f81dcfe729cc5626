// Package playground serves the GraphiQL page at /graphiql.
//
// The page works without internet access (on-premise installs are often air-gapped):
// GraphiQL, React and ReactDOM come from AssetsDir, built from the npm packages by
// `make graphiql` (web/graphiql), and served at /graphiql/assets/. The page carries a
// strict Content-Security-Policy: scripts only from this server, no inline script (the
// bootstrap is /graphiql/assets/init.js, configured by a JSON block in the page).
//
// When AssetsDir lacks the built assets, New logs why and serves gqlgen's GraphiQL
// page instead, which loads GraphiQL from a CDN.
package playground

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	gqlplayground "github.com/99designs/gqlgen/graphql/playground"
)

// Options configure the playground.
type Options struct {
	// Endpoint is the GraphQL endpoint path, e.g. /graphql.
	Endpoint string
	// AssetsDir holds the GraphiQL assets built from npm (make graphiql).
	AssetsDir string
	// Headers pre-filled in the headers pane.
	Headers map[string]string
	// DefaultQuery is shown on a first visit; DefaultQuery (a holders query) when empty.
	DefaultQuery string
	// Title of the page; "CRM registry" when empty.
	Title  string
	Logger *slog.Logger
}

// DefaultQuery lists the newest holders of the organization in the headers pane.
const DefaultQuery = `# CRM registry. The organization is the X-Organization-Id header (Headers pane below).
# Run with Ctrl-Enter.
query Holders {
  holders(first: 10) {
    totalCount
    edges {
      node {
        id
        type
        name
        document
        createdAt
      }
    }
  }
}
`

const (
	// Prefix is where the handler is mounted (/graphiql and /graphiql/*).
	Prefix = "/graphiql"
	// AssetsPrefix is where the assets are served.
	AssetsPrefix = Prefix + "/assets/"
)

// The files `make graphiql` writes into AssetsDir and the page loads, in load order
// (web/graphiql/scripts/build.mjs). Nothing else in AssetsDir is served.
var builtAssets = []string{
	"react.production.min.js",
	"react-dom.production.min.js",
	"graphiql.min.js",
	"graphiql.min.css",
}

// initJS bootstraps GraphiQL; served as /graphiql/assets/init.js.
//
//go:embed init.js
var initJS []byte

const initName = "init.js"

// csp allows nothing from other hosts: scripts and styles from this server, GraphiQL's
// inlined fonts and icons (data:), requests to this server only. No inline script at all.
//
// The one inline style allowed, by its hash, is the <style> GraphiQL's dialogs (settings,
// short keys) inject to lock the page's scrolling (react-remove-scroll-bar, bundled in
// graphiql.min.js), with the 0px scrollbar gap of this page. A GraphiQL upgrade may change
// it: the browser test opens a dialog and fails on any CSP violation, and Chromium's
// console message names the new hash.
const csp = "default-src 'none'; script-src 'self'; " +
	"style-src 'self' 'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='; " +
	"font-src 'self' data:; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var page = template.Must(template.New("graphiql").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.CSS}}">
<script type="application/json" id="graphiql-config">{{.Config}}</script>
{{range .Scripts}}<script src="{{.}}" defer></script>
{{end}}</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript.</noscript>
</body>
</html>
`))

type pageConfig struct {
	Endpoint     string `json:"endpoint"`
	Headers      string `json:"headers"`
	DefaultQuery string `json:"defaultQuery"`
}

type pageData struct {
	Title   string
	CSS     string
	Scripts []string
	Config  pageConfig
}

type handler struct {
	dir      string
	versions map[string]string // asset name -> content hash, for cache busting
	page     []byte
}

// New returns the handler for /graphiql and /graphiql/*: the offline GraphiQL page and
// its assets, or gqlgen's CDN page when opts.AssetsDir lacks the built assets.
func New(opts Options) http.Handler {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if opts.Title == "" {
		opts.Title = "CRM registry"
	}
	if opts.DefaultQuery == "" {
		opts.DefaultQuery = DefaultQuery
	}
	h, err := newOffline(opts)
	if err != nil {
		dir := opts.AssetsDir
		if abs, aerr := filepath.Abs(dir); aerr == nil {
			dir = abs
		}
		logger.Warn(fmt.Sprintf("GraphiQL assets not found in %s: run make graphiql; serving the CDN page", dir), "reason", err.Error())
		return fallback(opts)
	}
	return h
}

func newOffline(opts Options) (*handler, error) {
	if opts.AssetsDir == "" {
		return nil, errors.New("no assets directory configured")
	}
	h := &handler{dir: opts.AssetsDir, versions: map[string]string{}}
	for _, name := range builtAssets {
		f, err := os.OpenInRoot(h.dir, name)
		if err != nil {
			return nil, err
		}
		sum := sha256.New()
		_, err = io.Copy(sum, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		h.versions[name] = hex.EncodeToString(sum.Sum(nil))[:12]
	}
	initSum := sha256.Sum256(initJS)
	h.versions[initName] = hex.EncodeToString(initSum[:])[:12]

	headers := []byte("{}")
	if len(opts.Headers) > 0 {
		var err error
		if headers, err = json.MarshalIndent(opts.Headers, "", "  "); err != nil {
			return nil, err
		}
	}
	data := pageData{
		Title: opts.Title,
		CSS:   h.assetURL("graphiql.min.css"),
		Config: pageConfig{
			Endpoint: opts.Endpoint, Headers: string(headers), DefaultQuery: opts.DefaultQuery,
		},
	}
	for _, name := range []string{"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", initName} {
		data.Scripts = append(data.Scripts, h.assetURL(name))
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		return nil, err
	}
	h.page = buf.Bytes()
	return h, nil
}

func (h *handler) assetURL(name string) string {
	return AssetsPrefix + name + "?v=" + h.versions[name]
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch p := r.URL.Path; {
	case p == Prefix || p == Prefix+"/":
		hdr := w.Header()
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		hdr.Set("Content-Security-Policy", csp)
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Frame-Options", "DENY")
		http.ServeContent(w, r, "graphiql.html", time.Time{}, bytes.NewReader(h.page))
	case strings.HasPrefix(p, AssetsPrefix):
		h.serveAsset(w, r, strings.TrimPrefix(p, AssetsPrefix))
	default:
		http.NotFound(w, r)
	}
}

// serveAsset serves one of the known asset names: anything else, including any path
// with a separator or "..", is not found. The file is opened inside AssetsDir
// (os.OpenInRoot), so even a symlink cannot lead out of it.
func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	if _, known := h.versions[name]; !known {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", contentType(name))
	// URLs carry the content hash (?v=), so a new build is a new URL.
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	if name == initName {
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(initJS))
		return
	}
	f, err := os.OpenInRoot(h.dir, name)
	if err != nil {
		hdr.Del("Cache-Control")
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		http.Error(w, "asset unavailable", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		hdr.Del("Cache-Control")
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, name, st.ModTime(), f)
}

func contentType(name string) string {
	switch filepath.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default:
		return "application/octet-stream"
	}
}

// fallback is gqlgen's GraphiQL page (GraphiQL from a CDN) at /graphiql; no assets.
func fallback(opts Options) http.Handler {
	cdn := gqlplayground.Handler(opts.Title, opts.Endpoint, gqlplayground.WithGraphiqlUiHeaders(opts.Headers))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != Prefix && r.URL.Path != Prefix+"/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		cdn.ServeHTTP(w, r)
	})
}
