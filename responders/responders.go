// Package responders works out who is responsible for a notification's
// alerts, from the configured rules, and how a robot can mention each of
// them in WeCom.
package responders

import (
	"strings"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
)

// Responder is one person responsible for alerts.
type Responder struct {
	// Name is the member's name, or the name as the alert's label gave it.
	Name string
	// Email is lower-cased; empty when the name given is not an email.
	Email string
	// Member is the configured member, nil when the person is not one.
	Member *config.Member
}

// Set is the responders of a notification, in a stable order.
type Set struct {
	Responders []Responder
	// MentionAll is set when a matching rule asks for @all.
	MentionAll bool
}

// Resolve returns the union, in order of first appearance, of the
// responders every matching rule gives each alert: for each alert in turn,
// for each rule in config order, its members, its teams' members, then the
// names in its from_label label.
func Resolve(cfg *config.Config, alerts []template.Alert) Set {
	var set Set
	seen := map[string]bool{}
	add := func(r Responder) {
		id := r.Email
		if id == "" {
			id = "name:" + r.Name
		}
		if !seen[id] {
			seen[id] = true
			set.Responders = append(set.Responders, r)
		}
	}
	for _, alert := range alerts {
		ls := labelSet(alert.Labels)
		for i := range cfg.Responders {
			rule := &cfg.Responders[i]
			if !rule.ParsedMatchers.Matches(ls) {
				continue
			}
			set.MentionAll = set.MentionAll || rule.MentionAll
			for _, email := range rule.Members {
				add(member(cfg, email))
			}
			for _, team := range rule.Teams {
				emails, _ := cfg.Team(team)
				for _, email := range emails {
					add(member(cfg, email))
				}
			}
			if rule.FromLabel != "" {
				for _, name := range strings.Split(alert.Labels[rule.FromLabel], ",") {
					if name = strings.TrimSpace(name); name != "" {
						fromLabel(cfg, name, add)
					}
				}
			}
		}
	}
	return set
}

// fromLabel adds the responders one name in a from_label label stands for:
// a team's members, a member, or an email that is not a member's.
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
