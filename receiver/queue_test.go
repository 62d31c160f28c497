package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

// postWithTimeout posts body to robot like an Alertmanager whose own
// timeout fires after timeout, and reports whether it got an answer.
func (tr *testReceiver) postWithTimeout(t *testing.T, robot string, body []byte, timeout time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tr.server.URL+"/robots/"+robot+"/send", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// Alertmanager's own timeout fires while WeCom is answering: the delivery
// goes on, and Alertmanager's retry of what WeCom accepted is acknowledged
// without posting it again, with or without a rate limit.
func TestDuplicateAfterAlertmanagerTimeout(t *testing.T) {
	for _, tc := range []struct{ name, rateLimit string }{
		{"queued", ""},
		{"unlimited", "\n  rate_limit: {messages: 0}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestReceiver(t, Options{}, func(cfg string) string {
				return strings.Replace(cfg, "max_wait: 2s", "max_wait: 2s"+tc.rateLimit, 1)
			})
			// A card and its companion; WeCom is slow to answer the companion.
			body := notification(t, "firing", template.KV{"alertname": "DiskFull", "team": "dba", "severity": "critical"})
			tr.fake.Inject("key-phone", wecomtest.Failure{}, wecomtest.Failure{Delay: 400 * time.Millisecond})
			if tr.postWithTimeout(t, "phone", body, 150*time.Millisecond) {
				t.Fatal("expected the client to time out")
			}
			time.Sleep(600 * time.Millisecond) // the delivery completes
			if n := len(tr.fake.AcceptedFor("key-phone")); n != 2 {
				t.Fatalf("first try: WeCom accepted %d messages, want the card and its companion", n)
			}
			if code, b := tr.post(t, "phone", body); code != http.StatusOK {
				t.Fatalf("retry: %d %s", code, b)
			}
			if n := len(tr.fake.AcceptedFor("key-phone")); n != 2 {
				t.Errorf("Alertmanager's retry of a notification WeCom already accepted was posted again: %d messages accepted, want 2", n)
			}
			if got := tr.value(t, "notifications", "duplicate", "phone"); got != 1 {
				t.Errorf("notifications_total{result=duplicate} = %v, want 1", got)
			}
		})
	}
}

// Notifications merged into a digest whose requests left while WeCom was
// answering are remembered once the digest is accepted: their retries are
// not posted again.
func TestDuplicateOfMergedNotificationsWhoseRequestLeft(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		cfg = strings.Replace(cfg, "timeout: 500ms", "timeout: 3s", 1)
		return strings.Replace(cfg, "max_wait: 2s", "max_wait: 8s\n  rate_limit: {messages: 2, per: 2s}", 1)
	})
	// Half the budget spent: what comes next lingers 2s to be merged, then
	// WeCom is slow to answer the digest.
	tr.fake.Inject("key-table", wecomtest.Failure{}, wecomtest.Failure{Delay: time.Second})
	if code, b := tr.post(t, "table", notification(t, "firing", template.KV{"alertname": "First"})); code != http.StatusOK {
		t.Fatalf("first: %d %s", code, b)
	}
	bodies := [][]byte{
		notification(t, "firing", template.KV{"alertname": "Second"}),
		notification(t, "firing", template.KV{"alertname": "Third"}),
	}
	var wg sync.WaitGroup
	for _, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tr.postWithTimeout(t, "table", body, 2500*time.Millisecond) {
				t.Error("expected the client to time out")
			}
		}()
	}
	wg.Wait()
	time.Sleep(time.Second) // the digest is accepted
	if got := tr.value(t, "notifications_merged", "table"); got != 2 {
		t.Fatalf("notifications_merged_total = %v, want 2", got)
	}
	if n := len(tr.fake.AcceptedFor("key-table")); n != 2 {
		t.Fatalf("WeCom accepted %d messages, want the first and the digest", n)
	}
	for _, body := range bodies {
		if code, b := tr.post(t, "table", body); code != http.StatusOK {
			t.Fatalf("retry: %d %s", code, b)
		}
	}
	if n := len(tr.fake.AcceptedFor("key-table")); n != 2 {
		t.Errorf("retries of merged notifications WeCom accepted were posted again: %d messages, want 2", n)
	}
}

