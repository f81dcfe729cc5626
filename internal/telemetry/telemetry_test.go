package telemetry

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAccessLog: at info level one JSON line per request with method, path and status;
// at warn level none, and the response passes through untouched either way.
func TestAccessLog(t *testing.T) {
	for _, tc := range []struct {
		level slog.Level
		lines int
	}{{slog.LevelInfo, 1}, {slog.LevelWarn, 0}} {
		var logs bytes.Buffer
		h := AccessLog(NewLogger(&logs, tc.level))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte("body"))
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql?secret=1", nil))
		if rec.Code != http.StatusTeapot || rec.Body.String() != "body" {
			t.Errorf("level %v: response %d %q, want 418 \"body\"", tc.level, rec.Code, rec.Body.String())
		}
		if n := bytes.Count(logs.Bytes(), []byte("\n")); n != tc.lines {
			t.Fatalf("level %v: %d log lines, want %d: %s", tc.level, n, tc.lines, logs.String())
		}
		if tc.lines == 0 {
			continue
		}
		var line map[string]any
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line["msg"] != "request" || line["method"] != "POST" || line["path"] != "/graphql" || line["status"] != float64(http.StatusTeapot) {
			t.Errorf("access log line %v", line)
		}
		if bytes.Contains(logs.Bytes(), []byte("secret")) {
			t.Errorf("the query string was logged: %s", logs.String())
		}
	}
}
