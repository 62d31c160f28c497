package receiver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/internal/syncbuf"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

// testConfig has one robot per way of mentioning; every key is registered
// with the fake WeCom by newTestReceiver.
const testConfig = `
global:
  api_url: %s
  timeout: 500ms
  max_wait: 2s
members:
  - {email: alice@corp.com, name: Alice Zhang, phone: "13800001111"}
  - {email: bob@corp.com, name: Bob Li, phone: "+86 139-0000-2222"}
  - {email: carol@corp.com, name: Carol Wu}
  - {email: dave@corp.com, name: Dave Ma}
mapping_tables:
  wecom_users: {alice@corp.com: alice_wecom, bob@corp.com: bob_wecom, carol@corp.com: carol_wecom, outsider@corp.com: outsider_wecom}
teams:
  dba: [alice@corp.com, bob@corp.com]
responders:
  - matchers: ['team="dba"', 'severity=~"critical|warning"']
    teams: [dba]
  - matchers: ['team="payments"']
    members: [carol@corp.com, dave@corp.com]
  - matchers: ['page="everyone"']
    mention_all: true
  - from_label: owner
robots:
  phone:       {key: key-phone, mention: {mapping_table: wecom_users}}
  phoneonly:   {key: key-phoneonly}
  table:       {key: key-table, mention: {strategy: mapping_table, mapping_table: wecom_users}}
  text:        {key: key-text, msgtype: text, overflow: truncate, mention: {mapping_table: wecom_users}}
  v2:          {key: key-v2, msgtype: markdown_v2, mention: {strategy: mapping_table, mapping_table: wecom_users}}
  off:         {key: key-off, mention: {enabled: false, mapping_table: wecom_users}}
  resolved:    {key: key-resolved, mention: {on_resolved: true}}
  truncate:    {key: key-truncate, overflow: truncate, mention: {strategy: mapping_table, mapping_table: wecom_users}}
  bearer:      {key_from: authorization}
  noinline:    {key: key-noinline, message: '{{ .CommonLabels.alertname }} is {{ .Status }}', mention: {strategy: mapping_table, mapping_table: wecom_users}}
`

type testReceiver struct {
	recv   *Receiver
	fake   *wecomtest.Server
	server *httptest.Server
	reg    *prometheus.Registry
	logs   *syncbuf.Buffer
}

// withGlobal is an edit of testConfig that sets global settings (max_wait,
// rate_limit, ...) in place of its "max_wait: 2s".
func withGlobal(settings string) func(string) string {
	return func(cfg string) string { return strings.Replace(cfg, "max_wait: 2s", settings, 1) }
}

// dbaNotification is a firing notification of one critical alert named
// name on team dba, whose responders the phone robots mention by phone:
// a card and its companion.
func dbaNotification(t *testing.T, name string) []byte {
	return notification(t, "firing", template.KV{"alertname": name, "team": "dba", "severity": "critical"})
}

