package config

import (
	"crypto/sha256"
	"hash"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// Message types a robot can send: WeCom's, see the wecom package.
const (
	MsgTypeMarkdown   = wecom.MsgTypeMarkdown
	MsgTypeText       = wecom.MsgTypeText
	MsgTypeMarkdownV2 = wecom.MsgTypeMarkdownV2
)

// Mention strategies: how a responder is matched to a WeCom identity first.
const (
	StrategyPhone        = "phone"
	StrategyMappingTable = "mapping_table"
)

// Overflow settings: what a robot does with content over WeCom's byte limit.
const (
	OverflowSplit    = "split"
	OverflowTruncate = "truncate"
)

// DefaultAPIURL is WeCom's group robot webhook endpoint; the robot key goes in ?key=.
const DefaultAPIURL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"

// Config is the whole receiver configuration, as loaded from the YAML file.
type Config struct {
	Global    GlobalConfig `yaml:"global"`
	Templates []string     `yaml:"templates"`
	Members   []Member     `yaml:"members"`
	// MembersFile is a CSV file of more members, with the header email,name,phone.
	MembersFile   string                   `yaml:"members_file"`
	MappingTables map[string]*MappingTable `yaml:"mapping_tables"`
	Schedules     map[string]*Schedule     `yaml:"schedules"`
	Teams         map[string][]string      `yaml:"teams"`
	Responders    []ResponderRule          `yaml:"responders"`
	Robots        map[string]*Robot        `yaml:"robots"`

	// members indexes Members by lower-cased email; filled by Load.
	members map[string]*Member
	// teams indexes Teams by lower-cased name; filled by Load.
	teams map[string][]string
	// files hashes, in the order Load read them, the paths and contents of
	// the files the configuration names (directory CSVs, key and url
	// files); see FilesDigest.
	files hash.Hash
}

// FilesDigest returns a SHA-256 of the files the configuration named and
// Load read (members_file, mapping table files, key_file, url_file), so
// that a reload that read new directory data can be told from one that
// did not. The configuration file itself and templates are not in it.
func (c *Config) FilesDigest() []byte {
	if c.files == nil {
		return sha256.New().Sum(nil)
	}
	return c.files.Sum(nil)
}

// GlobalConfig holds the settings shared by every robot.
type GlobalConfig struct {
	// APIURL is the WeCom webhook endpoint a robot's key is appended to.
	APIURL string `yaml:"api_url"`
	// Timeout bounds one request to WeCom.
	Timeout model.Duration `yaml:"timeout"`
	// RateLimit is the per-robot message budget; Messages 0 means unlimited.
	RateLimit RateLimit `yaml:"rate_limit"`
	// TimeZone is the IANA zone the default templates show times in.
	TimeZone string `yaml:"timezone"`
	// MaxWait bounds how long a notification may wait for delivery before
	// Alertmanager is answered 503 and retries it later.
	MaxWait model.Duration `yaml:"max_wait"`
	// DedupWindow is how long a delivered notification is remembered, so
	// that Alertmanager's retry of it is acknowledged without posting again.
	DedupWindow model.Duration `yaml:"dedup_window"`
}

// RateLimit is a budget of Messages per Per.
type RateLimit struct {
	Messages int            `yaml:"messages" json:"messages"`
	Per      model.Duration `yaml:"per" json:"per"`
}

// Member is a person who can be mentioned.
type Member struct {
	Email string `yaml:"email"`
	Name  string `yaml:"name"`
	// Phone is normalised by Load: formatting characters removed, a leading + kept.
	Phone string `yaml:"phone"`
}

// MappingTable maps emails (lower-cased by Load) to WeCom user_ids, given
// inline ({email: user_id, ...}) or as a CSV file ({file: users.csv}, with
// the header email,wecom_userid), re-read on every load.
type MappingTable struct {
	File    string
	Entries map[string]string
}

// UnmarshalYAML takes either form of a mapping table.
func (t *MappingTable) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.MappingNode && len(node.Content) == 2 && node.Content[0].Value == "file" {
		return node.Content[1].Decode(&t.File)
	}
	return node.Decode(&t.Entries)
}

// MarshalYAML writes the table the way it was given.
func (t *MappingTable) MarshalYAML() (any, error) {
	if t.File != "" {
		return map[string]string{"file": t.File}, nil
	}
	return t.Entries, nil
}

// Schedule is an on-call rotation: the members take turns, one shift each,
// handing off at a time of day in a time zone; overrides put someone else
// on call for a while.
type Schedule struct {
	// Members rotate in this order; or Team's members do.
	Members []string `yaml:"members"`
	Team    string   `yaml:"team"`
	// Start is the date (YYYY-MM-DD) of the first shift, which begins at Handoff.
	Start string `yaml:"start"`
	// Shift is a shift's length: 1w, 1d, 12h… Shifts of whole days hand off
	// at the same wall-clock time across daylight-saving changes.
	Shift model.Duration `yaml:"shift"`
	// Handoff is the time of day shifts change, HH:MM (default 09:00).
	Handoff string `yaml:"handoff"`
	// TimeZone is the IANA zone of Start and Handoff (default global.timezone).
	TimeZone  string     `yaml:"timezone"`
	Overrides []Override `yaml:"overrides"`

	rotation []string
	first    time.Time // the first handoff
	loc      *time.Location
	// startDay is Start's date; only its year, month and day count.
	startDay time.Time
	// handoffHour and handoffMinute are Handoff, parsed by Load; kept,
	// because first holds them as time.Date normalised them, an hour off
	// when the start date's handoff falls in a daylight-saving gap.
	handoffHour, handoffMinute int
}

