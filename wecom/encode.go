package wecom

import (
	"strconv"
	"unicode/utf8"
)

// appendJSON appends m as JSON: what encoding/json's Marshal writes with
// HTML escaping off (FuzzAppendJSON holds it to that), without reflection.
// Off, because a message's content is full of < and > (<font>, <@userid>),
// which Marshal would spell in six bytes each.
func (m *Message) appendJSON(b []byte) []byte {
	b = append(b, `{"msgtype":`...)
	b = appendJSONString(b, m.MsgType)
	if m.Text != nil {
		b = append(b, `,"text":{"content":`...)
		b = appendJSONString(b, m.Text.Content)
		b = appendJSONList(b, `,"mentioned_list":`, m.Text.MentionedList)
		b = appendJSONList(b, `,"mentioned_mobile_list":`, m.Text.MentionedMobileList)
		b = append(b, '}')
	}
	for _, md := range []struct {
		field string
		body  *Markdown
	}{{`,"markdown":{"content":`, m.Markdown}, {`,"markdown_v2":{"content":`, m.MarkdownV2}} {
		if md.body != nil {
			b = append(b, md.field...)
			b = appendJSONString(b, md.body.Content)
			b = append(b, '}')
		}
	}
	return append(b, '}')
}

// appendJSONList appends field and list, unless list is empty (omitempty).
func appendJSONList(b []byte, field string, list []string) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(b, field...)
	for i, s := range list {
		if i == 0 {
			b = append(b, '[')
		} else {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s quoted as encoding/json quotes a string with
// HTML escaping off: invalid UTF-8 becomes U+FFFD, and U+2028 and U+2029
// are escaped, as JavaScript needs.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, `\u00`...)
				b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = strconv.AppendInt(b, int64(r&0xf), 16)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"
