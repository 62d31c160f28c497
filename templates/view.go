package templates

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/alertmanager/template"
)

// View is what the default messages print, worked out in Go once per
// message so that their templates only place it: text/template spends most
// of a render on map lookups and function calls, and a struct field read
// costs neither. The layout stays in default.tmpl. A template of one's own
// gets a View with `wecomView . "markdown" "en"`.
type View struct {
	// Data is the notification.
	Data *Data
	// Status, ExternalURL and Mentions are the data's, copied: a field
	// reached through an embedded struct costs text/template a search by
	// name that allocates, on every use.
	Status, ExternalURL, Mentions string
	// Style is the msgtype the message is for: markdown, markdown_v2 or text.
	Style string
	// Markdown and Text report whether Style is markdown or text.
	Markdown, Text bool
	// Words are the fixed words of the message's language.
	Words Words
	// Name names the group: the common alertname, or else the group labels' values.
	Name string
	// Severity is the common severity label, if any.
	Severity string
	// StatusColor and SeverityColor are the WeCom font colours (markdown's
	// <font color>) of the status and the severity.
	StatusColor, SeverityColor string
	// Labels are the labels common to every alert but alertname and severity,
	// printed for the style (see pills and pairs).
	Labels string
	// Summary is the common summary annotation, if any.
	Summary string
	// Sections are the firing alerts, then the resolved ones, each under its
	// heading; a status without alerts has no section.
	Sections []Section
	// FiringCount is how many alerts are firing: in the whole notification
	// (Data.FiringTotal), not only in the part shown.
	FiringCount int
	// LeftOut says how many alerts Alertmanager left out of the
	// notification (Data.TruncatedAlerts), or is empty.
	LeftOut string
}

// Section is a heading and its alerts.
type Section struct {
	Heading string
	Alerts  []AlertView
}

// AlertView is what the default messages print of one alert.
type AlertView struct {
	// Name is the alert's alertname.
	Name string
	// Labels are the alert's labels that are not common to every alert,
	// printed for the style.
	Labels string
	// Summary is the alert's summary annotation when it differs from the common one.
	Summary string
	// Description is the alert's description annotation.
	Description string
	// Time is when the alert started, and ended if resolved (see alertTime).
	Time string
	// Source is the alert's generator URL; Runbook its runbook_url annotation.
	Source, Runbook string
	// Instance is the alert's instance label, for one-line listings.
	Instance string
	// Firing reports whether the alert is firing.
	Firing bool
}

// Words are the fixed words of the default messages in one language.
type Words struct {
	FiringTag, ResolvedTag, Firing, Resolved, Severity, Responders, Source, Runbook, Look, Done string
	// Comma separates the names of a list, such as the responders.
	Comma string
	// Digest titles a message merging %d notifications.
	Digest string
	// MoreAlert and MoreAlerts say that one or more (%[1]d) alerts are not
	// in a message, and why (%[2]s): NotShown, left out to fit WeCom's
	// limit, or NotSent, left out by Alertmanager's max_alerts. See More.
	MoreAlert, MoreAlerts, NotShown, NotSent string
}

var words = map[string]Words{
	"en": {
		FiringTag: "FIRING", ResolvedTag: "RESOLVED", Firing: "Firing", Resolved: "Resolved",
		Severity: "Severity", Responders: "Responders", Source: "Source", Runbook: "Runbook",
		Look: "please take a look", Done: "resolved", Comma: ", ", Digest: "Alert digest: %d notifications",
		MoreAlert: "…and %[1]d more alert %[2]s", MoreAlerts: "…and %[1]d more alerts %[2]s",
		NotShown: "not shown", NotSent: "that Alertmanager did not send (webhook max_alerts)",
	},
	"zh": {
		FiringTag: "告警", ResolvedTag: "已恢复", Firing: "告警中", Resolved: "已恢复",
		Severity: "级别", Responders: "负责人", Source: "来源", Runbook: "处理手册",
		Look: "请及时处理", Done: "已恢复", Comma: "、", Digest: "告警汇总：%d 条通知",
		MoreAlert: "…另有 %[1]d 条告警%[2]s", MoreAlerts: "…另有 %[1]d 条告警%[2]s",
		NotShown: "未显示", NotSent: "未由 Alertmanager 发送（webhook max_alerts）",
	},
}

// More says that n more alerts are not in the message, why being NotShown
// or NotSent; "" when n is 0.
func (w Words) More(n int, why string) string {
	switch {
	case n <= 0:
		return ""
	case n == 1:
		return fmt.Sprintf(w.MoreAlert, n, why)
	}
	return fmt.Sprintf(w.MoreAlerts, n, why)
}

// OmittedNote is the line that ends a card truncated to fit WeCom's limit,
// in language: how many alerts it does not show.
func OmittedNote(language string, omitted int) string {
	w := WordsIn(language)
	return "\n\n" + w.More(omitted, w.NotShown)
}

// WordsIn returns the default messages' words in language (en or zh),
// English for a language without words.
func WordsIn(language string) Words {
	if w, ok := words[language]; ok {
		return w
	}
	return words["en"]
}

