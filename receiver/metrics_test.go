package receiver

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

// histogram returns count and sum of alertmanager_wecom_<name>{labels}.
func (tr *testReceiver) histogram(t *testing.T, name string, labels ...string) (uint64, float64) {
	t.Helper()
	h := tr.sample(t, "alertmanager_wecom_"+name, labels...).GetHistogram()
	return h.GetSampleCount(), h.GetSampleSum()
}

// notifications_merged_total says "Notifications sent merged into a
// digest with others", but delivery.go adds len(jobs) for every batch of
// more than one job, before anything is sent: notifications that went alone
// (block over half a card, p.alone, a "digest of one") and ones whose
// digest WeCom refused are counted as merged.
func TestMergedCountsOnlyWhatWasMerged(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 8s\n  rate_limit: {messages: 6, per: 4s}"))
	tr.fake.Limit, tr.fake.Window = 6, 4*time.Second
	// Spend 4 of 6: more than half, so what waits is lingered on and merged.
	for i := range 4 {
		if code, b := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": fmt.Sprint("Spend", i)})); code != http.StatusOK {
			t.Fatalf("spend %d: %d %s", i, code, b)
		}
	}
	// A small and a large notification wait together: the large one's block
	// is over half a card, so it goes alone, and the small one, a "digest of
	// one", alone too. Nothing is merged.
	var wg sync.WaitGroup
	for _, body := range [][]byte{
		notification(t, "firing", template.KV{"alertname": "Small"}),
		notification(t, "firing", diskFull(60)...),
	} {
		wg.Go(func() {
			if code, b := tr.post(t, "phoneonly", body); code != http.StatusOK {
				t.Errorf("%d %s", code, b)
			}
		})
	}
	wg.Wait()
	digests := 0
	for _, r := range tr.fake.AcceptedFor("key-phoneonly") {
		if strings.Contains(r.Message.Content(), "Alert digest") {
			digests++
		}
	}
	merged := tr.value(t, "notifications_merged", "phoneonly")
	t.Logf("digest cards WeCom accepted: %d; notifications_merged_total = %v", digests, merged)
	if digests == 0 && merged != 0 {
		t.Errorf("no digest was sent, yet notifications_merged_total = %v", merged)
	}
}

// a digest WeCom refuses (93000) is counted as merged and "sent".
func TestMergedNotCountedWhenTheDigestIsRefused(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 8s\n  rate_limit: {messages: 6, per: 4s}"))
	for i := range 4 {
		if code, b := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": fmt.Sprint("Spend", i)})); code != http.StatusOK {
			t.Fatalf("spend %d: %d %s", i, code, b)
		}
	}
	tr.fake.SetErrcode("key-phoneonly", wecom.ErrcodeInvalidKey)
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Go(func() {
			codes[i], _ = tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": fmt.Sprint("M", i)}))
		})
	}
	wg.Wait()
	merged := tr.value(t, "notifications_merged", "phoneonly")
	t.Logf("answers %v, WeCom accepted %d after the spend; notifications_merged_total = %v", codes, len(tr.fake.AcceptedFor("key-phoneonly"))-4, merged)
	if merged != 0 {
		t.Errorf("no digest was accepted (all answered %v), yet notifications_merged_total = %v", codes, merged)
	}
}

// parts_split_total and alerts_truncated_total are counted at each
// render, so Alertmanager's retry of a 503 counts the same split / cut
// again, even when the retry posts only the parts not yet accepted.
func TestPartsCountedOncePerNotification(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		return cfg + "  split:       {key: key-split, overflow: split}\n"
	})
	tr.fake.AddRobot("key-split")
	body := notification(t, "firing", diskFull(60)...)
	// Part 1 accepted, then WeCom is busy until max_wait (2s).
	var failing atomic.Bool
	tr.fake.Chaos = func(string) *wecomtest.Failure {
		if failing.Load() {
			return &wecomtest.Failure{Errcode: wecom.ErrcodeBusy}
		}
		failing.Store(true)
		return nil
	}
	code1, _ := tr.post(t, "split", body)
	tr.fake.Chaos = nil
	code2, _ := tr.post(t, "split", body) // Alertmanager's retry
	got := tr.fake.AcceptedFor("key-split")
	parts := 0
	if len(got) > 0 {
		fmt.Sscanf(got[0].Message.Content(), "(1/%d)", &parts)
	}
	for _, r := range got {
		t.Logf("accepted %s %q", r.Message.MsgType, strings.SplitN(r.Message.Content(), "\n", 2)[0])
	}
	split := tr.value(t, "parts_split", "split")
	t.Logf("answers %d then %d; WeCom accepted %d messages of a split into %d parts; parts_split_total = %v", code1, code2, len(got), parts, split)
	if code1 != http.StatusServiceUnavailable || code2 != http.StatusOK {
		t.Fatalf("setup: answers %d, %d; want 503 then 200", code1, code2)
	}
	if split != float64(parts) {
		t.Errorf("one notification split into %d parts: parts_split_total = %v", parts, split)
	}
}