// Two identical notifications at once (Alertmanager HA peers): the second
// waits for the first's outcome, acknowledged when it was accepted, posted
// itself when it failed; never posted twice.
func TestIdenticalNotificationsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name      string
		first     wecomtest.Failure
		wantFirst int
	}{
		{"first accepted", wecomtest.Failure{Delay: 300 * time.Millisecond}, http.StatusOK},
		{"first failed", wecomtest.Failure{Delay: 300 * time.Millisecond, Errcode: wecom.ErrcodeRobotDisabled}, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestReceiver(t, Options{})
			tr.fake.Inject("key-table", tc.first)
			body := payload(t, "firing-two-alerts.json")
			codes := make([]int, 2)
			var wg sync.WaitGroup
			for i := range codes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					time.Sleep(time.Duration(i) * 100 * time.Millisecond) // the second arrives while the first is being posted
					codes[i], _ = tr.post(t, "table", body)
				}()
			}
			wg.Wait()
			if codes[0] != tc.wantFirst || codes[1] != http.StatusOK {
				t.Errorf("answers %v, want [%d 200]", codes, tc.wantFirst)
			}
			if n := len(tr.fake.AcceptedFor("key-table")); n != 1 {
				t.Errorf("WeCom accepted %d messages, want 1", n)
			}
		})
	}
}

// Every distinct bearer token makes a queue and a worker; once idle (its
// rate limit window empty) each is dropped, so that no client can grow the
// process without bound.
func TestIdleQueuesDropped(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 2s\n  rate_limit: {messages: 20, per: 200ms}"))
	tr.recv.queueIdle = 20 * time.Millisecond
	body := payload(t, "firing-one-alert.json")
	before := runtime.NumGoroutine()
	for i := range 500 {
		resp, _ := tr.do(t, http.MethodPost, "bearer", body, http.Header{"Authorization": {fmt.Sprintf("Bearer junk-%d", i)}})
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("unknown key answered %d, want 502", resp.StatusCode)
		}
	}
	var queues, after int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		tr.recv.queuesMu.Lock()
		queues = len(tr.recv.queues)
		tr.recv.queuesMu.Unlock()
		if after = runtime.NumGoroutine(); queues == 0 && after-before <= 20 {
			return
		}
	}
	t.Errorf("500 bearer tokens left %d queues and %d more goroutines behind", queues, after-before)
}

// A queue is never dropped while a request holds it, between finding it
// and queueing its notification; posts racing the worker's exit are all
// delivered.
func TestQueueDroppedWhileFound(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 1s\n  rate_limit: {messages: 1000, per: 1ms}\n  dedup_window: 0s"))
	tr.recv.queueIdle = 0
	tr.fake.Limit = 0 // only the race is under test
	body := payload(t, "firing-one-alert.json")

	state := tr.recv.State()
	robot := state.Config.Robots["table"]
	url, _ := robot.WebhookURLFor("")
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatal(err)
	}
	q := tr.recv.queueFor(state, robot, url)
	if code, b := tr.post(t, "table", body); code != http.StatusOK { // the window has a send
		t.Fatalf("post: %d %s", code, b)
	}
	time.Sleep(50 * time.Millisecond) // idle long enough to leave, were q not held
	j := &job{state: state, prep: state.prepare(robot, &n.Data), deadline: time.Now().Add(time.Second), done: make(chan error, 1)}
	if err := q.submit(context.Background(), j); err != nil {
		t.Errorf("submit to a queue held while idle: %v", err)
	}
	tr.recv.releaseQueue(q)

	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				time.Sleep(time.Duration((i+j)%3) * time.Millisecond)
				if code, b := tr.post(t, "table", body); code != http.StatusOK {
					t.Errorf("post %d/%d: %d %s", i, j, code, b)
				}
			}
		}()
	}
	wg.Wait()
	if got := tr.value(t, "notifications", "delivered", "table"); got != 201 {
		t.Errorf("notifications_total{result=delivered} = %v, want 201", got)
	}
}

