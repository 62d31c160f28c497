package templates

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/internal/golden"
)

var payloads = []string{"firing-one-alert", "firing-two-alerts", "firing-with-resolved"}

func loadPayload(t testing.TB, name string) *template.Data {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "alertmanager", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var d template.Data
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func testData(d *template.Data) *Data {
	return &Data{
		Data: Sanitize(d),
		Responders: []Responder{
			{Name: "Alice Zhang", Email: "alice@corp.com", Mention: "inline"},
			{Name: "Bob Li", Email: "bob@corp.com", Mention: "bottom"},
		},
		Mentions:       InlineMention(0) + WordsIn("en").Comma + "Bob Li", // as the receiver lists them
		InlineMentions: []string{"alice_wecom"},
		TimeZone:       "Asia/Shanghai",
	}
}

func mustLoad(t testing.TB, globs ...string) *Templates {
	t.Helper()
	tmpl, err := Load(globs)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// TestGolden renders every default template over every real payload.
// Refresh with: go test ./templates -update
func TestGolden(t *testing.T) {
	tmpl := mustLoad(t)
	limits := map[string]int{"markdown": 4096, "text": 2048, "markdown_v2": 4096, "mention": 2048,
		"digest_markdown": 4096, "digest_text": 2048, "digest_markdown_v2": 4096}
	for _, lang := range []string{"default", "zh"} {
		for kind, limit := range limits {
			for _, p := range payloads {
				name := "wecom." + lang + "." + kind
				t.Run(name+"/"+p, func(t *testing.T) {
					d := testData(loadPayload(t, p))
					if lang == "zh" {
						d.Mentions = InlineMention(0) + WordsIn("zh").Comma + "Bob Li" // as the receiver lists them
					}
					got, err := tmpl.Execute(`{{ template "`+name+`" . }}`, d)
					if err != nil {
						t.Fatal(err)
					}
					if len(got) > limit || !utf8.ValidString(got) || strings.TrimSpace(got) == "" {
						t.Errorf("%d bytes (limit %d), valid UTF-8 %v", len(got), limit, utf8.ValidString(got))
					}
					golden.Check(t, filepath.Join("testdata", name+"-"+p+".golden"), got)
				})
			}
		}
	}
}

func TestMessageNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{DefaultMessage("markdown", "en"), `{{ template "wecom.default.markdown" . }}`},
		{DefaultMessage("text", "zh"), `{{ template "wecom.zh.text" . }}`},
		{MentionMessage("en"), `{{ template "wecom.default.mention" . }}`},
		{DigestMessage("markdown_v2", "zh"), `{{ template "wecom.zh.digest_markdown_v2" . }}`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

// TestAlertmanagerTemplatesWorkUnchanged renders templates written for
// Alertmanager through this package and through Alertmanager's own.
func TestAlertmanagerTemplatesWorkUnchanged(t *testing.T) {
	am, err := template.FromGlobs(nil)
	if err != nil {
		t.Fatal(err)
	}
	ours := mustLoad(t)
	for _, text := range []string{
		`{{ template "__subject" . }}`,
		`{{ template "__text_alert_list" .Alerts.Firing }}`,
		`{{ .CommonLabels.alertname }} {{ len .Alerts.Firing }}/{{ len .Alerts.Resolved }} {{ .ExternalURL }}`,
		`{{ range .Alerts }}{{ .Labels.instance | toUpper }} {{ .StartsAt | tz "Asia/Shanghai" | date "15:04" }}{{ end }}`,
		`{{ template "slack.default.title" . }}`,
	} {
		for _, p := range payloads {
			d := loadPayload(t, p)
			want, err := am.ExecuteTextString(text, d)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ours.Execute(text, &Data{Data: d})
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s on %s:\n got %q\nwant %q", text, p, got, want)
			}
		}
	}
}

func TestUserTemplatesRedefineDefaults(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.tmpl"), []byte(`{{ define "wecom.default.mention" }}custom {{ .Status }}{{ end }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl := mustLoad(t, filepath.Join(dir, "*.tmpl"), filepath.Join(dir, "none-*.tmpl"))
	got, err := tmpl.Execute(MentionMessage("en"), testData(loadPayload(t, "firing-one-alert")))
	if err != nil || got != "custom firing" {
		t.Errorf("got %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.tmpl"), []byte(`{{ define "x" }}{{ .Unclosed `), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load([]string{filepath.Join(dir, "bad.tmpl")}); err == nil {
		t.Error("a template that does not parse loaded")
	}
}

func TestNeutralize(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":              "plain text",
		"ping <@ceo> now":         "ping <＠ceo> now",
		"@all hands":              "＠all hands",
		"@ALL and @All":           "＠ALL and ＠All",
		"(@all), @all!":           "(＠all), ＠all!",
		"mail bob@corp.com":       "mail bob@corp.com",
		"ops@allianz.com":         "ops@allianz.com",
		"gitlab/@allegro-team/x":  "gitlab/@allegro-team/x",
		"@all_hands @all-x @all.": "@all_hands @all-x @all.",
		"<\x00@ceo>":              "<＠ceo>",
		"bad \xff utf8":           "bad \uFFFD utf8",
		"tab\tnew\nline\rcr\x1b[": "tab\tnew\nlinecr[",
		"告警 <@张三>":                "告警 <＠张三>",
		"<<@@all":                 "<<＠＠all",
		// Invisible characters do not hide a mention from Neutralize.
		"<\u200b@ceo> <\ufeff\u200d@ceo>":             "<\u200b＠ceo> <\ufeff\u200d＠ceo>",
		"<\u00ad@ceo> <\ufe0f@ceo>":                   "<\u00ad＠ceo> <\ufe0f＠ceo>",
		"@\u200ball @al\u2060l hi":                    "＠\u200ball ＠al\u2060l hi",
		"@all\u200b hi @all\u200bx":                   "＠all\u200b hi ＠all\u200bx",
		"@all\ufe0fteam @ALL\u2060ops":                "＠all\ufe0fteam ＠ALL\u2060ops",
		"< @ceo> <\u3000@ceo>":                        "< @ceo> <\u3000@ceo>",
		"⚠️ a\u200b@b.com 👨\u200d👩\u200d👧 @all-hands": "⚠️ a\u200b@b.com 👨\u200d👩\u200d👧 @all-hands",
	} {
		got := Neutralize(in)
		if got != want {
			t.Errorf("Neutralize(%q) = %q, want %q", in, got, want)
		}
		if again := Neutralize(got); again != got {
			t.Errorf("Neutralize is not idempotent on %q: %q", got, again)
		}
	}
}

func TestSanitizeCopies(t *testing.T) {
	d := loadPayload(t, "firing-two-alerts")
	d.Alerts[0].Labels["owner"] = "<@ceo>"
	d.CommonAnnotations["summary"] = "@all look"
	s := Sanitize(d)
	if s.Alerts[0].Labels["owner"] != "<＠ceo>" || s.CommonAnnotations["summary"] != "＠all look" {
		t.Errorf("not neutralised: %v %v", s.Alerts[0].Labels, s.CommonAnnotations)
	}
	if d.Alerts[0].Labels["owner"] != "<@ceo>" {
		t.Error("Sanitize modified its input")
	}
}

// TestAlertTextCannotMention renders every default over a payload whose
// every field tries to mention: only the mentions passed in may appear.
func TestAlertTextCannotMention(t *testing.T) {
	d := loadPayload(t, "firing-with-resolved")
	evil := "<@ceo> @all <\x00@x>"
	d.ExternalURL, d.Receiver = evil, evil
	d.CommonLabels["alertname"], d.GroupLabels["alertname"], d.CommonAnnotations["summary"] = evil, evil, evil
	for i := range d.Alerts {
		d.Alerts[i].Labels["alertname"], d.Alerts[i].Labels[evil] = evil, evil
		d.Alerts[i].Annotations["summary"], d.Alerts[i].Annotations["runbook_url"] = evil, evil
		d.Alerts[i].GeneratorURL = evil
	}
	tmpl := mustLoad(t)
	for _, lang := range []string{"en", "zh"} {
		for _, kind := range []string{"markdown", "text", "markdown_v2"} {
			for _, text := range []string{DefaultMessage(kind, lang), MentionMessage(lang), DigestMessage(kind, lang)} {
				got, err := tmpl.Execute(text, &Data{Data: Sanitize(d), Mentions: InlineMention(0), InlineMentions: []string{"alice_wecom"}})
				if err != nil {
					t.Fatal(err)
				}
				rest := strings.ReplaceAll(got, "<@alice_wecom>", "")
				if strings.Contains(rest, "<@") || mentionsAll(rest) {
					t.Errorf("%s renders a mention from alert text:\n%s", text, got)
				}
			}
		}
	}
}

// TestRenderedAlertTextCannotMention: a template of one's own may join
// alert fields or transform them; whatever it makes of alert text, only the
// planned mentions come out as mentions.
func TestRenderedAlertTextCannotMention(t *testing.T) {
	d := loadPayload(t, "firing-two-alerts")
	d.Alerts[0].Labels["instance"], d.Alerts[0].Annotations["summary"] = "db-1<", "@ceo> disk full"
	d.Alerts[1].Labels["instance"] = "@ceo>"
	d.CommonAnnotations["dashboard"] = "%3C%40ceo%3E please look %40all %1E0%1F"
	d.CommonAnnotations["summary"] = "disk < @ceo> full"
	data := &Data{Data: Sanitize(d), Mentions: InlineMention(0), InlineMentions: []string{"alice_wecom"}}
	tmpl := mustLoad(t)
	for text, want := range map[string]string{
		`{{ range .Alerts }}{{ .Labels.instance }}{{ .Annotations.summary }} {{ end }}{{ .Mentions }}`: "db-1<＠ceo> disk full @ceo>Replica lag above 30s <@alice_wecom>",
		`{{ .CommonAnnotations.dashboard | urlUnescape }}`:                                             "<＠ceo> please look ＠all 0",
		`{{ reReplaceAll " +" "" .CommonAnnotations.summary }} {{ .Mentions }}`:                        "disk<＠ceo>full <@alice_wecom>",
		`<{{ .Mentions }}@all <@{{ .Mentions }}`:                                                       "<<@alice_wecom>＠all <＠<@alice_wecom>",
	} {
		got, err := tmpl.Execute(text, data)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s\n got %q\nwant %q", text, got, want)
		}
	}
}

func TestPlaceMentions(t *testing.T) {
	ids := []string{"alice", "bob"}
	for in, want := range map[string]string{
		"a " + InlineMention(1) + " b " + InlineMention(0): "a <@bob> b <@alice>",
		"<" + InlineMention(2) + "@x>":                     "<" + tokenKey + "2@x>", // no id 2: not a token
		"<\x1e@x>\x1f":                                     "<＠x>",
		"\x1e+1\x1f \x1e-0\x1f \x1e\x1f \x1e1":             "+1 -0  1",
		"@all" + InlineMention(0) + "@all":                 "＠all<@alice>＠all",
	} {
		if got := PlaceMentions(in, ids); got != want {
			t.Errorf("PlaceMentions(%q) = %q, want %q", in, got, want)
		}
	}
	if got := PlaceMentions(InlineMention(0), nil); got != tokenKey+"0" {
		t.Errorf("a token without ids: %q", got)
	}
}

func FuzzNeutralize(f *testing.F) {
	for _, s := range []string{"", "<@a>", "@all", "<\x00@", "@ALl", "\xff<@", "<<@@all", "＠all", "<\u200b@a>", "@\ufe0fall"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Neutralize(s)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		for _, text := range []string{got, strings.Map(dropInvisible, got)} {
			if strings.Contains(text, "<@") || mentionsAll(text) {
				t.Fatalf("Neutralize(%q) = %q still mentions, as written or once its invisible characters are dropped", s, got)
			}
		}
		if again := Neutralize(got); again != got {
			t.Fatalf("not idempotent: %q then %q", got, again)
		}
	})
}

