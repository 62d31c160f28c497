package receiver

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/templates"
)

// FuzzRender decodes arbitrary webhook bodies and renders them for a robot
// of every msgtype, and one whose own template joins and decodes alert text: nothing may panic, every message must be one WeCom
// accepts (msgtype, non-empty valid UTF-8 within the byte limit), and no
// mention may appear that the responder rules did not make.
// Seeds: the real Alertmanager payloads. Run: go test -fuzz FuzzRender ./receiver
func FuzzRender(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "testdata", "alertmanager", "*.json"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"<@ceo>","owner":"@all,<@x>,dba"}}]}`))
	f.Add([]byte(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"A","instance":"db-1<","owner":"%40ceo%3E"},"annotations":{"summary":"@ceo> x"}}]}`))
	cfg, err := config.Load([]byte(`
members:
  - {email: alice@corp.com, name: Alice, phone: "13800001111"}
mapping_tables:
  t: {alice@corp.com: alice_wecom}
teams:
  dba: [alice@corp.com]
responders:
  - matchers: ['team="dba"']
    teams: [dba]
  - from_label: owner
robots:
  md:   {key: k, mention: {strategy: mapping_table, mapping_table: t, on_resolved: true}}
  text: {key: k, msgtype: text, mention: {mapping_table: t}}
  v2:   {key: k, msgtype: markdown_v2, overflow: truncate, mention: {mapping_table: t}}
  own:
    key: k
    mention: {strategy: mapping_table, mapping_table: t}
    message: 'Alerts: {{ range .Alerts }}{{ .Labels.instance }}{{ .Annotations.summary }}{{ .Labels.owner | urlUnescape }}{{ end }}{{ .Mentions }}'
`), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	state, err := NewState(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var n Notification
		if json.Unmarshal(body, &n) != nil || len(n.Alerts) == 0 || len(n.Alerts) > 200 {
			return
		}
		for _, robot := range cfg.Robots {
			rendered, err := state.Render(robot, &n, 20)
			if err != nil && robot.Name == "own" {
				continue // a template of one's own may fail on odd text (urlUnescape "%0")
			}
			if err != nil {
				t.Fatalf("robot %s: %v", robot.Name, err)
			}
			for _, m := range rendered.Messages {
				if err := m.Validate(); err != nil {
					t.Fatalf("robot %s: WeCom would refuse: %v", robot.Name, err)
				}
				// Neutralize changes nothing in what holds no mention.
				c := strings.ReplaceAll(m.Content(), "<@alice_wecom>", " ")
				if templates.Neutralize(c) != c || !utf8.ValidString(c) {
					t.Fatalf("robot %s: alert text made a mention or broke the text:\n%q", robot.Name, m.Content())
				}
				if m.Text != nil {
					for _, id := range append(m.Text.MentionedList, m.Text.MentionedMobileList...) {
						if id != "alice_wecom" && id != "13800001111" {
							t.Fatalf("robot %s: mentioned %q, who no rule named", robot.Name, id)
						}
					}
				}
			}
		}
	})
}
