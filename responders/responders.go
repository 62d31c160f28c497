// Package responders works out who is responsible for a notification's
// alerts, from the configured rules, and how a robot can mention each of
// them in WeCom.
package responders

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
)

// Responder is one person responsible for alerts.
type Responder struct {
	// Name is the member's name, or the name as the alert's label gave it.
	Name string `json:"name"`
	// Email is lower-cased; empty when the name given is not an email.
	Email string `json:"email,omitempty"`
	// Member is the configured member, nil when the person is not one.
	Member *config.Member `json:"-"`
	// Via says which rule gave the responder, and how: a member, a team,
	// the from_label label, a schedule's shift or override. Explain sets
	// it; Resolve leaves it empty.
	Via string `json:"via"`
}

// ID tells responders apart: the same person is one responder however
// many rules give them. It is the email (lower-cased), or the name when
// the name given is not an email.
func (r Responder) ID() string {
	if r.Email != "" {
		return r.Email
	}
	return "name:" + r.Name
}

// Set is the responders of a notification, in a stable order.
type Set struct {
	Responders []Responder
	// MentionAll is set when a matching rule asks for @all.
	MentionAll bool
}

// Resolve returns the union, in order of first appearance, of the
// responders every rule that applies gives each alert at time now: for
// each alert in turn, for each rule in config order, its members, its
// teams' members, who is on call in its schedules, then the names in its
// from_label label. A rule with after applies to an alert only once the
// alert has fired that long.
func Resolve(cfg *config.Config, alerts []template.Alert, now time.Time) Set {
	return resolve(cfg, alerts, now, false)
}

// resolve is Resolve, with the responders' Via written for explain.
func resolve(cfg *config.Config, alerts []template.Alert, now time.Time, explain bool) Set {
	var set Set
	seen := map[string]bool{}
	for _, alert := range alerts {
		labels := labelSet(alert.Labels)
		for i := range cfg.Responders {
			r := applyRule(cfg, i, alert, labels, now, explain)
			if !r.Matched {
				continue
			}
			set.MentionAll = set.MentionAll || r.MentionAll
			for _, resp := range r.Adds {
				if id := resp.ID(); !seen[id] {
					seen[id] = true
					set.Responders = append(set.Responders, resp)
				}
			}
		}
	}
	return set
}

// RuleResult is what one rule does for one alert.
type RuleResult struct {
	Index    int    `json:"index"`
	Matchers string `json:"matchers"`
	Matched  bool   `json:"matched"`
	// Why says why a rule does not apply, when Matched is false.
	Why        string      `json:"why,omitempty"`
	Adds       []Responder `json:"adds,omitempty"`
	MentionAll bool        `json:"mentionAll,omitempty"`
	// Notes say what an applying rule could not add, and why: a schedule
	// with nobody on call, for one.
	Notes []string `json:"notes,omitempty"`
}

// applyRule works out what rule i of cfg gives alert, whose labels are
// labels, at time now. Only with explain are the responders' Via written:
// a notification has no use for them, and they cost it allocations.
func applyRule(cfg *config.Config, i int, alert template.Alert, labels model.LabelSet, now time.Time, explain bool) RuleResult {
	rule := &cfg.Responders[i]
	res := RuleResult{Index: i}
	if !rule.ParsedMatchers.Matches(labels) {
		res.Why = "its matchers do not match"
		return res
	}
	if after := time.Duration(rule.After); after > 0 {
		if fired := now.Sub(alert.StartsAt); fired < after {
			res.Why = fmt.Sprintf("the alert has fired %s, less than after %s", fired.Truncate(time.Second), rule.After)
			return res
		}
	}
	res.Matched, res.MentionAll = true, rule.MentionAll
	escalation := ""
	if rule.After > 0 {
		escalation = ", escalation after " + rule.After.String()
	}
	// add adds r, given by the rule as how says: a kind ("team ") and a name.
	add := func(r Responder, kind, name string) {
		if explain {
			r.Via = "responders[" + strconv.Itoa(i) + "] " + kind + name + escalation
		}
		res.Adds = append(res.Adds, r)
	}
	for _, email := range rule.Members {
		add(member(cfg, email), "member", "")
	}
	for _, team := range rule.Teams {
		emails, _ := cfg.Team(team)
		for _, email := range emails {
			add(member(cfg, email), "team ", team)
		}
	}
	for _, name := range rule.Schedules {
		email, why := cfg.Schedules[name].OnCall(now)
		if email == "" {
			res.Notes = append(res.Notes, fmt.Sprintf("schedule %s: %s", name, why))
			continue
		}
		add(member(cfg, email), "schedule ", name+", "+why)
	}
	if rule.FromLabel != "" {
		for _, name := range strings.Split(alert.Labels[rule.FromLabel], ",") {
			if name = strings.TrimSpace(name); name != "" {
				fromLabel(cfg, name, func(r Responder) { add(r, "from_label ", rule.FromLabel) })
			}
		}
	}
	return res
}

// fromLabel adds the responders one name in a from_label label stands for:
// a team's members (its name in any case), a member, or an email that is
// not a member's.
func fromLabel(cfg *config.Config, name string, add func(Responder)) {
	if emails, ok := cfg.Team(name); ok {
		for _, email := range emails {
			add(member(cfg, email))
		}
		return
	}
	if m, ok := cfg.Member(name); ok {
		add(Responder{Name: m.Name, Email: m.Email, Member: m})
		return
	}
	if isEmail(name) {
		add(Responder{Name: name, Email: strings.ToLower(name)})
		return
	}
	add(Responder{Name: name})
}

func member(cfg *config.Config, email string) Responder {
	m, ok := cfg.Member(email)
	if !ok {
		// Load guarantees rules and teams name members only.
		return Responder{Name: email, Email: email}
	}
	return Responder{Name: m.Name, Email: m.Email, Member: m}
}

// isEmail tells an email from a bare name; the full check is the mapping
// table's, which holds only valid addresses.
func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " <>")
}

func labelSet(kv template.KV) model.LabelSet {
	ls := make(model.LabelSet, len(kv))
	for k, v := range kv {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}
