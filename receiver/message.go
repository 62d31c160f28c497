package receiver

import (
	"fmt"
	"strings"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/responders"
	"github.com/alertmanager-wecom/alertmanager-wecom/templates"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// Notification is the webhook body Alertmanager posts (version 4). Fields
// this receiver does not use, such as notification_reason, are accepted and
// ignored.
type Notification struct {
	template.Data
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// Rendered is what one notification becomes for one robot.
type Rendered struct {
	// Messages are sent in order: the card, then a companion text message
	// carrying the mentions the card could not hold, if any.
	Messages []*wecom.Message
	// Mentions says how each responder is mentioned, or why not.
	Mentions []responders.Mention
	// OmittedAlerts is how many alerts were left out to fit WeCom's limit.
	OmittedAlerts int
}

// Render turns a notification into the WeCom messages robot sends: it
// works out the responders, places their mentions as the robot's msgtype
// allows, renders the robot's template over the notification's alerts with
// alert text neutralised, and cuts the content at an alert boundary when it
// is over WeCom's byte limit.
func (s *State) Render(robot *config.Robot, n *template.Data) (*Rendered, error) {
	mentionFrom := n.Alerts
	if !robot.Mention.OnResolved {
		mentionFrom = n.Alerts.Firing()
	}
	set := responders.Resolve(s.Config, mentionFrom)
	out := &Rendered{Mentions: responders.Plan(s.Config, robot, set.Responders)}
	mentionAll := set.MentionAll && robot.MentionEnabled()

	inline := robot.MsgType == wecom.MsgTypeMarkdown
	data := &templates.Data{
		Data:       templates.Sanitize(n),
		Responders: make([]templates.Responder, 0, len(out.Mentions)),
		TimeZone:   s.Config.Global.TimeZone,
	}
	var mentionText []string
	for _, m := range out.Mentions {
		r := templates.Responder{Name: templates.Neutralize(m.Name), Email: templates.Neutralize(m.Email)}
		switch {
		case inline && m.UserID != "":
			r.Mention = "inline"
			mentionText = append(mentionText, "<@"+m.UserID+">")
		case m.Mentioned():
			r.Mention = "bottom"
			mentionText = append(mentionText, r.Name)
		default:
			mentionText = append(mentionText, r.Name)
		}
		data.Responders = append(data.Responders, r)
	}
	data.Mentions = strings.Join(mentionText, " ")

	content, omitted, err := s.renderWithin(robot, data)
	if err != nil {
		return nil, err
	}
	out.OmittedAlerts = omitted

	// Whatever the card does not carry inline goes to the bottom of a text
	// message: the card itself for text, a companion otherwise.
	var userIDs, phones []string
	for _, m := range out.Mentions {
		switch {
		case m.UserID != "" && !(inline && strings.Contains(content, "<@"+m.UserID+">")):
			userIDs = append(userIDs, m.UserID)
		case m.UserID == "" && m.Phone != "":
			phones = append(phones, m.Phone)
		}
	}
	if mentionAll {
		userIDs = append(userIDs, wecom.MentionAll)
	}
	userIDs, phones = unique(userIDs), unique(phones)

	card := wecom.NewMessage(robot.MsgType, content)
	out.Messages = append(out.Messages, card)
	if len(userIDs) == 0 && len(phones) == 0 {
		return out, nil
	}
	bottom := card.Text
	if bottom == nil {
		text, err := s.Templates.Execute(templates.MentionMessage(robot.Language), data)
		if err != nil {
			return nil, fmt.Errorf("render mention message of robot %s: %w", robot.Name, err)
		}
		companion := wecom.NewMessage(wecom.MsgTypeText, wecom.Cut(strings.TrimSpace(text), wecom.ContentLimit(wecom.MsgTypeText)))
		out.Messages = append(out.Messages, companion)
		bottom = companion.Text
	}
	bottom.MentionedList, bottom.MentionedMobileList = userIDs, phones
	return out, nil
}

// renderWithin renders the robot's message and, when it is over WeCom's
// byte limit, renders it again with as many alerts as fit (firing ones
// first) and a line counting the rest; a single alert too large on its own
// is cut. It returns the content and how many alerts it left out.
func (s *State) renderWithin(robot *config.Robot, data *templates.Data) (string, int, error) {
	limit := wecom.ContentLimit(robot.MsgType)
	text := s.message(robot)
	render := func(alerts template.Alerts) (string, error) {
		d := *data
		shown := *data.Data
		shown.Alerts = alerts
		d.Data = &shown
		out, err := s.Templates.Execute(text, &d)
		if err != nil {
			return "", fmt.Errorf("render message of robot %s: %w", robot.Name, err)
		}
		return strings.TrimSpace(out), nil
	}
	content, err := render(data.Alerts)
	if err != nil || len(content) <= limit && content != "" {
		return content, 0, err
	}
	if content == "" {
		return "", 0, fmt.Errorf("render message of robot %s: the template rendered nothing", robot.Name)
	}

	all := append(data.Alerts.Firing(), data.Alerts.Resolved()...)
	note := func(omitted int) string { return omittedNote(robot.Language, omitted) }
	// The largest count of alerts whose rendering, with the note, fits.
	lo, hi := 1, len(all)-1
	best, bestContent := 0, ""
	for lo <= hi {
		mid := (lo + hi) / 2
		c, err := render(all[:mid])
		if err != nil {
			return "", 0, err
		}
		if c += note(len(all) - mid); len(c) <= limit {
			best, bestContent = mid, c
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	if best > 0 {
		return bestContent, len(all) - best, nil
	}
	// Not even one alert fits: cut the first one's rendering.
	c, err := render(all[:1])
	if err != nil {
		return "", 0, err
	}
	tail := note(len(all) - 1)
	if len(all) == 1 {
		tail = "\n…"
	}
	return wecom.Cut(c, limit-len(tail)) + tail, len(all) - 1, nil
}

// message returns the template text of the robot's message.
func (s *State) message(robot *config.Robot) string {
	if robot.Message != "" {
		return robot.Message
	}
	return templates.DefaultMessage(robot.MsgType, robot.Language)
}

func omittedNote(language string, omitted int) string {
	if language == "zh" {
		return fmt.Sprintf("\n\n…另有 %d 条告警未显示", omitted)
	}
	if omitted == 1 {
		return "\n\n…and 1 more alert not shown"
	}
	return fmt.Sprintf("\n\n…and %d more alerts not shown", omitted)
}

// unique returns ss without repeats, in order of first appearance.
func unique(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
