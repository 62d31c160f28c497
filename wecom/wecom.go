// Package wecom speaks WeCom's group robot webhook API: the message shapes,
// their byte limits, and a client that decodes every answer's errcode.
package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Message types a robot accepts that this receiver sends.
const (
	MsgTypeText       = "text"
	MsgTypeMarkdown   = "markdown"
	MsgTypeMarkdownV2 = "markdown_v2"
)

// MentionAll is the mention list entry that mentions everyone in the group.
const MentionAll = "@all"

// ContentLimit returns the most UTF-8 bytes WeCom accepts in the content of
// a message of type msgtype, or 0 for a type this package does not know.
func ContentLimit(msgtype string) int {
	switch msgtype {
	case MsgTypeText:
		return 2048
	case MsgTypeMarkdown, MsgTypeMarkdownV2:
		return 4096
	}
	return 0
}

// Cut returns the longest prefix of content that is at most limit bytes
// long and ends neither inside a UTF-8 sequence nor inside a <@userid>
// mention token, so that cutting never garbles a character or a mention.
func Cut(content string, limit int) string {
	if len(content) <= limit {
		return content
	}
	if limit <= 0 {
		return ""
	}
	i := limit
	for i > 0 && !utf8.RuneStart(content[i]) {
		i--
	}
	cut := content[:i]
	// A "<@" after the last ">" opens a token the cut would break.
	closed := strings.LastIndexByte(cut, '>') + 1
	if open := strings.Index(cut[closed:], "<@"); open >= 0 {
		cut = cut[:closed+open]
	}
	return cut
}

// Message is one request body of the webhook API. Exactly one of Text,
// Markdown and MarkdownV2 is set, as MsgType says.
type Message struct {
	MsgType    string    `json:"msgtype"`
	Text       *Text     `json:"text,omitempty"`
	Markdown   *Markdown `json:"markdown,omitempty"`
	MarkdownV2 *Markdown `json:"markdown_v2,omitempty"`
}

// Text is the body of a text message; its mentions show at the bottom.
type Text struct {
	Content string `json:"content"`
	// MentionedList holds user_ids, or MentionAll.
	MentionedList []string `json:"mentioned_list,omitempty"`
	// MentionedMobileList holds phone numbers, or MentionAll.
	MentionedMobileList []string `json:"mentioned_mobile_list,omitempty"`
}

// Markdown is the body of a markdown or markdown_v2 message.
type Markdown struct {
	Content string `json:"content"`
}

// NewMessage returns a message of type msgtype carrying content.
func NewMessage(msgtype, content string) *Message {
	m := &Message{MsgType: msgtype}
	switch msgtype {
	case MsgTypeText:
		m.Text = &Text{Content: content}
	case MsgTypeMarkdownV2:
		m.MarkdownV2 = &Markdown{Content: content}
	default:
		m.Markdown = &Markdown{Content: content}
	}
	return m
}

// Content returns the message's content, whichever its type.
func (m *Message) Content() string {
	switch {
	case m.Text != nil:
		return m.Text.Content
	case m.Markdown != nil:
		return m.Markdown.Content
	case m.MarkdownV2 != nil:
		return m.MarkdownV2.Content
	}
	return ""
}

// Validate reports what WeCom would refuse in m: an unknown msgtype, a body
// that does not match it, empty content, or content over the byte limit.
func (m *Message) Validate() error {
	limit := ContentLimit(m.MsgType)
	if limit == 0 {
		return fmt.Errorf("unknown msgtype %q", m.MsgType)
	}
	if (m.Text != nil) != (m.MsgType == MsgTypeText) ||
		(m.Markdown != nil) != (m.MsgType == MsgTypeMarkdown) ||
		(m.MarkdownV2 != nil) != (m.MsgType == MsgTypeMarkdownV2) {
		return fmt.Errorf("%s message with a body of another type", m.MsgType)
	}
	content := m.Content()
	switch {
	case content == "":
		return errors.New("empty content")
	case len(content) > limit:
		return fmt.Errorf("%s content is %d bytes, over the limit of %d", m.MsgType, len(content), limit)
	case !utf8.ValidString(content):
		return errors.New("content is not valid UTF-8")
	}
	return nil
}

