package receiver

import (
	"fmt"
	"strings"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/responders"
	"github.com/alertmanager-wecom/alertmanager-wecom/templates"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// digest merges notifications waiting for one robot into as few messages
// as fit: each notification becomes a compact block (its status and
// alerts), blocks are packed in order into numbered cards, and the union of
// their responders is mentioned once, in the first card and its companion.
// carries[i] lists the indexes of the notifications messages[i] carries.
func (s *State) digest(robot *config.Robot, preps []*prepared) (messages []*wecom.Message, carries [][]int, err error) {
	blockText := templates.DigestMessage(robot.MsgType, robot.Language)
	blocks := make([]string, len(preps))
	var union []responders.Mention
	mentionAll := false
	for i, p := range preps {
		d := *p.data
		d.Mentions, d.InlineMentions = "", nil
		b, err := s.Templates.Execute(blockText, &d)
		if err != nil {
			return nil, nil, fmt.Errorf("render digest of robot %s: %w", robot.Name, err)
		}
		blocks[i] = strings.TrimSpace(b)
		union = append(union, p.mentions...)
		mentionAll = mentionAll || p.mentionAll
	}
	union = uniqueMentions(union)
	_, mentionText, inline := displayMentions(robot, union)
	footer := ""
	if mentionText != "" {
		footer = "\n\n" + respondersLabel(robot.Language) + templates.PlaceMentions(mentionText, inline)
	}

	limit := wecom.ContentLimit(robot.MsgType)
	header := func(i, n int) string { return digestHeader(robot, len(preps), i, n) }
	// Room for the largest header a card can get, and the footer on the first.
	room := limit - len(header(len(preps), len(preps))) - 2
	type card struct {
		blocks  []string
		size    int
		carries []int
	}
	cards := []*card{{size: len(footer)}}
	for i, b := range blocks {
		if len(b) > room-len(footer) {
			b = wecom.Cut(b, room-len(footer)-len("\n…")) + "\n…"
		}
		c := cards[len(cards)-1]
		if len(c.blocks) > 0 && c.size+2+len(b) > room {
			c = &card{}
			cards = append(cards, c)
		}
		c.blocks = append(c.blocks, b)
		c.size += 2 + len(b)
		c.carries = append(c.carries, i)
	}
	contents := make([]string, len(cards))
	for i, c := range cards {
		contents[i] = header(i+1, len(cards)) + "\n\n" + strings.Join(c.blocks, "\n\n")
		carries = append(carries, c.carries)
	}
	contents[0] += footer

	messages, err = assemble(robot, contents, union, mentionAll, func() (string, error) {
		return digestTitle(robot.Language, len(preps)) + lookWords(robot.Language), nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(messages) > len(contents) {
		// The companion follows the first card and carries every notification.
		all := make([]int, len(preps))
		for i := range all {
			all[i] = i
		}
		carries = append(carries[:1], append([][]int{all}, carries[1:]...)...)
	}
	return messages, carries, nil
}

// uniqueMentions drops repeated responders, keeping the first.
func uniqueMentions(ms []responders.Mention) []responders.Mention {
	seen := map[string]bool{}
	out := ms[:0:0]
	for _, m := range ms {
		id := m.Email + "\x00" + m.Name
		if !seen[id] {
			seen[id] = true
			out = append(out, m)
		}
	}
	return out
}

func respondersLabel(language string) string {
	if language == "zh" {
		return "负责人："
	}
	return "Responders: "
}

func digestHeader(robot *config.Robot, notifications, part, parts int) string {
	h := digestTitle(robot.Language, notifications)
	if parts > 1 {
		h += fmt.Sprintf(" (%d/%d)", part, parts)
	}
	if robot.MsgType == wecom.MsgTypeText {
		return h
	}
	return "### " + h
}

func digestTitle(language string, notifications int) string {
	if language == "zh" {
		return fmt.Sprintf("告警汇总：%d 条通知", notifications)
	}
	return fmt.Sprintf("Alert digest: %d notifications", notifications)
}

// lookWords end the digest's companion text message.
func lookWords(language string) string {
	if language == "zh" {
		return "，请及时处理"
	}
	return ": please take a look"
}