// newTestReceiver serves testConfig, changed by edits, against a fake WeCom.
func newTestReceiver(t *testing.T, opts Options, edits ...func(string) string) *testReceiver {
	t.Helper()
	fake := wecomtest.NewServer()
	t.Cleanup(fake.Close)
	text := fmt.Sprintf(testConfig, fake.APIURL())
	for _, edit := range edits {
		text = edit(text)
	}
	cfg, err := config.Load([]byte(text), t.TempDir())
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	for name := range cfg.Robots {
		fake.AddRobot("key-" + name)
	}
	state, err := NewState(cfg)
	if err != nil {
		t.Fatalf("NewState: %v", err)
	}
	tr := &testReceiver{fake: fake, reg: prometheus.NewRegistry(), logs: &syncbuf.Buffer{}}
	opts.Registerer = tr.reg
	opts.Logger = slog.New(slog.NewTextHandler(tr.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	router := http.NewServeMux()
	tr.recv = New(state, opts)
	tr.recv.Register(router)
	tr.server = httptest.NewServer(router)
	t.Cleanup(tr.server.Close)
	return tr
}

func (tr *testReceiver) post(t *testing.T, robot string, body []byte) (int, string) {
	t.Helper()
	resp, b := tr.do(t, http.MethodPost, robot, body, nil)
	return resp.StatusCode, b
}

// do sends a request to robot's endpoint and returns the answer and its body.
func (tr *testReceiver) do(t *testing.T, method, robot string, body []byte, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, tr.server.URL+"/robots/"+robot+"/send", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp, b.String()
}

// diskFull returns n alerts' labels, each with multi-byte text, for size tests.
func diskFull(n int) []template.KV {
	alerts := make([]template.KV, n)
	for i := range alerts {
		alerts[i] = template.KV{
			"alertname": "DiskFull", "team": "dba", "severity": "critical",
			"instance": fmt.Sprintf("数据库-%03d-%s", i, strings.Repeat("🔥", 10)),
		}
	}
	return alerts
}

func payload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := readPayload(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readPayload(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "testdata", "alertmanager", name))
}

// notification returns a webhook payload of the given alerts' labels, all firing.
func notification(t *testing.T, status string, labelSets ...template.KV) []byte {
	t.Helper()
	n := Notification{Version: "4", GroupKey: fmt.Sprintf("{}:{alertname=%q}", labelSets[0]["alertname"])}
	n.Status, n.Receiver = status, "wecom"
	for _, ls := range labelSets {
		set := model.LabelSet{}
		for k, v := range ls {
			set[model.LabelName(k)] = model.LabelValue(v)
		}
		n.Alerts = append(n.Alerts, template.Alert{
			Status: status, Labels: ls, Annotations: template.KV{"summary": "something broke"},
			StartsAt: time.Date(2026, 11, 24, 19, 1, 51, 0, time.UTC), Fingerprint: set.Fingerprint().String(),
		})
	}
	n.CommonLabels = template.KV{"alertname": labelSets[0]["alertname"]}
	n.GroupLabels = n.CommonLabels
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sent describes what WeCom accepted for one robot, in a form easy to compare.
type sent struct {
	msgtype  string
	inline   []string // <@userid> tokens in the content
	userIDs  []string // mentioned_list
	mobiles  []string // mentioned_mobile_list
	contains string   // the content includes this, when set
}

func describe(r wecomtest.Received) sent {
	m := r.Message
	s := sent{msgtype: m.MsgType}
	content := m.Content()
	for rest := content; ; {
		i := strings.Index(rest, "<@")
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			break
		}
		s.inline = append(s.inline, rest[i+2:i+j])
		rest = rest[i+j:]
	}
	if m.Text != nil {
		s.userIDs, s.mobiles = m.Text.MentionedList, m.Text.MentionedMobileList
	}
	return s
}

func TestMentionPlacement(t *testing.T) {
	dba := template.KV{"alertname": "MySQLReplicationLag", "team": "dba", "severity": "critical"}
	payments := template.KV{"alertname": "HighLatency", "team": "payments"}
	for _, tc := range []struct {
		name   string
		robot  string
		status string
		labels []template.KV
		want   []sent
	}{
		{name: "phone strategy: markdown card, phones in a companion text", robot: "phone", status: "firing",
			labels: []template.KV{dba},
			want:   []sent{{msgtype: "markdown"}, {msgtype: "text", mobiles: []string{"13800001111", "+8613900002222"}}}},
		{name: "phone strategy falls back to the mapping table, inline", robot: "phone", status: "firing",
			labels: []template.KV{payments},
			want:   []sent{{msgtype: "markdown", inline: []string{"carol_wecom"}, contains: "Dave Ma"}}},
		{name: "phone strategy without a table: unresolved shown by name", robot: "phoneonly", status: "firing",
			labels: []template.KV{payments},
			want:   []sent{{msgtype: "markdown", contains: "Carol Wu"}}},
		{name: "mapping table strategy: user_ids inline, no companion", robot: "table", status: "firing",
			labels: []template.KV{dba},
			want:   []sent{{msgtype: "markdown", inline: []string{"alice_wecom", "bob_wecom"}}}},
		{name: "mapping table strategy falls back to phone at the bottom", robot: "table", status: "firing",
			labels: []template.KV{{"alertname": "X", "owner": "dave@corp.com,alice@corp.com"}},
			want:   []sent{{msgtype: "markdown", inline: []string{"alice_wecom"}, contains: "Dave Ma"}}},
		{name: "text: everything at the bottom of the one message", robot: "text", status: "firing",
			labels: []template.KV{dba, payments},
			want:   []sent{{msgtype: "text", userIDs: []string{"carol_wecom"}, mobiles: []string{"13800001111", "+8613900002222"}}}},
		{name: "markdown_v2 cannot mention: the companion carries all", robot: "v2", status: "firing",
			labels: []template.KV{dba},
			want:   []sent{{msgtype: "markdown_v2"}, {msgtype: "text", userIDs: []string{"alice_wecom", "bob_wecom"}}}},
		{name: "toggle off: no mentions", robot: "off", status: "firing",
			labels: []template.KV{dba},
			want:   []sent{{msgtype: "markdown", contains: "Alice Zhang"}}},
		{name: "resolved notifications do not mention", robot: "phone", status: "resolved",
			labels: []template.KV{dba},
			want:   []sent{{msgtype: "markdown"}}},
		{name: "on_resolved mentions resolved notifications", robot: "resolved", status: "resolved",
			labels: []template.KV{dba},
			want:   []sent{{msgtype: "markdown"}, {msgtype: "text", mobiles: []string{"13800001111", "+8613900002222"}}}},
		{name: "mention_all goes to the companion's mentioned_list", robot: "table", status: "firing",
			labels: []template.KV{{"alertname": "Outage", "page": "everyone"}},
			want:   []sent{{msgtype: "markdown"}, {msgtype: "text", userIDs: []string{"@all"}}}},
		{name: "from_label: team name, non-member email in the table, unknown name", robot: "table", status: "firing",
			labels: []template.KV{{"alertname": "X", "owner": "dba, outsider@corp.com, stranger"}},
			want:   []sent{{msgtype: "markdown", inline: []string{"alice_wecom", "bob_wecom", "outsider_wecom"}, contains: "stranger"}}},
		{name: "a template that places no mentions: user_ids go to the bottom", robot: "noinline", status: "firing",
			labels: []template.KV{dba},
			want:   []sent{{msgtype: "markdown", contains: "MySQLReplicationLag is firing"}, {msgtype: "text", userIDs: []string{"alice_wecom", "bob_wecom"}}}},
		{name: "alert text cannot mention", robot: "table", status: "firing",
			labels: []template.KV{{"alertname": "X <@ceo> @all", "owner": "<@ceo>,@ALL"}},
			want:   []sent{{msgtype: "markdown"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestReceiver(t, Options{})
			code, body := tr.post(t, tc.robot, notification(t, tc.status, tc.labels...))
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			got := tr.fake.AcceptedFor("key-" + tc.robot)
			if len(got) != len(tc.want) {
				t.Fatalf("WeCom accepted %d messages, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, want := range tc.want {
				d := describe(got[i])
				if d.msgtype != want.msgtype || !slices.Equal(d.inline, want.inline) ||
					!slices.Equal(d.userIDs, want.userIDs) || !slices.Equal(d.mobiles, want.mobiles) {
					t.Errorf("message %d = %+v, want %+v\ncontent:\n%s", i, d, want, got[i].Message.Content())
				}
				if !strings.Contains(got[i].Message.Content(), want.contains) {
					t.Errorf("message %d does not contain %q:\n%s", i, want.contains, got[i].Message.Content())
				}
				if content := strings.ToLower(got[i].Message.Content()); strings.Contains(content, "@all") {
					t.Errorf("message %d content holds @all:\n%s", i, content)
				}
			}
		})
	}
}

func TestUnresolvedResponderLoggedAndCounted(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	code, body := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "X", "team": "payments"}))
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	for _, want := range []string{
		`responder="Carol Wu" email=carol@corp.com reason="no phone on record, and no mapping table is selected for the robot"`,
		`responder="Dave Ma" email=dave@corp.com reason="no phone on record, and no mapping table is selected for the robot"`,
	} {
		if !strings.Contains(tr.logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, tr.logs)
		}
	}
	if got := tr.value(t, "mentions", "unresolved", "phoneonly", "phone"); got != 2 {
		t.Errorf("mentions_total{outcome=unresolved} = %v, want 2", got)
	}

	// The same responders again: counted, but warned about once only, so
	// that a storm does not flood the log.
	if code, body := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "Y", "team": "payments"})); code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	if got := tr.value(t, "mentions", "unresolved", "phoneonly", "phone"); got != 4 {
		t.Errorf("mentions_total{outcome=unresolved} = %v, want 4", got)
	}
	if n := strings.Count(tr.logs.String(), `level=WARN msg="Responder cannot be mentioned"`); n != 2 {
		t.Errorf("%d warnings for 2 responders who cannot be mentioned, in two notifications:\n%s", n, tr.logs)
	}
}

