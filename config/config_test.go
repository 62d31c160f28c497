package config

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

func TestLoadGood(t *testing.T) {
	cfg, err := LoadFile("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Global.APIURL != DefaultAPIURL || cfg.Global.Timeout != model.Duration(5*time.Second) ||
		cfg.Global.RateLimit != DefaultRateLimit || cfg.Global.MaxWait != DefaultMaxWait || cfg.Global.TimeZone != "Asia/Shanghai" {
		t.Errorf("global = %+v", cfg.Global)
	}
	if want, _ := filepath.Abs("testdata/templates/*.tmpl"); cfg.Templates[0] != filepath.Join("testdata", "templates", "*.tmpl") && cfg.Templates[0] != want {
		t.Errorf("templates glob not relative to the config: %v", cfg.Templates)
	}
	alice, ok := cfg.Member("ALICE@corp.com")
	if !ok || alice.Email != "alice@corp.com" || alice.Phone != "13800001111" {
		t.Errorf("alice = %+v, %v", alice, ok)
	}
	if bob, _ := cfg.Member("bob@corp.com"); bob.Phone != "+8613900002222" {
		t.Errorf("bob's phone = %q, want +8613900002222", bob.Phone)
	}
	if carol, _ := cfg.Member("carol@corp.com"); carol.Name != "carol@corp.com" || carol.Phone != "" {
		t.Errorf("carol = %+v", carol)
	}
	if id, ok := cfg.UserID("wecom_users", "Alice@corp.com"); id != "alice_wecom" || !ok {
		t.Errorf("UserID(alice) = %q, %v", id, ok)
	}
	if team, _ := cfg.Team("dba"); strings.Join(team, ",") != "alice@corp.com,bob@corp.com" {
		t.Errorf("team dba = %v", team)
	}
	rule := cfg.Responders[0]
	if !rule.ParsedMatchers.Matches(model.LabelSet{"team": "dba", "severity": "critical"}) ||
		rule.ParsedMatchers.Matches(model.LabelSet{"team": "dba", "severity": "info"}) {
		t.Errorf("matchers %v match the wrong alerts", rule.ParsedMatchers)
	}

	ops := cfg.Robots["ops"]
	if ops.Name != "ops" || ops.MsgType != MsgTypeMarkdown || ops.Language != "en" || !ops.MentionEnabled() ||
		ops.Mention.Strategy != StrategyPhone || ops.Overflow != "" || cfg.Limit(ops) != DefaultRateLimit {
		t.Errorf("ops defaults = %+v", ops)
	}
	if ops.WebhookURL() != DefaultAPIURL+"?key=s3cr3t-key" {
		t.Errorf("ops webhook = %q", ops.WebhookURL())
	}
	dba := cfg.Robots["dba"]
	if dba.WebhookURL() != "https://gw.corp/hook/s3cr3t-path?token=s3cr3t-token" || dba.MentionEnabled() ||
		!dba.Mention.OnResolved || cfg.Limit(dba).Messages != 0 || dba.Language != "zh" {
		t.Errorf("dba = %+v", dba)
	}

	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cr3t") || !strings.Contains(string(out), "<secret>") {
		t.Errorf("marshalled config shows a secret or no <secret>:\n%s", out)
	}
}

