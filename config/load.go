// Package config loads the receiver's YAML configuration the Alertmanager
// way (defaults, strict decoding, then validation with precise errors),
// with the directory files it names: members, mapping tables, schedules.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones in a scratch container too

	"github.com/prometheus/alertmanager/matcher/compat"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"gopkg.in/yaml.v3"

	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// Defaults of the global section.
var (
	DefaultTimeout   = model.Duration(10 * time.Second)
	DefaultRateLimit = RateLimit{Messages: 20, Per: model.Duration(time.Minute)}
	// DefaultMaxWait is well under the time Alertmanager waits for a webhook.
	DefaultMaxWait     = model.Duration(30 * time.Second)
	DefaultDedupWindow = model.Duration(2 * time.Minute)
)

var (
	robotNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	// userIDRE is WeCom's rule for an account: letters, digits and _-@.,
	// starting with a letter or digit, at most 64 bytes.
	userIDRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)
	phoneDigits = regexp.MustCompile(`^\+?[0-9]{5,15}$`)
	// trunkPrefix is the "(0)" of "+44 (0)20 7946 0000": the 0 is dialled
	// only without the country code.
	trunkPrefix = regexp.MustCompile(`\(\s*0\s*\)`)
	// parseMatchers is the parser Alertmanager reads each entry of a
	// matchers list with by default, so one entry may hold several
	// matchers ('team="dba", severity="critical"', '{team="dba"}') and a
	// list copied from alertmanager.yml behaves identically.
	parseMatchers = compat.FallbackMatchersParser(promslog.NewNopLogger())
)

// LoadFile reads, decodes and validates the configuration file at path;
// relative paths in it resolve against its folder.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return LoadFileData(path, data)
}

