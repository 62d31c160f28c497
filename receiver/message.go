package receiver

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/responders"
	"github.com/alertmanager-wecom/alertmanager-wecom/templates"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// Notification is the webhook body Alertmanager posts (version 4), all of
// it decoded (notification_reason reaches templates as Alertmanager's
// .NotificationReason); unknown fields are accepted and ignored.
type Notification struct {
	template.Data
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// Rendered is what one or more notifications become for one robot.
type Rendered struct {
	// Messages are sent in order: the first card, then a companion text
	// message carrying the mentions the cards could not hold, if any, then
	// the other cards.
	Messages []*wecom.Message
	// Mentions says how each responder is mentioned, or why not.
	Mentions []responders.Mention
	// Parts is how many cards the content was split into.
	Parts int
	// OmittedAlerts is how many alerts were left out to fit WeCom's limit.
	OmittedAlerts int
	// MentionAll is set when the messages mention @all.
	MentionAll bool
}

// Unlimited is the budget of a robot without a rate limit.
const Unlimited = int(^uint(0) >> 1)

// prepared is a notification ready to render for one robot: its alert text
// neutralised and each responder resolved to a mention.
type prepared struct {
	robot      *config.Robot
	data       *templates.Data
	mentions   []responders.Mention
	mentionAll bool
	// alone keeps the notification out of digests: an earlier try of it
	// had WeCom accept some of its own messages, which a retry leaves out
	// only when rendered on its own (see job.skip).
	alone bool
}

// prepare works out the responders of n now and how robot mentions each,
// and fills the template data, placing inline the mentions the msgtype
// allows.
func (s *State) prepare(robot *config.Robot, n *template.Data) *prepared {
	return s.prepareAt(robot, n, time.Now())
}

// prepareNotification is prepare for a notification as Alertmanager posted
// it, which may say how many alerts its max_alerts left out.
func (s *State) prepareNotification(robot *config.Robot, n *Notification) *prepared {
	p := s.prepare(robot, &n.Data)
	p.data.TruncatedAlerts = int(min(n.TruncatedAlerts, math.MaxInt32))
	return p
}

// prepareAt is prepare with the responders on call at now.
func (s *State) prepareAt(robot *config.Robot, n *template.Data, now time.Time) *prepared {
	mentionFrom := n.Alerts
	if !robot.Mention.OnResolved {
		mentionFrom = n.Alerts.Firing()
	}
	set := responders.Resolve(s.Config, mentionFrom, now)
	p := &prepared{
		robot:      robot,
		mentions:   responders.Plan(s.Config, robot, set.Responders),
		mentionAll: set.MentionAll && robot.MentionEnabled(),
		data: &templates.Data{
			Data:        templates.Sanitize(n),
			TimeZone:    s.Config.Global.TimeZone,
			FiringTotal: firing(n.Alerts),
		},
	}
	p.data.Responders, p.data.Mentions, p.data.InlineMentions = displayMentions(robot, p.mentions)
	return p
}

// firing counts the firing alerts.
func firing(alerts template.Alerts) int {
	n := 0
	for i := range alerts {
		if alerts[i].Status == "firing" {
			n++
		}
	}
	return n
}

// displayMentions returns the responders as templates show them, the text
// of .Mentions (a list: "@Alice Zhang, Bob Li") and the user ids it
// mentions inline: a token for each
// (templates.InlineMention) where the msgtype mentions inline, once per
// user id (two emails may map to one account), and names otherwise, as
// data on the line (a name may come from an alert's label).
func displayMentions(robot *config.Robot, mentions []responders.Mention) ([]templates.Responder, string, []string) {
	inline := robot.MsgType == wecom.MsgTypeMarkdown
	shown := make([]templates.Responder, 0, len(mentions))
	text := make([]string, 0, len(mentions))
	var ids []string
	for _, m := range mentions {
		r := templates.Responder{Name: templates.Neutralize(m.Name), Email: templates.Neutralize(m.Email)}
		switch {
		case inline && m.UserID != "":
			r.Mention = "inline"
			if !slices.Contains(ids, m.UserID) {
				text = append(text, templates.InlineMention(len(ids)))
				ids = append(ids, m.UserID)
			}
		default:
			if m.Mentioned() {
				r.Mention = "bottom"
			}
			text = append(text, templates.OneLine(r.Name, robot.MsgType))
		}
		shown = append(shown, r)
	}
	return shown, strings.Join(text, templates.WordsIn(robot.Language).Comma), ids
}

// Render turns a notification into the WeCom messages robot sends. Content
// over WeCom's byte limit is split at alert boundaries into numbered parts
// when the robot's overflow setting and budget (the messages it may send
// now) allow, and truncated with a line counting the alerts left out
// otherwise. Mentions are never lost: what the first card cannot hold goes
// to a companion text message.
func (s *State) Render(robot *config.Robot, n *Notification, budget int) (*Rendered, error) {
	return s.renderPrepared(s.prepareNotification(robot, n), budget)
}

func (s *State) renderPrepared(p *prepared, budget int) (*Rendered, error) {
	robot := p.robot
	out := &Rendered{Mentions: p.mentions, MentionAll: p.mentionAll}
	contents, omitted, err := s.renderCards(p, budget)
	if err != nil {
		return nil, &templateError{err}
	}
	out.Parts, out.OmittedAlerts = len(contents), omitted
	out.Messages, err = assemble(robot, contents, p.mentions, p.mentionAll, func() (string, error) {
		return s.companionText(p)
	})
	if err != nil {
		return nil, &templateError{err}
	}
	return out, nil
}

// companionText renders the companion text message of p with the robot's
// mention template, or, when that renders nothing (a template of one's own
// printing an annotation the alerts do not share), with the embedded one:
// an empty companion is refused by WeCom (44004), and every mention it
// carries would be lost.
func (s *State) companionText(p *prepared) (string, error) {
	text, err := s.Templates.Execute(templates.MentionMessage(p.robot.Language), p.data)
	if err != nil || strings.TrimSpace(text) != "" {
		return text, err
	}
	return s.Templates.Execute(templates.BuiltinMentionMessage(p.robot.Language), p.data)
}

// templateError is a notification the robot's templates cannot render: no
// retry fixes it, a change of template does.
type templateError struct{ err error }

func (e *templateError) Error() string { return e.err.Error() }
func (e *templateError) Unwrap() error { return e.err }

// renderCards renders the robot's message over the notification's alerts,
// split into parts or truncated to fit WeCom's byte limit.
func (s *State) renderCards(p *prepared, budget int) ([]string, int, error) {
	robot := p.robot
	limit := wecom.ContentLimit(robot.MsgType)
	r := cardRenderer{state: s, p: p}
	content, err := r.render(p.data.Alerts, true)
	if err != nil || len(content) <= limit {
		return []string{content}, 0, err
	}

	// Parts that cannot all be rendered are truncated instead: a template
	// that holds for whatever Alertmanager sends may not for a part (the
	// first firing alert of a part of resolved ones), and a template whose
	// own text fills a card makes every part the same (errPartsRepeat).
	alerts := append(p.data.Alerts.Firing(), p.data.Alerts.Resolved()...)
	split := robot.Overflow == config.OverflowSplit
	if robot.Overflow == "" && len(content)/limit+2 <= budget {
		// Automatic: split only when every part, and a companion, can go
		// now; the whole rendering's size tells when they surely cannot.
		if parts, err := r.split(alerts, limit); err == nil && len(parts)+1 <= budget {
			return parts, 0, nil
		}
	}
	if split {
		// Parts and a companion go together or not at all: more than the
		// robot may send in a window could never go, and every retry would
		// post the first parts again. Those are truncated instead.
		if parts, err := r.split(alerts, limit); err == nil {
			messages := len(parts)
			if needsCompanion(p, parts[0]) {
				messages++
			}
			if n := s.Config.Limit(robot).Messages; n <= 0 || messages <= n {
				return parts, 0, nil
			}
		}
	}
	c, omitted, err := r.truncate(alerts, limit)
	return []string{c}, omitted, err
}

// errPartsRepeat is a split whose parts would all be the same cut card: the
// template's own text (a long common annotation) fills it, whatever alert
// the part holds.
var errPartsRepeat = errors.New("every part is the template's own text, cut")

// cardRenderer renders one prepared notification over subsets of its alerts.
type cardRenderer struct {
	state *State
	p     *prepared
}

// render renders the robot's message over alerts; withMentions false leaves
// .Mentions empty, for the parts after the first.
func (r cardRenderer) render(alerts template.Alerts, withMentions bool) (string, error) {
	d := *r.p.data
	shown := *d.Data
	shown.Alerts = alerts
	d.Data = &shown
	if !withMentions {
		d.Mentions, d.InlineMentions = "", nil
	}
	out, err := r.state.Templates.Execute(r.state.message(r.p.robot), &d)
	if err != nil {
		return "", fmt.Errorf("render message of robot %s: %w", r.p.robot.Name, err)
	}
	out = strings.TrimSpace(out)
	if out == "" {
		return "", fmt.Errorf("render message of robot %s: the template rendered nothing", r.p.robot.Name)
	}
	return out, nil
}

// fit returns the largest k in [1, len(alerts)] for which render(alerts[:k])
// plus extra(k) bytes fits in limit, with its rendering; k is 0 when not
// even one alert fits. It gallops up from 1 before bisecting, so that a
// group of thousands of alerts costs renders of about as many alerts as
// fit, not of all of them.
func (r cardRenderer) fit(alerts template.Alerts, limit int, withMentions bool, extra func(k int) int) (int, string, error) {
	best, bestContent := 0, ""
	try := func(k int) (bool, error) {
		c, err := r.render(alerts[:k], withMentions)
		if err != nil {
			return false, err
		}
		if len(c)+extra(k) > limit {
			return false, nil
		}
		best, bestContent = k, c
		return true, nil
	}
	lo, hi := 1, len(alerts)
	for k := 1; k <= len(alerts); k *= 2 {
		ok, err := try(k)
		if err != nil {
			return 0, "", err
		}
		if !ok {
			hi = k - 1
			break
		}
		lo = k + 1
	}
	for lo <= hi {
		mid := (lo + hi) / 2
		ok, err := try(mid)
		if err != nil {
			return 0, "", err
		}
		if ok {
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	return best, bestContent, nil
}

// partMarkerBytes is room kept for a part marker such as "(12/34)\n".
const partMarkerBytes = 16

// split renders alerts into parts that each fit limit, each a whole
// rendering of the template (so the header repeats), numbered "(i/n)";
// mentions stay in the first part. An alert too large on its own is cut;
// when every part is the same cut card, errPartsRepeat.
func (r cardRenderer) split(alerts template.Alerts, limit int) ([]string, error) {
	var parts []string
	for len(alerts) > 0 {
		first := len(parts) == 0
		k, c, err := r.fit(alerts, limit-partMarkerBytes, first, func(int) int { return 0 })
		if err != nil {
			return nil, err
		}
		if k == 0 {
			if c, err = r.render(alerts[:1], first); err != nil {
				return nil, err
			}
			k, c = 1, wecom.Cut(c, limit-partMarkerBytes-len("\n…"))+"\n…"
		}
		parts = append(parts, c)
		alerts = alerts[k:]
	}
	if len(parts) > 1 && !slices.ContainsFunc(parts, func(p string) bool { return p != parts[0] }) {
		return nil, errPartsRepeat
	}
	if len(parts) > 1 {
		for i := range parts {
			parts[i] = fmt.Sprintf("(%d/%d)\n%s", i+1, len(parts), parts[i])
		}
	}
	return parts, nil
}

// truncate renders as many alerts as fit in limit, with a line counting the
// rest; an alert too large on its own is cut.
func (r cardRenderer) truncate(alerts template.Alerts, limit int) (string, int, error) {
	note := func(k int) string { return templates.OmittedNote(r.p.robot.Language, len(alerts)-k) }
	k, c, err := r.fit(alerts[:len(alerts)-1], limit, true, func(k int) int { return len(note(k)) })
	if err != nil {
		return "", 0, err
	}
	if k > 0 {
		return c + note(k), len(alerts) - k, nil
	}
	if c, err = r.render(alerts[:1], true); err != nil {
		return "", 0, err
	}
	tail := note(1)
	if len(alerts) == 1 {
		tail = "\n…"
	}
	return wecom.Cut(c, limit-len(tail)) + tail, len(alerts) - 1, nil
}

// assemble turns rendered contents into messages. Mentions the first card
// does not hold inline (phones, @all, user_ids the template did not place
// or that were cut) go to the bottom of a text message: the card itself for
// text robots, otherwise a companion, whose text companion gives, sent
// right after the first card.
func assemble(robot *config.Robot, contents []string, mentions []responders.Mention, mentionAll bool, companion func() (string, error)) ([]*wecom.Message, error) {
	userIDs, phones := bottomMentions(robot, contents[0], mentions, mentionAll)
	messages := make([]*wecom.Message, 0, len(contents)+1)
	for _, c := range contents {
		messages = append(messages, wecom.NewMessage(robot.MsgType, c))
	}
	if len(userIDs) == 0 && len(phones) == 0 {
		return messages, nil
	}
	bottom := messages[0].Text
	if bottom == nil {
		text, err := companion()
		if err != nil {
			return nil, fmt.Errorf("render mention message of robot %s: %w", robot.Name, err)
		}
		m := wecom.NewMessage(wecom.MsgTypeText, wecom.Cut(strings.TrimSpace(text), wecom.ContentLimit(wecom.MsgTypeText)))
		messages = append(messages[:1], append([]*wecom.Message{m}, messages[1:]...)...)
		bottom = m.Text
	}
	bottom.MentionedList, bottom.MentionedMobileList = userIDs, phones
	return messages, nil
}

// bottomMentions returns the user_ids and phones that go to the bottom of a
// text message, the first card's own or a companion's: all but the user_ids
// the first card, first, holds inline.
func bottomMentions(robot *config.Robot, first string, mentions []responders.Mention, mentionAll bool) (userIDs, phones []string) {
	inline := robot.MsgType == wecom.MsgTypeMarkdown
	for _, m := range mentions {
		switch {
		case m.UserID != "" && !(inline && strings.Contains(first, "<@"+m.UserID+">")):
			userIDs = append(userIDs, m.UserID)
		case m.UserID == "" && m.Phone != "":
			phones = append(phones, m.Phone)
		}
	}
	if mentionAll {
		userIDs = append(userIDs, wecom.MentionAll)
	}
	return unique(userIDs), unique(phones)
}

// needsCompanion reports whether a notification whose first card is first
// takes a companion text message for its mentions.
func needsCompanion(p *prepared, first string) bool {
	if p.robot.MsgType == wecom.MsgTypeText {
		return false
	}
	userIDs, phones := bottomMentions(p.robot, first, p.mentions, p.mentionAll)
	return len(userIDs) > 0 || len(phones) > 0
}

// message returns the template text of the robot's message.
func (s *State) message(robot *config.Robot) string {
	if robot.Message != "" {
		return robot.Message
	}
	return templates.DefaultMessage(robot.MsgType, robot.Language)
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
