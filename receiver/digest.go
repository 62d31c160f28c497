package receiver

import (
	"fmt"
	"strings"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/responders"
	"github.com/alertmanager-wecom/alertmanager-wecom/templates"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// batch is how notifications go out together: messages in order, in
// units that wait for budget together (a card and its companion), each
// message carrying some of the notifications.
type batch struct {
	messages []*wecom.Message
	// carries[i] lists the indexes of the notifications messages[i] carries.
	carries [][]int
	// units are the lengths of the runs of messages sent together, in order.
	units []int
	// solos holds, by index, the notifications rendered on their own, for
	// the metrics.
	solos map[int]*Rendered
	// merged counts the notifications merged into the digest, over all its cards.
	merged int
	// failed holds the notifications that could not be rendered on their
	// own, by index: only they fail, not the rest of the batch.
	failed map[int]error
}

// addUnit appends messages that go together, each carrying carries.
func (b *batch) addUnit(messages []*wecom.Message, carries []int) {
	for _, m := range messages {
		b.messages = append(b.messages, m)
		b.carries = append(b.carries, carries)
	}
	b.units = append(b.units, len(messages))
}

// digest merges notifications waiting for one robot into as few messages
// as fit: each notification becomes a compact block (its status and
// alerts), blocks are packed in order into numbered cards, and the union of
// their responders is mentioned once, in the first card and its companion.
// A notification whose block does not fit in a card, or that must go alone
// (prepared.alone), is not merged: it is rendered on its own, split or
// truncated within budget as it would be alone, and sent after the digest
// as a unit of its own.
func (s *State) digest(robot *config.Robot, preps []*prepared, budget int) (*batch, error) {
	blockText := templates.DigestMessage(robot.MsgType, robot.Language)
	limit := wecom.ContentLimit(robot.MsgType)
	// Room for the largest header a card can get.
	room := limit - len(digestHeader(robot, len(preps), len(preps), len(preps))) - 2

	var merged []int // indexes into preps of the notifications merged
	var blocks []string
	var union []responders.Mention
	mentionAll := false
	var alone []int
	out := &batch{solos: map[int]*Rendered{}}
	for i, p := range preps {
		if p.alone {
			alone = append(alone, i)
			continue
		}
		d := *p.data
		d.Mentions, d.InlineMentions = "", nil
		b, err := s.Templates.Execute(blockText, &d)
		if err != nil {
			return nil, fmt.Errorf("render digest of robot %s: %w", robot.Name, err)
		}
		b = strings.TrimSpace(b)
		if len(b) > room/2 {
			alone = append(alone, i)
			continue
		}
		merged = append(merged, i)
		blocks = append(blocks, b)
		union = append(union, p.mentions...)
		mentionAll = mentionAll || p.mentionAll
	}

	if len(merged) == 1 {
		// A digest of one is the notification on its own.
		alone, merged = append(merged, alone...), nil
	}
	if len(merged) > 0 {
		union = responders.Distinct(s.Config, robot, union)
		footer := digestFooter(robot, union, room)
		cards := packCards(blocks, merged, len(footer), room)
		contents := make([]string, len(cards))
		for i, c := range cards {
			contents[i] = digestHeader(robot, len(merged), i+1, len(cards)) + "\n\n" + strings.Join(c.blocks, "\n\n")
		}
		contents[0] += footer

		firing := false
		for _, i := range merged {
			firing = firing || preps[i].data.FiringTotal > 0
		}
		messages, err := assemble(robot, contents, union, mentionAll, func() (string, error) {
			return digestCompanion(robot.Language, len(merged), firing), nil
		})
		if err != nil {
			return nil, err
		}
		// The first card and its companion, which carries every merged
		// notification, go together; each further card on its own.
		first := 1 + len(messages) - len(contents)
		out.addUnit(messages[:first], cards[0].carries)
		if first == 2 {
			out.carries[1] = merged
		}
		for i, c := range cards[1:] {
			out.addUnit(messages[first+i:first+i+1], c.carries)
		}
		budget -= len(messages)
		out.merged = len(merged)
	}
	s.addAlone(out, preps, alone, budget)
	return out, nil
}

// digestFooter is the line under a digest's first card that mentions the
// union of its notifications' responders: at most half a card (room), as
// assemble moves the mentions a cut footer lost to the companion's
// mentioned_list.
func digestFooter(robot *config.Robot, union []responders.Mention, room int) string {
	_, mentionText, inline := displayMentions(robot, union)
	if mentionText == "" {
		return ""
	}
	footer := "\n\n" + templates.WordsIn(robot.Language).Responders + ": " + templates.PlaceMentions(mentionText, inline)
	if len(footer) > room/2 {
		footer = wecom.Cut(footer, room/2-len("…")) + "…"
	}
	return footer
}

// digestCard is one card of a digest: its blocks, their size with the
// blank lines before them, and the notifications they carry.
type digestCard struct {
	blocks  []string
	size    int
	carries []int
}

// packCards packs blocks in order into cards of at most room bytes, the
// first with footer bytes of it taken; carries[k] is the notification of
// blocks[k].
func packCards(blocks []string, carries []int, footer, room int) []*digestCard {
	cards := []*digestCard{{size: footer}}
	for k, b := range blocks {
		c := cards[len(cards)-1]
		if len(c.blocks) > 0 && c.size+2+len(b) > room {
			c = &digestCard{}
			cards = append(cards, c)
		}
		c.blocks = append(c.blocks, b)
		c.size += 2 + len(b)
		c.carries = append(c.carries, carries[k])
	}
	return cards
}

// addAlone renders the notifications preps[i], i in alone, each on its
// own within what is left of budget, as a unit of out; one that cannot be
// rendered fails alone.
func (s *State) addAlone(out *batch, preps []*prepared, alone []int, budget int) {
	for _, i := range alone {
		rendered, err := s.renderPrepared(preps[i], max(budget, 1))
		if err != nil {
			if out.failed == nil {
				out.failed = map[int]error{}
			}
			out.failed[i] = err
			continue
		}
		budget -= len(rendered.Messages)
		out.solos[i] = rendered
		out.addUnit(rendered.Messages, []int{i})
	}
}

func digestHeader(robot *config.Robot, notifications, part, parts int) string {
	h := fmt.Sprintf(templates.WordsIn(robot.Language).Digest, notifications)
	if parts > 1 {
		h += fmt.Sprintf(" (%d/%d)", part, parts)
	}
	if robot.MsgType == wecom.MsgTypeText {
		return h
	}
	return "### " + h
}

// digestCompanion is the digest's companion text message, as the default
// templates' (wecom.default.mention) for one notification: the title,
// then a call to look while any of its notifications fires, else that all
// are resolved (on a robot that mentions on resolved ones too).
func digestCompanion(language string, notifications int, firing bool) string {
	w := templates.WordsIn(language)
	if firing {
		return fmt.Sprintf(w.Digest, notifications) + ": " + w.Look
	}
	return fmt.Sprintf(w.Digest, notifications) + ": " + w.Done
}
