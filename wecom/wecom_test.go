package wecom_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

const key = "s3cr3t-robot-key"

func TestSend(t *testing.T) {
	fake := wecomtest.NewServer()
	defer fake.Close()
	fake.AddRobot(key)
	fake.AddRobot("disabled")
	fake.SetErrcode("disabled", wecom.ErrcodeRobotDisabled)

	client := wecom.NewClient(200 * time.Millisecond)
	for _, tc := range []struct {
		name      string
		key       string
		msg       *wecom.Message
		inject    []wecomtest.Failure
		wantErr   string
		retryable bool
	}{
		{name: "markdown accepted", key: key, msg: wecom.NewMessage(wecom.MsgTypeMarkdown, "**hi** <@alice>")},
		{name: "text with mentions accepted", key: key, msg: &wecom.Message{MsgType: wecom.MsgTypeText, Text: &wecom.Text{
			Content: "hi", MentionedList: []string{"alice"}, MentionedMobileList: []string{"+8613800001111", wecom.MentionAll}}}},
		{name: "markdown at the byte limit", key: key, msg: wecom.NewMessage(wecom.MsgTypeMarkdown, strings.Repeat("告", 4096/3))},
		{name: "markdown over the byte limit", key: key, msg: wecom.NewMessage(wecom.MsgTypeMarkdown, strings.Repeat("告", 4096/3+1)),
			wantErr: "invalid message: markdown content is 4098 bytes, over the limit of 4096"},
		{name: "text over the byte limit", key: key, msg: wecom.NewMessage(wecom.MsgTypeText, strings.Repeat("a", 2049)),
			wantErr: "invalid message: text content is 2049 bytes, over the limit of 2048"},
		{name: "empty", key: key, msg: wecom.NewMessage(wecom.MsgTypeText, ""), wantErr: "invalid message: empty content"},
		{name: "unknown msgtype", key: key, msg: &wecom.Message{MsgType: "news"}, wantErr: `invalid message: unknown msgtype "news"`},
		{name: "unknown key", key: "nope", msg: wecom.NewMessage(wecom.MsgTypeText, "x"),
			wantErr: "wecom errcode 93000: invalid webhook url"},
		{name: "disabled robot", key: "disabled", msg: wecom.NewMessage(wecom.MsgTypeText, "x"),
			wantErr: "wecom errcode 93004: robot unavailable"},
		{name: "system busy", key: key, msg: wecom.NewMessage(wecom.MsgTypeText, "x"),
			inject: []wecomtest.Failure{{Errcode: wecom.ErrcodeBusy}}, wantErr: "wecom errcode -1: injected failure", retryable: true},
		{name: "rate limited", key: key, msg: wecom.NewMessage(wecom.MsgTypeText, "x"),
			inject: []wecomtest.Failure{{Errcode: wecom.ErrcodeRateLimited}}, wantErr: "wecom errcode 45009: injected failure", retryable: true},
		{name: "bad gateway", key: key, msg: wecom.NewMessage(wecom.MsgTypeText, "x"),
			inject: []wecomtest.Failure{{HTTPStatus: http.StatusBadGateway}}, wantErr: "wecom answered HTTP 502", retryable: true},
		{name: "timeout", key: key, msg: wecom.NewMessage(wecom.MsgTypeText, "x"),
			inject: []wecomtest.Failure{{Delay: time.Second}}, wantErr: "post to http://", retryable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.inject != nil {
				fake.Inject(tc.key, tc.inject...)
			}
			err := client.Send(context.Background(), fake.URL(tc.key), tc.msg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Send error = %v, want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), tc.key) && tc.key != "" {
				t.Errorf("error %q reveals the robot key", err)
			}
			if got := wecom.Retryable(err); got != tc.retryable {
				t.Errorf("Retryable(%v) = %v, want %v", err, got, tc.retryable)
			}
		})
	}
	if got := len(fake.AcceptedFor(key)); got != 3 {
		t.Errorf("fake accepted %d messages, want 3", got)
	}
}

func TestSendRateLimit(t *testing.T) {
	fake := wecomtest.NewServer()
	defer fake.Close()
	fake.AddRobot(key)
	fake.Limit = 2
	client := wecom.NewClient(time.Second)
	var errs []error
	for range 3 {
		errs = append(errs, client.Send(context.Background(), fake.URL(key), wecom.NewMessage(wecom.MsgTypeText, "x")))
	}
	if errs[0] != nil || errs[1] != nil || !wecom.RateLimited(errs[2]) {
		t.Fatalf("errors = %v, want nil, nil, 45009", errs)
	}
}

func TestSendCancelled(t *testing.T) {
	fake := wecomtest.NewServer()
	defer fake.Close()
	fake.AddRobot(key)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := wecom.NewClient(time.Second).Send(ctx, fake.URL(key), wecom.NewMessage(wecom.MsgTypeText, "x"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send error = %v, want context.Canceled", err)
	}
	if strings.Contains(err.Error(), key) {
		t.Errorf("error %q reveals the robot key", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?<redacted>",
		"https://user:pass@gw.corp/hooks/abc123?x=1":               "https://gw.corp/<redacted>?<redacted>",
		"http://127.0.0.1:8080/cgi-bin/webhook/send":               "http://127.0.0.1:8080/cgi-bin/webhook/send",
		"https://gw.corp/robot/abc123":                             "https://gw.corp/<redacted>",
		"::not a url":                                              "<unparsable url>",
	} {
		if got := wecom.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		limit   int
		want    string
	}{
		{name: "fits", content: "abc", limit: 3, want: "abc"},
		{name: "ascii", content: "abcdef", limit: 4, want: "abcd"},
		{name: "never mid-rune", content: "告警告警", limit: 7, want: "告警"},
		{name: "never mid-emoji", content: "a🔥b", limit: 4, want: "a"},
		{name: "never inside a mention token", content: "hi <@alice_wecom> there", limit: 10, want: "hi "},
		{name: "a whole token stays", content: "hi <@alice_wecom> there", limit: 18, want: "hi <@alice_wecom> "},
		{name: "zero limit", content: "abc", limit: 0, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := wecom.Cut(tc.content, tc.limit); got != tc.want {
				t.Errorf("Cut(%q, %d) = %q, want %q", tc.content, tc.limit, got, tc.want)
			}
		})
	}
}

// FuzzCut checks that Cut keeps valid UTF-8 valid, stays within the limit,
// returns a prefix, and never ends inside a <@userid> token.
func FuzzCut(f *testing.F) {
	for _, s := range []string{"hi <@alice> 告警🔥", "<@", "a<@b", strings.Repeat("告", 50)} {
		f.Add(s, 7)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit = max(0, limit%(len(s)+2))
		got := wecom.Cut(s, limit)
		if len(got) > limit && len(s) > limit || !strings.HasPrefix(s, got) {
			t.Fatalf("Cut(%q, %d) = %q: over the limit or not a prefix", s, limit, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Cut(%q, %d) = %q: broke a rune", s, limit, got)
		}
		if len(got) < len(s) {
			if open := strings.LastIndex(got, "<@"); open >= 0 && !strings.Contains(got[open:], ">") {
				t.Fatalf("Cut(%q, %d) = %q: ends inside a mention token", s, limit, got)
			}
		}
	})
}
