package responders

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
)

// Explanation answers "why was, or wasn't, X mentioned?" for one alert on
// one robot: what each rule did, and how each responder is mentioned or
// exactly why not.
type Explanation struct {
	Robot          string        `json:"robot"`
	MsgType        string        `json:"msgtype"`
	Strategy       string        `json:"strategy"`
	MappingTable   string        `json:"mappingTable,omitempty"`
	MentionEnabled bool          `json:"mentionEnabled"`
	Labels         template.KV   `json:"labels"`
	Status         string        `json:"status"`
	At             time.Time     `json:"at"`
	FiringFor      time.Duration `json:"-"`
	// FiringForSeconds is FiringFor in seconds, for JSON.
	FiringForSeconds float64      `json:"firingForSeconds"`
	Rules            []RuleResult `json:"rules"`
	Mentions         []Mention    `json:"responders"`
	MentionAll       bool         `json:"mentionAll"`
	// NotInline are the user_ids a markdown robot's card does not hold
	// inline, which therefore go to the companion's mentioned_list: all of
	// them when the robot's template does not print .Mentions. Explain
	// leaves it empty; whoever renders the robot's message fills it.
	NotInline []string `json:"notInline,omitempty"`
}

// Explain explains robot's mentions for an alert with labels and status
// that started firing at startsAt, as rendered at time at.
func Explain(cfg *config.Config, robot *config.Robot, labels template.KV, status string, startsAt, at time.Time) Explanation {
	e := Explanation{
		Robot: robot.Name, MsgType: robot.MsgType, Strategy: robot.Mention.Strategy,
		MappingTable: robot.Mention.MappingTable, MentionEnabled: robot.MentionEnabled(),
		Labels: labels, Status: status, At: at, FiringFor: at.Sub(startsAt),
	}
	e.FiringForSeconds = e.FiringFor.Seconds()
	alert := template.Alert{Status: status, Labels: labels, StartsAt: startsAt}
	ls := labelSet(alert.Labels)
	for i := range cfg.Responders {
		r := applyRule(cfg, i, alert, ls, at, true)
		// Costly, or of no use to a send: explain only.
		r.Matchers = cfg.Responders[i].ParsedMatchers.String()
		if label := cfg.Responders[i].FromLabel; r.Matched && label != "" && strings.TrimSpace(labels[label]) == "" {
			r.Notes = append(r.Notes, fmt.Sprintf("from_label %s: the alert has no %s label", label, label))
		}
		e.Rules = append(e.Rules, r)
	}
	set := resolve(cfg, []template.Alert{alert}, at, true)
	e.Mentions = Plan(cfg, robot, set.Responders)
	e.MentionAll = set.MentionAll && robot.MentionEnabled()
	if status == "resolved" && !robot.Mention.OnResolved {
		for i := range e.Mentions {
			m := &e.Mentions[i]
			m.UserID, m.Phone = "", ""
			m.Outcome, m.Reason = OutcomeResolved, "a resolved notification: the robot mentions only on firing ones (mention.on_resolved is false)"
		}
		e.MentionAll = false
	}
	return e
}

