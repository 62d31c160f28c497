// Package wecomtest is a fake WeCom group robot API for tests. It enforces
// what the real one does (see ../shared/wecom-robot-api.md): msgtypes,
// UTF-8 byte limits, errcodes, robot keys and the per-robot rate limit, and
// it is stricter in one way: a field WeCom would silently ignore (say
// mentioned_list on a markdown message, a mention that would be lost) is
// refused with 40058, so that tests catch it.
package wecomtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// Path is where the fake serves the webhook API, as WeCom does.
const Path = "/cgi-bin/webhook/send"

// Failure is an answer injected in place of the normal one.
type Failure struct {
	// HTTPStatus, when not 0, is answered with an empty body.
	HTTPStatus int
	// Errcode, when not 0, is answered as HTTP 200 with that errcode.
	Errcode int
	// Delay is waited before answering (or before the normal answer, when
	// HTTPStatus and Errcode are 0).
	Delay time.Duration
}

// Received is a message WeCom accepted.
type Received struct {
	Key     string
	At      time.Time
	Message wecom.Message
}

// Answer is what the fake answered one request.
type Answer struct {
	Key        string
	HTTPStatus int
	Errcode    int
}

// Server is a fake WeCom. Register robot keys with AddRobot before use.
type Server struct {
	*httptest.Server

	// Limit messages per Window is the per-robot rate limit; WeCom's is 20
	// a minute. Limit 0 means no limit, for load tests.
	Limit  int
	Window time.Duration
	// Chaos, when set, is asked before each request that has no injected
	// failure queued, and may return one; for soak tests.
	Chaos func(key string) *Failure
	// CountOnly keeps a count of accepted messages instead of the messages,
	// for load tests that send millions.
	CountOnly bool

	mu       sync.Mutex
	robots   map[string]*robot
	accepted []Received
	answers  []Answer
	count    int
}

type robot struct {
	errcode  int // a standing errcode, e.g. 93004 for a disabled robot
	failures []Failure
	sent     []time.Time // accepted messages within the window
}

// NewServer starts a fake WeCom with WeCom's rate limit, 20 messages a minute.
func NewServer() *Server {
	s := &Server{Limit: 20, Window: time.Minute, robots: map[string]*robot{}}
	mux := http.NewServeMux()
	mux.HandleFunc(Path, s.serve)
	s.Server = httptest.NewServer(mux)
	return s
}

// URL returns the webhook URL of the robot with key.
func (s *Server) URL(key string) string {
	return s.Server.URL + Path + "?key=" + key
}

// APIURL returns the endpoint to set as global.api_url.
func (s *Server) APIURL() string { return s.Server.URL + Path }

// AddRobot registers a robot key; requests with other keys get 93000.
func (s *Server) AddRobot(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.robots[key] = &robot{}
}

// SetErrcode makes every request to the robot answer errcode (0 clears it),
// as WeCom does for a disabled robot (93004) or one removed from its group (93008).
func (s *Server) SetErrcode(key string, errcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.robots[key].errcode = errcode
}

// Inject queues failures answered, in order, to the robot's next requests.
func (s *Server) Inject(key string, failures ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.robots[key]
	r.failures = append(r.failures, failures...)
}

// Accepted returns the messages accepted so far, in order, for every robot.
func (s *Server) Accepted() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.accepted...)
}

// Count returns how many messages were accepted so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// AcceptedFor returns the messages accepted for the robot with key.
func (s *Server) AcceptedFor(key string) []Received {
	var out []Received
	for _, r := range s.Accepted() {
		if r.Key == key {
			out = append(out, r)
		}
	}
	return out
}

// Answers returns every answer given so far, in order.
func (s *Server) Answers() []Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Answer(nil), s.answers...)
}

// CountErrcode returns how many answers carried errcode.
func (s *Server) CountErrcode(errcode int) int {
	n := 0
	for _, a := range s.Answers() {
		if a.Errcode == errcode {
			n++
		}
	}
	return n
}

