package receiver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
)

// decodedNotification is notification's payload decoded, for State.Render.
func decodedNotification(t *testing.T, labels ...template.KV) *Notification {
	t.Helper()
	var n Notification
	if err := json.Unmarshal(notification(t, "firing", labels...), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

// TestOwnerNamesAreData: names an owner label gives that are not members
// are printed on the Responders line as data: they cannot start a heading
// or a quote, make a link, nor open a code span that swallows a real
// mention (which the card would then hold only as text, and no companion
// would carry).
func TestOwnerNamesAreData(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	state := tr.recv.State()
	robot := state.Config.Robots["table"]
	for _, owner := range []string{
		"oncall\n# URGENT: pay [here](https://pay.evil.example)\n> <font color=\"warning\">",
		"`x, alice@corp.com, y`",
		"[x, alice@corp.com, ](https://evil.example)",
	} {
		r, err := state.Render(robot, decodedNotification(t, template.KV{"alertname": "DiskFull", "owner": owner}), Unlimited)
		if err != nil {
			t.Fatal(err)
		}
		card := r.Messages[0].Content()
		var line string
		for _, l := range strings.Split(card, "\n") {
			if strings.HasPrefix(l, "Responders:") {
				line = l
			}
		}
		if line == "" {
			t.Fatalf("owner %q: no Responders line in:\n%s", owner, card)
		}
		if rest := card[strings.Index(card, line)+len(line):]; rest != "" {
			t.Errorf("owner %q: the Responders line is followed by %q", owner, rest)
		}
		if strings.ContainsAny(line, "`[]") {
			t.Errorf("owner %q: the Responders line can open a code span or a link: %q", owner, line)
		}
	}
}

// TestEachPersonMentionedOnce: one WeCom account is mentioned once, though
// two emails map to it (an alias), or two notifications of a digest spell
// the same email in different case.
func TestEachPersonMentionedOnce(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(s string) string {
		return strings.Replace(s, "outsider@corp.com: outsider_wecom}", "outsider@corp.com: outsider_wecom, alice.zhang@corp.com: alice_wecom}", 1)
	})
	state := tr.recv.State()
	robot := state.Config.Robots["table"]
	r, err := state.Render(robot, decodedNotification(t, template.KV{"alertname": "X", "owner": "alice@corp.com, alice.zhang@corp.com"}), Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	if card := r.Messages[0].Content(); strings.Count(card, "<@alice_wecom>") != 1 {
		t.Errorf("an alias mentions alice_wecom %d times:\n%s", strings.Count(card, "<@alice_wecom>"), card)
	}

	var preps []*prepared
	for _, owner := range []string{"Outsider@corp.com", "outsider@corp.com"} {
		preps = append(preps, state.prepare(robot, &decodedNotification(t, template.KV{"alertname": "A" + owner, "owner": owner}).Data))
	}
	b, err := state.digest(robot, preps, Unlimited)
	if err != nil {
		t.Fatal(err)
	}
	if card := b.messages[0].Content(); strings.Count(card, "<@outsider_wecom>") != 1 {
		t.Errorf("the digest mentions outsider_wecom %d times:\n%s", strings.Count(card, "<@outsider_wecom>"), card)
	}
}

// TestExplainSaysWhatTheSendDoes: on a markdown robot whose own template
// does not print .Mentions, explain says the user_ids go to the
// companion's mentioned_list, as the send does, not inline.
func TestExplainSaysWhatTheSendDoes(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	state := tr.recv.State()
	labels := template.KV{"alertname": "MySQLReplicationLag", "team": "dba", "severity": "critical"}
	for _, tc := range []struct{ robot, want, notWant string }{
		{"noinline", "mentioned_list alice_wecom", "inline <@alice_wecom>"},
		{"table", "inline <@alice_wecom>", "mentioned_list alice_wecom"},
	} {
		e, err := Explain(state, tc.robot, `alertname="MySQLReplicationLag",team="dba",severity="critical"`, "", time.Hour, false)
		if err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		e.WriteText(&text)
		if !strings.Contains(text.String(), tc.want) || strings.Contains(text.String(), tc.notWant) {
			t.Errorf("explain for robot %s does not say %q:\n%s", tc.robot, tc.want, text.String())
		}
		r, err := state.Render(state.Config.Robots[tc.robot], decodedNotification(t, labels), Unlimited)
		if err != nil {
			t.Fatal(err)
		}
		inCard := strings.Contains(r.Messages[0].Content(), "<@alice_wecom>")
		if inCard != strings.HasPrefix(tc.want, "inline") {
			t.Errorf("robot %s: the send puts <@alice_wecom> in the card: %v; explain says %q", tc.robot, inCard, tc.want)
		}
	}
}

// TestExplainJSONInSeconds: the explanation's firingForSeconds is seconds.
func TestExplainJSONInSeconds(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	e, err := Explain(tr.recv.State(), "table", `alertname="X"`, "", 45*time.Minute, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		FiringForSeconds float64 `json:"firingForSeconds"`
	}
	if err := json.Unmarshal(b, &got); err != nil || got.FiringForSeconds != 2700 {
		t.Errorf("firingForSeconds for 45m = %v (%v), want 2700", got.FiringForSeconds, err)
	}
}

// TestResolvedDigestCompanion: the companion of a digest whose
// notifications are all resolved (on a robot that mentions on resolved
// ones) says they are resolved, not "please take a look".
func TestResolvedDigestCompanion(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	state := tr.recv.State()
	robot := state.Config.Robots["resolved"]
	for _, tc := range []struct {
		statuses []string
		want     string
	}{
		{[]string{"resolved", "resolved"}, "Alert digest: 2 notifications: resolved"},
		{[]string{"resolved", "firing"}, "Alert digest: 2 notifications: please take a look"},
	} {
		var preps []*prepared
		for i, status := range tc.statuses {
			var n Notification
			if err := json.Unmarshal(notification(t, status, template.KV{"alertname": fmt.Sprint("A", i), "team": "dba", "severity": "critical"}), &n); err != nil {
				t.Fatal(err)
			}
			preps = append(preps, state.prepare(robot, &n.Data))
		}
		b, err := state.digest(robot, preps, Unlimited)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.messages) != 2 || b.messages[1].Text == nil || b.messages[1].Content() != tc.want {
			t.Errorf("%v: messages %d, companion %q, want %q", tc.statuses, len(b.messages), b.messages[len(b.messages)-1].Content(), tc.want)
		}
	}
}

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

// TestAliasMentionedOnceByPhone: TestEachPersonMentionedOnce for the
// default strategy. Alice is a member with a phone and is in the mapping
// table as alice_wecom; an owner label names her alias, which the table
// also maps to alice_wecom. The "phone" robot (phone first, the table as
// fallback) mentioned her twice: by phone in the companion and inline as
// <@alice_wecom>.
func TestAliasMentionedOnceByPhone(t *testing.T) {
	tr := newTestReceiver(t, Options{}, func(s string) string {
		return strings.Replace(s, "outsider@corp.com: outsider_wecom}", "outsider@corp.com: outsider_wecom, alice.zhang@corp.com: alice_wecom}", 1)
	})
	state := tr.recv.State()
	for _, tc := range []struct{ robot string }{{"table"}, {"phone"}} {
		t.Run(tc.robot, func(t *testing.T) {
			r, err := state.Render(state.Config.Robots[tc.robot], decodedNotification(t,
				template.KV{"alertname": "X", "team": "dba", "severity": "critical", "owner": "alice.zhang@corp.com"}), Unlimited)
			if err != nil {
				t.Fatal(err)
			}
			mentions := 0
			for _, m := range r.Messages {
				mentions += strings.Count(m.Content(), "<@alice_wecom>")
				if m.Text != nil {
					for _, p := range m.Text.MentionedMobileList {
						if p == "13800001111" {
							mentions++
						}
					}
					for _, id := range m.Text.MentionedList {
						if id == "alice_wecom" {
							mentions++
						}
					}
				}
			}
			if mentions != 1 {
				t.Errorf("alice is mentioned %d times; mentions: %+v", mentions, r.Mentions)
			}
		})
	}
}

// TestExplainRefusesBadParameters: a status other than firing or resolved,
// and a negative firing_for, are 400; they were explained as firing, and
// as an alert starting in the future.
func TestExplainRefusesBadParameters(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	srv := http.NewServeMux()
	srv.Handle("GET /api/v1/explain", ExplainHandler(tr.recv))
	for _, q := range []url.Values{
		{"robot": {"phone"}, "labels": {"team=dba"}, "status": {"resolvd"}},
		{"robot": {"phone"}, "labels": {"team=dba"}, "status": {"Resolved"}},
		{"robot": {"phone"}, "labels": {"team=dba"}, "firing_for": {"-45m"}},
	} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/explain?"+q.Encode(), nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("GET /api/v1/explain?%s answered %d, want 400", q.Encode(), rec.Code)
		}
	}
	for _, status := range []string{"", "firing", "resolved"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/explain?robot=phone&labels=team%3Ddba&status="+status, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("status %q answered %d, want 200", status, rec.Code)
		}
	}
}
