package receiver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/responders"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

// TestStorm posts 200 distinct groups to one robot within a second, against
// a fake WeCom that enforces 20 messages in a (shortened) 3 s window: WeCom
// must never answer 45009, every acknowledged group must be in what it
// accepted with its responders, and the rest must have been answered 503.
func TestStorm(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 8s\n  rate_limit: {messages: 20, per: 3s}"))
	tr.fake.Window = 3 * time.Second

	const groups = 200
	codes := make([]int, groups)
	var wg sync.WaitGroup
	for i := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 5 * time.Millisecond) // 200 groups over 1 s
			labels := template.KV{"alertname": fmt.Sprintf("Storm%03d", i), "team": "dba", "severity": "critical"}
			if i%2 == 1 {
				labels = template.KV{"alertname": fmt.Sprintf("Storm%03d", i), "team": "payments"}
			}
			codes[i], _ = tr.post(t, "table", notification(t, "firing", labels))
		}()
	}
	wg.Wait()

	if n := tr.fake.CountErrcode(wecom.ErrcodeRateLimited); n != 0 {
		t.Errorf("WeCom answered 45009 %d times", n)
	}
	var all strings.Builder
	for _, r := range tr.fake.AcceptedFor("key-table") {
		all.WriteString(r.Message.Content())
		if r.Message.Text != nil {
			all.WriteString(strings.Join(r.Message.Text.MentionedList, " "))
		}
	}
	delivered := 0
	for i, code := range codes {
		switch code {
		case http.StatusOK:
			delivered++
			if name := fmt.Sprintf("Storm%03d", i); !strings.Contains(all.String(), name) {
				t.Errorf("%s acknowledged but not in what WeCom accepted", name)
			}
		case http.StatusServiceUnavailable:
		default:
			t.Errorf("group %d answered %d", i, code)
		}
	}
	for _, who := range []string{"<@alice_wecom>", "<@bob_wecom>", "<@carol_wecom>", "Dave Ma"} {
		if !strings.Contains(all.String(), who) {
			t.Errorf("responder %s not in what WeCom accepted", who)
		}
	}
	if delivered == 0 {
		t.Fatal("nothing delivered")
	}
	t.Logf("%d of %d groups delivered in %d messages", delivered, groups, len(tr.fake.AcceptedFor("key-table")))
}

func TestDuplicateWindow(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	body := payload(t, "firing-two-alerts.json")
	for i := range 3 {
		if code, b := tr.post(t, "table", body); code != http.StatusOK {
			t.Fatalf("post %d: %d %s", i, code, b)
		}
	}
	if n := len(tr.fake.AcceptedFor("key-table")); n != 1 {
		t.Errorf("the same notification three times posted %d messages, want 1", n)
	}
	// A change of status or alerts is a new notification.
	if code, b := tr.post(t, "table", payload(t, "firing-with-resolved.json")); code != http.StatusOK {
		t.Fatalf("post: %d %s", code, b)
	}
	if n := len(tr.fake.AcceptedFor("key-table")); n != 2 {
		t.Errorf("a changed notification was not posted: %d messages", n)
	}
	if got := tr.value(t, "notifications", "duplicate", "table"); got != 2 {
		t.Errorf("notifications_total{result=duplicate} = %v, want 2", got)
	}
}

// TestRefiringAfterResolvedIsPosted: only a repeat of a group's last
// delivery is a duplicate. A group that fires, resolves and fires again
// with the same alert (its start unchanged, as when Alertmanager resolved
// it on an expired endsAt and Prometheus sent it again) within the window
// is posted each time, or the chat's last word would be "resolved".
func TestRefiringAfterResolvedIsPosted(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	firing := payload(t, "firing-one-alert.json")
	var n Notification
	if err := json.Unmarshal(firing, &n); err != nil {
		t.Fatal(err)
	}
	n.Status, n.Alerts[0].Status, n.Alerts[0].EndsAt = "resolved", "resolved", n.Alerts[0].StartsAt.Add(5*time.Minute)
	resolved, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	for i, body := range [][]byte{firing, resolved, firing, firing} {
		if code, b := tr.post(t, "table", body); code != http.StatusOK {
			t.Fatalf("post %d: %d %s", i, code, b)
		}
	}
	var titles []string
	for _, m := range tr.fake.AcceptedFor("key-table") {
		titles = append(titles, strings.SplitN(m.Message.Content(), "\n", 2)[0])
	}
	if len(titles) != 3 || !strings.Contains(titles[2], "FIRING") {
		t.Errorf("firing, resolved, firing, firing again: WeCom got %q, want firing, resolved, firing", titles)
	}
}

