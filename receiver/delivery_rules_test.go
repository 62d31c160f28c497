package receiver

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/templates"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

// TestSplitBeyondTheWindowIsTruncated: overflow: split into more parts than
// the robot's rate limit allows in one window could never be delivered, and
// every Alertmanager retry would post the same first parts again, spending
// the robot's budget each time: such a notification is truncated instead,
// and its title still counts all of its alerts.
func TestSplitBeyondTheWindowIsTruncated(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		cfg = strings.Replace(cfg, "max_wait: 2s", "max_wait: 1s\n  rate_limit: {messages: 4, per: 2s}", 1)
		return cfg + "  split:       {key: key-split, overflow: split, mention: {strategy: mapping_table, mapping_table: wecom_users}}\n"
	})
	tr.fake.Limit, tr.fake.Window = 4, 2*time.Second
	body := notification(t, "firing", diskFull(150)...)
	var codes []int
	for try := range 3 { // Alertmanager retries after each 503
		code, _ := tr.post(t, "split", body)
		codes = append(codes, code)
		if try < 2 {
			time.Sleep(2100 * time.Millisecond) // the window frees
		}
	}
	got := tr.fake.AcceptedFor("key-split")
	firstParts := 0
	for _, r := range got {
		if strings.HasPrefix(r.Message.Content(), "(1/") {
			firstParts++
		}
	}
	t.Logf("answers %v; WeCom accepted %d messages, part (1/n) %d times", codes, len(got), firstParts)
	if len(got) > 0 {
		t.Logf("first card starts %q", strings.SplitN(got[0].Message.Content(), "\n", 2)[0])
	}
	if codes[len(codes)-1] != http.StatusOK {
		t.Errorf("a notification split into more parts than the rate limit allows is never delivered: answers %v", codes)
	}
	if firstParts > 1 {
		t.Errorf("each retry posted the same part (1/n) again: %d times", firstParts)
	}
	if codes[0] != http.StatusOK || len(got) == 0 || !strings.Contains(got[0].Message.Content(), "more alerts not shown") ||
		!strings.Contains(got[0].Message.Content(), "[FIRING:150]") {
		t.Errorf("the first try was not delivered truncated: answers %v, %d messages", codes, len(got))
	}
}

// TestDuplicatesArePerRobot: two robots posting to one webhook key receive
// the same notification (two webhook_configs in one Alertmanager receiver):
// each posts its own message, neither is taken for the other's duplicate.
func TestDuplicatesArePerRobot(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		return cfg + "  table2:      {key: key-table, msgtype: text, mention: {strategy: mapping_table, mapping_table: wecom_users}}\n"
	})
	body := notification(t, "firing", template.KV{"alertname": "DiskFull", "team": "dba", "severity": "critical"})
	for _, robot := range []string{"table", "table2"} {
		if code, b := tr.post(t, robot, body); code != http.StatusOK {
			t.Fatalf("%s: %d %s", robot, code, b)
		}
	}
	var types []string
	for _, r := range tr.fake.AcceptedFor("key-table") {
		types = append(types, r.Message.MsgType)
	}
	t.Logf("WeCom accepted %v; notifications_total{robot=table2,result=duplicate} = %v", types, tr.value(t, "notifications", "duplicate", "table2"))
	if len(types) != 2 {
		t.Errorf("robot table2's notification (a text message) was never posted: it was taken for a duplicate of robot table's; WeCom accepted %v", types)
	}
}

// TestRetryAfterAtLeastASecond: a max_wait under a second (which the config
// accepts) does not answer "Retry-After: 0", retry at once.
func TestRetryAfterAtLeastASecond(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 500ms\n  rate_limit: {messages: 1, per: 1m}"))
	if code, b := tr.post(t, "table", notification(t, "firing", template.KV{"alertname": "A"})); code != http.StatusOK {
		t.Fatalf("the first notification: %d %s", code, b)
	}
	resp, b := tr.do(t, http.MethodPost, "table", notification(t, "firing", template.KV{"alertname": "B"}), nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("answer %d, Retry-After %q (%q); want 503 and Retry-After: 1 while the budget is spent", resp.StatusCode, resp.Header.Get("Retry-After"), strings.TrimSpace(b))
	}
}

