// Package templates renders WeCom messages with Alertmanager's template
// package and functions, so that an existing Alertmanager template works
// unchanged, and holds the embedded default templates.
package templates

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/binary"
	"fmt"
	tmplhtml "html/template"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	tmpltext "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"
)

//go:embed *.tmpl
var defaults embed.FS

// Data is what every message template sees: Alertmanager's own template
// data, so an existing Alertmanager template works unchanged, plus the
// responders of the notification.
type Data struct {
	*template.Data
	// Responders are the people responsible for the notification, in a stable order.
	Responders []Responder
	// Mentions renders the mentions a template places inline: <@userid>
	// tokens for people mentioned inline (markdown only), plain names for
	// everyone else, as a list in the robot's language (Words.Comma).
	// Until Execute has rendered, an inline mention stands there as
	// InlineMention(i), for InlineMentions[i].
	Mentions string
	// InlineMentions are the WeCom user ids that Mentions mentions inline.
	InlineMentions []string
	// TimeZone is the IANA name of the zone times are shown in, for `tz`.
	TimeZone string
	// FiringTotal is how many of the notification's alerts fire, all of
	// them, also in a part or a truncated card whose .Alerts are only some.
	FiringTotal int
	// TruncatedAlerts is how many of the group's alerts Alertmanager left
	// out of the notification (the webhook's max_alerts, its payload's
	// truncatedAlerts): they are in neither .Alerts nor FiringTotal, and
	// their responders are unknown.
	TruncatedAlerts int
}

// Responder is one person responsible for the notification, for display.
type Responder struct {
	Name  string
	Email string
	// Mention is how the person is mentioned: "inline" (a <@userid> token in
	// the content), "bottom" (under the message), or "" (shown by name only).
	Mention string
}

// Templates holds Alertmanager's default templates, this package's
// embedded defaults and the user's templates. It is safe for concurrent use.
type Templates struct {
	// base holds every definition; message texts are compiled on a clone
	// of it once each, not on every notification.
	base     *tmpltext.Template
	compiled sync.Map // template text -> *compiled
}

// compiled is a message text parsed on a clone of the base.
type compiled struct {
	tmpl *tmpltext.Template
	// routeLabels reports whether a template it may run calls routeLabels,
	// which then needs the data's own route labels; see Execute.
	routeLabels bool
	// slow is set once quickRender left the text to text/template: what
	// it could not render (a map, a pipeline) is nearly always in the
	// template, not in the data, so it is not tried again.
	slow atomic.Bool
}

// Funcs are the functions this receiver adds to Alertmanager's.
var Funcs = template.FuncMap{
	// inZone is Alertmanager's tz, with each zone loaded once: tz reads the
	// zone's file on every call.
	"inZone": func(name string, t time.Time) (time.Time, error) {
		loc, err := loadZone(name)
		if err != nil {
			return time.Time{}, err
		}
		return t.In(loc), nil
	},
	// words returns the default templates' words in a language, en or zh.
	"words": WordsIn,
	// wecomView is what the default message of a style (msgtype) and
	// language prints of the data; see View.
	"wecomView": NewView,
	// wecomLine prints a label value as data on a markdown line, as the
	// default messages do: on one line, opening no code span, tag or link,
	// and no block where it starts the line.
	"wecomLine": lineData,
	// wecomProse prints an annotation on a markdown line, as the default
	// messages do: on one line, starting no block, its bold and links kept.
	"wecomProse": proseMarkdown,
}

// renderFuncs are the functions every template can call, as quickRender
// calls them: this package's, then Alertmanager's over them, which
// template.New gives precedence (TestRenderFuncsAsAlertmanagerAddsThem).
var renderFuncs = quickFuncs(Funcs, template.DefaultFuncs)

// loadZone returns the zone named name ("" is UTC), loading each zone once.
func loadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	name = strings.Clone(name) // the cache keeps it, and loc its name: never a substring of a request body
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// zones caches the time zones inZone loaded, by name.
var zones sync.Map

