package wecom

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppendJSON holds appendJSON to encoding/json with HTML escaping off,
// byte for byte, for every msgtype and mention list.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{
		"", "## [FIRING:2] <font color=\"warning\">MySQL</font>\n> <@alice_wecom>",
		"tab\there \\ \"quoted\" \x00\x01\x1f\x7f", "告警 🔥 \u2028\u2029", "bad \xff\xfe utf-8 \xe4\xb8", "&amp; <script>",
	} {
		f.Add(s, "13800001111")
	}
	f.Fuzz(func(t *testing.T, content, mention string) {
		for _, m := range []*Message{
			NewMessage(MsgTypeMarkdown, content),
			NewMessage(MsgTypeMarkdownV2, content),
			NewMessage(MsgTypeText, content),
			{MsgType: MsgTypeText, Text: &Text{Content: content, MentionedList: []string{mention, "@all"}, MentionedMobileList: []string{mention}}},
			{MsgType: content, Markdown: &Markdown{Content: mention}, MarkdownV2: &Markdown{}},
		} {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(m); err != nil {
				t.Fatal(err)
			}
			if got := m.appendJSON(nil); !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
				t.Fatalf("appendJSON:\n%s\nencoding/json:\n%s", got, want.Bytes())
			}
		}
	})
}
