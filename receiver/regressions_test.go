package receiver

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/templates"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

// TestExplainWhateverTheTemplate: explain works for a robot whose template
// renders nothing, or fails, for the labels explained (a template that
// prints only annotations, a function refusing a label's value): only
// where a user_id stands depends on the template.
func TestExplainWhateverTheTemplate(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		return cfg + "  summaryonly: {key: key-summaryonly, message: '{{ range .Alerts }}{{ .Annotations.summary }}{{ end }} {{ .Mentions }}', mention: {strategy: mapping_table, mapping_table: wecom_users}}\n" +
			"  custom:      {key: key-custom, message: '{{ .Status }} {{ range .Alerts }}{{ .Labels.code | urlUnescape }}{{ end }} {{ .Mentions }}', mention: {strategy: mapping_table, mapping_table: wecom_users}}\n"
	})
	state := tr.recv.State()

	// The send works for a real alert (it has a summary annotation).
	if code, b := tr.post(t, "summaryonly", notification(t, "firing", template.KV{"alertname": "Lag", "team": "payments"})); code != http.StatusOK {
		t.Fatalf("send: %d %s", code, b)
	}
	for _, tc := range []struct{ robot, labels string }{
		// No responders and no summary on the sample: "rendered nothing".
		{"summaryonly", `alertname="Lag",team="nobody"`},
		// A label value the template's function refuses.
		{"custom", `alertname="Lag",team="payments",code="%zz"`},
	} {
		e, err := Explain(state, tc.robot, tc.labels, "", 0, false)
		t.Logf("robot %s, labels %s: explanation %v, err %v", tc.robot, tc.labels, e != nil, err)
		if err != nil {
			t.Errorf("explain for robot %s fails because its template cannot render the made-up sample: %v", tc.robot, err)
		}
	}

	// Over HTTP it is a 400 "bad parameters" for a valid robot and labels.
	srv := http.NewServeMux()
	srv.Handle("GET /api/v1/explain", ExplainHandler(tr.recv))
	req, _ := http.NewRequest(http.MethodGet, "/api/v1/explain?robot=summaryonly&labels=team%3Dnobody", nil)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("GET /api/v1/explain for a configured robot and valid labels answered %d %q", rec.Code, strings.TrimSpace(rec.Body.String()))
	}
}

// TestOneMessagePerWindowMerges: a robot of one message per window merges
// what waits into a digest when the window frees, rather than sending one
// notification per window and answering the rest 503.
func TestOneMessagePerWindowMerges(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		return strings.Replace(cfg, "max_wait: 2s", "max_wait: 3s\n  rate_limit: {messages: 1, per: 2s}", 1)
	})
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
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		return strings.Replace(cfg, "max_wait: 2s", "max_wait: 2s\n  rate_limit: {messages: 1, per: 1m}", 1)
	})
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