// TestMaxAlertsChangeIsPosted: with the webhook's max_alerts, a group that
// grows or shrinks outside the alerts Alertmanager sends changes only the
// payload's truncatedAlerts. That is a new notification, posted; it was
// acknowledged as a duplicate and never shown.
func TestMaxAlertsChangeIsPosted(t *testing.T) {
	for _, tc := range []struct {
		name      string
		truncated []uint64 // successive notifications of one group
		want      int      // messages WeCom gets
	}{
		{"the group grows past max_alerts", []uint64{0, 5}, 2},
		{"more alerts left out", []uint64{5, 40}, 2},
		{"left-out alerts resolved", []uint64{40, 0}, 2},
		{"a retry is a duplicate", []uint64{5, 5}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestReceiver(t, Options{})
			var n Notification
			if err := json.Unmarshal(payload(t, "firing-one-alert.json"), &n); err != nil {
				t.Fatal(err)
			}
			for i, truncated := range tc.truncated {
				n.TruncatedAlerts = truncated
				body, err := json.Marshal(n)
				if err != nil {
					t.Fatal(err)
				}
				if code, b := tr.post(t, "table", body); code != http.StatusOK {
					t.Fatalf("post %d: %d %s", i, code, b)
				}
			}
			if got := len(tr.fake.AcceptedFor("key-table")); got != tc.want {
				t.Errorf("truncatedAlerts %v: WeCom got %d messages, want %d", tc.truncated, got, tc.want)
			}
		})
	}
}

func TestDuplicateOfFailedDeliveryIsPosted(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	tr.fake.SetErrcode("key-table", wecom.ErrcodeRobotDisabled)
	body := payload(t, "firing-two-alerts.json")
	if code, _ := tr.post(t, "table", body); code != http.StatusBadGateway {
		t.Fatalf("disabled robot answered %d, want 502", code)
	}
	tr.fake.SetErrcode("key-table", 0)
	if code, b := tr.post(t, "table", body); code != http.StatusOK {
		t.Fatalf("retry answered %d %s", code, b)
	}
	if n := len(tr.fake.AcceptedFor("key-table")); n != 1 {
		t.Errorf("retry of a failed delivery posted %d messages, want 1", n)
	}
}

func TestSplitAtByteLimit(t *testing.T) {
	for _, robot := range []string{"table", "text"} {
		t.Run(robot, func(t *testing.T) {
			tr := newTestReceiver(t, Options{}, func(cfg string) string {
				return strings.Replace(cfg, "msgtype: text, overflow: truncate", "msgtype: text, overflow: split", 1)
			})
			code, body := tr.post(t, robot, notification(t, "firing", diskFull(60)...))
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			got := tr.fake.AcceptedFor("key-" + robot)
			var cards []string
			for _, r := range got {
				if r.Message.MsgType == wecom.MsgTypeText && robot != "text" {
					continue // the companion
				}
				cards = append(cards, r.Message.Content())
			}
			if len(cards) < 2 {
				t.Fatalf("%d cards, want the content split", len(cards))
			}
			joined := strings.Join(cards, "\n")
			for i, c := range cards {
				if want := fmt.Sprintf("(%d/%d)\n", i+1, len(cards)); !strings.HasPrefix(c, want) {
					t.Errorf("card %d does not start with %q", i, want)
				}
			}
			for i := range 60 {
				if inst := fmt.Sprintf("数据库-%03d-", i); strings.Count(joined, inst) != 1 {
					t.Errorf("%s appears %d times across the parts, want 1", inst, strings.Count(joined, inst))
				}
			}
			if robot == "table" && !strings.Contains(cards[0], "<@alice_wecom>") {
				t.Errorf("mentions not in the first part:\n%s", cards[0])
			}
			if got := tr.value(t, "parts_split", robot); got != float64(len(cards)) {
				t.Errorf("parts_split_total = %v, want %d", got, len(cards))
			}
		})
	}
}

