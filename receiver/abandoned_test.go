package receiver

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

// outcomeLogged fails unless a notification named alertname, counted as
// abandoned, has its outcome logged (the WARN promises that it will be):
// a line for its group key other than the WARN, carrying want.
func outcomeLogged(t *testing.T, tr *testReceiver, robot, alertname, want string) {
	t.Helper()
	key := fmt.Sprintf(`alertname=\"%s\"`, alertname)
	var mine []string
	for _, l := range strings.Split(tr.logs.String(), "\n") {
		if strings.Contains(l, key) && !strings.Contains(l, "level=DEBUG") {
			mine = append(mine, l)
		}
	}
	t.Logf("abandoned_total=%v; lines for %s:\n%s", tr.value(t, "notifications", "abandoned", robot), alertname, strings.Join(mine, "\n"))
	for _, l := range mine {
		if !strings.Contains(l, "its outcome is logged when it comes") && strings.Contains(l, want) {
			return
		}
	}
	t.Errorf("the outcome of %s (%s) is neither answered nor logged", alertname, want)
}

// TestAbandonedOutcomeIsAnsweredOrLogged: when Alertmanager stops waiting,
// the outcome is logged, whether it reaches the handler (an unlimited
// robot's send, a job taken back from the queue, the worker's word within
// the second's grace) or comes later, from the worker (finish).
func TestAbandonedOutcomeIsAnsweredOrLogged(t *testing.T) {
	// An unlimited robot: sendNow retries the busy WeCom until max_wait,
	// past Alertmanager's timeout; submit finishes the job itself, so
	// finish sends on done and logs nothing.
	t.Run("unlimited", func(t *testing.T) {
		tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 1s\n  rate_limit: {messages: 0}"))
		tr.fake.Chaos = func(string) *wecomtest.Failure { return &wecomtest.Failure{Errcode: wecom.ErrcodeBusy} }
		tr.postWithTimeout(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "DiskFull"}), 300*time.Millisecond)
		time.Sleep(1500 * time.Millisecond)
		outcomeLogged(t, tr, "phoneonly", "DiskFull", "errcode -1")
	})
	// Still in the queue when Alertmanager left: taken out and dropped, and
	// the line says so rather than blame max_wait or promise an outcome.
	t.Run("removed from the queue", func(t *testing.T) {
		tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 2s\n  rate_limit: {messages: 1, per: 1m}"))
		if code, b := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "Spend"})); code != http.StatusOK {
			t.Fatalf("spend: %d %s", code, b)
		}
		tr.postWithTimeout(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "Waits"}), 300*time.Millisecond)
		time.Sleep(2500 * time.Millisecond)
		outcomeLogged(t, tr, "phoneonly", "Waits", "it is dropped")
		if n := tr.value(t, "unavailable", "phoneonly"); n != 0 {
			t.Errorf("unavailable_total = %v for a notification nobody was answered 503 for", n)
		}
		if n := tr.value(t, "notifications", "abandoned", "phoneonly"); n != 1 {
			t.Errorf("notifications_total{result=abandoned} = %v, want 1", n)
		}
	})
	// A digest holds A past A's deadline (B's is later); Alertmanager's
	// timeout for A falls between A's deadline and the digest's outcome,
	// which submit gets from done in its one-second wait.
	t.Run("worker holds it past its deadline", func(t *testing.T) {
		tr := newTestReceiver(t, Options{}, func(cfg string) string {
			cfg = strings.Replace(cfg, "timeout: 500ms", "timeout: 10s", 1)
			return strings.Replace(cfg, "max_wait: 2s", "max_wait: 4s\n  rate_limit: {messages: 2, per: 1m}", 1)
		})
		if code, b := tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "Spend"})); code != http.StatusOK {
			t.Fatalf("spend: %d %s", code, b)
		}
		// The digest's post is answered busy after 3.4s: at ~4.4s, between
		// A's deadline (4s) and B's (4.8s); no budget is left for a retry.
		tr.fake.Chaos = func(string) *wecomtest.Failure {
			return &wecomtest.Failure{Errcode: wecom.ErrcodeBusy, Delay: 3400 * time.Millisecond}
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			tr.postWithTimeout(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "A"}), 4200*time.Millisecond)
		})
		time.Sleep(800 * time.Millisecond)
		wg.Go(func() { tr.post(t, "phoneonly", notification(t, "firing", template.KV{"alertname": "B"})) })
		wg.Wait()
		time.Sleep(300 * time.Millisecond)
		outcomeLogged(t, tr, "phoneonly", "A", "errcode -1")
	})
}