// Load parses Alertmanager's defaults, then the embedded defaults of this
// package, then the user's globs (absolute paths; a glob matching nothing
// is allowed, as in Alertmanager), so that a user file can redefine any
// default.
func Load(globs []string) (*Templates, error) {
	// Alertmanager's Template keeps its text template to itself; an option
	// sees it, and it stays the same value through every Parse.
	var base *tmpltext.Template
	am, err := template.FromGlobs(nil, func(text *tmpltext.Template, html *tmplhtml.Template) {
		base = text
		text.Funcs(tmpltext.FuncMap(Funcs))
		html.Funcs(tmplhtml.FuncMap(Funcs))
	})
	if err != nil {
		return nil, fmt.Errorf("alertmanager default templates: %w", err)
	}
	names, err := fs.Glob(defaults, "*.tmpl")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		f, err := defaults.Open(name)
		if err != nil {
			return nil, err
		}
		err = am.Parse(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("default template %s: %w", name, err)
		}
	}
	for _, glob := range globs {
		if err := am.FromGlob(glob); err != nil {
			return nil, fmt.Errorf("templates %s: %w", glob, err)
		}
	}
	return &Templates{base: base}, nil
}

// Execute renders template text, e.g. `{{ template "wecom.default.markdown" . }}`, with data.
// The rendering is neutralised as a whole (see Neutralize), whatever the
// template did with alert text (joined fields, urlUnescape, reReplaceAll),
// and only then are the inline mentions of data written as <@userid>: a
// mention in a message is one that data planned, never one the template or
// the alerts spelled.
func (t *Templates) Execute(text string, data *Data) (string, error) {
	c, err := t.compile(text)
	if err != nil {
		return "", err
	}
	tmpl := c.tmpl
	if c.routeLabels {
		// Alertmanager's routeLabels reads the data's route labels, which
		// Alertmanager rendered before posting them, so a function bound to
		// this data, on a clone: only for templates that call it.
		if tmpl, err = tmpl.Clone(); err != nil {
			return "", err
		}
		tmpl.Funcs(tmpltext.FuncMap{"routeLabels": func(name string) string {
			if data.Data == nil {
				return ""
			}
			return data.RouteLabels[name]
		}})
	}
	buf := buffers.Get().(*bytes.Buffer)
	defer buffers.Put(buf)
	buf.Reset()
	if !c.quick(buf, data) {
		if err := tmpl.Execute(buf, data); err != nil {
			return "", err
		}
	}
	return PlaceMentions(buf.String(), data.InlineMentions), nil
}

// quick renders data with quickRender, unless c calls routeLabels (which
// Execute binds to the data) or quickRender once left c to text/template.
func (c *compiled) quick(buf *bytes.Buffer, data *Data) bool {
	if c.routeLabels || c.slow.Load() {
		return false
	}
	if quickRender(buf, c.tmpl, renderFuncs, data) {
		return true
	}
	c.slow.Store(true)
	return false
}

// tokenIndex returns the index that inside, what stands between a token's
// delimiters, names, if it is a token of this process's and the index is
// below n.
func tokenIndex(inside string, n int) (int, bool) {
	digits, ok := strings.CutPrefix(inside, tokenKey)
	if !ok || digits == "" || len(digits) > 9 {
		return 0, false
	}
	i := 0
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, false
		}
		i = i*10 + int(c-'0')
	}
	return i, i < n
}

// mentionOpen and mentionClose delimit the token that stands for an inline
// mention until the rendering is neutralised. Both are control characters,
// which Neutralize drops from alert text; and a token starts with tokenKey,
// random digits alert text cannot know, so that not even a template
// function that decodes alert text (urlUnescape) can make one.
const (
	mentionOpen  = "\x1e"
	mentionClose = "\x1f"
)

// tokenKey is this process's start of every mention token: 18 random
// digits, which case mapping leaves as they are.
var tokenKey = func() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%018d", binary.BigEndian.Uint64(b[:])%1e18)
}()

// InlineMention returns the token that stands in .Mentions for the i-th of
// .InlineMentions until Execute writes it as <@userid>.
func InlineMention(i int) string {
	return mentionOpen + tokenKey + strconv.Itoa(i) + mentionClose
}