func TestRateLimitedByAnotherSender(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 5s\n  rate_limit: {messages: 20, per: 1s}"))
	// Someone else spent the robot's budget: WeCom answers 45009 once.
	tr.fake.Inject("key-table", wecomtest.Failure{Errcode: wecom.ErrcodeRateLimited})
	start := time.Now()
	if code, b := tr.post(t, "table", payload(t, "firing-one-alert.json")); code != http.StatusOK {
		t.Fatalf("status %d: %s", code, b)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("sent again after %s, before the 1 s window freed", waited)
	}
	if got := tr.value(t, "rate_limited", "table"); got != 1 {
		t.Errorf("rate_limited_total = %v, want 1", got)
	}
	if n := len(tr.fake.AcceptedFor("key-table")); n != 1 {
		t.Errorf("accepted %d messages, want 1", n)
	}
}

func TestDigest(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	state := tr.recv.State()
	robot := state.Config.Robots["phone"]
	var preps []*prepared
	for _, labels := range []template.KV{
		{"alertname": "A", "team": "dba", "severity": "critical"},
		{"alertname": "B", "team": "payments"},
		{"alertname": "C", "team": "dba", "severity": "warning"},
	} {
		var n Notification
		if err := json.Unmarshal(notification(t, "firing", labels), &n); err != nil {
			t.Fatal(err)
		}
		preps = append(preps, state.prepare(robot, &n.Data))
	}
	b, err := state.digest(robot, preps, Unlimited)
	if err != nil || len(b.solos) != 0 {
		t.Fatal(err, b)
	}
	messages, carries := b.messages, b.carries
	if fmt.Sprint(b.units) != "[2]" {
		t.Errorf("units %v: the card and its companion go together", b.units)
	}
	if len(messages) != 2 || len(carries) != 2 {
		t.Fatalf("%d messages, %d carries; want a card and a companion", len(messages), len(carries))
	}
	card, companion := messages[0].Content(), messages[1]
	for _, want := range []string{"### Alert digest: 3 notifications", "A", "B", "C", "<@carol_wecom>", "Dave Ma"} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
	if companion.Text == nil || companion.Text.Content != "Alert digest: 3 notifications: please take a look" ||
		strings.Join(companion.Text.MentionedMobileList, ",") != "13800001111,+8613900002222" {
		t.Errorf("companion = %+v", companion)
	}
	if fmt.Sprint(carries) != "[[0 1 2] [0 1 2]]" {
		t.Errorf("carries = %v", carries)
	}
}

// TestDigestKeepsEveryAlert: a notification too large for a digest's card
// is not merged (its alerts cut away, its request acknowledged) but sent on
// its own, split as it would be alone.
func TestDigestKeepsEveryAlert(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	state := tr.recv.State()
	robot := state.Config.Robots["table"]
	var preps []*prepared
	for _, body := range [][]byte{
		notification(t, "firing", template.KV{"alertname": "Small"}),
		notification(t, "firing", diskFull(60)...),
		notification(t, "firing", template.KV{"alertname": "Other"}),
	} {
		var n Notification
		if err := json.Unmarshal(body, &n); err != nil {
			t.Fatal(err)
		}
		preps = append(preps, state.prepare(robot, &n.Data))
	}
	b, err := state.digest(robot, preps, 20)
	if err != nil {
		t.Fatal(err)
	}
	messages, carries := b.messages, b.carries
	if len(b.solos) != 1 || b.solos[1] == nil || b.solos[1].Parts < 2 {
		t.Fatalf("solos %+v: want the large notification alone, split", b.solos)
	}
	if len(b.units) != 2 || b.units[0] != 1 || b.units[1] != len(messages)-1 {
		t.Errorf("units %v: want the digest card, then the large notification's parts", b.units)
	}
	var all strings.Builder
	for i, m := range messages {
		if err := m.Validate(); err != nil {
			t.Errorf("message %d: %v", i, err)
		}
		all.WriteString(m.Content())
		if i > 0 && fmt.Sprint(carries[i]) != "[1]" {
			t.Errorf("message %d carries %v, want the large notification", i, carries[i])
		}
	}
	if fmt.Sprint(carries[0]) != "[0 2]" || !strings.Contains(messages[0].Content(), "Alert digest: 2 notifications") {
		t.Errorf("first message carries %v:\n%s", carries[0], messages[0].Content())
	}
	for i := range 60 {
		if inst := fmt.Sprintf("数据库-%03d-", i); !strings.Contains(all.String(), inst) {
			t.Errorf("%s lost", inst)
		}
	}
}

