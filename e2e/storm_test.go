package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

// TestStormThroughAlertmanager is issue #4's storm as a user meets it: a
// real Alertmanager gets 100 alerts in one post, as Prometheus sends them,
// and flushes 100 groups at once to both robots of examples/config.yml.
// The fake WeCom and the receiver share a rate limit shortened to 20
// messages per 10 s. Every alert and every responder must reach WeCom,
// without a single 45009.
func TestStormThroughAlertmanager(t *testing.T) {
	const window = 10 * time.Second
	fake, receiverAddr, amURL := setup(t, func(fake *wecomtest.Server, cfg []byte) []byte {
		fake.Window = window
		limit := regexp.MustCompile(`(?m)^  rate_limit: \{messages: 20, per: 1m\}`)
		if !limit.Match(cfg) {
			t.Fatal("examples/config.yml has no global rate_limit of 20 messages a minute")
		}
		return limit.ReplaceAll(cfg, []byte("  rate_limit: {messages: 20, per: 10s}"))
	})

	// Half the alerts are the DBAs' (Alice and Bob, who have phones and
	// WeCom user_ids), half the payments team's (Carol, who has only a
	// user_id): the dba robot must mention all three inline, the ops robot
	// Alice and Bob by phone.
	const n = 100
	var alerts []map[string]any
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("Storm%03d", i)
		team := "dba"
		if i%2 == 1 {
			team = "payments"
		}
		alerts = append(alerts, map[string]any{
			"labels":      map[string]string{"alertname": names[i], "team": team, "severity": "critical", "instance": fmt.Sprintf("host-%d", i)},
			"annotations": map[string]string{"summary": "storm alert " + names[i]},
		})
	}
	start := time.Now()
	postAlerts(t, amURL, alerts)

	missing := func(key string) []string {
		var content strings.Builder
		for _, m := range fake.AcceptedFor(key) {
			content.WriteString(m.Message.Content())
			content.WriteByte('\n')
		}
		var out []string
		for _, name := range names {
			if !strings.Contains(content.String(), name) {
				out = append(out, name)
			}
		}
		return out
	}
	deadline := start.Add(90 * time.Second)
	for time.Now().Before(deadline) && len(missing(opsKey))+len(missing(dbaKey)) > 0 {
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(start)
	for _, key := range []string{opsKey, dbaKey} {
		if m := missing(key); len(m) > 0 {
			t.Errorf("after %s, robot %s lacks %d of %d alerts: %v", took.Round(time.Second), key[:3], len(m), n, m)
		}
	}
	if got := fake.CountErrcode(wecom.ErrcodeRateLimited); got != 0 {
		t.Errorf("WeCom answered 45009 %d times", got)
	}
	t.Logf("every alert in WeCom after %s: ops robot %d messages, dba robot %d", took.Round(100*time.Millisecond),
		len(fake.AcceptedFor(opsKey)), len(fake.AcceptedFor(dbaKey)))

	// The responders: inline on the dba robot, by phone on the ops robot.
	var dba strings.Builder
	for _, m := range fake.AcceptedFor(dbaKey) {
		dba.WriteString(m.Message.Content())
	}
	for _, want := range []string{"<@alice_wecom>", "<@bob_wecom>", "<@carol_wecom>"} {
		if !strings.Contains(dba.String(), want) {
			t.Errorf("no dba message mentions %s", want)
		}
	}
	var phones []string
	for _, m := range fake.AcceptedFor(opsKey) {
		if m.Message.Text != nil {
			phones = append(phones, m.Message.Text.MentionedMobileList...)
		}
	}
	for _, want := range []string{"13800001111", "13900002222"} {
		if !slices.Contains(phones, want) {
			t.Errorf("no ops message mentions %s by phone (mentioned: %v)", want, phones)
		}
	}

	// So many groups at once within 20 messages per 10 s is only possible
	// by merging them; the receiver says it did.
	metrics := get(t, "http://"+receiverAddr+"/metrics")
	if !regexp.MustCompile(`alertmanager_wecom_notifications_merged_total\{robot="ops"\} [1-9]`).MatchString(metrics) {
		t.Errorf("the ops robot's notifications were not merged:\n%s", grep(metrics, "merged"))
	}
}