// TestTemplateErrorIs500: a notification the robot's own template cannot
// render is answered 500, not 503 with Retry-After, and not counted as
// "unavailable", as if WeCom were failing.
func TestTemplateErrorIs500(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		return cfg + "  custom:      {key: key-custom, message: '{{ .Status }} {{ range .Alerts }}{{ .Labels.code | urlUnescape }}{{ end }}'}\n"
	})
	resp, b := tr.do(t, http.MethodPost, "custom", notification(t, "firing", template.KV{"alertname": "A", "code": "%zz"}), nil)
	if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Retry-After") != "" {
		t.Errorf("answer %d, Retry-After %q (%q); want 500 without Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), strings.TrimSpace(b))
	}
	if n := tr.value(t, "unavailable", "custom"); n != 0 {
		t.Errorf("unavailable_total = %v, want 0: WeCom did not fail", n)
	}
}

// TestNoDigestWhileBudgetIsFree: notifications that wait while the worker
// is busy (WeCom slow to answer, or a burst) are not merged into a compact
// digest while most of the budget is free: each goes with the robot's own
// template (labels, runbook, description...).
func TestNoDigestWhileBudgetIsFree(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 5s\n  rate_limit: {messages: 20, per: 1m}"))
	// WeCom is slow to answer the first message: the worker is busy for 300ms.
	tr.fake.Inject("key-table", wecomtest.Failure{Delay: 300 * time.Millisecond})
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 100 * time.Millisecond)
			codes[i], _ = tr.post(t, "table", notification(t, "firing", template.KV{"alertname": fmt.Sprint("Alert", i), "team": "dba", "severity": "critical"}))
		}()
	}
	wg.Wait()
	got := tr.fake.AcceptedFor("key-table")
	for i, r := range got {
		t.Logf("message %d: %q", i, strings.SplitN(r.Message.Content(), "\n", 2)[0])
	}
	t.Logf("answers %v; %d of 20 messages of the budget used; notifications_merged_total = %v", codes, len(got), tr.value(t, "notifications_merged", "table"))
	for _, r := range got {
		if strings.Contains(r.Message.Content(), "Alert digest") {
			t.Errorf("notifications merged into a digest while %d of 20 messages of the window were spent (digests are for more than half spent)", 1)
		}
	}
}

// TestSharedKeyMetricsPerRobot: robots sharing a key share a queue, but
// each robot's parts_split_total, alerts_truncated_total,
// queue_wait_seconds and log lines carry its own name.
func TestSharedKeyMetricsPerRobot(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		cfg = strings.Replace(cfg, "max_wait: 2s", "max_wait: 5s\n  rate_limit: {messages: 20, per: 1m}", 1)
		return cfg + "  table2:      {key: key-table, overflow: truncate, mention: {strategy: mapping_table, mapping_table: wecom_users}}\n"
	})
	if code, b := tr.post(t, "table", notification(t, "firing", template.KV{"alertname": "First"})); code != http.StatusOK {
		t.Fatalf("table: %d %s", code, b)
	}
	if code, b := tr.post(t, "table2", notification(t, "firing", diskFull(120)...)); code != http.StatusOK {
		t.Fatalf("table2: %d %s", code, b)
	}
	t.Logf("alerts_truncated_total{robot=table} = %v, {robot=table2} = %v", tr.value(t, "alerts_truncated", "table"), tr.value(t, "alerts_truncated", "table2"))
	if tr.value(t, "alerts_truncated", "table2") == 0 {
		t.Errorf("robot table2 truncated its notification, but alerts_truncated_total{robot=table2} = 0 (counted under robot table: %v)", tr.value(t, "alerts_truncated", "table"))
	}
}

// TestCountersStartAtZero: a counter one alerts on (rate_limited_total,
// retries_total, unavailable_total) or takes a rate or quantile of
// (messages_total, queue_wait_seconds) exists at 0 for every configured
// robot from the start.
func TestCountersStartAtZero(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	families, err := tr.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range families {
		have[f.GetName()] = len(f.GetMetric()) > 0
	}
	for _, name := range []string{"rate_limited_total", "retries_total", "unavailable_total",
		"notifications_merged_total", "parts_split_total", "alerts_truncated_total", "notifications_total",
		"queue_wait_seconds", "messages_total"} {
		if !have["alertmanager_wecom_"+name] {
			t.Errorf("alertmanager_wecom_%s has no series before its first event", name)
		}
	}
}

// TestRetriesCountResends: retries_total counts tries sent again, not a
// retry that a 45009 window outlasting max_wait never let go.
func TestRetriesCountResends(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	tr.fake.Inject("key-phoneonly", wecomtest.Failure{Errcode: 45009})
	body := notification(t, "firing", template.KV{"alertname": "DiskFull"})
	code, _ := tr.post(t, "phoneonly", body)
	sends := len(tr.fake.Answers())
	retries := tr.value(t, "retries", "phoneonly")
	t.Logf("answer %d, WeCom saw %d request(s), retries_total=%v", code, sends, retries)
	if int(retries) != sends-1 {
		t.Errorf("retries_total = %v, but WeCom saw %d request(s), i.e. %d resend(s)", retries, sends, sends-1)
	}
}