// value returns the value of counter alertmanager_wecom_<name>_total with
// the given label values, in label name order; 0 when it does not exist.
func (tr *testReceiver) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return tr.metric(t, "alertmanager_wecom_"+name+"_total", labels...)
}

// gauge returns the value of gauge alertmanager_wecom_<name>, as value does.
func (tr *testReceiver) gauge(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return tr.metric(t, "alertmanager_wecom_"+name, labels...)
}

// metric returns the value of the counter or gauge called name with the
// given label values; 0 when it does not exist.
func (tr *testReceiver) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	m := tr.sample(t, name, labels...)
	return m.GetCounter().GetValue() + m.GetGauge().GetValue()
}

// sample returns the metric called name with the given label values, nil
// when it does not exist (its getters then return zeros).
func (tr *testReceiver) sample(t *testing.T, name string, labels ...string) *dto.Metric {
	t.Helper()
	families, err := tr.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var values []string
			for _, l := range m.GetLabel() {
				values = append(values, l.GetValue())
			}
			if slices.Equal(values, labels) {
				return m
			}
		}
	}
	return nil
}

func TestAnswers(t *testing.T) {
	good := payload(t, "firing-two-alerts.json")
	for _, tc := range []struct {
		name     string
		method   string
		robot    string
		body     []byte
		inject   []wecomtest.Failure
		errcode  int
		wantCode int
		wantBody string
		accepted int
	}{
		{name: "delivered", robot: "phone", body: good, wantCode: 200, accepted: 2},
		{name: "unknown robot", robot: "nope", body: good, wantCode: 404, wantBody: `unknown robot "nope"`},
		{name: "GET", method: http.MethodGet, robot: "phone", wantCode: 405},
		{name: "not JSON", robot: "phone", body: []byte("{"), wantCode: 400, wantBody: "decode Alertmanager webhook payload"},
		{name: "wrong version", robot: "phone", body: []byte(`{"version":"3","alerts":[{"status":"firing"}]}`), wantCode: 400, wantBody: `unsupported webhook payload version "3"`},
		{name: "no alerts", robot: "phone", body: []byte(`{"version":"4","status":"firing","alerts":[]}`), wantCode: 400, wantBody: "payload has no alerts"},
		{name: "bad alert status", robot: "phone", body: []byte(`{"version":"4","alerts":[{"status":"burning"}]}`), wantCode: 400, wantBody: `alerts[0]: unknown status "burning"`},
		{name: "oversized", robot: "phone", body: append(good, bytes.Repeat([]byte(" "), 1<<20)...), wantCode: 413, wantBody: "request body is over"},
		{name: "WeCom 502 once: retried", robot: "phone", body: good, inject: []wecomtest.Failure{{HTTPStatus: 502}}, wantCode: 200, accepted: 2},
		{name: "WeCom busy once: retried", robot: "phone", body: good, inject: []wecomtest.Failure{{Errcode: -1}}, wantCode: 200, accepted: 2},
		{name: "WeCom timeout once: retried", robot: "phone", body: good, inject: []wecomtest.Failure{{Delay: time.Second}}, wantCode: 200, accepted: 2},
		{name: "WeCom 502 throughout max_wait", robot: "phone", body: good, inject: slices.Repeat([]wecomtest.Failure{{HTTPStatus: 502}}, 100),
			wantCode: 503, wantBody: "not delivered within max_wait: the robot's rate limit is spent or WeCom is failing; retry later (last error: wecom answered HTTP 502)"},
		{name: "WeCom 45009 on the companion: not acknowledged", robot: "phone", body: good, inject: []wecomtest.Failure{{}, {Errcode: 45009}},
			wantCode: 503, wantBody: "message 2 of 2: not delivered within max_wait: the robot's rate limit is spent or WeCom is failing; retry later (last error: wecom errcode 45009: injected failure)", accepted: 1},
		{name: "robot gone", robot: "phone", body: good, errcode: 93000, wantCode: 502, wantBody: "wecom errcode 93000"},
		{name: "robot removed from group", robot: "phone", body: good, errcode: 93008, wantCode: 502, wantBody: "wecom errcode 93008"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestReceiver(t, Options{MaxRequestBytes: 1 << 20})
			key := "key-" + tc.robot
			if tc.inject != nil {
				tr.fake.Inject(key, tc.inject...)
			}
			if tc.errcode != 0 {
				tr.fake.SetErrcode(key, tc.errcode)
			}
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			resp, b := tr.do(t, method, tc.robot, tc.body, nil)
			if tc.wantCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if resp.StatusCode != tc.wantCode || !strings.Contains(b, tc.wantBody) {
				t.Errorf("answer %d %q, want %d containing %q", resp.StatusCode, b, tc.wantCode, tc.wantBody)
			}
			if got := len(tr.fake.AcceptedFor(key)); got != tc.accepted {
				t.Errorf("WeCom accepted %d messages, want %d", got, tc.accepted)
			}
			for _, where := range []string{b, tr.logs.String()} {
				if strings.Contains(where, key) {
					t.Errorf("robot key leaked: %s", where)
				}
			}
		})
	}
}