// LoadFileData decodes and validates data, the contents of the
// configuration file at path, for a caller that needs the bytes too.
func LoadFileData(path string, data []byte) (*Config, error) {
	cfg, err := Load(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Load decodes and validates a configuration; dir is the folder relative
// paths resolve against.
func Load(data []byte, dir string) (*Config, error) {
	cfg := &Config{Global: GlobalConfig{
		APIURL:      DefaultAPIURL,
		Timeout:     DefaultTimeout,
		RateLimit:   DefaultRateLimit,
		TimeZone:    "UTC",
		MaxWait:     DefaultMaxWait,
		DedupWindow: DefaultDedupWindow,
	}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, redactYAMLError(err)
	}
	if err := cfg.validate(dir); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (c *Config) validate(dir string) error {
	if err := c.Global.validate(); err != nil {
		return err
	}
	for i, glob := range c.Templates {
		if glob == "" {
			return fmt.Errorf("templates[%d]: empty path", i)
		}
		c.Templates[i] = resolve(dir, glob)
	}
	if err := c.validateMembers(dir); err != nil {
		return err
	}
	if err := c.validateMappingTables(dir); err != nil {
		return err
	}
	if err := c.validateTeams(); err != nil {
		return err
	}
	if err := c.validateSchedules(); err != nil {
		return err
	}
	if err := c.validateResponders(); err != nil {
		return err
	}
	if len(c.Robots) == 0 {
		return errors.New("robots: no robots configured")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Robots)) {
		r := c.Robots[name]
		if r == nil {
			return fmt.Errorf("robots.%s: empty robot", name)
		}
		if err := c.validateRobot(name, r, dir); err != nil {
			return err
		}
	}
	return c.validateSharedKeys()
}

// validateSharedKeys refuses robots that post to one webhook with different
// rate limits: WeCom counts the webhook's messages, whichever robot sent
// them, so its budget is one.
func (c *Config) validateSharedKeys() error {
	first := map[string]string{} // webhook URL -> the first robot posting to it
	for _, name := range slices.Sorted(maps.Keys(c.Robots)) {
		r := c.Robots[name]
		if r.KeyFrom != "" {
			continue
		}
		other, ok := first[r.webhookURL]
		if !ok {
			first[r.webhookURL] = name
			continue
		}
		if c.Limit(r) != c.Limit(c.Robots[other]) {
			return fmt.Errorf("robots.%s: posts to the same webhook as robots.%s with another rate_limit; WeCom counts the webhook's messages together, so give both the same", name, other)
		}
	}
	return nil
}

func (g *GlobalConfig) validate() error {
	if err := checkHTTPURL(g.APIURL); err != nil {
		return fmt.Errorf("global.api_url: %s %w", shownURL(g.APIURL), err)
	}
	if g.Timeout <= 0 {
		return fmt.Errorf("global.timeout: %s must be positive", g.Timeout)
	}
	if err := g.RateLimit.validate("global.rate_limit"); err != nil {
		return err
	}
	if g.MaxWait <= 0 {
		return fmt.Errorf("global.max_wait: %s must be positive", g.MaxWait)
	}
	if g.DedupWindow < 0 {
		return fmt.Errorf("global.dedup_window: %s is negative", g.DedupWindow)
	}
	if _, err := time.LoadLocation(g.TimeZone); err != nil || g.TimeZone == "" {
		return fmt.Errorf("global.timezone: unknown time zone %q", g.TimeZone)
	}
	return nil
}

func (r RateLimit) validate(field string) error {
	if r.Messages < 0 {
		return fmt.Errorf("%s.messages: %d is negative", field, r.Messages)
	}
	if r.Messages > 0 && r.Per <= 0 {
		return fmt.Errorf("%s.per: %s must be positive", field, r.Per)
	}
	return nil
}

func (c *Config) validateMembers(dir string) error {
	c.members = make(map[string]*Member, len(c.Members))
	for i := range c.Members {
		if err := c.addMember(&c.Members[i]); err != nil {
			return fmt.Errorf("members[%d]: %w", i, err)
		}
	}
	if c.MembersFile == "" {
		return nil
	}
	c.MembersFile = resolve(dir, c.MembersFile)
	return c.readCSV(c.MembersFile, []string{"email", "name", "phone"}, func(line int, row []string) error {
		m := &Member{Email: row[0], Name: row[1], Phone: row[2]}
		if err := c.addMember(m); err != nil {
			return err
		}
		c.Members = append(c.Members, *m)
		return nil
	})
}

// addMember validates and normalises m, and indexes it by email.
func (c *Config) addMember(m *Member) error {
	email, err := checkEmail(m.Email)
	if err != nil {
		return err
	}
	if _, dup := c.members[email]; dup {
		return fmt.Errorf("email %q appears twice", m.Email)
	}
	m.Email = email
	if m.Name == "" {
		m.Name = email
	}
	if m.Phone != "" {
		phone, err := checkPhone(m.Phone)
		if err != nil {
			return fmt.Errorf("phone %q of %s %w", m.Phone, email, err)
		}
		m.Phone = phone
	}
	c.members[email] = m
	return nil
}

func (c *Config) validateMappingTables(dir string) error {
	for _, name := range slices.Sorted(maps.Keys(c.MappingTables)) {
		table := c.MappingTables[name]
		field := "mapping_tables." + name
		if table == nil {
			return fmt.Errorf("%s: empty table", field)
		}
		entries := table.Entries
		normalized := make(map[string]string, len(entries))
		// spelling is each email as first given, for the error about a second.
		spelling := make(map[string]string, len(entries))
		add := func(email, id string) error {
			norm, err := checkEmail(email)
			if err != nil {
				return err
			}
			if first, dup := spelling[norm]; dup {
				return fmt.Errorf("email %q (user_id %q) appears twice: first as %q (user_id %q)", email, id, first, normalized[norm])
			}
			if !userIDRE.MatchString(id) {
				return fmt.Errorf("user_id %q of %s is not a WeCom account (1-64 letters, digits, _-@. starting with a letter or digit)", id, norm)
			}
			normalized[norm], spelling[norm] = id, email
			return nil
		}
		for _, email := range slices.Sorted(maps.Keys(entries)) {
			if err := add(email, entries[email]); err != nil {
				return fmt.Errorf("%s: %w", field, err)
			}
		}
		if table.File != "" {
			table.File = resolve(dir, table.File)
			err := c.readCSV(table.File, []string{"email", "wecom_userid"}, func(_ int, row []string) error {
				return add(row[0], row[1])
			})
			if err != nil {
				return fmt.Errorf("%s: %w", field, err)
			}
		}
		table.Entries = normalized
	}
	return nil
}

// validateTeams checks that teams hold members, and indexes them by
// lower-cased name, refusing two names that differ only in letter case.
func (c *Config) validateTeams() error {
	c.teams = make(map[string][]string, len(c.Teams))
	spelling := make(map[string]string, len(c.Teams)) // lower-cased name -> the name as configured
	for _, name := range slices.Sorted(maps.Keys(c.Teams)) {
		folded := strings.ToLower(name)
		if first, dup := spelling[folded]; dup {
			return fmt.Errorf("teams.%s: same name as teams.%s but for letter case; a from_label label names teams in any case, so give them names that differ in more than case", name, first)
		}
		spelling[folded] = name
		emails := c.Teams[name]
		c.teams[folded] = emails
		for i, email := range emails {
			norm := normalizeEmail(email)
			if _, ok := c.members[norm]; !ok {
				return fmt.Errorf("teams.%s: unknown member %q", name, email)
			}
			emails[i] = norm
		}
	}
	return nil
}

func (c *Config) validateResponders() error {
	for i := range c.Responders {
		rule := &c.Responders[i]
		field := fmt.Sprintf("responders[%d]", i)
		for _, s := range rule.Matchers {
			ms, err := parseMatchers(s, "config")
			if err != nil {
				return fmt.Errorf("%s: bad matcher %q: %w", field, s, err)
			}
			rule.ParsedMatchers = append(rule.ParsedMatchers, ms...)
		}
		for _, team := range rule.Teams {
			if _, ok := c.Teams[team]; !ok {
				return fmt.Errorf("%s: unknown team %q", field, team)
			}
		}
		for _, sched := range rule.Schedules {
			if _, ok := c.Schedules[sched]; !ok {
				return fmt.Errorf("%s: unknown schedule %q", field, sched)
			}
		}
		if rule.After < 0 {
			return fmt.Errorf("%s: after %s is negative", field, rule.After)
		}
		for j, email := range rule.Members {
			norm := normalizeEmail(email)
			if _, ok := c.members[norm]; !ok {
				return fmt.Errorf("%s: unknown member %q", field, email)
			}
			rule.Members[j] = norm
		}
		if rule.FromLabel != "" && !compat.IsValidLabelName(model.LabelName(rule.FromLabel)) {
			return fmt.Errorf("%s: from_label %q is not a label name", field, rule.FromLabel)
		}
		if len(rule.Teams) == 0 && len(rule.Members) == 0 && len(rule.Schedules) == 0 && !rule.MentionAll && rule.FromLabel == "" {
			return fmt.Errorf("%s: no responders: set teams, members, schedules, mention_all or from_label", field)
		}
	}
	return nil
}

func (c *Config) validateRobot(name string, r *Robot, dir string) error {
	field := "robots." + name
	if !robotNameRE.MatchString(name) {
		return fmt.Errorf("%s: robot names may hold only letters, digits, _ and -", field)
	}
	r.Name = name
	if err := c.resolveWebhook(field, r, dir); err != nil {
		return err
	}
	r.apiURL = c.Global.APIURL

	if r.MsgType == "" {
		r.MsgType = MsgTypeMarkdown
	}
	switch r.MsgType {
	case MsgTypeMarkdown, MsgTypeText, MsgTypeMarkdownV2:
	default:
		return fmt.Errorf("%s: unknown msgtype %q", field, r.MsgType)
	}
	if r.Language == "" {
		r.Language = "en"
	}
	if r.Language != "en" && r.Language != "zh" {
		return fmt.Errorf("%s: unknown language %q (en or zh)", field, r.Language)
	}
	if r.RateLimit != nil {
		if err := r.RateLimit.validate(field + ".rate_limit"); err != nil {
			return err
		}
	}
	switch r.Overflow {
	case "", OverflowSplit, OverflowTruncate:
	default:
		return fmt.Errorf("%s: unknown overflow %q (split or truncate)", field, r.Overflow)
	}
	if r.Mention.Strategy == "" {
		r.Mention.Strategy = StrategyPhone
	}
	switch r.Mention.Strategy {
	case StrategyPhone, StrategyMappingTable:
	default:
		return fmt.Errorf("%s: unknown strategy %q (phone or mapping_table)", field, r.Mention.Strategy)
	}
	if t := r.Mention.MappingTable; t != "" {
		if _, ok := c.MappingTables[t]; !ok {
			return fmt.Errorf("%s: unknown mapping table %q", field, t)
		}
	} else if r.Mention.Strategy == StrategyMappingTable {
		return fmt.Errorf("%s: strategy mapping_table needs mapping_table", field)
	}
	return nil
}

// resolveWebhook works out the webhook URL of robot r (field) from its one
// source: key, key_file, url or url_file (files read from dir), or none
// for key_from, whose key comes with each request.
func (c *Config) resolveWebhook(field string, r *Robot, dir string) error {
	sources := 0
	for _, set := range []bool{r.Key != "", r.KeyFile != "", r.URL != "", r.URLFile != "", r.KeyFrom != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources > 1:
		return fmt.Errorf("%s: at most one of key, key_file, url, url_file, key_from", field)
	case sources == 0:
		return fmt.Errorf("%s: one of key, key_file, url, url_file, key_from is required", field)
	case r.KeyFrom != "" && r.KeyFrom != KeyFromAuthorization:
		return fmt.Errorf("%s: unknown key_from (not shown: it may be a key; the one value is authorization)", field)
	}
	key, webhook := string(r.Key), string(r.URL)
	for _, f := range []struct {
		name  string
		path  *string
		value *string
	}{{"key_file", &r.KeyFile, &key}, {"url_file", &r.URLFile, &webhook}} {
		if *f.path == "" {
			continue
		}
		*f.path = resolve(dir, *f.path)
		b, err := c.readFile(*f.path)
		if err != nil {
			// Not the path: key_file: <the key> is the likeliest mistake.
			var pathErr *os.PathError
			if errors.As(err, &pathErr) {
				err = pathErr.Err
			}
			return fmt.Errorf("%s: %s: cannot read the file it names: %w", field, f.name, err)
		}
		*f.value = strings.TrimSpace(string(b))
	}
	switch {
	case r.KeyFrom != "":
		// The key comes with each request; see WebhookURLFor.
	case webhook != "":
		if checkHTTPURL(webhook) != nil {
			return fmt.Errorf("%s: url is not a valid http(s) URL", field)
		}
		r.webhookURL = webhook
	default:
		keyField, urlField := "key", "url"
		if r.KeyFile != "" {
			keyField, urlField = "key_file", "url_file"
		}
		switch {
		case strings.ContainsAny(key, urlChars):
			// The WeCom console hands out the whole webhook URL; every send
			// with it as the key would fail with errcode 93000.
			return fmt.Errorf("%s: %s holds one of %s, as a URL does: use %s: for a full webhook URL, or give only the key", field, keyField, urlChars, urlField)
		case !validKey(key):
			return fmt.Errorf("%s: %s is empty or holds white space or a character other than printable ASCII", field, keyField)
		}
		r.webhookURL = withKey(c.Global.APIURL, key)
	}
	return nil
}

// Team returns the member emails of the team called name, compared
// case-insensitively, as a from_label label may write it.
func (c *Config) Team(name string) ([]string, bool) {
	emails, ok := c.teams[strings.ToLower(name)]
	return emails, ok
}

// urlChars are the characters of a URL around a key, never in a key itself.
const urlChars = ":/?=&%#"

// validKey reports whether key can be a robot key: printable ASCII (a
// WeCom key is a UUID), none of it white space or a URL's.
func validKey(key string) bool {
	if key == "" || strings.ContainsAny(key, urlChars) {
		return false
	}
	for i := range len(key) {
		if key[i] <= ' ' || key[i] > '~' {
			return false
		}
	}
	return true
}

// withKey returns apiURL with the robot key in its query.
func withKey(apiURL, key string) string {
	u, _ := url.Parse(apiURL)
	q := u.Query()
	q.Set("key", key)
	u.RawQuery = q.Encode()
	return u.String()
}

func checkEmail(email string) (string, error) {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != strings.TrimSpace(email) {
		return "", fmt.Errorf("email %q is not an email address", email)
	}
	return normalizeEmail(email), nil
}

// checkPhone returns phone normalised, or an error that completes the
// sentence "phone P of E …" and says what to write instead.
func checkPhone(phone string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(phone), "+") && trunkPrefix.MatchString(phone) {
		without := strings.Join(strings.Fields(trunkPrefix.ReplaceAllString(phone, " ")), " ")
		return "", fmt.Errorf("holds the trunk prefix (0), which is not dialled after a country code: leave it out, as in %s", without)
	}
	p, ok := normalizePhone(phone)
	if !ok {
		return "", errors.New("is not a phone number")
	}
	return p, nil
}

// normalizePhone drops the characters people format numbers with and keeps
// a leading +; WeCom matches the rest exactly, so no country code is added
// or removed.
func normalizePhone(phone string) (string, bool) {
	p := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')':
			return -1
		}
		return r
	}, phone)
	return p, phoneDigits.MatchString(p)
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("is not a valid http(s) URL")
	}
	return nil
}