// headerExcept are the common labels the header prints on lines of their own.
var headerExcept = []string{"alertname", "severity"}

// NewView works out what the default message of style (a msgtype) in
// language (en or zh) prints of d.
func NewView(d *Data, style, language string) (*View, error) {
	v := &View{
		Data:        d,
		Status:      d.Status,
		ExternalURL: d.ExternalURL,
		Mentions:    d.Mentions,
		Style:       style,
		Markdown:    style == "markdown",
		Text:        style == "text",
		Words:       WordsIn(language),
		Severity:    d.CommonLabels["severity"],
		Summary:     d.CommonAnnotations["summary"],
	}
	v.StatusColor, v.SeverityColor = color(v.Status), color(v.Severity)
	inline, prose := bare, proseMarkdown
	printLabels := pillsOf
	if v.Text {
		inline, prose, printLabels = oneLineText, proseText, pairsOf
	}
	commonSummary := v.Summary
	v.Summary = prose(v.Summary)
	v.Name = d.CommonLabels["alertname"]
	if v.Name == "" {
		v.Name = strings.Join(d.GroupLabels.SortedPairs().Values(), " ")
	}
	v.Name, v.Severity = inline(v.Name), inline(v.Severity)
	v.ExternalURL = linkTarget(v.ExternalURL)
	v.Labels = printLabels(d.CommonLabels, func(name string) bool { return slices.Contains(headerExcept, name) })
	isCommon := func(name string) bool { _, ok := d.CommonLabels[name]; return ok }
	var firing, resolved []AlertView
	for i := range d.Alerts {
		a := &d.Alerts[i]
		time, err := alertTime(a, d.TimeZone)
		if err != nil {
			return nil, err
		}
		av := AlertView{
			Name:        inline(a.Labels["alertname"]),
			Labels:      printLabels(a.Labels, isCommon),
			Description: prose(a.Annotations["description"]),
			Time:        time,
			Source:      linkTarget(a.GeneratorURL),
			Runbook:     linkTarget(a.Annotations["runbook_url"]),
			Instance:    inline(a.Labels["instance"]),
			Firing:      a.Status == "firing",
		}
		if s := a.Annotations["summary"]; s != commonSummary {
			av.Summary = prose(s)
		}
		if a.Status == "firing" {
			firing = append(firing, av)
		} else {
			resolved = append(resolved, av)
		}
	}
	v.FiringCount = max(len(firing), d.FiringTotal)
	v.LeftOut = v.Words.More(d.TruncatedAlerts, v.Words.NotSent)
	if len(firing) > 0 {
		v.Sections = append(v.Sections, Section{Heading: v.Words.Firing, Alerts: firing})
	}
	if len(resolved) > 0 {
		v.Sections = append(v.Sections, Section{Heading: v.Words.Resolved, Alerts: resolved})
	}
	return v, nil
}

// color returns the WeCom font colour for a status or severity: "warning"
// (orange) for firing and the severities that page, "info" (green) for
// resolved, "comment" (grey) for anything else.
func color(statusOrSeverity string) string {
	switch statusOrSeverity {
	case "firing", "critical", "error", "page":
		return "warning"
	case "resolved":
		return "info"
	}
	return "comment"
}

// pillsOf prints labels but those skipped, sorted by name, as markdown
// code spans: "`instance=db-1` `job=mysql`".
func pillsOf(labels template.KV, skip func(name string) bool) string {
	return printPairs(labels, skip, "`", "` `", "`", oneLine)
}

// pairsOf prints labels but those skipped, sorted by name, as plain text:
// "instance=db-1 job=mysql".
func pairsOf(labels template.KV, skip func(name string) bool) string {
	return printPairs(labels, skip, "", " ", "", oneLineText)
}

// Labels are data, printed where a message expects one line of it: a label
// value must not start a line of its own (a heading, a quote), close a code
// span or a <font> tag, nor open one; outside a code span, nor a link.
var (
	// oneLineMarkdown keeps a label on its line and inside its code span
	// or tag in markdown: line breaks become spaces, a backtick a
	// look-alike (U+02CB), "<" a fullwidth "＜".
	oneLineMarkdown = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "`", "ˋ", "<", "＜")
	// bareMarkdown does what oneLineMarkdown does for text outside a code
	// span, where square brackets would make a link: they become fullwidth.
	bareMarkdown = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "`", "ˋ", "<", "＜", "[", "［", "]", "］")
	// oneLinePlain keeps a label on its line in a text message.
	oneLinePlain = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
)

// oneLine prints a label value inside a markdown code span; see oneLineMarkdown.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n`<") {
		return s // the common case: a Replacer would copy
	}
	return oneLineMarkdown.Replace(s)
}

// bare prints a label value in markdown outside a code span; see bareMarkdown.
func bare(s string) string {
	if !strings.ContainsAny(s, "\r\n`<[]") {
		return s
	}
	return bareMarkdown.Replace(s)
}

