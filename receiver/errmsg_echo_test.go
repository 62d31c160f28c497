package receiver

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/internal/syncbuf"
)

// TestErrmsgEchoHidesKey: a WeCom-compatible gateway of one's own
// (or WeCom) that echoes the request URL in errmsg must not make the key
// appear in the answer to Alertmanager or in the logs.
func TestErrmsgEchoHidesKey(t *testing.T) {
	const key = "693a91f6-7f2e-4c1b-9d3e-5a6b7c8d9e0f"
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"errcode":93000,"errmsg":"invalid webhook url %s, hint: [x]"}`, r.URL.RequestURI())
	}))
	defer gw.Close()
	yml := fmt.Sprintf("global: {api_url: %s/cgi-bin/webhook/send}\nrobots:\n  ops: {key: %s}\n", gw.URL, key)
	cfg, err := config.Load([]byte(yml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	state, err := NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	recv := New(state, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	mux := http.NewServeMux()
	recv.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/robots/ops/send", "application/json", strings.NewReader(string(payload(t, "firing-one-alert.json"))))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(raw)
	t.Logf("answer %d: %s", resp.StatusCode, strings.TrimSpace(body))
	if strings.Contains(body, key[:8]) {
		t.Errorf("the answer to Alertmanager reveals the key: %s", strings.TrimSpace(body))
	}
	if strings.Contains(logs.String(), key[:8]) {
		t.Errorf("the log reveals the key: %s", strings.TrimSpace(logs.String()))
	}
}