// TestOneMessagePerWindowMerges: a robot of one message per window merges
// what waits into a digest when the window frees, rather than sending one
// notification per window and answering the rest 503.
func TestOneMessagePerWindowMerges(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 3s\n  rate_limit: {messages: 1, per: 2s}"))
	tr.fake.Limit, tr.fake.Window = 1, 2*time.Second
	// First one spends the window.
	if code, b := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "First"})); code != http.StatusOK {
		t.Fatalf("first: %d %s", code, b)
	}
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": fmt.Sprint("Burst", i)}))
		}()
	}
	wg.Wait()
	got := tr.fake.AcceptedFor("key-phoneonly")
	for i, r := range got {
		t.Logf("message %d: %q", i, strings.SplitN(r.Message.Content(), "\n", 2)[0])
	}
	t.Logf("answers %v; merged_total %v; 45009 answers %d", codes, tr.value(t, "notifications_merged", "phoneonly"), tr.fake.CountErrcode(45009))
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("notification %d of a burst of 4 answered %d: a robot of 1 message per window never merges what waits", i, c)
		}
	}
}

// TestSplitThatFitsTheWindowIsKept: a split whose parts fit the robot's
// window is kept; a text robot has no companion to make room for.
func TestSplitThatFitsTheWindowIsKept(t *testing.T) {
	alerts := make([]template.KV, 60)
	for i := range alerts {
		alerts[i] = template.KV{"alertname": "DiskFull", "instance": fmt.Sprintf("db-%03d-%s", i, strings.Repeat("x", 60))}
	}
	parts := func(limit int) (*Rendered, error) {
		tr := newTestReceiver(t, Options{}, func(cfg string) string {
			cfg = strings.Replace(cfg, "max_wait: 2s", fmt.Sprintf("max_wait: 2s\n  rate_limit: {messages: %d, per: 1m}", limit), 1)
			return cfg + "  splittext:   {key: key-splittext, msgtype: text, overflow: split}\n"
		})
		state := tr.recv.State()
		return state.Render(state.Config.Robots["splittext"], decodedNotification(t, alerts...), Unlimited)
	}
	r, err := parts(100)
	if err != nil {
		t.Fatal(err)
	}
	n := r.Parts
	if n < 2 || len(r.Messages) != n {
		t.Fatalf("setup: want a split without companion, got %d parts, %d messages", n, len(r.Messages))
	}
	// rate_limit.messages == the number of parts: every part fits one window.
	r, err = parts(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("text robot, %d alerts: %d parts with a limit of 100; with rate_limit.messages=%d: %d message(s), %d alerts omitted", len(alerts), n, n, len(r.Messages), r.OmittedAlerts)
	if r.OmittedAlerts > 0 {
		t.Errorf("split into %d parts (no companion: text robot) fits a window of %d messages, yet was truncated, %d alerts left out", n, n, r.OmittedAlerts)
	}
}

// TestNoRetryPastTheBudget: when the failed try spent the window's last
// message, the retry that cannot be sent before max_wait is neither counted
// nor waited for: the 503 comes at once.
func TestNoRetryPastTheBudget(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 2s\n  rate_limit: {messages: 1, per: 1m}"))
	tr.fake.Inject("key-phoneonly", wecomtest.Failure{Errcode: -1})
	start := time.Now()
	code, _ := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "DiskFull"}))
	took := time.Since(start)
	sends := len(tr.fake.Answers())
	retries := tr.value(t, "retries", "phoneonly")
	t.Logf("answer %d after %v; WeCom saw %d request(s); retries_total=%v", code, took.Round(10*time.Millisecond), sends, retries)
	if int(retries) != sends-1 {
		t.Errorf("retries_total = %v, but WeCom saw %d request(s), i.e. %d resend(s)", retries, sends, sends-1)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("the next try could not start before max_wait (the budget is spent for a minute), yet the 503 came only at the deadline, after %v", took.Round(10*time.Millisecond))
	}
}