func TestTruncatedCountedOncePerNotification(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	body := notification(t, "firing", diskFull(120)...)
	tr.fake.Chaos = func(string) *wecomtest.Failure { return &wecomtest.Failure{Errcode: wecom.ErrcodeBusy} }
	code1, _ := tr.post(t, "truncate", body)
	tr.fake.Chaos = nil
	code2, _ := tr.post(t, "truncate", body)
	got := tr.fake.AcceptedFor("key-truncate")
	omitted := 0
	for _, r := range got {
		c := r.Message.Content()
		if i := strings.Index(c, "…and "); i >= 0 {
			fmt.Sscanf(c[i:], "…and %d more", &omitted)
		}
	}
	truncated := tr.value(t, "alerts_truncated", "truncate")
	t.Logf("answers %d then %d; the card WeCom accepted leaves %d alerts out; alerts_truncated_total = %v", code1, code2, omitted, truncated)
	if code1 != http.StatusServiceUnavailable || code2 != http.StatusOK {
		t.Fatalf("setup: answers %d, %d; want 503 then 200", code1, code2)
	}
	if truncated != float64(omitted) {
		t.Errorf("one card with %d alerts left out was delivered: alerts_truncated_total = %v", omitted, truncated)
	}
}

// queue_depth ("Notifications waiting for the robot's rate limit
// budget") and queue_wait_seconds ("How long notifications waited for the
// robot's budget") miss a notification the worker took and holds while it
// waits for budget (a card and its companion, a 45009 block, a retry).
func TestQueueMetricsSeeWaitingForBudget(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 8s\n  rate_limit: {messages: 3, per: 4s}"))
	if code, b := tr.post(t, "phoneonly", dbaNotification(t, "First")); code != http.StatusOK {
		t.Fatalf("first: %d %s", code, b) // card + companion: 2 of 3 spent
	}
	done := make(chan int, 1)
	start := time.Now()
	go func() { code, _ := tr.post(t, "phoneonly", dbaNotification(t, "Second")); done <- code }()
	time.Sleep(3 * time.Second) // past the 2s linger: the worker holds it, waiting for 2 messages of budget
	depth := tr.gauge(t, "queue_depth", "phoneonly")
	code := <-done
	took := time.Since(start)
	n, sum := tr.histogram(t, "queue_wait_seconds", "phoneonly")
	t.Logf("second: %d after %v; queue_depth 3s in = %v; queue_wait_seconds count %d sum %.3fs", code, took.Round(10*time.Millisecond), depth, n, sum)
	if depth != 1 {
		t.Errorf("a notification waited %v for the robot's budget, but queue_depth showed %v while it waited", took.Round(100*time.Millisecond), depth)
	}
	if sum < took.Seconds()/2 {
		t.Errorf("queue_wait_seconds_sum = %.3fs for notifications that waited %v for budget", sum, took.Round(100*time.Millisecond))
	}
}

