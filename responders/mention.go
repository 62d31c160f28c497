package responders

import (
	"fmt"
	"slices"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
)

// Outcomes of resolving a responder to a WeCom identity, as logged and counted.
const (
	OutcomePhone          = "phone"
	OutcomeUserID         = "user_id"
	OutcomePhoneFallback  = "phone_fallback"
	OutcomeUserIDFallback = "user_id_fallback"
	OutcomeUnresolved     = "unresolved"
	OutcomeDisabled       = "disabled"
	OutcomeResolved       = "resolved"
)

// Mention is how a robot will mention one responder.
type Mention struct {
	Responder
	// UserID is set when the responder is mentioned by WeCom user_id.
	UserID string `json:"userID,omitempty"`
	// Phone is set when the responder is mentioned by phone number.
	Phone string `json:"phone,omitempty"`
	// Outcome is one of the Outcome constants.
	Outcome string `json:"outcome"`
	// Reason says why the responder cannot be mentioned, when neither
	// UserID nor Phone is set.
	Reason string `json:"reason,omitempty"`
}

// Mentioned reports whether the responder is mentioned at all.
func (m Mention) Mentioned() bool { return m.UserID != "" || m.Phone != "" }

// Plan resolves each responder to the identity robot mentions them by: the
// robot's strategy first, the other identity second (phone and mapping
// table), and for anyone left the reason why, in the words of the
// troubleshooting list. Each WeCom account is mentioned once (see Distinct).
func Plan(cfg *config.Config, robot *config.Robot, responders []Responder) []Mention {
	mentions := make([]Mention, 0, len(responders))
	for _, r := range responders {
		mentions = append(mentions, plan(cfg, robot, r))
	}
	return Distinct(cfg, robot, mentions)
}

// Distinct returns mentions, in their storage, without those of a
// responder seen before or of a WeCom account already mentioned: by the
// same user_id, or by the user_id robot's mapping table gives a member
// mentioned by phone, so that an alias the table maps to a member's
// account does not mention them a second time.
func Distinct(cfg *config.Config, robot *config.Robot, mentions []Mention) []Mention {
	out := mentions[:0]
	var buf [8]string
	accounts := buf[:0] // the user_ids of out's, "" for none
	for _, m := range mentions {
		account := m.UserID
		if t := robot.Mention.MappingTable; account == "" && m.Phone != "" && t != "" {
			account, _ = cfg.UserID(t, m.Email)
		}
		if slices.ContainsFunc(out, func(o Mention) bool { return o.ID() == m.ID() }) || account != "" && slices.Contains(accounts, account) {
			continue
		}
		out = append(out, m)
		accounts = append(accounts, account)
	}
	return out
}

func plan(cfg *config.Config, robot *config.Robot, r Responder) Mention {
	m := Mention{Responder: r}
	if !robot.MentionEnabled() {
		m.Outcome, m.Reason = OutcomeDisabled, "the robot's @ mention toggle is off"
		return m
	}
	phone := func() bool {
		if r.Member != nil && r.Member.Phone != "" {
			m.Phone = r.Member.Phone
			return true
		}
		return false
	}
	userID := func() bool {
		if robot.Mention.MappingTable == "" || r.Email == "" {
			return false
		}
		id, ok := cfg.UserID(robot.Mention.MappingTable, r.Email)
		m.UserID = id
		return ok
	}
	switch {
	case robot.Mention.Strategy == config.StrategyMappingTable && userID():
		m.Outcome = OutcomeUserID
	case robot.Mention.Strategy == config.StrategyMappingTable && phone():
		m.Outcome = OutcomePhoneFallback
	case robot.Mention.Strategy != config.StrategyMappingTable && phone():
		m.Outcome = OutcomePhone
	case robot.Mention.Strategy != config.StrategyMappingTable && userID():
		m.Outcome = OutcomeUserIDFallback
	default:
		m.Outcome, m.Reason = OutcomeUnresolved, unresolvedReason(robot, r)
	}
	return m
}

func unresolvedReason(robot *config.Robot, r Responder) string {
	table := "no mapping table is selected for the robot"
	if robot.Mention.MappingTable != "" {
		table = fmt.Sprintf("email not in mapping table %q", robot.Mention.MappingTable)
	}
	switch {
	case r.Email == "":
		return "not a member, an email or a team"
	case r.Member == nil:
		return "not a member, and " + table
	default:
		return "no phone on record, and " + table
	}
}