// WriteText writes the explanation for people.
func (e Explanation) WriteText(w io.Writer) {
	toggle := "on"
	if !e.MentionEnabled {
		toggle = "OFF"
	}
	table := "no mapping table"
	if e.MappingTable != "" {
		table = "mapping table " + e.MappingTable
	}
	fmt.Fprintf(w, "robot %s: %s, strategy %s, %s, @ mention %s\n", e.Robot, e.MsgType, e.Strategy, table, toggle)
	fmt.Fprintf(w, "alert %s %s, firing for %s, at %s\n\n", e.Labels.SortedPairs().String(), e.Status, e.FiringFor, e.At.Format(time.RFC3339))
	for _, r := range e.Rules {
		if !r.Matched {
			fmt.Fprintf(w, "responders[%d] %s: does not apply: %s\n", r.Index, r.Matchers, r.Why)
			continue
		}
		fmt.Fprintf(w, "responders[%d] %s: applies\n", r.Index, r.Matchers)
		for _, a := range r.Adds {
			fmt.Fprintf(w, "  adds %s (%s)\n", a.String(), strings.TrimPrefix(a.Via, fmt.Sprintf("responders[%d] ", r.Index)))
		}
		for _, note := range r.Notes {
			fmt.Fprintf(w, "  %s\n", note)
		}
		if r.MentionAll {
			fmt.Fprintln(w, "  adds @all")
		}
	}
	fmt.Fprintln(w)
	if len(e.Mentions) == 0 {
		fmt.Fprintln(w, "nobody is mentioned: no rule gives a responder")
	}
	inline := e.MsgType == config.MsgTypeMarkdown
	bottom := "at the bottom of the companion text message"
	if e.MsgType == config.MsgTypeText {
		bottom = "at the bottom of the message"
	}
	for _, m := range e.Mentions {
		var how string
		switch {
		case m.UserID != "" && inline && !slices.Contains(e.NotInline, m.UserID):
			how = fmt.Sprintf("inline <@%s> (user_id from %s)", m.UserID, e.MappingTable)
		case m.UserID != "":
			how = fmt.Sprintf("%s, mentioned_list %s (user_id from %s)", bottom, m.UserID, e.MappingTable)
		case m.Phone != "":
			how = fmt.Sprintf("%s, mentioned_mobile_list %s (phone on record)", bottom, m.Phone)
		default:
			how = "NOT mentioned: " + m.Reason
		}
		if strings.HasSuffix(m.Outcome, "_fallback") {
			how += ", the fallback of strategy " + e.Strategy
		}
		fmt.Fprintf(w, "%s: %s\n", m.Responder.String(), how)
	}
	if e.MentionAll {
		fmt.Fprintln(w, "@all: in mentioned_list")
	}
}

// String names r for people: "Alice Zhang <alice@corp.com>", or the name
// alone when it is the email or there is none.
func (r Responder) String() string {
	if r.Email != "" && r.Email != r.Name {
		return r.Name + " <" + r.Email + ">"
	}
	return r.Name
}

// ParseLabels reads labels written as name=value pairs separated by
// commas; a value in double quotes may hold commas (owner="a@x,b@y").
func ParseLabels(s string) (template.KV, error) {
	kv := template.KV{}
	for rest := strings.TrimSpace(s); rest != ""; {
		name, after, ok := strings.Cut(rest, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("labels: %q is not name=value", rest)
		}
		after = strings.TrimLeft(after, " ")
		var value string
		if strings.HasPrefix(after, `"`) {
			end := strings.Index(after[1:], `"`)
			if end < 0 {
				return nil, fmt.Errorf("labels: unclosed quote in %q", after)
			}
			value, rest = after[1:end+1], strings.TrimSpace(after[end+2:])
			if rest != "" && !strings.HasPrefix(rest, ",") {
				return nil, fmt.Errorf("labels: %q after a quoted value", rest)
			}
			rest = strings.TrimPrefix(rest, ",")
		} else {
			value, rest, _ = strings.Cut(after, ",")
		}
		kv[name] = strings.TrimSpace(value)
		rest = strings.TrimSpace(rest)
	}
	if len(kv) == 0 {
		return nil, fmt.Errorf("labels: none given")
	}
	return kv, nil
}

// Unreachable returns the members robot's rules can reach but robot could
// not mention, each with the reason. Every member counts as reachable when
// a rule reads names from a label.
func Unreachable(cfg *config.Config, robot *config.Robot) []Mention {
	reach := map[string]bool{}
	for _, rule := range cfg.Responders {
		if rule.FromLabel != "" {
			for _, m := range cfg.Members {
				reach[m.Email] = true
			}
		}
		for _, email := range rule.Members {
			reach[email] = true
		}
		for _, team := range rule.Teams {
			emails, _ := cfg.Team(team)
			for _, email := range emails {
				reach[email] = true
			}
		}
		for _, name := range rule.Schedules {
			for _, email := range cfg.Schedules[name].Rotation() {
				reach[email] = true
			}
		}
	}
	var out []Mention
	for _, m := range cfg.Members {
		if !reach[m.Email] {
			continue
		}
		if p := plan(cfg, robot, member(cfg, m.Email)); !p.Mentioned() {
			out = append(out, p)
		}
	}
	return out
}