// Override puts Member on call from From until To; with Covers, only in
// place of that member.
type Override struct {
	Member string `yaml:"member"`
	Covers string `yaml:"covers"`
	// From and To are RFC 3339 times, or times without an offset
	// (2006-01-02 15:04:05, 2006-01-02T15:04:05, 2006-01-02 15:04,
	// 2006-01-02) in the schedule's time zone; strings, because YAML would
	// read the latter in UTC.
	From string `yaml:"from"`
	To   string `yaml:"to"`

	from, to time.Time // From and To, parsed by Load
}

// ResponderRule adds responders to every alert that all its matchers match.
type ResponderRule struct {
	Matchers   []string `yaml:"matchers"`
	Teams      []string `yaml:"teams"`
	Members    []string `yaml:"members"`
	MentionAll bool     `yaml:"mention_all"`
	// FromLabel names a label whose value lists emails or team names, comma separated.
	FromLabel string `yaml:"from_label"`
	// Schedules add whoever is on call in each when the notification is rendered.
	Schedules []string `yaml:"schedules"`
	// After makes the rule apply only to alerts firing at least this long:
	// an escalation step that Alertmanager's repeat notifications pull in.
	After model.Duration `yaml:"after"`

	// ParsedMatchers are Matchers parsed by Load with Alertmanager's own parser.
	ParsedMatchers labels.Matchers `yaml:"-"`
}

// Robot is one WeCom group robot, addressed as POST /robots/{name}/send.
type Robot struct {
	Key     commoncfg.Secret `yaml:"key"`
	KeyFile string           `yaml:"key_file"`
	URL     commoncfg.Secret `yaml:"url"`
	URLFile string           `yaml:"url_file"`
	// KeyFrom "authorization" takes the key from each request's
	// Authorization: Bearer header, so it can live in Alertmanager's own
	// secret handling (http_config.authorization.credentials).
	KeyFrom string `yaml:"key_from"`
	// MsgType is markdown (default), text or markdown_v2.
	MsgType string `yaml:"msgtype"`
	// Message is the template text of the message; empty means the default for MsgType and Language.
	Message string `yaml:"message"`
	// Language picks the default templates: en (default) or zh.
	Language string        `yaml:"language"`
	Mention  MentionConfig `yaml:"mention"`
	// RateLimit overrides global.rate_limit for this robot.
	RateLimit *RateLimit `yaml:"rate_limit"`
	// Overflow is split or truncate; empty means split when the rate budget
	// allows sending every part now, truncate otherwise.
	Overflow string `yaml:"overflow"`

	// Name is the robot's key in the robots map; filled by Load.
	Name string `yaml:"-"`
	// webhookURL is the full URL, key included, resolved by Load from whichever key source is set.
	webhookURL string
	apiURL     string
}

// MentionConfig is a robot's "@ Mention" settings.
type MentionConfig struct {
	// Enabled is the "@ Mention" toggle; nil means the default, true.
	Enabled *bool `yaml:"enabled"`
	// Strategy is tried first for each responder: phone (default) or mapping_table.
	Strategy string `yaml:"strategy"`
	// MappingTable names the table of email -> user_id; required for mapping_table,
	// the fallback for phone.
	MappingTable string `yaml:"mapping_table"`
	// OnResolved mentions on resolved notifications too.
	OnResolved bool `yaml:"on_resolved"`
}

// KeyFromAuthorization is the key_from setting that takes the robot key
// from the request's Authorization: Bearer header.
const KeyFromAuthorization = "authorization"

// WebhookURL returns the robot's full webhook URL, key included. It is a
// secret. It is empty for a robot whose key comes with each request.
func (r *Robot) WebhookURL() string { return r.webhookURL }

// WebhookURLFor returns the webhook URL for a request that brought key
// (the bearer token, for key_from: authorization; ignored otherwise), and
// false when the robot needs a key the request did not bring.
func (r *Robot) WebhookURLFor(key string) (string, bool) {
	if r.KeyFrom == "" {
		return r.webhookURL, true
	}
	if !validKey(key) {
		return "", false
	}
	return withKey(r.apiURL, key), true
}

// Limit returns the robot's rate limit: its own, or the global one.
func (c *Config) Limit(r *Robot) RateLimit {
	if r.RateLimit != nil {
		return *r.RateLimit
	}
	return c.Global.RateLimit
}

// MentionEnabled reports whether the robot's "@ Mention" toggle is on.
func (r *Robot) MentionEnabled() bool { return r.Mention.Enabled == nil || *r.Mention.Enabled }

// Member returns the member with the given email, compared case-insensitively.
func (c *Config) Member(email string) (*Member, bool) {
	m, ok := c.members[normalizeEmail(email)]
	return m, ok
}

// UserID returns the WeCom user_id that mapping table table holds for email.
func (c *Config) UserID(table, email string) (string, bool) {
	t, ok := c.MappingTables[table]
	if !ok {
		return "", false
	}
	id, ok := t.Entries[normalizeEmail(email)]
	return id, ok
}

// normalizeEmail is the form emails are compared in.
func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