func TestLoadBad(t *testing.T) {
	for file, want := range map[string]string{
		"unknown_key":         "yaml: unmarshal errors:\n  line 1: field colour not found in type config.GlobalConfig",
		"unknown_top":         "yaml: unmarshal errors:\n  line 1: field robot not found in type config.Config",
		"unknown_mention":     "yaml: unmarshal errors:\n  line 1: field toggle not found in type config.MentionConfig",
		"no_robots":           "robots: no robots configured",
		"empty":               "robots: no robots configured",
		"bad_phone":           `members[1]: phone "abc" of bob@corp.com is not a phone number`,
		"dup_email":           `members[2]: email "ALICE@corp.com" appears twice`,
		"bad_email":           `members[0]: email "alice" is not an email address`,
		"unknown_team_member": `teams.dba: unknown member "carol@corp.com"`,
		"unknown_team":        `responders[0]: unknown team "dbx"`,
		"unknown_member":      `responders[0]: unknown member "carol@corp.com"`,
		"bad_matcher":         `responders[0]: bad matcher "team=~((": `,
		"empty_rule":          "responders[0]: no responders: set teams, members, schedules, mention_all or from_label",
		"bad_from_label":      `responders[0]: from_label "own er" is not a label name`,
		"two_keys":            "robots.ops: at most one of key, key_file, url, url_file, key_from",
		"no_key":              "robots.ops: one of key, key_file, url, url_file, key_from is required",
		"unknown_table":       `robots.ops: unknown mapping table "wecom"`,
		"table_needed":        "robots.ops: strategy mapping_table needs mapping_table",
		"bad_msgtype":         `robots.ops: unknown msgtype "news"`,
		"bad_url":             "robots.ops: url is not a valid http(s) URL",
		"bad_timezone":        `global.timezone: unknown time zone "Mars/Base"`,
		"bad_user_id":         `mapping_tables.t: user_id "-alice" of alice@corp.com is not a WeCom account (1-64 letters, digits, _-@. starting with a letter or digit)`,
		"bad_robot_name":      "robots.ops/x: robot names may hold only letters, digits, _ and -",
		"bad_rate":            "global.rate_limit.messages: -1 is negative",
		"bad_overflow":        `robots.ops: unknown overflow "drop" (split or truncate)`,
		"missing_key_file":    "robots.ops: key_file: cannot read the file it names: no such file or directory",
		"bad_strategy":        `robots.ops: unknown strategy "email" (phone or mapping_table)`,
		"key_is_url":          "robots.ops: key holds one of :/?=&%#, as a URL does: use url: for a full webhook URL, or give only the key",
		"key_file_is_url":     "robots.ops: key_file holds one of :/?=&%#, as a URL does: use url_file: for a full webhook URL, or give only the key",
		"api_url":             `global.api_url: (not shown: it does not parse as a URL, and may hold a password) is not a valid http(s) URL`,
		"misplaced_key":       "yaml: unmarshal errors:\n  line 2: found a string where a mapping belongs",
	} {
		t.Run(file, func(t *testing.T) {
			path := "testdata/bad_" + file + ".yml"
			_, err := LoadFile(path)
			if err == nil {
				t.Fatal("loaded")
			}
			want = path + ": " + want
			if got := err.Error(); got != want && !(strings.HasSuffix(want, ": ") && strings.HasPrefix(got, want)) {
				t.Errorf("error\n got %q\nwant %q", got, want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error reveals a secret: %v", err)
			}
		})
	}
}

func TestKeyFilesRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"ops.key":  "  file-key\n",
		"dba.url":  "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=url-key\n",
		"cfg.yaml": "robots:\n  ops: {key_file: ops.key}\n  dba: {url_file: dba.url}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := LoadFile(filepath.Join(dir, "cfg.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Robots["ops"].WebhookURL(); got != DefaultAPIURL+"?key=file-key" {
		t.Errorf("ops webhook = %q", got)
	}
	if got := cfg.Robots["dba"].WebhookURL(); got != "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=url-key" {
		t.Errorf("dba webhook = %q", got)
	}
}

func TestExampleConfigsLoad(t *testing.T) {
	for file, robots := range map[string]int{"../examples/config.yml": 2, "../examples/oncall.yml": 1} {
		cfg, err := LoadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Robots) != robots {
			t.Errorf("%s: %d robots, want %d", file, len(cfg.Robots), robots)
		}
	}
}

func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, file := range append(files, "../examples/config.yml") {
		b, err := os.ReadFile(file)
		if err == nil {
			f.Add(b)
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Load(data, dir)
		if err != nil {
			return
		}
		for name, r := range cfg.Robots {
			if r.WebhookURL() == "" || r.Name != name {
				t.Fatalf("robot %s loaded without a webhook URL or name", name)
			}
		}
	})
}