// Errcodes of the webhook API (see Retryable and RateLimited for those
// that decide what the receiver does; any other non-zero code is permanent).
const (
	ErrcodeBusy            = -1
	ErrcodeInvalidMsgType  = 40008
	ErrcodeInvalidParam    = 40058
	ErrcodeEmptyContent    = 44004
	ErrcodeContentTooLarge = 45002
	ErrcodeRateLimited     = 45009
	ErrcodeTooConcurrent   = 45033
	ErrcodeInvalidKey      = 93000
	ErrcodeRobotDisabled   = 93004
	ErrcodeNotInGroup      = 93008
)

// APIError is a non-zero errcode in WeCom's answer.
type APIError struct {
	Code int
	// Message is WeCom's errmsg, with any part of the webhook URL that may
	// be a secret removed (a gateway may echo the URL).
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wecom errcode %d: %s", e.Code, e.Message)
}

// Retryable reports whether sending the same message again later may succeed.
func (e *APIError) Retryable() bool {
	switch e.Code {
	case ErrcodeBusy, ErrcodeRateLimited, ErrcodeTooConcurrent:
		return true
	}
	return false
}

// RateLimited reports whether err is WeCom's "api freq out of limit".
func RateLimited(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Code == ErrcodeRateLimited
}

// Retryable reports whether a failed Send may succeed if tried again:
// network errors, HTTP 5xx and WeCom's transient errcodes are; a rejected
// message or a robot that is gone is not.
func Retryable(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Retryable()
	}
	var statusErr *StatusError
	if errors.As(err, &statusErr) {
		return statusErr.Code >= 500 || statusErr.Code == http.StatusTooManyRequests
	}
	return !errors.Is(err, errInvalidMessage)
}

// StatusError is an HTTP status other than 200 from WeCom.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("wecom answered HTTP %d", e.Code)
}

var errInvalidMessage = errors.New("invalid message")

// acceptedAnswer is WeCom's answer to a message it accepted, byte for byte.
var acceptedAnswer = []byte(`{"errcode":0,"errmsg":"ok"}`)

// maxAnswerBytes bounds how much of WeCom's answer is read.
const maxAnswerBytes = 64 << 10

// Client sends messages to robots. It is safe for concurrent use.
type Client struct {
	timeout time.Duration
	// direct sends where no proxy setting applies; http through a proxy.
	direct *direct
	http   *http.Client

	// proxy says which proxy a request goes through, if any.
	proxy func(*http.Request) (*url.URL, error)

	routesMu sync.Mutex
	routes   map[string]route // webhook URL → its route; URLs are secrets
}

// route is how a webhook URL is posted to, worked out once per URL.
type route struct {
	target
	// proxied: an HTTPS_PROXY, HTTP_PROXY or NO_PROXY setting applies, so
	// net/http's client (which speaks to proxies) sends.
	proxied bool
}

// maxRoutes bounds the webhook URLs whose route is remembered: with
// key_from: authorization, requests bring keys of their own.
const maxRoutes = 1024

// NewClient returns a client whose every request gives up after timeout.
// It keeps idle connections for many concurrent sends to one host.
func NewClient(timeout time.Duration) *Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 256
	transport.MaxIdleConnsPerHost = directMaxIdle
	transport.DisableCompression = true // WeCom answers a few bytes of JSON
	transport.Proxy = http.ProxyFromEnvironment
	return &Client{
		proxy:   transport.Proxy,
		timeout: timeout,
		direct:  &direct{dialer: net.Dialer{KeepAlive: 30 * time.Second}},
		http:    &http.Client{Timeout: timeout, Transport: transport},
		routes:  map[string]route{},
	}
}

// CloseIdleConnections closes the connections kept for later sends.
func (c *Client) CloseIdleConnections() {
	c.direct.closeIdle()
	c.http.CloseIdleConnections()
}