// TestUnknownRobotIsLoud: a notification for a robot the configuration
// does not have (renamed, or removed by a reload while Alertmanager still
// posts to it) is logged and counted; only Alertmanager's log said so.
func TestUnknownRobotIsLoud(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	if code, _ := tr.post(t, "renamed", payload(t, "firing-one-alert.json")); code != http.StatusNotFound {
		t.Errorf("answer %d, want 404", code)
	}
	if n := tr.metric(t, "alertmanager_wecom_unknown_robot_requests_total"); n != 1 {
		t.Errorf("unknown_robot_requests_total = %v, want 1", n)
	}
	if logs := tr.logs.String(); !strings.Contains(logs, "unknown robot") || !strings.Contains(logs, "robot=renamed") {
		t.Errorf("no log line names the unknown robot:\n%s", logs)
	}
	// A key where the robot's name goes (/robots/<key>/send) is not echoed.
	const key = "693a91f6-7f2e-4c1b-9d3e-5a6b7c8d9e0f"
	code, answer := tr.post(t, key, payload(t, "firing-one-alert.json"))
	if code != http.StatusNotFound || strings.Contains(answer, key[:8]) || strings.Contains(tr.logs.String(), key[:8]) {
		t.Errorf("a key as the robot's name: answer %d %q; logs:\n%s", code, answer, tr.logs)
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	tr := newTestReceiver(t, Options{DryRun: true})
	// Every robot's dry_run series exists from the start, as the others do.
	families, err := tr.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	dryRunSeries := 0
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if f.GetName() == "alertmanager_wecom_notifications_total" && l.GetName() == "result" && l.GetValue() == "dry_run" {
					dryRunSeries++
				}
			}
		}
	}
	if dryRunSeries != len(tr.recv.State().Config.Robots) {
		t.Errorf("%d notifications_total{result=\"dry_run\"} series before the first notification, want one a robot", dryRunSeries)
	}
	code, body := tr.post(t, "phone", payload(t, "firing-two-alerts.json"))
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	if n := len(tr.fake.Accepted()); n != 0 {
		t.Errorf("dry run sent %d messages", n)
	}
	if !strings.Contains(tr.logs.String(), "Dry run: would send WeCom message") || !strings.Contains(tr.logs.String(), `mentioned_mobile_list`) {
		t.Errorf("dry run did not log the messages:\n%s", tr.logs)
	}
}