// maxBody is the most of a request's body the fakes read: far over any
// message WeCom takes.
const maxBody = 1 << 20

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	key := req.URL.Query().Get("key")
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}

	s.mu.Lock()
	r := s.robots[key]
	var failure *Failure
	if r != nil && len(r.failures) > 0 {
		failure = &r.failures[0]
		r.failures = r.failures[1:]
	}
	s.mu.Unlock()
	if failure == nil && s.Chaos != nil {
		failure = s.Chaos(key)
	}

	if failure != nil {
		if failure.Delay > 0 {
			select {
			case <-time.After(failure.Delay):
			case <-req.Context().Done():
				return
			}
		}
		if failure.HTTPStatus != 0 {
			s.record(Answer{Key: key, HTTPStatus: failure.HTTPStatus})
			w.WriteHeader(failure.HTTPStatus)
			return
		}
		if failure.Errcode != 0 {
			s.answer(w, key, failure.Errcode, "injected failure")
			return
		}
	}

	if r == nil {
		s.answer(w, key, wecom.ErrcodeInvalidKey, "invalid webhook url")
		return
	}
	msg, code, why := Validate(req.Header.Get("Content-Type"), body)
	if code != 0 {
		s.answer(w, key, code, why)
		return
	}

	s.mu.Lock()
	if r.errcode != 0 {
		code := r.errcode
		s.mu.Unlock()
		s.answer(w, key, code, "robot unavailable")
		return
	}
	now := time.Now()
	kept := r.sent[:0]
	for _, t := range r.sent {
		if now.Sub(t) < s.Window {
			kept = append(kept, t)
		}
	}
	r.sent = kept
	if s.Limit > 0 && len(r.sent) >= s.Limit {
		s.mu.Unlock()
		s.answer(w, key, wecom.ErrcodeRateLimited, "api freq out of limit")
		return
	}
	s.count++
	if s.Limit > 0 {
		r.sent = append(r.sent, now)
	}
	if !s.CountOnly {
		s.accepted = append(s.accepted, Received{Key: key, At: now, Message: msg})
	}
	s.mu.Unlock()
	s.answer(w, key, 0, "ok")
}

// Validate returns the message in a request's body, or the errcode WeCom
// answers for it and why: a content type other than JSON, a body that is not
// a message (unknown fields included), or a message WeCom refuses.
func Validate(contentType string, body []byte) (wecom.Message, int, string) {
	var msg wecom.Message
	if !strings.HasPrefix(contentType, "application/json") {
		return msg, wecom.ErrcodeInvalidParam, "invalid parameter: content type"
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&msg); err != nil {
		return msg, wecom.ErrcodeInvalidParam, "invalid parameter: " + err.Error()
	}
	code, why := check(&msg, body)
	return msg, code, why
}

// check returns the errcode WeCom answers for msg, and why, or 0.
func check(msg *wecom.Message, raw []byte) (int, string) {
	limit := wecom.ContentLimit(msg.MsgType)
	if limit == 0 {
		return wecom.ErrcodeInvalidMsgType, fmt.Sprintf("invalid message type %q", msg.MsgType)
	}
	bodies := 0
	for _, set := range []bool{msg.Text != nil, msg.Markdown != nil, msg.MarkdownV2 != nil} {
		if set {
			bodies++
		}
	}
	if bodies != 1 || !hasBody(msg) {
		return wecom.ErrcodeInvalidParam, "invalid parameter: one body, matching msgtype"
	}
	content := msg.Content()
	if content == "" {
		return wecom.ErrcodeEmptyContent, "empty content"
	}
	if !utf8.Valid(raw) {
		return wecom.ErrcodeInvalidParam, "invalid parameter: not UTF-8"
	}
	if len(content) > limit {
		return wecom.ErrcodeInvalidParam, fmt.Sprintf("invalid parameter: content exceeds %d bytes", limit)
	}
	if msg.Text != nil {
		for _, m := range msg.Text.MentionedMobileList {
			if m != wecom.MentionAll && strings.Trim(m, "+0123456789") != "" {
				return wecom.ErrcodeInvalidParam, fmt.Sprintf("invalid parameter: mobile %q", m)
			}
		}
	}
	return 0, ""
}

func hasBody(msg *wecom.Message) bool {
	switch msg.MsgType {
	case wecom.MsgTypeText:
		return msg.Text != nil
	case wecom.MsgTypeMarkdown:
		return msg.Markdown != nil
	case wecom.MsgTypeMarkdownV2:
		return msg.MarkdownV2 != nil
	}
	return false
}

func (s *Server) answer(w http.ResponseWriter, key string, code int, msg string) {
	s.record(Answer{Key: key, HTTPStatus: http.StatusOK, Errcode: code})
	w.Header()["Content-Type"] = jsonContentType
	if code == 0 {
		_, _ = w.Write(okAnswer) // the common answer, encoded once for load tests
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"errcode": code, "errmsg": msg})
}

var (
	jsonContentType = []string{"application/json"}
	okAnswer        = []byte(`{"errcode":0,"errmsg":"ok"}` + "\n")
)

func (s *Server) record(a Answer) {
	if s.CountOnly && a.Errcode == 0 && a.HTTPStatus == http.StatusOK {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, a)
}
