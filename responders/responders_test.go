package responders

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
)

const testConfig = `
members:
  - {email: alice@corp.com, name: Alice Zhang, phone: "13800001111"}
  - {email: Bob@corp.com, name: Bob Li, phone: "+86 139-0000-2222"}
  - {email: carol@corp.com, name: Carol Wu}
  - {email: dave@corp.com, name: Dave Ma}
mapping_tables:
  users: {alice@corp.com: alice_wecom, carol@corp.com: carol_wecom, outsider@corp.com: outsider_wecom}
teams:
  dba: [alice@corp.com, bob@corp.com]
  leads: [dave@corp.com]
responders:
  - matchers: ['team="dba"', 'severity=~"critical|warning"']
    members: [carol@corp.com]
    teams: [dba]
  - matchers: ['severity="critical"']
    teams: [leads]
  - matchers: ['page="all"']
    mention_all: true
  - from_label: owner
robots:
  phone:   {key: k1, mention: {mapping_table: users}}
  nophone: {key: k2}
  table:   {key: k3, mention: {strategy: mapping_table, mapping_table: users}}
  off:     {key: k4, mention: {enabled: false, mapping_table: users}}
`

func loadConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Load([]byte(testConfig), t.TempDir())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return cfg
}

func alerts(labelSets ...template.KV) []template.Alert {
	var out []template.Alert
	for _, ls := range labelSets {
		out = append(out, template.Alert{Status: "firing", Labels: ls})
	}
	return out
}