func resolve(dir, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// shownURL is u as an error may show it: redacted as in logs, or, when u
// does not parse as a URL with a host, not at all: a password may then
// stand anywhere in it ("https//user:pass@gw").
func shownURL(u string) string {
	if parsed, err := url.Parse(u); err == nil && parsed.Host != "" {
		return strconv.Quote(wecom.Redact(u))
	}
	return "(not shown: it does not parse as a URL, and may hold a password)"
}

var (
	// yamlValue is a type error of yaml.v3, which quotes the start of the value.
	yamlValue = regexp.MustCompile("(?s)^(line [0-9]+: cannot unmarshal [^ ]+) `.*`( into [^`]*)$")
	// yamlInto is a type error once redacted: the YAML tag found and the Go
	// type it could not go into, which yamlKind and goKind put in words.
	yamlInto = regexp.MustCompile(`^(line [0-9]+: )cannot unmarshal (!![a-z]+) into (.+)$`)
	// yamlField is an unknown field of strict decoding.
	yamlField = regexp.MustCompile(`(?s)^(line [0-9]+: )field (.*) not found in (type [^ ]+)$`)
	// fieldName is what an unknown field that is a typo looks like; a key
	// given as a field does not (it starts with a digit or holds a -).
	fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	// quoted is a value an unmarshaler quotes in its error, with the
	// space or ": " that introduces it.
	quoted = regexp.MustCompile(`:? (?:"(?:[^"\\]|\\.)*"|'[^']*'|` + "`[^`]*`)")
)

// redactYAMLError rewrites a decoding error so that it quotes no value from
// the file, which may be a robot key in the wrong place; line numbers, types
// and field names stay. An unknown field is named only if it looks like one.
func redactYAMLError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return errors.New(quoted.ReplaceAllString(err.Error(), ""))
	}
	lines := make([]string, len(te.Errors))
	for i, line := range te.Errors {
		line = yamlValue.ReplaceAllString(line, "$1$2")
		if m := yamlInto.FindStringSubmatch(line); m != nil {
			line = m[1] + "found " + yamlKind(m[2]) + " where " + goKind(m[3]) + " belongs"
		}
		if m := yamlField.FindStringSubmatch(line); m != nil && !fieldName.MatchString(m[2]) {
			line = m[1] + "unknown field in " + m[3]
		}
		lines[i] = line
	}
	return &yaml.TypeError{Errors: lines}
}

// yamlKind names a YAML tag in a user's words.
func yamlKind(tag string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	case "!!null":
		return "nothing"
	}
	return "a string"
}

// goKind names what a Go type takes in YAML, in a user's words.
func goKind(typ string) string {
	typ = strings.TrimPrefix(typ, "*")
	switch {
	case strings.HasPrefix(typ, "map["):
		return "a mapping"
	case strings.HasPrefix(typ, "[]"):
		return "a list"
	case typ == "string":
		return "a string"
	case typ == "bool":
		return "true or false"
	case strings.HasPrefix(typ, "int"), strings.HasPrefix(typ, "uint"), strings.HasPrefix(typ, "float"):
		return "a number"
	case typ == "model.Duration":
		return "a duration (30s, 5m, 1h)"
	}
	return "a mapping"
}