func TestOversizedContentCutAtAlertBoundary(t *testing.T) {
	for _, robot := range []string{"truncate", "text"} {
		t.Run(robot, func(t *testing.T) {
			tr := newTestReceiver(t, Options{})
			code, body := tr.post(t, robot, notification(t, "firing", diskFull(120)...))
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			got := tr.fake.AcceptedFor("key-" + robot)
			if len(got) == 0 {
				t.Fatal("nothing accepted")
			}
			card := got[0].Message
			content := card.Content()
			if limit := wecom.ContentLimit(card.MsgType); len(content) > limit {
				t.Fatalf("content is %d bytes, over %d", len(content), limit)
			}
			if !strings.Contains(content, "more alerts not shown") {
				t.Errorf("content does not say alerts were left out:\n%s", content)
			}
			var mentioned []string
			for _, r := range got {
				d := describe(r)
				mentioned = append(append(append(mentioned, d.inline...), d.userIDs...), d.mobiles...)
			}
			for _, who := range [][]string{{"alice_wecom", "13800001111"}, {"bob_wecom", "+8613900002222"}} {
				if !slices.Contains(mentioned, who[0]) && !slices.Contains(mentioned, who[1]) {
					t.Errorf("%v not mentioned after the cut: %v", who, mentioned)
				}
			}
		})
	}
}

