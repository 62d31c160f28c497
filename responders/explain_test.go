package responders

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/internal/golden"
)

const oncallConfig = `
members:
  - {email: alice@corp.com, name: Alice Zhang, phone: "13800001111"}
  - {email: bob@corp.com, name: Bob Li}
  - {email: carol@corp.com, name: Carol Wu}
  - {email: lead@corp.com, name: Lee Lead, phone: "13700003333"}
mapping_tables:
  users: {bob@corp.com: bob_wecom, outsider@corp.com: outsider_wecom}
teams:
  dba: [alice@corp.com, bob@corp.com, carol@corp.com]
schedules:
  dba-primary:
    team: dba
    start: "2026-11-02"
    shift: 1w
    handoff: "09:00"
    timezone: Asia/Shanghai
    overrides:
      - {member: carol@corp.com, covers: alice@corp.com, from: "2026-11-03T00:00:00+08:00", to: "2026-11-04T00:00:00+08:00"}
responders:
  - matchers: ['team="dba"']
    schedules: [dba-primary]
  - matchers: ['team="dba"', 'severity="critical"']
    after: 30m
    members: [lead@corp.com]
  - matchers: ['page="all"']
    mention_all: true
  - from_label: owner
robots:
  phone: {key: k, mention: {mapping_table: users}}
  notable: {key: k}
  table: {key: k, msgtype: text, mention: {strategy: mapping_table, mapping_table: users}}
  off: {key: k, mention: {enabled: false}}
`

func loadOncall(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load([]byte(oncallConfig), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestSchedulesAndEscalation(t *testing.T) {
	cfg := loadOncall(t)
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	monday := time.Date(2026, 11, 2, 10, 0, 0, 0, shanghai)
	for _, tc := range []struct {
		name     string
		at       time.Time
		firedFor time.Duration
		labels   template.KV
		want     []string
	}{
		{"first week: alice on call", monday, 0, template.KV{"team": "dba", "severity": "critical"}, []string{"alice@corp.com"}},
		{"override: carol covers alice", monday.Add(24 * time.Hour), 0, template.KV{"team": "dba"}, []string{"carol@corp.com"}},
		{"second week: bob", monday.Add(7 * 24 * time.Hour), 0, template.KV{"team": "dba"}, []string{"bob@corp.com"}},
		{"escalation not yet: 29m", monday, 29 * time.Minute, template.KV{"team": "dba", "severity": "critical"}, []string{"alice@corp.com"}},
		{"escalation at 30m: the lead joins, alice stays", monday, 30 * time.Minute, template.KV{"team": "dba", "severity": "critical"}, []string{"alice@corp.com", "lead@corp.com"}},
		{"escalation needs the severity too", monday, time.Hour, template.KV{"team": "dba", "severity": "warning"}, []string{"alice@corp.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := Resolve(cfg, []template.Alert{{Status: "firing", Labels: tc.labels, StartsAt: tc.at.Add(-tc.firedFor)}}, tc.at)
			var got []string
			for _, r := range set.Responders {
				got = append(got, r.Email)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && (got[0] != tc.want[0] || got[len(got)-1] != tc.want[len(tc.want)-1])) {
				t.Errorf("responders %v, want %v", got, tc.want)
			}
		})
	}
}

// TestExplainGolden explains one case per reason a person is or is not
// mentioned. Refresh with: go test ./responders -update
func TestExplainGolden(t *testing.T) {
	cfg := loadOncall(t)
	at := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC) // bob's week
	for _, tc := range []struct {
		name, robot, status string
		labels              template.KV
		firedFor            time.Duration
	}{
		{"phone-and-fallback", "phone", "firing", template.KV{"team": "dba", "owner": "alice@corp.com,outsider@corp.com"}, 0},
		{"no-phone-no-table", "notable", "firing", template.KV{"team": "dba", "owner": "nobody@corp.com,stranger"}, 0},
		{"email-not-in-table", "table", "firing", template.KV{"owner": "carol@corp.com,alice@corp.com,nobody@corp.com"}, 0},
		{"toggle-off", "off", "firing", template.KV{"team": "dba", "page": "all"}, 0},
		{"resolved", "phone", "resolved", template.KV{"team": "dba"}, 0},
		{"escalated", "phone", "firing", template.KV{"team": "dba", "severity": "critical", "page": "all"}, 45 * time.Minute},
		{"nobody", "phone", "firing", template.KV{"team": "web"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Explain(cfg, cfg.Robots[tc.robot], tc.labels, tc.status, at.Add(-tc.firedFor), at)
			var out bytes.Buffer
			e.WriteText(&out)
			js, err := json.MarshalIndent(e, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out.WriteString("\n--- JSON (GET /api/v1/explain)\n")
			out.Write(js)
			golden.Check(t, filepath.Join("testdata", "explain-"+tc.name+".golden"), out.String())
		})
	}
}

func TestParseLabels(t *testing.T) {
	for in, want := range map[string]string{
		`team=dba,severity=critical`:                  `severity=critical, team=dba`,
		` team = dba , owner="a@corp.com,b@corp.com"`: `owner=a@corp.com,b@corp.com, team=dba`,
		`owner="x",team=dba`:                          `owner=x, team=dba`,
	} {
		kv, err := ParseLabels(in)
		if err != nil || kv.SortedPairs().String() != want {
			t.Errorf("ParseLabels(%q) = %v, %v; want %s", in, kv.SortedPairs().String(), err, want)
		}
	}
	for _, bad := range []string{``, `team`, `owner="x`, `owner="x"y`, `=x`} {
		if _, err := ParseLabels(bad); err == nil {
			t.Errorf("ParseLabels(%q) took it", bad)
		}
	}
}

func TestUnreachable(t *testing.T) {
	cfg := loadOncall(t)
	for robot, want := range map[string][]string{
		"phone":   {"carol@corp.com"},
		"notable": {"bob@corp.com", "carol@corp.com"},
		"table":   {"carol@corp.com"},
		"off":     {"alice@corp.com", "bob@corp.com", "carol@corp.com", "lead@corp.com"},
	} {
		var got []string
		for _, m := range Unreachable(cfg, cfg.Robots[robot]) {
			got = append(got, m.Email)
			if m.Reason == "" {
				t.Errorf("%s: %s unreachable without a reason", robot, m.Email)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("Unreachable(%s) = %v, want %v", robot, got, want)
		}
	}
}