// BenchmarkDefaultMarkdown renders the default markdown message over a real
// two-alert payload. Run: go test -run '^$' -bench . -benchmem ./templates
func BenchmarkDefaultMarkdown(b *testing.B) {
	tmpl := mustLoad(b)
	d := testData(loadPayload(b, "firing-two-alerts"))
	text := DefaultMessage("markdown", "en")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.Execute(text, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNeutralizeHostile neutralises a 1 MiB label of '@' and zero-width
// spaces, the worst case of mentionAt's look around each '@'.
// Run: go test -run '^$' -bench NeutralizeHostile ./templates
func BenchmarkNeutralizeHostile(b *testing.B) {
	s := strings.Repeat("@\u200b", 1<<20/4)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		Neutralize(s)
	}
}

// BenchmarkSanitize copies a real two-alert payload with its text neutralised.
func BenchmarkSanitize(b *testing.B) {
	d := loadPayload(b, "firing-two-alerts")
	b.ReportAllocs()
	for b.Loop() {
		Sanitize(d)
	}
}

// TestExampleTemplate renders the custom template under examples/, as the
// example configuration uses it, over a real payload.
func TestExampleTemplate(t *testing.T) {
	glob, err := filepath.Abs(filepath.Join("..", "examples", "templates", "*.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := mustLoad(t, glob)
	d := testData(loadPayload(t, "firing-two-alerts"))
	d.FiringTotal = 2
	got, err := tmpl.Execute(`{{ template "custom.markdown" . }}`, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### [FIRING:2] MySQLReplicationLag mysql", "- db-1:9104: Replica lag above 30s", "- db-2:9104:", "On call: <@alice_wecom>, Bob Li"} {
		if !strings.Contains(got, want) {
			t.Errorf("custom.markdown lacks %q:\n%s", want, got)
		}
	}
	// A label or annotation cannot add a heading or a fake line to it.
	d.Alerts[0].Labels["instance"] = "db-1\n### <font color=\"info\">[RESOLVED] all clear</font>\nOn call: nobody"
	d.Alerts[1].Annotations["summary"] = "lag\n## On call: nobody"
	got, err = tmpl.Execute(`{{ template "custom.markdown" . }}`, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"\n### <font", "\nOn call: nobody", "\n## On call"} {
		if strings.Contains(got, bad) {
			t.Errorf("alert text puts %q in custom.markdown:\n%s", bad, got)
		}
	}
}

// dropInvisible is for strings.Map: it drops the characters invisible reports.
func dropInvisible(r rune) rune {
	if invisible(r) {
		return -1
	}
	return r
}

// mentionsAll reports whether s holds an "@all" that Neutralize defuses:
// one not followed by a letter, digit, '_', '-' or '.'.
func mentionsAll(s string) bool {
	for i := strings.Index(s, "@"); i >= 0 && i < len(s); {
		if strings.HasPrefix(strings.ToLower(s[i+1:]), "all") {
			next := byte(' ')
			if i+4 < len(s) {
				next = s[i+4]
			}
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.", rune(next)) {
				return true
			}
		}
		j := strings.Index(s[i+1:], "@")
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// TestLabelsCannotBreakTheCard: label values are data; whatever they hold,
// the default card keeps its lines, code spans, tags and links.
func TestLabelsCannotBreakTheCard(t *testing.T) {
	d := loadPayload(t, "firing-two-alerts")
	d.Alerts[0].Labels["instance"] = "db-1` **x\n## <font color=\"info\">RESOLVED: all clear</font>"
	d.Alerts[0].GeneratorURL = "http://prom/graph?g0.expr=x) [Runbook](http://evil.example"
	d.CommonLabels["alertname"] = "Lag\n## fake heading"
	tmpl := mustLoad(t)
	got, err := tmpl.Execute(DefaultMessage("markdown", "en"), testData(d))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"\n## fake", "\n## <font", "<font color=\"info\">RESOLVED", "](http://evil.example)", "db-1` **x"} {
		if strings.Contains(got, bad) {
			t.Errorf("the card holds %q:\n%s", bad, got)
		}
	}
	for _, want := range []string{"`instance=db-1ˋ **x ## ＜font color=\"info\">RESOLVED: all clear＜/font>`", "[Source](http://prom/graph?g0.expr=x%29%20%5BRunbook%5D%28http://evil.example)", "Lag ## fake heading</font>"} {
		if !strings.Contains(got, want) {
			t.Errorf("the card lacks %q:\n%s", want, got)
		}
	}
	digest, err := tmpl.Execute(DigestMessage("markdown", "en"), testData(d))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(digest, "\n"); len(lines) != 3 || !strings.HasPrefix(lines[1], "· MySQLReplicationLag db-1ˋ **x ## ＜font") {
		t.Errorf("the digest block is not a title and a line per alert:\n%s", digest)
	}

	// Outside a code span (the digest's instance, the alert's name), a
	// label cannot make a link either.
	d.Alerts[1].Labels["instance"] = "[click here](http://evil.example)"
	d.Alerts[1].Labels["alertname"] = "[Lag](http://evil.example)"
	digest, err = tmpl.Execute(DigestMessage("markdown", "en"), testData(d))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(digest, "](http://evil.example)") || !strings.Contains(digest, "· ［Lag］(http://evil.example) ［click here］(http://evil.example)") {
		t.Errorf("a label makes a link in the digest:\n%s", digest)
	}
	if got := OneLine("a\n[b](c) `d` <e>", "markdown"); got != "a ［b］(c) ˋdˋ ＜e>" {
		t.Errorf("OneLine for markdown = %q", got)
	}
	if got := OneLine("a\n[b](c) `d`", "text"); got != "a [b](c) `d`" {
		t.Errorf("OneLine for text = %q", got)
	}
}

// TestResolvedOnAnotherDay: an alert resolved days after it fired says on
// which day it ended.
func TestResolvedOnAnotherDay(t *testing.T) {
	d := loadPayload(t, "firing-two-alerts")
	d.Alerts[0].Status = "resolved"
	d.Alerts[0].StartsAt = time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	d.Alerts[0].EndsAt = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	d.Alerts[1].Status = "resolved"
	d.Alerts[1].StartsAt = time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	d.Alerts[1].EndsAt = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	v, err := NewView(&Data{Data: d}, "markdown", "en")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{v.Sections[0].Alerts[0].Time, v.Sections[0].Alerts[1].Time}
	want := []string{"2026-11-20 01:00:00 UTC → 2026-11-24 02:00:00", "2026-11-24 01:00:00 UTC → 02:00:00"}
	if !slices.Equal(got, want) {
		t.Errorf("times %q, want %q", got, want)
	}
}

// TestLeftOutAlerts: when Alertmanager's webhook max_alerts left alerts out
// of a notification, every default message and digest block says how many,
// once; the companion mention line does not.
func TestLeftOutAlerts(t *testing.T) {
	tmpl := mustLoad(t)
	for _, lang := range []string{"default", "zh"} {
		want := "…and 3 more alerts that Alertmanager did not send (webhook max_alerts)"
		if lang == "zh" {
			want = "…另有 3 条告警未由 Alertmanager 发送（webhook max_alerts）"
		}
		for _, kind := range []string{"markdown", "text", "markdown_v2", "digest_markdown", "digest_text", "digest_markdown_v2", "mention"} {
			name := "wecom." + lang + "." + kind
			for _, truncated := range []int{0, 3} {
				d := testData(loadPayload(t, "firing-two-alerts"))
				d.TruncatedAlerts = truncated
				got, err := tmpl.Execute(`{{ template "`+name+`" . }}`, d)
				if err != nil {
					t.Fatal(err)
				}
				wantCount := 0
				if truncated > 0 && kind != "mention" {
					wantCount = 1
				}
				if n := strings.Count(got, want); n != wantCount {
					t.Errorf("%s with %d alerts left out says so %d times, want %d:\n%s", name, truncated, n, wantCount, got)
				}
				if truncated > 0 && kind == "markdown" {
					golden.Check(t, filepath.Join("testdata", name+"-max-alerts.golden"), got)
				}
			}
		}
	}
	d := testData(loadPayload(t, "firing-one-alert"))
	d.TruncatedAlerts = 1
	if got, _ := tmpl.Execute(`{{ template "wecom.default.text" . }}`, d); !strings.Contains(got, "…and 1 more alert that Alertmanager did not send") {
		t.Errorf("one alert left out is not said in the singular:\n%s", got)
	}
}

// TestRouteLabelsFunction: Alertmanager's routeLabels function returns the
// route labels the payload carries (Alertmanager rendered them before
// posting), as Alertmanager's own rendering does, also from a definition
// a message calls, and for each notification its own.
func TestRouteLabelsFunction(t *testing.T) {
	am, err := template.FromGlobs(nil)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := mustLoad(t)
	for _, team := range []string{"dba", "payments"} {
		d := loadPayload(t, "firing-two-alerts")
		d.RouteLabels = template.KV{"team": team}
		template.MarkRouteLabelsRendered(d)
		const text = `owner team: {{ routeLabels "team" }}, {{ routeLabels "missing" }}.`
		want, err := am.ExecuteTextString(text, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{text, `{{ define "x" }}` + text + `{{ end }}{{ template "x" . }}`} {
			got, err := tmpl.Execute(text, &Data{Data: Sanitize(d)})
			if err != nil {
				t.Fatal(err)
			}
			if got != want || !strings.Contains(got, team) {
				t.Errorf("Alertmanager renders %q, this receiver %q", want, got)
			}
		}
	}
}

// TestAnnotationsCannotBreakTheCard: a summary or description (with label
// values in it) stays on the line the default message gives it, in every
// msgtype and the digest: no heading, no fake Responders line, no tag, no
// code span, no list; inline markdown such as a link stays.
func TestAnnotationsCannotBreakTheCard(t *testing.T) {
	d := loadPayload(t, "firing-two-alerts")
	evil := "disk ok\n## <font color=\"info\">RESOLVED: all clear</font>\nResponders: nobody, `x` [Runbook](http://wiki.example)"
	d.CommonAnnotations["summary"] = evil
	d.Alerts[0].Annotations["summary"] = "# heading"
	d.Alerts[0].Annotations["description"] = "1. first\n- second"
	d.Alerts[1].Annotations["summary"], d.Alerts[1].Annotations["description"] = evil, evil
	tmpl := mustLoad(t)
	for _, kind := range []string{"markdown", "markdown_v2", "text"} {
		for _, text := range []string{DefaultMessage(kind, "en"), DigestMessage(kind, "en")} {
			got, err := tmpl.Execute(text, testData(d))
			if err != nil {
				t.Fatal(err)
			}
			bad := []string{"\n## ", "\nResponders: nobody", "\n# heading", "\n1. first", "\n- second"}
			if kind != "text" { // a text message shows no markup: only lines of its own mislead
				bad = append(bad, "<font color=\"info\">RESOLVED", "`x`", "> # heading", "  # heading", "  1. first")
			}
			for _, b := range bad {
				if strings.Contains(got, b) {
					t.Errorf("%s %s: alert text puts %q in the message:\n%s", kind, text, b, got)
				}
			}
			if !strings.Contains(got, "[Runbook](http://wiki.example)") {
				t.Errorf("%s %s: the annotation's link is gone:\n%s", kind, text, got)
			}
		}
	}
}

// TestStartsNoBlock: what would make a line a markdown block is defused,
// and only that: an annotation starting with bold, an IP address or a
// number was printed with a look-alike ("＊*db-1**", "10．42.3.17").
func TestStartsNoBlock(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"**db-1** is down", "**db-1** is down"},
		{"10.42.3.17:8443 unreachable", "10.42.3.17:8443 unreachable"},
		{"99.9% of requests failing", "99.9% of requests failing"},
		{"-5% error budget", "-5% error budget"},
		{"#hashtag", "#hashtag"},
		{"_italic_ text", "_italic_ text"},
		{"~ approx", "~ approx"},
		{"1234567890. ten digits", "1234567890. ten digits"},
		{"# heading", "＃ heading"},
		{"###### six", "＃##### six"},
		{"#", "＃"},
		{"> quote", "＞ quote"},
		{"- item", "－ item"},
		{"+ item", "＋ item"},
		{"* item", "＊ item"},
		{"1. first", "1． first"},
		{"2) second", "2） second"},
		{"---", "－--"},
		{"===", "＝=="},
		{"* * *", "＊ * *"},
		{"___", "＿__"},
		{"~~~ lag", "～~~ lag"},
		{"| a | b |", "｜ a | b |"},
	} {
		if got := startsNoBlock(tc.in); got != tc.want {
			t.Errorf("startsNoBlock(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestAnnotationFenceStartsNoBlock: "~~~" opens a fenced code block as
// "```" does; a summary or description starting with it turned the rest of
// its quote or list item (the time, Source and Runbook) into code.
func TestAnnotationFenceStartsNoBlock(t *testing.T) {
	tmpl := mustLoad(t)
	for _, tc := range []struct{ field, bad string }{
		{"summary", "\n> ~~~"},
		{"description", "\n  ~~~"},
	} {
		for _, kind := range []string{"markdown", "markdown_v2"} {
			d := loadPayload(t, "firing-two-alerts")
			if tc.field == "summary" {
				d.CommonAnnotations["summary"] = "~~~ lag"
			} else {
				d.Alerts[0].Annotations["description"] = "~~~ lag"
			}
			got, err := tmpl.Execute(DefaultMessage(kind, "en"), testData(d))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(got, tc.bad) {
				t.Errorf("%s: a %s opens a code fence:\n%s", kind, tc.field, got)
			}
		}
	}
}

// TestWecomLineStartsNoBlock: the example template puts a label value
// (wecomLine) first in a list item, where "## " made a heading, "> " a
// quote and "- " or "1. " a list of its own.
func TestWecomLineStartsNoBlock(t *testing.T) {
	glob, err := filepath.Abs(filepath.Join("..", "examples", "templates", "*.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := mustLoad(t, glob)
	for _, tc := range []struct{ instance, bad string }{
		{"## [RESOLVED] all clear", "\n- ## "},
		{"> On call: nobody", "\n- > "},
		{"- On call: nobody", "\n- - "},
		{"1. On call: nobody", "\n- 1. "},
		{"\n# On call: nobody", "\n- # "},
	} {
		d := testData(loadPayload(t, "firing-two-alerts"))
		d.FiringTotal = 2
		d.Alerts[0].Labels["instance"] = tc.instance
		got, err := tmpl.Execute(`{{ template "custom.markdown" . }}`, d)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(got, tc.bad) {
			t.Errorf("instance %q starts a block in custom.markdown:\n%s", tc.instance, got)
		}
	}
}

// TestUnicodeLineBreaksAreLineBreaks: U+2028, U+2029, U+0085, \v and \f
// break lines in some clients; they are line breaks to Neutralize, so the
// default messages keep them on one line, as they do \n, in a text
// message too, where nothing else would.
func TestUnicodeLineBreaksAreLineBreaks(t *testing.T) {
	tmpl := mustLoad(t)
	for _, sep := range []string{"\u2028", "\u2029", "\u0085", "\v", "\f"} {
		if got := Neutralize("lag" + sep + "Responders: nobody"); got != "lag\nResponders: nobody" {
			t.Errorf("Neutralize(%q) = %q", "lag"+sep+"Responders: nobody", got)
		}
		d := loadPayload(t, "firing-two-alerts")
		d.Alerts[0].Annotations["description"] = "lag" + sep + "Responders: nobody"
		for _, kind := range []string{"markdown", "text"} {
			got, err := tmpl.Execute(DefaultMessage(kind, "en"), testData(Sanitize(d)))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got, "lag Responders: nobody") {
				t.Errorf("%s, %q between the words:\n%s", kind, sep, got)
			}
		}
	}
}