// TestAlertmanagerLeftAlertsOut: a notification that Alertmanager's webhook
// max_alerts cut short (its truncatedAlerts) says in WeCom how many alerts
// it lacks, also when the receiver must truncate it further itself.
func TestAlertmanagerLeftAlertsOut(t *testing.T) {
	withTruncated := func(body []byte, n int) []byte {
		var raw map[string]any
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatal(err)
		}
		raw["truncatedAlerts"] = n
		out, err := json.Marshal(raw)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		robot  string
		alerts int
		want   []string
	}{
		{"table", 2, []string{"…and 7 more alerts that Alertmanager did not send (webhook max_alerts)"}},
		{"text", 2, []string{"…and 7 more alerts that Alertmanager did not send (webhook max_alerts)"}},
		{"truncate", 120, []string{"…and 7 more alerts that Alertmanager did not send", "more alerts not shown"}},
	} {
		t.Run(tc.robot, func(t *testing.T) {
			tr := newTestReceiver(t, Options{})
			code, body := tr.post(t, tc.robot, withTruncated(notification(t, "firing", diskFull(tc.alerts)...), 7))
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			got := tr.fake.AcceptedFor("key-" + tc.robot)
			if len(got) == 0 {
				t.Fatal("nothing accepted")
			}
			for _, want := range tc.want {
				if !strings.Contains(got[0].Message.Content(), want) {
					t.Errorf("card lacks %q:\n%s", want, got[0].Message.Content())
				}
			}
		})
	}
}

// TestLargeGroupAccepted: a group of 7,000 kube-state-metrics-like alerts
// (about 4.6 MB, what Alertmanager posts with max_alerts 0) is delivered with
// the default body limit, not refused with a 413 Alertmanager never retries.
func TestLargeGroupAccepted(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	labels := make([]template.KV, 7000)
	for i := range labels {
		pod := fmt.Sprintf("checkout-worker-7d9f8b6c5d-%05d", i)
		labels[i] = template.KV{"alertname": "KubePodNotReady", "team": "dba", "severity": "warning", "namespace": "shop-prod",
			"pod": pod, "cluster": "prod-eu-1", "container": "kube-rbac-proxy-main", "job": "kube-state-metrics",
			"instance": "10.42.3.17:8443", "description": "Pod shop-prod/" + pod + " has been in a non-ready state for longer than 15 minutes on cluster prod-eu-1, see https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodnotready"}
	}
	body := notification(t, "firing", labels...)
	if len(body) < 4<<20 {
		t.Fatalf("the payload is %d bytes; the test wants one over the old 4 MiB limit", len(body))
	}
	if code, resp := tr.post(t, "table", body); code != http.StatusOK {
		t.Fatalf("a %d-byte notification answered %d %s", len(body), code, resp)
	}
	if got := tr.fake.AcceptedFor("key-table"); len(got) == 0 || !strings.Contains(got[0].Message.Content(), "[FIRING:7000]") {
		t.Errorf("WeCom did not get the group's card")
	}
}