// TestQueueDepthBackToZero: queue_depth returns to 0 after a burst in which
// some requests time out and some are merged, on two robots sharing a key;
// Chinese names and emails go through templates.OneLine unchanged.
func TestQueueDepthBackToZero(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		cfg = strings.Replace(cfg, "max_wait: 2s", "max_wait: 1s\n  rate_limit: {messages: 4, per: 2s}", 1)
		return cfg + "  table2:      {key: key-table, msgtype: text, mention: {strategy: mapping_table, mapping_table: wecom_users}}\n"
	})
	var wg sync.WaitGroup
	codes := make([]int, 24)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			robot := []string{"table", "table2"}[i%2]
			codes[i], _ = tr.post(t, robot, notification(t, "firing", template.KV{"alertname": fmt.Sprint("A", i), "team": "dba", "severity": "critical"}))
		}()
	}
	wg.Wait()
	time.Sleep(100 * time.Millisecond)
	families, _ := tr.reg.Gather()
	for _, f := range families {
		if f.GetName() == "alertmanager_wecom_queue_depth" {
			for _, m := range f.GetMetric() {
				if v := m.GetGauge().GetValue(); v != 0 {
					t.Errorf("queue_depth%v = %v after every request was answered", m.GetLabel(), v)
				}
			}
		}
	}
	t.Logf("answers %v", codes)
	for _, name := range []string{"张伟", "alice.zhang@corp.com", "O'Brien, Seán", "li_na+oncall@corp.com"} {
		for _, mt := range []string{"markdown", "text", "markdown_v2"} {
			if got := oneLineFor(name, mt); got != name {
				t.Errorf("OneLine(%q, %s) = %q", name, mt, got)
			}
		}
	}
}

func oneLineFor(s, msgtype string) string { return templates.OneLine(s, msgtype) }

// TestUnitNotPostedHalf: a card and its companion go together or not at
// all. With one message of the window's budget left, and the window
// freeing only after max_wait, the card was posted alone: its phone
// mentions never went out, and Alertmanager's retry posted it again.
func TestUnitNotPostedHalf(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 2s\n  rate_limit: {messages: 2, per: 1m}"))
	// One message without responders spends one of the two.
	if code, b := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "NoOwner"})); code != http.StatusOK {
		t.Fatalf("first: %d %s", code, b)
	}
	// A card whose responders are known by phone: card and companion.
	code, b := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "DiskFull", "team": "dba", "severity": "critical"}))
	if code != http.StatusServiceUnavailable {
		t.Errorf("answer %d %s, want 503", code, b)
	}
	if got := tr.fake.AcceptedFor("key-phoneonly"); len(got) != 1 {
		t.Errorf("WeCom accepted %d messages, want only the first notification's: the card went without its companion", len(got))
	}
}

// withTemplateFile adds a templates: file holding text to the test config.
func withTemplateFile(t *testing.T, text string) func(string) string {
	path := filepath.Join(t.TempDir(), "my.tmpl")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(cfg string) string { return "templates: ['" + path + "']\n" + cfg }
}

// TestEmptyCompanionFallsBack: a user's companion template printing the
// common summary renders nothing for alerts without one; the embedded
// companion line goes instead. The companion went empty: refused with
// 502 on every retry, and every phone mention lost.
func TestEmptyCompanionFallsBack(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withTemplateFile(t, `{{ define "wecom.default.mention" }}{{ .CommonAnnotations.summary }}{{ end }}`))
	code, body := tr.post(t, "phone", notification(t, "firing",
		template.KV{"alertname": "MySQLReplicationLag", "team": "dba", "severity": "critical"}))
	if code != http.StatusOK {
		t.Errorf("status %d: %s", code, strings.TrimSpace(body))
	}
	for _, r := range tr.fake.AcceptedFor("key-phone") {
		t.Logf("%s %q", r.Message.MsgType, r.Message.Content())
	}
	for _, a := range tr.fake.Answers() {
		if a.Errcode != 0 {
			t.Errorf("WeCom answered errcode %d", a.Errcode)
		}
	}
}

// TestSplitPartThatCannotRenderTruncates: a header that reads the first
// firing alert when the group fires holds for every payload Alertmanager
// can send, but not for a split part of resolved alerts only; the
// notification is truncated instead. It failed with 500 on every retry.
func TestSplitPartThatCannotRenderTruncates(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		return cfg + `  custom:      {key: key-custom, overflow: split, message: '## {{ if eq .Status "firing" }}{{ (index .Alerts.Firing 0).Labels.severity | toUpper }} {{ end }}{{ .CommonLabels.alertname }}{{ range .Alerts }}
    - {{ .Status }} {{ .Labels.instance }}{{ end }}'}` + "\n"
	})
	state := tr.recv.State()
	n := decodedNotification(t, diskFull(80)...)
	for i := 10; i < len(n.Alerts); i++ {
		n.Alerts[i].Status = "resolved"
	}
	whole, err := state.Templates.Execute(state.message(state.Config.Robots["custom"]), state.prepareNotification(state.Config.Robots["custom"], n).data)
	if err != nil {
		t.Fatalf("the whole notification does not render either: %v", err)
	}
	t.Logf("whole notification renders fine: %d bytes (over 4096)", len(whole))
	if _, err := state.Render(state.Config.Robots["custom"], n, Unlimited); err != nil {
		t.Errorf("Render: %v", err)
	}
}