// a notification answered 503 at max_wait is never observed in
// queue_wait_seconds: the histogram cannot show the waits that matter.
func TestQueueWaitSeesTimeouts(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 1s\n  rate_limit: {messages: 1, per: 1m}"))
	if code, _ := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "A"})); code != 200 {
		t.Fatal(code)
	}
	code, _ := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "B"}))
	n, sum := tr.histogram(t, "queue_wait_seconds", "phoneonly")
	t.Logf("second answered %d; queue_wait_seconds count %d sum %.3f; unavailable_total %v", code, n, sum, tr.value(t, "unavailable", "phoneonly"))
	if code == http.StatusServiceUnavailable && n < 2 {
		t.Errorf("a notification that waited max_wait (1s) in the queue and got 503 is not in queue_wait_seconds (count %d, sum %.3f)", n, sum)
	}
}

// a failed delivery logs robot, group key and errcode once at ERROR.
func TestFailureLoggedOnceWithErrcode(t *testing.T) {
	t.Run("answered", func(t *testing.T) {
		tr := newTestReceiver(t, Options{})
		tr.fake.SetErrcode("key-phoneonly", wecom.ErrcodeRobotDisabled)
		code, _ := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "DiskFull"}))
		checkOneErrorLine(t, tr, code, "93004")
	})
	// Alertmanager's own timeout fires while WeCom answers 93000: the
	// delivery goes on and fails, but the line logged says "max_wait" and
	// the errcode is never logged with the group key.
	t.Run("alertmanager left", func(t *testing.T) {
		tr := newTestReceiver(t, Options{})
		tr.fake.Inject("key-phoneonly", wecomtest.Failure{Delay: 400 * time.Millisecond, Errcode: wecom.ErrcodeInvalidKey})
		tr.postWithTimeout(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "DiskFull"}), 150*time.Millisecond)
		time.Sleep(800 * time.Millisecond)
		t.Logf("errcodes_total{93000}=%v unavailable_total=%v", tr.value(t, "wecom_errcodes", "93000", "phoneonly"), tr.value(t, "unavailable", "phoneonly"))
		checkOneErrorLine(t, tr, 0, "93000")
	})
}

func checkOneErrorLine(t *testing.T, tr *testReceiver, code int, errcode string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(tr.logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			lines = append(lines, l)
		}
	}
	t.Logf("answer %d; ERROR lines:\n%s", code, strings.Join(lines, "\n"))
	if len(lines) != 1 {
		t.Fatalf("%d ERROR lines, want 1", len(lines))
	}
	for _, want := range []string{"robot=phoneonly", `group_key="{}:{alertname=\"DiskFull\"}"`, errcode} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the ERROR line lacks %s", want)
		}
	}
}

// queue_depth back to 0 after a reload removing the robot whose
// notifications wait, and after Shutdown.
func TestQueueDepthAfterReloadAndShutdown(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 5s\n  rate_limit: {messages: 1, per: 1m}"))
	tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "A"}))
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": fmt.Sprint("W", i)}))
		})
	}
	waitUntil(t, "queued", func() bool { return tr.gauge(t, "queue_depth", "phoneonly") == 3 })
	old := tr.recv.State()
	cfg := *old.Config
	cfg.Robots = robotsWithout(old, "phoneonly")
	state, err := NewState(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.recv.SetState(state)
	wg.Wait()
	if d := tr.gauge(t, "queue_depth", "phoneonly"); d != 0 {
		t.Errorf("queue_depth{robot=phoneonly} = %v after reload removed it and its requests were answered", d)
	}
	// The table robot's budget spent first, so that what follows waits.
	tr.post(t, "table", notification(t, "firing", template.KV{"alertname": "Spend"}))
	for i := range 2 {
		wg.Go(func() { tr.post(t, "table", notification(t, "firing", template.KV{"alertname": fmt.Sprint("T", i)})) })
	}
	waitUntil(t, "queued", func() bool { return tr.gauge(t, "queue_depth", "table") >= 1 })
	tr.recv.Shutdown()
	wg.Wait()
	if d := tr.gauge(t, "queue_depth", "table"); d != 0 {
		t.Errorf("queue_depth{robot=table} = %v after Shutdown", d)
	}
	t.Logf("unavailable phoneonly=%v table=%v", tr.value(t, "unavailable", "phoneonly"), tr.value(t, "unavailable", "table"))
}

func robotsWithout(s *State, name string) map[string]*config.Robot {
	out := map[string]*config.Robot{}
	for k, v := range s.Config.Robots {
		if k != name {
			out[k] = v
		}
	}
	return out
}