// A reload that lowers a robot's rate limit keeps the budget already spent:
// WeCom still counts it, so nothing is sent before the window frees.
func TestReloadKeepsSpentBudget(t *testing.T) {
	var cfgText string
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		cfgText = strings.Replace(cfg, "max_wait: 2s", "max_wait: 1s\n  rate_limit: {messages: 20, per: 1m}", 1)
		return cfgText
	})
	for i := range 20 {
		if code, b := tr.post(t, "table", notification(t, "firing", template.KV{"alertname": fmt.Sprint("N", i)})); code != http.StatusOK {
			t.Fatalf("post %d: %d %s", i, code, b)
		}
	}
	// The operator lowers the limit during a storm.
	cfg, err := config.Load([]byte(strings.Replace(cfgText, "messages: 20", "messages: 15", 1)), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	state, err := NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.recv.SetState(state)
	code, _ := tr.post(t, "table", notification(t, "firing", template.KV{"alertname": "AfterReload"}))
	if n := tr.fake.CountErrcode(wecom.ErrcodeRateLimited); n > 0 {
		t.Errorf("after lowering the rate limit 20→15, WeCom answered 45009 %d times", n)
	}
	if code != http.StatusServiceUnavailable {
		t.Errorf("with the budget spent, answered %d, want 503", code)
	}
	if n := len(tr.fake.AcceptedFor("key-table")); n != 20 {
		t.Errorf("WeCom accepted %d messages, want the 20 before the reload", n)
	}
}

// TestSoloRenderErrorFailsOnlyItself: a notification too large for a
// digest is rendered alone with the robot's own template; when that
// template fails on it, only it fails, not the notifications batched with it.
func TestSoloRenderErrorFailsOnlyItself(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		return cfg + "  custom:      {key: key-custom, message: '{{ range .Alerts }}{{ .Labels.instance }} {{ .Labels.code | urlUnescape }}{{ end }}{{ .Mentions }}'}\n"
	})
	state := tr.recv.State()
	robot := state.Config.Robots["custom"]
	url, _ := robot.WebhookURLFor("")
	mk := func(labels ...template.KV) *job {
		var n Notification
		if err := json.Unmarshal(notification(t, "firing", labels...), &n); err != nil {
			t.Fatal(err)
		}
		return &job{state: state, prep: state.prepare(robot, &n.Data), enqueued: time.Now(), deadline: time.Now().Add(time.Second), done: make(chan error, 1)}
	}
	var big []template.KV
	for i := range 80 {
		big = append(big, template.KV{"alertname": "Big", "instance": fmt.Sprintf("host-%03d-%s", i, strings.Repeat("x", 40)), "code": "%zz"})
	}
	q := tr.recv.queueFor(state, robot, url)
	defer tr.recv.releaseQueue(q)

	alone := mk(template.KV{"alertname": "Small", "instance": "h1"})
	q.deliver([]*job{alone})
	if err := <-alone.done; err != nil {
		t.Fatalf("alone: %v", err)
	}
	small, poison := mk(template.KV{"alertname": "Small2", "instance": "h2"}), mk(big...)
	q.deliver([]*job{small, poison})
	if err := <-small.done; err != nil {
		t.Errorf("a well-formed notification batched with one its robot's template cannot render failed: %v", err)
	}
	if err := <-poison.done; err == nil || !strings.Contains(err.Error(), "urlUnescape") {
		t.Errorf("the notification its template cannot render: %v", err)
	}
}

// TestSolosDoNotHoldBackTheDigest: two small notifications whose digest
// (card and companion) fits the budget left, batched with a large one sent
// alone: the digest goes at once, the large one waits for budget of its
// own (here past max_wait: 503), and the limiter counts only real posts.
func TestSolosDoNotHoldBackTheDigest(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 1s\n  rate_limit: {messages: 4, per: 5s}"))
	tr.fake.Limit = 0
	state := tr.recv.State()
	robot := state.Config.Robots["phone"]
	url, _ := robot.WebhookURLFor("")
	// Spend half the budget: a card and its companion.
	if code, b := tr.post(t, "phone", notification(t, "firing", template.KV{"alertname": "Prime", "team": "dba", "severity": "critical"})); code != http.StatusOK {
		t.Fatalf("prime: %d %s", code, b)
	}
	mk := func(labels ...template.KV) *job {
		var n Notification
		if err := json.Unmarshal(notification(t, "firing", labels...), &n); err != nil {
			t.Fatal(err)
		}
		return &job{state: state, prep: state.prepare(robot, &n.Data), enqueued: time.Now(), deadline: time.Now().Add(time.Second), done: make(chan error, 1)}
	}
	a := mk(template.KV{"alertname": "A", "team": "dba", "severity": "critical"})
	b := mk(template.KV{"alertname": "B", "team": "dba", "severity": "critical"})
	big := mk(diskFull(60)...)
	q := tr.recv.queueFor(state, robot, url)
	defer tr.recv.releaseQueue(q)
	t.Logf("available before the batch: %d", q.limiter.available())
	q.deliver([]*job{a, b, big})
	errA, errB, errBig := <-a.done, <-b.done, <-big.done
	t.Logf("a: %v\nb: %v\nbig: %v\nWeCom accepted %d messages in all", errA, errB, errBig, len(tr.fake.AcceptedFor("key-phone")))
	t.Logf("limiter counts %d sends in its window; WeCom accepted %d", q.limiter.used(), len(tr.fake.AcceptedFor("key-phone")))
	if errA != nil || errB != nil {
		t.Errorf("the digest of A and B fit the budget left, yet was not sent")
	}
	if errBig == nil {
		t.Errorf("the large notification was acknowledged beyond the budget")
	}
	if used, accepted := q.limiter.used(), len(tr.fake.AcceptedFor("key-phone")); used != accepted {
		t.Errorf("the limiter counts %d sends, WeCom accepted %d", used, accepted)
	}
}

