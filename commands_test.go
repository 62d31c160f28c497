package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/receiver"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

// bigGroup is a webhook payload of n firing alerts of team dba.
func bigGroup(t *testing.T, n int) []byte {
	t.Helper()
	p := receiver.Notification{Version: "4", GroupKey: `{}:{alertname="DiskFull"}`}
	p.Status, p.Receiver = "firing", "wecom"
	for i := range n {
		p.Alerts = append(p.Alerts, template.Alert{Status: "firing",
			Labels:      template.KV{"alertname": "DiskFull", "team": "dba", "instance": fmt.Sprintf("db-%04d-%s", i, strings.Repeat("x", 60))},
			Annotations: template.KV{"summary": strings.Repeat("disk almost full ", 5)},
			StartsAt:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Fingerprint: fmt.Sprintf("%016x", i)})
	}
	p.CommonLabels = template.KV{"alertname": "DiskFull", "team": "dba"}
	p.GroupLabels = template.KV{"alertname": "DiskFull"}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRenderIsWhatASendPosts: render prints the exact requests a robot
// sends. A group over the byte limit, on a robot with the default overflow
// (split when the budget allows, else truncate) and rate limit (20 a
// minute), is what a send by a fresh robot posts; render split it into 26
// cards where the send truncated it to one.
func TestRenderIsWhatASendPosts(t *testing.T) {
	fake := wecomtest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddRobot("key-ops")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config.yml")
	cfg := fmt.Sprintf(`global: {api_url: %s, max_wait: 5s}
members: [{email: alice@corp.com, name: Alice, phone: "13800001111"}]
responders: [{matchers: ['team="dba"'], members: [alice@corp.com]}]
robots: {ops: {key: key-ops}}
`, fake.APIURL())
	payloadFile := filepath.Join(dir, "payload.json")
	body := bigGroup(t, 400)
	for path, content := range map[string][]byte{cfgFile: []byte(cfg), payloadFile: body} {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := renderPayloadFile(&stdout, &stderr, cfgFile, "ops", payloadFile); code != 0 {
		t.Fatalf("render: %d %s", code, stderr.String())
	}
	rendered := strings.Count(stdout.String(), "# request ")

	state, err := receiver.LoadState(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	recv := receiver.New(state, receiver.Options{Logger: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	recv.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/robots/ops/send", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sent := len(fake.AcceptedFor("key-ops"))
	t.Logf("answer %d; render printed %d requests, the server posted %d", resp.StatusCode, rendered, sent)
	if rendered != sent {
		t.Errorf("render printed %d requests, a real send by a fresh robot posted %d", rendered, sent)
	}
}

// TestRenderSaysAtAll: a rule with mention_all puts "@all" in the
// companion's mentioned_list; render's summary of who is mentioned how says
// so, as explain does; it said "(none)".
func TestRenderSaysAtAll(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	payload := filepath.Join(dir, "payload.json")
	for path, content := range map[string]string{
		cfg: "responders: [{matchers: ['page=\"everyone\"'], mention_all: true}]\nrobots: {ops: {key: k}}\n",
		payload: `{"version":"4","status":"firing","receiver":"wecom","groupKey":"g","alerts":[{"status":"firing",
		  "labels":{"alertname":"Outage","page":"everyone"},"annotations":{},"startsAt":"2026-01-02T03:04:05Z","fingerprint":"1"}],
		  "groupLabels":{},"commonLabels":{"alertname":"Outage"},"commonAnnotations":{}}`,
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := renderPayloadFile(&stdout, &stderr, cfg, "ops", payload); code != 0 {
		t.Fatalf("render: %d %s", code, stderr.String())
	}
	out := stdout.String()
	summary := out[strings.Index(out, "# responders"):]
	if strings.Contains(out, `"@all"`) && !strings.Contains(summary, "@all") {
		t.Errorf("the requests mention @all, the summary does not:\n%s", summary)
	}
}