// routeFor returns how to post to webhookURL.
func (c *Client) routeFor(webhookURL string) (route, error) {
	c.routesMu.Lock()
	r, ok := c.routes[webhookURL]
	c.routesMu.Unlock()
	if ok {
		return r, nil
	}
	u, err := url.Parse(webhookURL)
	if err != nil {
		return route{}, redactURLError(err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return route{}, errors.New("not an http or https URL")
	}
	proxy, err := c.proxy(&http.Request{URL: u})
	if err != nil {
		return route{}, fmt.Errorf("proxy setting: %w", redactURLError(err))
	}
	r = route{target: newTarget(u), proxied: proxy != nil}
	c.routesMu.Lock()
	if len(c.routes) < maxRoutes {
		c.routes[webhookURL] = r
	}
	c.routesMu.Unlock()
	return r, nil
}

// Send posts m to the robot at webhookURL and returns nil only when WeCom
// answered errcode 0. The URL holds the robot's key, so it never appears in
// the error (see Redact), nor does what the server quoted of it.
func (c *Client) Send(ctx context.Context, webhookURL string, m *Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errInvalidMessage, err)
	}
	body := m.appendJSON(make([]byte, 0, 256+len(m.Content())))
	r, err := c.routeFor(webhookURL)
	if err != nil {
		return fmt.Errorf("post to %s: %w", Redact(webhookURL), err)
	}
	var a answer
	if r.proxied {
		a, err = c.postHTTP(ctx, webhookURL, body)
	} else {
		a, err = c.direct.post(ctx, r.target, body, c.timeout)
	}
	if err != nil {
		return &scrubbedError{fmt.Sprintf("post to %s: %s", Redact(webhookURL), scrub(err.Error(), webhookURL)), err}
	}
	if a.status != http.StatusOK {
		return &StatusError{Code: a.status}
	}
	if bytes.Equal(bytes.TrimSpace(a.body), acceptedAnswer) {
		return nil // WeCom's answer to nearly every message: no need to decode it
	}
	var decoded struct {
		Errcode *int   `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(a.body, &decoded); err != nil {
		return fmt.Errorf("decode wecom answer: %w", err)
	}
	if decoded.Errcode == nil {
		return errors.New("decode wecom answer: no errcode")
	}
	if *decoded.Errcode != 0 {
		return &APIError{Code: *decoded.Errcode, Message: scrub(decoded.Errmsg, webhookURL)}
	}
	return nil
}

// postHTTP posts body with net/http's client, which honours proxy settings.
func (c *Client) postHTTP(ctx context.Context, webhookURL string, body []byte) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return answer{}, redactURLError(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, redactURLError(err)
	}
	defer resp.Body.Close()
	b, err := readAnswer(resp.Body)
	if err != nil {
		return answer{}, redactURLError(err)
	}
	return answer{status: resp.StatusCode, body: b}, nil
}

// readAnswer reads an answer's body, of at most maxAnswerBytes: WeCom's
// are some 30 bytes, and a larger one is not WeCom's.
func readAnswer(body io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, maxAnswerBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxAnswerBytes {
		return nil, fmt.Errorf("answer over %d KiB", maxAnswerBytes>>10)
	}
	return b, nil
}

// Redact returns u without its query string and user info, where WeCom
// robot keys live, so that it can be logged.
func Redact(u string) string {
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host == "" {
		return "<unparsable url>"
	}
	out := parsed.Scheme + "://" + parsed.Host
	// The path of a url/url_file robot may carry a key too, on a gateway of
	// one's own; only WeCom's own path is kept.
	switch parsed.Path {
	case "", defaultPath:
		out += parsed.Path
	default:
		out += "/<redacted>"
	}
	if parsed.RawQuery != "" {
		out += "?<redacted>"
	}
	return out
}

const defaultPath = "/cgi-bin/webhook/send"

// scrubbedError is err with a message that scrub cleaned, for errors.Is
// and errors.As still to see err.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrub removes from s, an answer's text, every part of webhookURL that may
// be a secret (query values, user info, a gateway's path), as sent or as
// escaped: a gateway of one's own may echo the URL in errmsg.
func scrub(s, webhookURL string) string {
	u, err := url.Parse(webhookURL)
	if err != nil {
		return "<not shown>"
	}
	var secrets []string
	for _, vs := range u.Query() {
		secrets = append(secrets, vs...)
	}
	if u.User != nil {
		p, _ := u.User.Password()
		secrets = append(secrets, u.User.Username(), p)
	}
	if u.Path != defaultPath {
		secrets = append(secrets, u.Path)
	}
	for _, x := range secrets {
		if x == "" || x == "/" {
			continue
		}
		for _, form := range []string{x, url.QueryEscape(x), url.PathEscape(x)} {
			s = strings.ReplaceAll(s, form, "<redacted>")
		}
	}
	return s
}

// redactURLError strips the URL from the *url.Error net/http wraps every
// failure in, keeping the operation and the cause.
func redactURLError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("%s: %w", urlErr.Op, urlErr.Err)
	}
	return err
}