// PlaceMentions neutralises s but for the InlineMention tokens in it, and
// writes token i as <@ids[i]>. The text between tokens is neutralised as one
// string, so that what a dropped character separated cannot join into a
// mention; a token without an id is not one, and is dropped with the rest
// of the control characters.
func PlaceMentions(s string, ids []string) string {
	if len(ids) == 0 || !strings.Contains(s, mentionOpen) {
		return Neutralize(s)
	}
	var b strings.Builder
	text := 0 // where the text not yet written starts
	for i := 0; i < len(s); {
		open := strings.Index(s[i:], mentionOpen)
		if open < 0 {
			break
		}
		open += i
		start := open + len(mentionOpen)
		end := strings.Index(s[start:], mentionClose)
		n, ok := tokenIndex(s[start:start+max(end, 0)], len(ids))
		if !ok {
			i = start
			continue
		}
		b.WriteString(Neutralize(s[text:open]))
		b.WriteString("<@" + ids[n] + ">")
		i = start + end + len(mentionClose)
		text = i
	}
	b.WriteString(Neutralize(s[text:]))
	return b.String()
}

// buffers are rendering buffers, reused: a message is a few KiB, and
// growing a fresh buffer to that size for every render showed up in profiles.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (t *Templates) compile(text string) (*compiled, error) {
	if c, ok := t.compiled.Load(text); ok {
		return c.(*compiled), nil
	}
	clone, err := t.base.Clone()
	if err != nil {
		return nil, err
	}
	tmpl, err := clone.New("").Option("missingkey=zero").Parse(text)
	if err != nil {
		return nil, err
	}
	c := &compiled{tmpl: tmpl}
	for _, def := range tmpl.Templates() {
		// A template's tree prints as its source; a mere mention of the
		// name costs a clone per render, nothing worse.
		if def.Tree != nil && strings.Contains(def.Tree.Root.String(), "routeLabels") {
			c.routeLabels = true
		}
	}
	t.compiled.Store(text, c)
	return c, nil
}

// DefaultMessage returns the template text of the default message for a
// msgtype (markdown, text, markdown_v2) and language (en, zh).
func DefaultMessage(msgtype, language string) string {
	return templateCall(language, msgtype)
}

// MentionMessage returns the template text of the companion text message
// that carries mentions at its bottom: one short line.
func MentionMessage(language string) string {
	return templateCall(language, "mention")
}

// BuiltinMentionMessage returns the template text of the embedded default
// companion line, which a file of one's own redefining wecom.*.mention
// does not replace: never empty, for when that one renders nothing.
func BuiltinMentionMessage(language string) string {
	if language != "zh" {
		language = "en"
	}
	return `{{ template "__wecom_mention" (wecomView . "text" "` + language + `") }}`
}

// DigestMessage returns the template text of one notification's compact
// block in a digest of several.
func DigestMessage(msgtype, language string) string {
	return templateCall(language, "digest_"+msgtype)
}

// templateCall returns the text that executes the default template name in
// language, e.g. {{ template "wecom.zh.markdown" . }}.
func templateCall(language, name string) string {
	prefix := "wecom.default."
	if language == "zh" {
		prefix = "wecom.zh."
	}
	return `{{ template "` + prefix + name + `" . }}`
}

// Sanitize returns d with every string that came from alerts passed
// through Neutralize. d is not modified: what needs a change is copied,
// while labels, annotations and alerts that need none (the common case)
// are shared with d, so neither may be modified afterwards.
func Sanitize(d *template.Data) *template.Data {
	out := &template.Data{
		Receiver:           Neutralize(d.Receiver),
		Status:             Neutralize(d.Status),
		NotificationReason: Neutralize(d.NotificationReason),
		GroupLabels:        sanitizeKV(d.GroupLabels),
		CommonLabels:       sanitizeKV(d.CommonLabels),
		CommonAnnotations:  sanitizeKV(d.CommonAnnotations),
		RouteLabels:        sanitizeKV(d.RouteLabels),
		ExternalURL:        Neutralize(d.ExternalURL),
		Alerts:             d.Alerts,
	}
	template.MarkRouteLabelsRendered(out)
	copied := false
	for i, a := range d.Alerts {
		if alertSafe(&a) {
			continue
		}
		if !copied {
			out.Alerts = slices.Clone(d.Alerts)
			copied = true
		}
		out.Alerts[i] = template.Alert{
			Status:       Neutralize(a.Status),
			Labels:       sanitizeKV(a.Labels),
			Annotations:  sanitizeKV(a.Annotations),
			StartsAt:     a.StartsAt,
			EndsAt:       a.EndsAt,
			GeneratorURL: Neutralize(a.GeneratorURL),
			Fingerprint:  Neutralize(a.Fingerprint),
		}
	}
	return out
}