// TestUnlimited45009BacksOff: a robot without a rate limit that WeCom
// answers 45009 backs off between tries instead of retrying at once.
func TestUnlimited45009BacksOff(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 1s\n  rate_limit: {messages: 0}"))
	tr.fake.Limit, tr.fake.Window = 1, time.Minute
	tr.post(t, "table", notification(t, "firing", template.KV{"alertname": "A"}))
	start := time.Now()
	code, _ := tr.post(t, "table", notification(t, "firing", template.KV{"alertname": "B"}))
	n := tr.fake.CountErrcode(wecom.ErrcodeRateLimited)
	t.Logf("answered %d after %v; WeCom answered 45009 %d times", code, time.Since(start), n)
	if n > 5 {
		t.Errorf("WeCom answered 45009 %d times within one max_wait (1s): retried without backoff", n)
	}
}

// TestRobotsSharingAKeyAreRenderedTheirOwnWay: robots posting to one
// webhook share its queue, but a batch holds one robot's notifications, so
// each is rendered in its robot's msgtype, language and template.
func TestRobotsSharingAKeyAreRenderedTheirOwnWay(t *testing.T) {
	jobFor := func(robot string) *job { return &job{prep: &prepared{robot: &config.Robot{Name: robot}}} }
	a1, b1, a2, b2 := jobFor("a"), jobFor("b"), jobFor("a"), jobFor("b")
	q := &robotQueue{waiting: []*job{a1, b1, a2, b2}}
	if got := q.takeSameRobot(); len(got) != 2 || got[0] != a1 || got[1] != a2 {
		t.Errorf("first batch %v, want robot a's two jobs", got)
	}
	if got := q.takeSameRobot(); len(got) != 2 || got[0] != b1 || got[1] != b2 {
		t.Errorf("second batch %v, want robot b's two jobs", got)
	}
	if got := q.takeSameRobot(); got != nil || q.waiting != nil {
		t.Errorf("third batch %v, waiting %v: want nothing left", got, q.waiting)
	}
}

// TestSharedKeyStricterLimitHolds: a robot whose key comes from the
// Authorization header may share a key with a configured robot of another
// rate limit (check-config cannot see it): the stricter limit holds, not
// each request's in turn.
func TestSharedKeyStricterLimitHolds(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		cfg = strings.Replace(cfg, "max_wait: 2s", "max_wait: 2s\n  rate_limit: {messages: 20, per: 1m}", 1)
		return strings.Replace(cfg, "bearer:      {key_from: authorization}", "bearer:      {key_from: authorization, rate_limit: {messages: 5, per: 1m}}", 1)
	})
	limit := func() int {
		tr.recv.queuesMu.Lock()
		defer tr.recv.queuesMu.Unlock()
		for u, q := range tr.recv.queues {
			if strings.Contains(u, "key-table") {
				n, _ := q.limiter.limit()
				return n
			}
		}
		return -1
	}
	posts := 0
	post := func(robot string, header http.Header) {
		t.Helper()
		posts++ // a new notification each time, no duplicate
		body := notification(t, "firing", template.KV{"alertname": fmt.Sprint("A", posts)})
		if resp, b := tr.do(t, http.MethodPost, robot, body, header); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", robot, resp.StatusCode, b)
		}
	}
	post("table", nil)
	if n := limit(); n != 20 {
		t.Fatalf("limit %d after robot table, want 20", n)
	}
	post("bearer", http.Header{"Authorization": {"Bearer key-table"}})
	post("table", nil)
	if n := limit(); n != 5 {
		t.Errorf("limit %d after robots table, bearer and table again on one key, want the stricter 5", n)
	}
}