// TestDigestFooterFits: a digest whose responders fill more than a card
// still sends messages WeCom accepts, and mentions every responder, inline
// or at the bottom of the companion.
func TestDigestFooterFits(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	state := tr.recv.State()
	for _, robotName := range []string{"table", "text"} {
		robot := state.Config.Robots[robotName]
		var preps []*prepared
		var ids []string
		for i := range 2 {
			var n Notification
			if err := json.Unmarshal(notification(t, "firing", template.KV{"alertname": fmt.Sprint("A", i)}), &n); err != nil {
				t.Fatal(err)
			}
			p := state.prepare(robot, &n.Data)
			for j := range 170 {
				id := fmt.Sprintf("user%d_%03d", i, j)
				ids = append(ids, id)
				p.mentions = append(p.mentions, responders.Mention{Responder: responders.Responder{Name: "Responder " + id, Email: id + "@corp.com"}, UserID: id, Outcome: "mapping_table"})
			}
			preps = append(preps, p)
		}
		b, err := state.digest(robot, preps, 20)
		if err != nil {
			t.Fatal(err)
		}
		messages := b.messages
		mentioned := map[string]bool{}
		for i, m := range messages {
			if err := m.Validate(); err != nil {
				t.Errorf("%s message %d: WeCom would refuse: %v", robotName, i, err)
			}
			if m.Text != nil {
				for _, id := range m.Text.MentionedList {
					mentioned[id] = true
				}
			}
			if m.Markdown != nil {
				for _, id := range ids {
					if strings.Contains(m.Markdown.Content, "<@"+id+">") {
						mentioned[id] = true
					}
				}
			}
		}
		for _, id := range ids {
			if !mentioned[id] {
				t.Errorf("%s: %s is not mentioned", robotName, id)
			}
		}
	}
}

// TestPermanentErrorsFailFast: an errcode no retry can fix (the robot gone,
// disabled or out of the group, a message WeCom rejects, or a code unknown
// to this receiver) is answered 502 after one post, with an error
// naming the robot and the errcode, and counted as failed.
func TestPermanentErrorsFailFast(t *testing.T) {
	for _, errcode := range []int{wecom.ErrcodeInvalidKey, wecom.ErrcodeRobotDisabled, wecom.ErrcodeNotInGroup,
		wecom.ErrcodeInvalidParam, wecom.ErrcodeContentTooLarge, wecom.ErrcodeInvalidMsgType, wecom.ErrcodeEmptyContent, 12345} {
		t.Run(fmt.Sprint(errcode), func(t *testing.T) {
			tr := newTestReceiver(t, Options{})
			tr.fake.SetErrcode("key-phoneonly", errcode)
			resp, b := tr.do(t, http.MethodPost, "phoneonly", payload(t, "firing-one-alert.json"), nil)
			if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Retry-After") != "" {
				t.Errorf("answer %d, Retry-After %q; want 502 without Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if !strings.Contains(b, "phoneonly") || !strings.Contains(b, fmt.Sprint(errcode)) {
				t.Errorf("the answer %q names neither the robot nor errcode %d", strings.TrimSpace(b), errcode)
			}
			if n := len(tr.fake.Answers()); n != 1 {
				t.Errorf("WeCom got %d posts, want 1: a permanent error is not retried", n)
			}
			if n := tr.value(t, "notifications", "failed", "phoneonly"); n != 1 {
				t.Errorf("notifications_total{result=failed} = %v, want 1", n)
			}
		})
	}
}

// TestChineseDigestSaysWhatTheMessagesSay: a zh robot's digest takes its
// words from the default messages' (templates.Words): its Responders line
// is the one wecom.zh.markdown prints ("负责人: ", it was "负责人：") and
// its companion ends as wecom.zh.mention does.
func TestChineseDigestSaysWhatTheMessagesSay(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(cfg string) string {
		return cfg + "  zh:          {key: key-zh, language: zh, mention: {mapping_table: wecom_users}}\n"
	})
	state := tr.recv.State()
	robot := state.Config.Robots["zh"]
	var preps []*prepared
	var single *Rendered
	for _, name := range []string{"A", "B"} {
		var n Notification
		if err := json.Unmarshal(notification(t, "firing", template.KV{"alertname": name, "team": "dba", "severity": "critical"}), &n); err != nil {
			t.Fatal(err)
		}
		preps = append(preps, state.prepare(robot, &n.Data))
		if single == nil {
			var err error
			if single, err = state.Render(robot, &n, Unlimited); err != nil {
				t.Fatal(err)
			}
		}
	}
	b, err := state.digest(robot, preps, Unlimited)
	if err != nil || len(b.messages) != 2 {
		t.Fatalf("digest: %v, %d messages; want a card and a companion", err, len(b.messages))
	}
	card, companion := b.messages[0].Content(), b.messages[1].Content()
	if !strings.Contains(single.Messages[0].Content(), "\n负责人: ") || !strings.Contains(card, "\n负责人: ") {
		t.Errorf("the digest's Responders line is not the message's:\n%s\n---\n%s", card, single.Messages[0].Content())
	}
	if !strings.HasPrefix(card, "### 告警汇总：2 条通知") || companion != "告警汇总：2 条通知: 请及时处理" {
		t.Errorf("card starts %q, companion %q", strings.SplitN(card, "\n", 2)[0], companion)
	}
}