// alertSafe reports whether Sanitize would leave a as it is.
func alertSafe(a *template.Alert) bool {
	return safe(a.Status) && safe(a.GeneratorURL) && safe(a.Fingerprint) &&
		a.Labels != nil && kvSafe(a.Labels) && a.Annotations != nil && kvSafe(a.Annotations)
}

// kvSafe reports whether no key or value of kv needs neutralising.
func kvSafe(kv template.KV) bool {
	for k, v := range kv {
		if !safe(k) || !safe(v) {
			return false
		}
	}
	return true
}

// sanitizeKV returns kv itself when no key or value needs neutralising, a
// neutralised copy otherwise; nil becomes empty.
func sanitizeKV(kv template.KV) template.KV {
	if kv == nil {
		return template.KV{}
	}
	if kvSafe(kv) {
		return kv
	}
	out := make(template.KV, len(kv))
	for k, v := range kv {
		out[Neutralize(k)] = Neutralize(v)
	}
	return out
}

// Neutralize makes untrusted alert text safe to place in a WeCom message:
// invalid UTF-8 becomes U+FFFD; the other line breaks of Unicode (\v, \f,
// U+0085, U+2028, U+2029, at which some clients break lines) become \n,
// so that whatever keeps text on one line sees them; control characters
// other than \n and \t are dropped; and text WeCom could read as a
// mention is defused: "<@" becomes "<＠", and "@all" in any case, unless a
// letter, digit, '_', '-' or '.' follows (an e-mail address, a path such
// as /@allegro-team), becomes "＠all", invisible characters between them
// or not (see mentionAt). The result holds neither, and Neutralize is
// idempotent.
func Neutralize(s string) string {
	if safe(s) {
		return s // the common case: no copy
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case lineBreak(r):
			return '\n'
		case control(r):
			return -1
		}
		return r
	}, s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		if mentionAt(s, i) {
			b.WriteString("＠")
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// lineBreak reports whether Neutralize makes r a \n: a line or paragraph
// separator other than \n and \r.
func lineBreak(r rune) bool {
	return r == '\v' || r == '\f' || r == 0x85 || r == 0x2028 || r == 0x2029
}

// control reports whether Neutralize drops r: a control character other
// than \n and \t.
func control(r rune) bool {
	return r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r <= 0x9f
}

// mentionAt reports whether the '@' at s[i], if it is one, makes a mention:
// "<@", or "@all" not followed by a letter, digit, '_', '-' or '.'. Whether
// WeCom drops invisible characters is unknown, so s makes a mention if it
// does either as written or with them dropped (see invisible):
// "<\u200b@ceo>" and "@a\u200bll" do, and so does "@all\u200bx".
func mentionAt(s string, i int) bool {
	if s[i] != '@' {
		return false
	}
	if strings.HasSuffix(strings.TrimRightFunc(s[:i], invisible), "<") {
		return true
	}
	return allFollows(s[i+1:], false) || allFollows(s[i+1:], true)
}

// allFollows reports whether rest, what follows an '@', makes "@all" a
// mention: it starts with "all", in any case, and no letter, digit, '_',
// '-' or '.' follows; read as written, or with invisible characters
// dropped when dropInvisible.
func allFollows(rest string, dropInvisible bool) bool {
	matched := 0 // bytes of "all" read
	for _, r := range rest {
		switch {
		case dropInvisible && invisible(r):
		case matched == len("all"):
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-' || r == '.')
		case r|0x20 != rune("all"[matched]):
			return false
		default:
			matched++
		}
	}
	return matched == len("all")
}

// invisible reports whether r is a character that may show nothing and
// that software may drop from text: a format character (Unicode's Cf: the
// zero-width space and joiners, direction marks, the byte order mark, the
// soft hyphen, and a few that do show, such as U+0600, defused all the
// same), a variation selector, or another default-ignorable code point.
func invisible(r rune) bool {
	return r >= 0x80 && (unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r))
}

// plain are the bytes Neutralize never changes, whatever stands around them:
// printable ASCII but '@', and \n and \t.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '@'
	}
	t['\n'], t['\t'] = true, true
	return t
}()

// safe reports whether s needs no change by Neutralize.
func safe(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			if control(rune(c)) || mentionAt(s, i) {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || control(r) || lineBreak(r) {
			return false
		}
		i += size
	}
	return true
}