// TestShutdownAnswersWhatWaits: Shutdown answers a notification waiting
// for budget, and one coming later, with a retryable error (503) at once;
// the queue's depth goes back to 0 and nothing more is posted.
func TestShutdownAnswersWhatWaits(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 10s\n  rate_limit: {messages: 1, per: 1m}"))
	if code, b := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "First"})); code != http.StatusOK {
		t.Fatalf("first: %d %s", code, b)
	}
	waiting := make(chan int, 1)
	go func() {
		code, _ := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "Waits"}))
		waiting <- code
	}()
	waitUntil(t, "the notification is queued", func() bool { return tr.gauge(t, "queue_depth", "phoneonly") == 1 })
	tr.recv.Shutdown()
	if code := <-waiting; code != http.StatusServiceUnavailable {
		t.Errorf("the waiting notification was answered %d, want 503", code)
	}
	if code, _ := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "Later"})); code != http.StatusServiceUnavailable {
		t.Errorf("a notification after Shutdown was answered %d, want 503", code)
	}
	if depth := tr.gauge(t, "queue_depth", "phoneonly"); depth != 0 {
		t.Errorf("queue_depth = %v after Shutdown, want 0", depth)
	}
	if n := len(tr.fake.AcceptedFor("key-phoneonly")); n != 1 {
		t.Errorf("WeCom accepted %d messages, want only the first", n)
	}
}

// TestShutdownAnswersWhatTheWorkerHolds: a notification the worker already
// took, waiting for the budget of its card and companion, is answered 503
// by Shutdown too; it waited for the budget and was posted (200) while the
// process was stopping.
func TestShutdownAnswersWhatTheWorkerHolds(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 8s\n  rate_limit: {messages: 3, per: 6s}"))
	if code, b := tr.post(t, "phoneonly", dbaNotification(t, "First")); code != http.StatusOK {
		t.Fatalf("first: %d %s", code, b) // a card and its companion: 2 of 3 spent
	}
	answered := make(chan int, 1)
	go func() {
		code, _ := tr.post(t, "phoneonly", dbaNotification(t, "Second"))
		answered <- code
	}()
	// The worker takes it off the queue, then waits for 2 messages of budget,
	// and it still counts as waiting.
	waitUntil(t, "the notification is queued", func() bool { return tr.gauge(t, "queue_depth", "phoneonly") == 1 })
	waitUntil(t, "the worker takes it", func() bool { return tr.recv.queued() == 0 })
	if depth := tr.gauge(t, "queue_depth", "phoneonly"); depth != 1 {
		t.Errorf("queue_depth is %v while the worker holds the notification for budget, want 1", depth)
	}
	tr.recv.Shutdown()
	if code := <-answered; code != http.StatusServiceUnavailable {
		t.Errorf("the notification the worker held was answered %d, want 503", code)
	}
	if n := len(tr.fake.AcceptedFor("key-phoneonly")); n != 2 {
		t.Errorf("WeCom accepted %d messages, want the first notification's 2", n)
	}
}

// TestShutdownAnswersUnlimitedRobots: after Shutdown a robot without a rate
// limit answers 503 too, as Shutdown says; it posted.
func TestShutdownAnswersUnlimitedRobots(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 2s\n  rate_limit: {messages: 0}"))
	tr.recv.Shutdown()
	if code, _ := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "Later"})); code != http.StatusServiceUnavailable {
		t.Errorf("a notification after Shutdown was answered %d, want 503", code)
	}
	if n := len(tr.fake.AcceptedFor("key-phoneonly")); n != 0 {
		t.Errorf("WeCom accepted %d messages after Shutdown", n)
	}
}

// queued returns how many notifications wait in r's queues, not counting
// those their worker took.
func (r *Receiver) queued() int {
	r.queuesMu.Lock()
	defer r.queuesMu.Unlock()
	n := 0
	for _, q := range r.queues {
		q.mu.Lock()
		n += len(q.waiting)
		q.mu.Unlock()
	}
	return n
}

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("waited 10 s: %s never happened", what)
}