func TestResolve(t *testing.T) {
	cfg := loadConfig(t)
	for _, tc := range []struct {
		name       string
		alerts     []template.Alert
		want       []string // emails, or names for non-emails
		mentionAll bool
	}{
		{name: "no rule matches", alerts: alerts(template.KV{"team": "web"})},
		{name: "members, then team members, in config order",
			alerts: alerts(template.KV{"team": "dba", "severity": "warning"}),
			want:   []string{"carol@corp.com", "alice@corp.com", "bob@corp.com"}},
		{name: "every matching rule adds, without repeats",
			alerts: alerts(template.KV{"team": "dba", "severity": "critical", "owner": "alice@corp.com"}),
			want:   []string{"carol@corp.com", "alice@corp.com", "bob@corp.com", "dave@corp.com"}},
		{name: "union over alerts in order of first appearance",
			alerts: alerts(template.KV{"owner": "dave@corp.com"}, template.KV{"team": "dba", "severity": "warning"}),
			want:   []string{"dave@corp.com", "carol@corp.com", "alice@corp.com", "bob@corp.com"}},
		{name: "from_label: team, member in any case, outsider email, bare name, blanks",
			alerts: alerts(template.KV{"owner": " leads ,BOB@corp.com,, outsider@corp.com, stranger"}),
			want:   []string{"dave@corp.com", "bob@corp.com", "outsider@corp.com", "stranger"}},
		{name: "mention_all", alerts: alerts(template.KV{"page": "all"}), mentionAll: true},
		{name: "label absent from the rule's matcher does not match",
			alerts: alerts(template.KV{"severity": "critical"}),
			want:   []string{"dave@corp.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := Resolve(cfg, tc.alerts, time.Now())
			var got []string
			for _, r := range set.Responders {
				id := r.Email
				if id == "" {
					id = r.Name
				}
				got = append(got, id)
			}
			if !slices.Equal(got, tc.want) || set.MentionAll != tc.mentionAll {
				t.Errorf("Resolve = %v (all %v), want %v (all %v)", got, set.MentionAll, tc.want, tc.mentionAll)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	cfg := loadConfig(t)
	everyone := Resolve(cfg, alerts(template.KV{"owner": "alice@corp.com,bob@corp.com,carol@corp.com,dave@corp.com,outsider@corp.com,nobody@corp.com,stranger"}), time.Now()).Responders
	type want struct{ outcome, userID, phone, reason string }
	for _, tc := range []struct {
		robot string
		want  []want
	}{
		{robot: "phone", want: []want{
			{outcome: OutcomePhone, phone: "13800001111"},
			{outcome: OutcomePhone, phone: "+8613900002222"},
			{outcome: OutcomeUserIDFallback, userID: "carol_wecom"},
			{outcome: OutcomeUnresolved, reason: `no phone on record, and email not in mapping table "users"`},
			{outcome: OutcomeUserIDFallback, userID: "outsider_wecom"},
			{outcome: OutcomeUnresolved, reason: `not a member, and email not in mapping table "users"`},
			{outcome: OutcomeUnresolved, reason: "not a member, an email or a team"},
		}},
		{robot: "nophone", want: []want{
			{outcome: OutcomePhone, phone: "13800001111"},
			{outcome: OutcomePhone, phone: "+8613900002222"},
			{outcome: OutcomeUnresolved, reason: "no phone on record, and no mapping table is selected for the robot"},
			{outcome: OutcomeUnresolved, reason: "no phone on record, and no mapping table is selected for the robot"},
			{outcome: OutcomeUnresolved, reason: "not a member, and no mapping table is selected for the robot"},
			{outcome: OutcomeUnresolved, reason: "not a member, and no mapping table is selected for the robot"},
			{outcome: OutcomeUnresolved, reason: "not a member, an email or a team"},
		}},
		{robot: "table", want: []want{
			{outcome: OutcomeUserID, userID: "alice_wecom"},
			{outcome: OutcomePhoneFallback, phone: "+8613900002222"},
			{outcome: OutcomeUserID, userID: "carol_wecom"},
			{outcome: OutcomeUnresolved, reason: `no phone on record, and email not in mapping table "users"`},
			{outcome: OutcomeUserID, userID: "outsider_wecom"},
			{outcome: OutcomeUnresolved, reason: `not a member, and email not in mapping table "users"`},
			{outcome: OutcomeUnresolved, reason: "not a member, an email or a team"},
		}},
		{robot: "off", want: slices.Repeat([]want{{outcome: OutcomeDisabled, reason: "the robot's @ mention toggle is off"}}, 7)},
	} {
		t.Run(tc.robot, func(t *testing.T) {
			mentions := Plan(cfg, cfg.Robots[tc.robot], everyone)
			if len(mentions) != len(tc.want) {
				t.Fatalf("%d mentions, want %d", len(mentions), len(tc.want))
			}
			for i, m := range mentions {
				got := want{outcome: m.Outcome, userID: m.UserID, phone: m.Phone, reason: m.Reason}
				if got != tc.want[i] {
					t.Errorf("%s: got %+v, want %+v", m.Name, got, tc.want[i])
				}
				if m.Mentioned() != (m.UserID != "" || m.Phone != "") || m.Mentioned() == (m.Reason != "") {
					t.Errorf("%s: Mentioned() = %v with reason %q", m.Name, m.Mentioned(), m.Reason)
				}
			}
		})
	}
}

// BenchmarkResolveAndPlan is the match step of a notification: two alerts
// through four rules, then how a robot mentions each responder.
func BenchmarkResolveAndPlan(b *testing.B) {
	cfg := loadConfig(b)
	as := alerts(
		template.KV{"alertname": "MySQLReplicationLag", "team": "dba", "severity": "critical", "instance": "db-1:9104", "owner": "alice@corp.com"},
		template.KV{"alertname": "MySQLReplicationLag", "team": "dba", "severity": "critical", "instance": "db-2:9104"},
	)
	robot := cfg.Robots["table"]
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		set := Resolve(cfg, as, now)
		if len(Plan(cfg, robot, set.Responders)) != 4 {
			b.Fatal("want 4 responders")
		}
	}
}

// TestScheduleNotStartedAddsNobody: a rule whose schedule has not started
// yet adds nobody for it, and says so in the rule's notes for explain.
func TestScheduleNotStartedAddsNobody(t *testing.T) {
	cfg, err := config.Load([]byte(`
members:
  - {email: alice@corp.com, phone: "13800001111"}
  - {email: bob@corp.com, phone: "13800002222"}
schedules:
  future: {members: [alice@corp.com, bob@corp.com], start: "2026-12-01", shift: 1w, timezone: Asia/Shanghai}
responders:
  - matchers: ['team="dba"']
    schedules: [future]
robots:
  r: {key: k}
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	labels := template.KV{"team": "dba"}
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	set := Resolve(cfg, []template.Alert{{Status: "firing", Labels: labels, StartsAt: at}}, at)
	for _, r := range set.Responders {
		t.Errorf("%s is on call before the rotation starts (%s)", r.Email, r.Via)
	}
	e := Explain(cfg, cfg.Robots["r"], labels, "firing", at, at)
	rule := e.Rules[0]
	want := []string{"schedule future: nobody on call, the rotation starts 2026-12-01 09:00 Asia/Shanghai"}
	if !rule.Matched || len(rule.Adds) != 0 || !slices.Equal(rule.Notes, want) {
		t.Errorf("rule = %+v, want it to apply, add nobody and note %q", rule, want)
	}
	var text strings.Builder
	e.WriteText(&text)
	if !strings.Contains(text.String(), "  "+want[0]+"\n") {
		t.Errorf("explain does not say %q:\n%s", want[0], text.String())
	}
	set = Resolve(cfg, []template.Alert{{Status: "firing", Labels: labels, StartsAt: at}}, at.AddDate(0, 0, 7))
	if len(set.Responders) != 1 || set.Responders[0].Email != "alice@corp.com" {
		t.Errorf("after the start: responders = %+v, want alice", set.Responders)
	}
}

// TestFromLabelTeamIgnoresCase: a team named in a from_label label is found
// whatever its letter case, as emails are.
func TestFromLabelTeamIgnoresCase(t *testing.T) {
	cfg := loadConfig(t)
	for _, owner := range []string{"DBA", "Dba", "dba"} {
		set := Resolve(cfg, alerts(template.KV{"owner": owner}), time.Now())
		var got []string
		for _, r := range set.Responders {
			got = append(got, r.Email)
		}
		if want := []string{"alice@corp.com", "bob@corp.com"}; !slices.Equal(got, want) {
			t.Errorf("owner=%q: responders %v, want %v", owner, got, want)
		}
	}
}