// oneLineText prints a label value for a text message; see oneLinePlain.
func oneLineText(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return oneLinePlain.Replace(s)
}

// OneLine prints untrusted text, such as a name from an alert's label, as
// data within a line of a message of msgtype: it stays on its line and,
// in markdown, opens no code span, tag or link.
func OneLine(s, msgtype string) string {
	if msgtype == "text" {
		return oneLineText(s)
	}
	return bare(s)
}

// Annotations (summary, description) are prose the rule's author wrote,
// with label values in it: the default messages print each on the one line
// they give it, where it starts no line of its own. Its line breaks become
// spaces (a text message's too), and in markdown it opens no code span or
// tag, nor a block where it starts a line (see startsNoBlock). Inline
// markdown, bold and links, stays as written.

// proseText prints an annotation in a text message.
func proseText(s string) string { return strings.TrimSpace(oneLineText(s)) }

// proseMarkdown prints an annotation in markdown.
func proseMarkdown(s string) string { return startsNoBlock(strings.TrimSpace(oneLine(s))) }

// lineData prints a label value in markdown anywhere on a line, its start
// included: bare, and starting no block.
func lineData(s string) string { return startsNoBlock(strings.TrimSpace(bare(s))) }

// startsNoBlock returns s, the text of a line from its first character,
// with what would make the line a markdown block shown as a fullwidth
// look-alike: a heading ("# "), quote (">"), list item ("- ", "+ ", "* ",
// "1. ", "1) "), thematic break or setext underline ("***", "---", "==="),
// code fence ("~~~"; backticks never stand in printed alert text) or table
// row ("|"). Bold ("**db-1**"), a number ("10.42.3.17") or "-5%" start no
// block and stay as written.
func startsNoBlock(s string) string {
	if s == "" {
		return s
	}
	c := s[0]
	spaceAt := func(i int) bool { return i == len(s) || s[i] == ' ' || s[i] == '\t' }
	switch {
	case c == '>' || c == '|':
	case c == '#':
		if n := len(s) - len(strings.TrimLeft(s, "#")); n > 6 || !spaceAt(n) {
			return s
		}
	case c == '-' || c == '+' || c == '*':
		if !spaceAt(1) && !onlyOf(s, c) {
			return s
		}
	case c == '=' || c == '_':
		if !onlyOf(s, c) {
			return s
		}
	case c == '~':
		if !strings.HasPrefix(s, "~~~") {
			return s
		}
	case '0' <= c && c <= '9':
		n := len(s) - len(strings.TrimLeft(s, "0123456789"))
		if n > 9 || n == len(s) || s[n] != '.' && s[n] != ')' || !spaceAt(n+1) {
			return s
		}
		return s[:n] + fullwidth(s[n]) + s[n+1:]
	default:
		return s
	}
	return fullwidth(c) + s[1:]
}

// onlyOf reports whether s is c repeated, spaces and tabs between: a
// thematic break, or the underline that makes the line above a heading.
func onlyOf(s string, c byte) bool { return strings.Trim(s, string(c)+" \t") == "" }

// fullwidth returns the fullwidth look-alike of a printable ASCII character.
func fullwidth(c byte) string { return string(rune(c) - '!' + '！') }

// linkTarget makes an alert's URL safe to stand in a markdown link,
// [Source](…): the characters that would end the link or the line are
// percent-encoded, which leaves the URL's meaning as it is.
func linkTarget(u string) string {
	if !strings.ContainsAny(u, linkUnsafe) {
		return u
	}
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		if c := u[i]; strings.IndexByte(linkUnsafe, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// linkUnsafe are the bytes linkTarget encodes.
const linkUnsafe = " ()<>[]`\"\n\r\t"

// printPairs prints the labels not skipped as name=value, sorted by name,
// each between open and close, with sep between them, each name and value
// passed through inline.
func printPairs(labels template.KV, skip func(name string) bool, open, sep, close string, inline func(string) string) string {
	names := make([]string, 0, len(labels))
	for name := range labels {
		if !skip(name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(open)
	for i, name := range names {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(inline(name))
		b.WriteByte('=')
		b.WriteString(inline(labels[name]))
	}
	b.WriteString(close)
	return b.String()
}

// alertTime prints when a started, in the zone named zone ("" is UTC), and
// for a resolved alert when it ended: "2026-11-25 11:01:51 CST → 11:09:51",
// with the end's date when it is another day's: "… → 2026-11-27 02:00:00".
func alertTime(a *template.Alert, zone string) (string, error) {
	loc, err := loadZone(zone)
	if err != nil {
		return "", err
	}
	start := a.StartsAt.In(loc)
	s := start.Format("2006-01-02 15:04:05 MST")
	if a.Status == "resolved" {
		end := a.EndsAt.In(loc)
		layout := "15:04:05"
		if y, m, d := end.Date(); y != start.Year() || m != start.Month() || d != start.Day() {
			layout = "2006-01-02 15:04:05"
		}
		s += " → " + end.Format(layout)
	}
	return s, nil
}