// TestSplitOfRepeatedCutsTruncates: a template whose own text (a long
// common description) is over the limit is truncated to one card; a split
// sent one identical cut card per alert, none showing an alert.
func TestSplitOfRepeatedCutsTruncates(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		return cfg + `  custom:      {key: key-custom, message: '### {{ .CommonLabels.alertname }} {{ .CommonAnnotations.description }}{{ range .Alerts }}
    - {{ .Labels.instance }}{{ end }}'}` + "\n"
	})
	state := tr.recv.State()
	n := decodedNotification(t, diskFull(12)...)
	desc := strings.Repeat("stack frame at line 42; ", 200) // 4.8 kB
	n.CommonAnnotations = template.KV{"description": desc}
	r, err := state.Render(state.Config.Robots["custom"], n, 20) // WeCom's 20 a minute, all free
	if err != nil {
		t.Fatal(err)
	}
	if r.Parts != 1 || r.OmittedAlerts != 11 {
		t.Errorf("%d parts, %d alerts said left out; want one card saying 11 are not shown", r.Parts, r.OmittedAlerts)
	}
}

// TestSplitWithTwoIdenticalCutsKeepsEveryAlert: two alerts sharing one long
// description (the same stack trace on two hosts) are cut the same way;
// that is no reason to give up splitting, which left the 10 other alerts
// out of a robot set to overflow: split.
func TestSplitWithTwoIdenticalCutsKeepsEveryAlert(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		return cfg + `  custom:      {key: key-custom, overflow: split, message: '### {{ .CommonLabels.alertname }}{{ range .Alerts }}
    - {{ .Annotations.description }} ({{ .Labels.instance }}){{ end }}'}` + "\n"
	})
	state := tr.recv.State()
	robot := state.Config.Robots["custom"]
	n := decodedNotification(t, diskFull(12)...)
	trace := strings.Repeat("stack frame at line 42; ", 200) // 4.8 kB, the same panic on two hosts
	for i := range n.Alerts {
		n.Alerts[i].Annotations = map[string]string{"description": "disk almost full"}
	}
	n.Alerts[0].Annotations["description"] = trace
	n.Alerts[1].Annotations["description"] = trace
	r, err := state.Render(robot, n, Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	if r.OmittedAlerts > 0 {
		t.Errorf("overflow: split, no rate limit: %d of 12 alerts left out (the 10 small, distinct ones among them); want every alert in some part", r.OmittedAlerts)
	}
}

// TestCompanionTemplateCheckedAtLoad: a companion template of one's own
// that cannot render is refused at load for a robot that may send a
// companion; it passed (the sample mentions nobody) and failed when
// someone was to be mentioned. A text robot, which carries its mentions
// itself, is not refused for it.
func TestCompanionTemplateCheckedAtLoad(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "my.tmpl"), []byte(`{{ define "wecom.default.mention" }}{{ template "wecom.mention.title" . }}{{ end }}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, msgtype := range []string{"markdown", "text"} {
		t.Run(msgtype, func(t *testing.T) {
			cfg, err := config.Load([]byte(`
templates: ['*.tmpl']
members: [{email: alice@corp.com, name: Alice Zhang, phone: "13800001111"}]
responders: [{matchers: ['team="dba"'], members: [alice@corp.com]}]
robots:
  ops: {key: k, msgtype: `+msgtype+`}
`), dir)
			if err != nil {
				t.Fatal(err)
			}
			state, err := NewState(cfg)
			if msgtype == "markdown" {
				if err == nil {
					t.Error("NewState accepted a companion template that cannot render")
				}
				return
			}
			if err != nil {
				t.Fatalf("NewState refused a text robot, which sends no companion: %v", err)
			}
			r, err := state.Render(cfg.Robots["ops"], decodedNotification(t, template.KV{"alertname": "A", "team": "dba"}), Unlimited)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Messages[0].Text.MentionedMobileList; len(got) != 1 || got[0] != "13800001111" {
				t.Errorf("the text robot mentions %v, want Alice's phone", got)
			}
		})
	}
}