// TestRetryPostsOnlyWhatWasNotAccepted: WeCom accepts the card and answers
// -1 (busy) to its companion until max_wait: the answer is 503, and
// Alertmanager's retry posts only the companion; the card was posted a
// second time.
func TestRetryPostsOnlyWhatWasNotAccepted(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	body := notification(t, "firing", template.KV{"alertname": "DiskFull", "team": "dba", "severity": "critical"})
	busy := wecomtest.Failure{Errcode: wecom.ErrcodeBusy}
	tr.fake.Inject("key-phoneonly", wecomtest.Failure{}, busy, busy, busy, busy, busy)
	if code, b := tr.post(t, "phoneonly", body); code != http.StatusServiceUnavailable {
		t.Fatalf("first try: %d %s, want 503", code, b)
	}
	code := 0
	for try := 0; try < 5 && code != http.StatusOK; try++ { // Alertmanager retries until 200
		code, _ = tr.post(t, "phoneonly", body)
	}
	if code != http.StatusOK {
		t.Fatalf("the retries never got 200: %d", code)
	}
	var cards, companions int
	for _, r := range tr.fake.AcceptedFor("key-phoneonly") {
		switch r.Message.MsgType {
		case wecom.MsgTypeMarkdown:
			cards++
		case wecom.MsgTypeText:
			companions++
		}
	}
	if cards != 1 || companions != 1 {
		t.Errorf("WeCom accepted %d cards and %d companions, want one of each", cards, companions)
	}
	// Delivered, it is a duplicate now: nothing more is posted.
	if code, _ := tr.post(t, "phoneonly", body); code != http.StatusOK || len(tr.fake.AcceptedFor("key-phoneonly")) != 2 {
		t.Errorf("a repeat after delivery: %d, %d messages", code, len(tr.fake.AcceptedFor("key-phoneonly")))
	}
}

// TestRetryMergedPostsOnlyWhatWasNotAccepted: the retry of a notification
// whose card WeCom accepted (its companion failing until max_wait) comes
// with others, while the budget is half spent, which are merged into a
// digest; the retry goes alone, so that only its companion is posted. It
// was merged, and its card posted a second time in the digest's.
func TestRetryMergedPostsOnlyWhatWasNotAccepted(t *testing.T) {
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 3s\n  rate_limit: {messages: 10, per: 1m}"))
	var requests atomic.Int64
	var failing atomic.Bool
	tr.fake.Chaos = func(string) *wecomtest.Failure {
		if requests.Add(1) == 2 { // the first card's companion, and all after it
			failing.Store(true)
		}
		if failing.Load() {
			return &wecomtest.Failure{Errcode: wecom.ErrcodeBusy}
		}
		return nil
	}
	if code, b := tr.post(t, "phoneonly", dbaNotification(t, "Retried")); code != http.StatusServiceUnavailable {
		t.Fatalf("first try: %d %s, want 503", code, b)
	}
	failing.Store(false)
	var wg sync.WaitGroup
	for _, name := range []string{"Retried", "Other1", "Other2"} {
		wg.Go(func() {
			if code, b := tr.post(t, "phoneonly", dbaNotification(t, name)); code != http.StatusOK {
				t.Errorf("%s: %d %s", name, code, b)
			}
		})
	}
	wg.Wait()
	cards := 0
	for _, r := range tr.fake.AcceptedFor("key-phoneonly") {
		if r.Message.MsgType == wecom.MsgTypeMarkdown && strings.Contains(r.Message.Content(), "Retried") {
			cards++
		}
	}
	if cards != 1 {
		t.Errorf("the retried notification is in %d cards, want 1", cards)
	}
	if merged := tr.value(t, "notifications_merged", "phoneonly"); merged == 0 {
		t.Error("nothing was merged: the test did not take the digest path")
	}
}