func TestMatchersAsAlertmanager(t *testing.T) {
	for _, tc := range []struct {
		matchers string
		want     string
	}{
		{`['team=dba,severity=critical']`, `{team="dba",severity="critical"}`},
		{`['team="dba", severity="critical"']`, `{team="dba",severity="critical"}`},
		{`['{team="dba"}', 'severity=~"critical|warning"']`, `{team="dba",severity=~"critical|warning"}`},
		{`['team="dba"', '{severity!="info", env="prod"}']`, `{team="dba",severity!="info",env="prod"}`},
	} {
		t.Run(tc.matchers, func(t *testing.T) {
			cfg, err := Load([]byte("responders: [{matchers: "+tc.matchers+", mention_all: true}]\n"+robotsOnly), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Responders[0].ParsedMatchers.String(); got != tc.want {
				t.Errorf("matchers = %s, want %s", got, tc.want)
			}
		})
	}
	_, err := Load([]byte(`responders: [{matchers: ['team="dba"', 'severity="critical", env=~"(("'], mention_all: true}]`+"\n"+robotsOnly), t.TempDir())
	if want := `responders[0]: bad matcher "severity=\"critical\", env=~\"((\"": `; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %v, want it to start with %q", err, want)
	}
}

// TestErrorsHideKeys loads configurations that hold a robot key where it
// does not belong: the error must say where, never what.
func TestErrorsHideKeys(t *testing.T) {
	const key = "693a91f6-7f2e-4c1b-9d3e-5a6b7c8d9e0f"
	for name, tc := range map[string]struct{ yml, want string }{
		"key as a robot": {"robots:\n  ops: " + key + "\n",
			"yaml: unmarshal errors:\n  line 2: found a string where a mapping belongs"},
		"key as a field": {"robots:\n  ops: {" + key + ": x}\n",
			"yaml: unmarshal errors:\n  line 2: unknown field in type config.Robot"},
		"key as a number": {"global: {rate_limit: {messages: " + key + "}}\n" + robotsOnly,
			"yaml: unmarshal errors:\n  line 1: found a string where a number belongs"},
		"key as a duration": {"global: {timeout: " + key + "}\n" + robotsOnly,
			"unknown unit in duration"},
		"key in api_url": {"global: {api_url: 'qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + key + "'}\n" + robotsOnly,
			`global.api_url: (not shown: it does not parse as a URL, and may hold a password) is not a valid http(s) URL`},
		"key in api_url user info": {"global: {api_url: 'ftp://" + key + "@qyapi.weixin.qq.com/cgi-bin/webhook/send'}\n" + robotsOnly,
			`global.api_url: "ftp://qyapi.weixin.qq.com/cgi-bin/webhook/send" is not a valid http(s) URL`},
		"password in an api_url without ://": {"global: {api_url: 'https//gw:s3cr3t-pass@gw.corp/cgi-bin/webhook/send'}\n" + robotsOnly,
			`global.api_url: (not shown: it does not parse as a URL, and may hold a password) is not a valid http(s) URL`},
		"key in a gateway path": {"global: {api_url: 'ftp://gw.corp/" + key + "/send'}\n" + robotsOnly,
			`global.api_url: "ftp://gw.corp/<redacted>" is not a valid http(s) URL`},
		"webhook URL as key": {"robots: {ops: {key: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + key + "'}}\n",
			"robots.ops: key holds one of :/?=&%#, as a URL does: use url: for a full webhook URL, or give only the key"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load([]byte(tc.yml), t.TempDir())
			if err == nil {
				t.Fatal("loaded")
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %q\nwant %q", err, tc.want)
			}
			if strings.Contains(err.Error(), key[:7]) {
				t.Errorf("error reveals the key: %v", err)
			}
		})
	}
}