func TestKeyFromAuthorization(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	body := payload(t, "firing-one-alert.json")
	for _, tc := range []struct {
		name, header string
		wantCode     int
		wantAnswer   string
		accepted     int
	}{
		{name: "no header", wantCode: http.StatusUnauthorized, wantAnswer: "and the request has none"},
		{name: "basic, not bearer", header: "Basic a2V5LWJlYXJlcg==", wantCode: http.StatusUnauthorized, wantAnswer: "and the request has none"},
		// The webhook URL pasted whole, as the WeCom console hands it out.
		{name: "bearer, a URL", header: "Bearer https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=key-bearer", wantCode: http.StatusUnauthorized,
			wantAnswer: "its token is not a robot key: give only the key, what follows ?key= in the webhook URL"},
		{name: "bearer", header: "Bearer key-bearer", wantCode: http.StatusOK, accepted: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := http.Header{}
			if tc.header != "" {
				header.Set("Authorization", tc.header)
			}
			resp, b := tr.do(t, http.MethodPost, "bearer", body, header)
			if resp.StatusCode != tc.wantCode || !strings.Contains(b, tc.wantAnswer) {
				t.Errorf("answer %d %s, want %d %q", resp.StatusCode, b, tc.wantCode, tc.wantAnswer)
			}
			if got := len(tr.fake.AcceptedFor("key-bearer")); got != tc.accepted {
				t.Errorf("WeCom accepted %d messages, want %d", got, tc.accepted)
			}
			if strings.Contains(b+tr.logs.String(), "key-bearer") {
				t.Error("the bearer key leaked into an answer or a log")
			}
		})
	}
}

func TestHostileInput(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	manyAlerts := make([]template.KV, 5000)
	for i := range manyAlerts {
		manyAlerts[i] = template.KV{"alertname": "Flood", "team": "dba", "severity": "critical", "instance": fmt.Sprintf("host-%d", i)}
	}
	huge := notification(t, "firing", template.KV{"alertname": "Huge", "team": "dba", "severity": "critical",
		"instance": strings.Repeat("界<@x>", 100_000)})
	withUnknown := bytes.Replace(payload(t, "firing-one-alert.json"), []byte(`"version":"4"`), []byte(`"version":"4","extra":{"x":[1,2,{"y":null}]}`), 1)
	for _, tc := range []struct {
		name     string
		body     []byte
		header   http.Header
		wantCode int
	}{
		{name: "deeply nested JSON", body: []byte(`{"version":"4","alerts":[{"status":"firing","labels":` + deep + `}]}`), wantCode: http.StatusBadRequest},
		{name: "label value of 700 KB", body: huge, wantCode: http.StatusOK},
		{name: "5000 alerts in one group", body: notification(t, "firing", manyAlerts...), wantCode: http.StatusOK},
		{name: "unknown fields", body: withUnknown, wantCode: http.StatusOK},
		{name: "wrong content type", body: payload(t, "firing-two-alerts.json"), header: http.Header{"Content-Type": {"text/plain"}}, wantCode: http.StatusOK},
		{name: "JSON array", body: []byte(`[1,2,3]`), wantCode: http.StatusBadRequest},
		{name: "null", body: []byte(`null`), wantCode: http.StatusBadRequest},
		{name: "trailing garbage", body: append(payload(t, "firing-one-alert.json"), []byte("}{")...), wantCode: http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestReceiver(t, Options{MaxRequestBytes: 4 << 20})
			resp, body := tr.do(t, http.MethodPost, "table", tc.body, tc.header)
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("answer %d %q, want %d", resp.StatusCode, body, tc.wantCode)
			}
			for _, r := range tr.fake.Accepted() {
				if err := r.Message.Validate(); err != nil {
					t.Errorf("sent a message WeCom refuses: %v", err)
				}
				c := r.Message.Content()
				for _, id := range []string{"alice_wecom", "bob_wecom", "carol_wecom", "outsider_wecom"} {
					c = strings.ReplaceAll(c, "<@"+id+">", "")
				}
				if strings.Contains(c, "<@") {
					t.Errorf("alert text made a mention:\n%s", c)
				}
			}
			if tc.wantCode == http.StatusOK && len(tr.fake.Accepted()) == 0 {
				t.Error("acknowledged but nothing reached WeCom")
			}
		})
	}
}