// TestErrorsAreDeterministic loads files with several faults in maps, whose
// iteration order Go randomises: the error must be the same every time.
func TestErrorsAreDeterministic(t *testing.T) {
	const people = "members: [{email: alice@corp.com}, {email: bob@corp.com}]\n"
	for name, tc := range map[string]struct{ yml, want string }{
		"robots": {"robots: {a: {key: k}, b: {}, c: {key: k, url: 'https://x'}, d: {msgtype: news}, e: {}}\n",
			"robots.b: one of key, key_file, url, url_file, key_from is required"},
		"teams": {people + "teams: {x: [zed@corp.com], y: [yan@corp.com], w: [wu@corp.com], z: [alice@corp.com]}\n" + robotsOnly,
			`teams.w: unknown member "wu@corp.com"`},
		"schedules": {people + "schedules: {b: {members: [alice@corp.com]}, a: {members: [zed@corp.com]}, c: {team: nope}}\n" + robotsOnly,
			`schedules.a: unknown member "zed@corp.com"`},
		"mapping tables": {"mapping_tables: {u: {x@corp.com: -x}, t: {y@corp.com: -y}, v: {z: z}}\n" + robotsOnly,
			`mapping_tables.t: user_id "-y" of y@corp.com is not a WeCom account (1-64 letters, digits, _-@. starting with a letter or digit)`},
		"two spellings of an email": {"mapping_tables: {t: {alice@corp.com: alice_b, Alice@corp.com: alice_a, ALICE@CORP.COM: alice_c}}\n" + robotsOnly,
			`mapping_tables.t: email "Alice@corp.com" (user_id "alice_a") appears twice: first as "ALICE@CORP.COM" (user_id "alice_c")`},
	} {
		t.Run(name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 20 {
				_, err := Load([]byte(tc.yml), t.TempDir())
				if err == nil {
					t.Fatal("loaded")
				}
				seen[err.Error()] = true
			}
			if len(seen) != 1 || !seen[tc.want] {
				t.Errorf("errors %q, want only %q", slices.Sorted(maps.Keys(seen)), tc.want)
			}
		})
	}
}

// TestSharedKeyOneBudget: robots posting to one webhook share WeCom's
// budget for it, so their rate limits must agree.
func TestSharedKeyOneBudget(t *testing.T) {
	const base = `
robots:
  a: {key: k1}
  b: {key: k1, msgtype: text%s}
  c: {key: k2, rate_limit: {messages: 5, per: 1m}}
`
	if _, err := Load([]byte(fmt.Sprintf(base, "")), t.TempDir()); err != nil {
		t.Errorf("same key, same limit: %v", err)
	}
	_, err := Load([]byte(fmt.Sprintf(base, ", rate_limit: {messages: 5, per: 1m}")), t.TempDir())
	if want := "robots.b: posts to the same webhook as robots.a with another rate_limit; WeCom counts the webhook's messages together, so give both the same"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// TestKeyFilesFromWindows: a key_file saved by a Windows tool (Notepad
// before 2019, PowerShell 5's Set-Content -Encoding UTF8) starts with a
// byte order mark, which is not part of the key: loaded as part of it,
// every send failed with errcode 93000. A UTF-16 file is refused.
func TestKeyFilesFromWindows(t *testing.T) {
	for _, tc := range []struct {
		name, content, wantErr string
	}{
		{"plain", "abcd-1234\n", ""},
		{"UTF-8 byte order mark", "\ufeffabcd-1234\r\n", ""},
		{"UTF-16LE", "\xff\xfea\x00b\x00c\x00d\x00-\x001\x002\x003\x004\x00\r\x00\n\x00", "robots.ops: key_file is empty or holds white space or a character other than printable ASCII"},
		{"a zero-width space", "abcd\u200b-1234\n", "robots.ops: key_file is empty or holds white space or a character other than printable ASCII"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"ops.key": tc.content, "c.yml": "robots: {ops: {key_file: ops.key}}\n"})
			cfg, err := LoadFile(filepath.Join(dir, "c.yml"))
			if tc.wantErr != "" {
				if err == nil || !strings.HasSuffix(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one ending %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Robots["ops"].WebhookURL(); !strings.HasSuffix(got, "?key=abcd-1234") {
				t.Errorf("webhook URL ends %q, want ?key=abcd-1234", got[strings.IndexByte(got, '?'):])
			}
		})
	}
}
