// Package receiver takes Alertmanager's webhook notifications over HTTP and
// delivers them to WeCom group robots, answering Alertmanager honestly: 2xx
// only once WeCom accepted every message, 5xx for what a retry can fix, 4xx
// for a bad request.
package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/responders"
	"github.com/alertmanager-wecom/alertmanager-wecom/templates"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// DefaultMaxRequestBytes bounds a notification body unless configured
// otherwise: a group of some 30,000 alerts of a kilobyte each fits. A body
// over it is answered 413, which Alertmanager does not retry, so the bound
// is well above what Alertmanager sends (see the README on max_alerts).
const DefaultMaxRequestBytes = 32 << 20

// State is one complete, validated configuration with its templates. It is
// never modified once built, so a reload swaps in a new one and requests in
// flight finish on the one they started with.
type State struct {
	Config    *config.Config
	Templates *templates.Templates
	client    *wecom.Client
}

// NewState loads cfg's templates and checks that every robot's message
// renders, so that a bad template is refused at load rather than at the
// first alert.
func NewState(cfg *config.Config) (*State, error) {
	tmpl, err := templates.Load(cfg.Templates)
	if err != nil {
		return nil, fmt.Errorf("load templates: %w", err)
	}
	s := &State{
		Config:    cfg,
		Templates: tmpl,
		client:    wecom.NewClient(time.Duration(cfg.Global.Timeout)),
	}
	sample := sampleNotification()
	for _, name := range slices.Sorted(maps.Keys(cfg.Robots)) {
		robot := cfg.Robots[name]
		if _, err := s.Render(robot, &Notification{Data: *sample}, Unlimited); err != nil {
			return nil, fmt.Errorf("%w (rendered for a sample notification: alert ConfigCheck, firing and resolved)", err)
		}
		p := s.prepare(robot, sample)
		if _, err := s.digest(robot, []*prepared{p, p}, Unlimited); err != nil {
			return nil, err
		}
		// The sample mentions nobody, so Render made no companion; only a
		// robot that mentions, in a card that cannot, ever sends one.
		if robot.MsgType == config.MsgTypeText || !robot.MentionEnabled() {
			continue
		}
		if _, err := s.companionText(p); err != nil {
			return nil, fmt.Errorf("render mention message of robot %s: %w (rendered for a sample notification: alert ConfigCheck, firing and resolved)", name, err)
		}
	}
	return s, nil
}

// sampleNotification is a firing and a resolved alert, for checking templates.
func sampleNotification() *template.Data {
	now := time.Now()
	return &template.Data{
		Receiver: "wecom",
		Status:   "firing",
		Alerts: template.Alerts{
			{Status: "firing", Labels: template.KV{"alertname": "ConfigCheck", "severity": "critical", "instance": "host-1:9100", "job": "node"},
				Annotations: template.KV{"summary": "configuration check"}, StartsAt: now, Fingerprint: "0"},
			{Status: "resolved", Labels: template.KV{"alertname": "ConfigCheck", "severity": "warning"},
				StartsAt: now.Add(-time.Hour), EndsAt: now, Fingerprint: "1"},
		},
		GroupLabels:       template.KV{"alertname": "ConfigCheck"},
		CommonLabels:      template.KV{"alertname": "ConfigCheck"},
		CommonAnnotations: template.KV{},
		ExternalURL:       "http://alertmanager.invalid",
	}
}

// Options configure a Receiver.
type Options struct {
	Logger *slog.Logger
	// Registerer takes the receiver's metrics; nil registers none.
	Registerer prometheus.Registerer
	// DryRun logs the WeCom messages instead of sending them.
	DryRun bool
	// MaxRequestBytes bounds a request body; 0 means DefaultMaxRequestBytes.
	MaxRequestBytes int64
}

// Receiver serves POST /robots/{robot}/send.
type Receiver struct {
	state   atomic.Pointer[State]
	logger  *slog.Logger
	metrics *metrics
	dryRun  bool
	maxBody int64
	now     func() time.Time
	dedup   *dedup
	// unmentionable remembers the responders already warned about.
	unmentionable seenSet

	// queues holds a queue per webhook URL (a secret: never printed) while
	// it is in use or remembers sends; queueIdle is how long an idle one
	// outlives its rate limit window.
	queuesMu  sync.Mutex
	queues    map[string]*robotQueue
	queueIdle time.Duration
	// closing is closed by Shutdown: nothing waits for budget any more.
	closing   chan struct{}
	closeOnce sync.Once
}

// New returns a receiver serving state; with a nil state it answers 503
// until SetState.
func New(state *State, opts Options) *Receiver {
	r := &Receiver{
		logger:    opts.Logger,
		metrics:   newMetrics(opts.Registerer),
		dryRun:    opts.DryRun,
		maxBody:   opts.MaxRequestBytes,
		now:       time.Now,
		dedup:     newDedup(),
		queues:    map[string]*robotQueue{},
		queueIdle: defaultQueueIdle,
		closing:   make(chan struct{}),
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.maxBody <= 0 {
		r.maxBody = DefaultMaxRequestBytes
	}
	if state != nil {
		r.SetState(state)
	}
	return r
}

// Ready reports whether a configuration is loaded.
func (r *Receiver) Ready() bool { return r.state.Load() != nil }

// State returns the state requests are served with now, nil before one is loaded.
func (r *Receiver) State() *State { return r.state.Load() }

// SetState makes later requests use s; requests in flight keep theirs.
// The previous state's idle connections to WeCom are closed.
func (r *Receiver) SetState(s *State) {
	r.metrics.initRobots(s.Config, r.dryRun)
	r.unmentionable.forget()
	if old := r.state.Swap(s); old != nil && old != s {
		old.client.CloseIdleConnections()
	}
}

// Register adds the receiver's routes to mux: POST /robots/{robot}/send
// (the mux answers other methods 405 with an Allow header).
func (r *Receiver) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /robots/{robot}/send", r.serveSend)
}

// Notification results, the result label of notifications_total.
const (
	resultDelivered  = "delivered"
	resultDryRun     = "dry_run"
	resultBadRequest = "bad_request"
	resultFailed     = "failed"
	resultDuplicate  = "duplicate"
	// resultAbandoned: Alertmanager stopped waiting (its webhook timeout)
	// before the outcome: one being sent has it logged when it comes, one
	// still in the queue is dropped.
	resultAbandoned = "abandoned"
)

func (r *Receiver) serveSend(w http.ResponseWriter, req *http.Request) {
	state := r.state.Load()
	if state == nil {
		http.Error(w, "not ready: no configuration loaded", http.StatusServiceUnavailable)
		return
	}
	name := req.PathValue("robot")
	robot, ok := state.Config.Robots[name]
	if !ok {
		// Loud: Alertmanager gives the notification up until the group's
		// next flush, and nothing else of this receiver would tell.
		r.metrics.unknownRobot.Inc()
		name = shownRobotName(name)
		r.logger.Warn("Refused notification for an unknown robot: Alertmanager's webhook URL names a robot the configuration does not have", "robot", name)
		http.Error(w, fmt.Sprintf("unknown robot %q", name), http.StatusNotFound)
		return
	}
	token := bearerToken(req)
	webhookURL, ok := robot.WebhookURLFor(token)
	if !ok {
		r.metrics.notifications.WithLabelValues(name, resultBadRequest).Inc()
		why := "the request has none"
		if token != "" {
			// Never echoed: it may be a key.
			why = "its token is not a robot key: give only the key, what follows ?key= in the webhook URL"
		}
		http.Error(w, fmt.Sprintf("robot %s takes its key from the request's Authorization: Bearer header, and %s", name, why), http.StatusUnauthorized)
		return
	}

	n, status, err := r.decode(w, req)
	if err != nil {
		r.metrics.notifications.WithLabelValues(name, resultBadRequest).Inc()
		r.logger.Warn("Refused notification", "robot", name, "status", status, "err", err)
		http.Error(w, err.Error(), status)
		return
	}
	// The attributes every log line of the notification carries; built once
	// here, formatted only by the lines that are written.
	logAttrs := []any{"robot", name, "group_key", n.GroupKey, "status", n.Status, "alerts", len(n.Alerts)}
	if n.TruncatedAlerts > 0 {
		logAttrs = append(logAttrs, "truncated_alerts", n.TruncatedAlerts)
	}

	p := state.prepareNotification(robot, n)
	r.recordMentions(logAttrs, robot, p.mentions)
	if r.dryRun {
		r.dryRunLog(w, logAttrs, state, p)
		return
	}
	maxWait := time.Duration(state.Config.Global.MaxWait)
	duplicate, err := r.deliverNotification(req.Context(), state, webhookURL, n, p, r.now().Add(maxWait))
	if duplicate {
		r.metrics.notifications.WithLabelValues(name, resultDuplicate).Inc()
		r.logger.Info("Notification already delivered; acknowledged without posting again", logAttrs...)
		w.WriteHeader(http.StatusOK)
		return
	}
	if what := afterAlertmanagerLeft(req, err); what != "" {
		// Nobody to answer.
		r.metrics.notifications.WithLabelValues(name, resultAbandoned).Inc()
		r.logger.Warn("Alertmanager stopped waiting for the notification (its webhook timeout); "+what, logAttrs...)
		return
	}
	if err != nil {
		r.metrics.notifications.WithLabelValues(name, resultFailed).Inc()
		r.logger.Error("WeCom did not accept the notification", withAttrs(logAttrs, "err", err)...)
		status := deliveryStatus(err)
		if status == http.StatusServiceUnavailable {
			r.metrics.unavailable.WithLabelValues(name).Inc()
			w.Header().Set("Retry-After", retryAfter(maxWait))
		}
		http.Error(w, fmt.Sprintf("robot %s: %v", name, err), status)
		return
	}
	r.metrics.notifications.WithLabelValues(name, resultDelivered).Inc()
	r.logger.Debug("Delivered notification", logAttrs...)
	w.WriteHeader(http.StatusOK)
}

// keyShaped matches a WeCom robot key (a UUID), which an Alertmanager
// webhook URL may hold by mistake where the robot's name goes:
// /robots/<key>/send.
var keyShaped = regexp.MustCompile(`(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// shownRobotName is an unknown robot's name as logs and answers show it:
// not at all when it looks like a robot key.
func shownRobotName(name string) string {
	if keyShaped.MatchString(name) {
		return "<a robot key, not shown>"
	}
	return name
}

// afterAlertmanagerLeft says what becomes of a notification whose request
// Alertmanager gave up on, when submit's err tells (errDropped,
// errAbandoned), or "" when the outcome is known or somebody still waits
// for it.
func afterAlertmanagerLeft(req *http.Request, err error) string {
	switch {
	case req.Context().Err() == nil:
		return ""
	case errors.Is(err, errDropped):
		return "it was not sent yet; it is dropped, and Alertmanager's next try sends it"
	case errors.Is(err, errAbandoned):
		return "the delivery goes on, and its outcome is logged when it comes"
	}
	return ""
}

// retryAfter is the Retry-After of a 503: max_wait in whole seconds,
// rounded up, at least one.
func retryAfter(maxWait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(maxWait.Seconds()))))
}

// withAttrs returns log attributes base followed by more, leaving base as it was.
func withAttrs(base []any, more ...any) []any {
	return append(base[:len(base):len(base)], more...)
}

// bearerToken returns the token of an Authorization: Bearer header, or "".
func bearerToken(req *http.Request) string {
	scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// dryRunLog renders a notification and logs the messages instead of sending.
func (r *Receiver) dryRunLog(w http.ResponseWriter, logAttrs []any, state *State, p *prepared) {
	logger := r.logger.With(logAttrs...)
	rendered, err := state.renderPrepared(p, Unlimited)
	if err != nil {
		r.metrics.notifications.WithLabelValues(p.robot.Name, resultFailed).Inc()
		logger.Error("Cannot render notification", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	r.recordRender(p.robot.Name, rendered)
	for i, m := range rendered.Messages {
		var body strings.Builder
		enc := json.NewEncoder(&body)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(m)
		logger.Info("Dry run: would send WeCom message", "part", i+1, "of", len(rendered.Messages), "message", strings.TrimSpace(body.String()))
	}
	r.metrics.notifications.WithLabelValues(p.robot.Name, resultDryRun).Inc()
	w.WriteHeader(http.StatusOK)
}

// decode reads a notification, answering with the HTTP status of what is
// wrong with the request.
func (r *Receiver) decode(w http.ResponseWriter, req *http.Request) (*Notification, int, error) {
	buf := bodies.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBody {
			bodies.Put(buf)
		}
	}()
	buf.Reset()
	if req.ContentLength > 0 && req.ContentLength <= r.maxBody {
		buf.Grow(int(min(req.ContentLength, maxPooledBody)) + 1) // +1: ReadFrom stops at EOF without growing; never more than a pooled buffer on a client's word
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, req.Body, r.maxBody))
	body := buf.Bytes()
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body is over %d bytes", tooLarge.Limit)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("read request body: %w", err)
	}
	n, err := DecodeNotification(body)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	return n, 0, nil
}

// DecodeNotification decodes an Alertmanager webhook body (version 4) and
// checks it is one the receiver can deliver: at least one alert, each
// firing or resolved. The server and the render command both use it, so
// that a preview refuses what the server refuses.
func DecodeNotification(body []byte) (*Notification, error) {
	var n Notification
	if err := decodePayload(body, &n); err != nil {
		return nil, fmt.Errorf("decode Alertmanager webhook payload: %w", err)
	}
	switch {
	case n.Version != "4":
		return nil, fmt.Errorf("unsupported webhook payload version %q, want \"4\"", n.Version)
	case len(n.Alerts) == 0:
		return nil, errors.New("payload has no alerts")
	}
	for i, a := range n.Alerts {
		if a.Status != "firing" && a.Status != "resolved" {
			return nil, fmt.Errorf("alerts[%d]: unknown status %q", i, a.Status)
		}
	}
	return &n, nil
}

// bodies are request body buffers, reused: decoding copies what it keeps.
// A buffer grown past maxPooledBody by a rare huge group is left to the GC.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBody = 64 << 10

// deliveryStatus is the answer to Alertmanager for a delivery failure: 503
// when trying again later may succeed, 502 when WeCom refused for good, 500
// when the robot's template cannot render the notification (both still
// deserve Alertmanager's retries, which succeed once the robot or the
// template is fixed, and its failure metrics, never a 4xx that would drop
// the notification silently).
func deliveryStatus(err error) int {
	if _, ok := errors.AsType[*templateError](err); ok {
		return http.StatusInternalServerError
	}
	if wecom.Retryable(err) {
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

// recordRender counts parts split and alerts left out.
func (r *Receiver) recordRender(robot string, rendered *Rendered) {
	if rendered.Parts > 1 {
		r.metrics.parts.WithLabelValues(robot).Add(float64(rendered.Parts))
	}
	if rendered.OmittedAlerts > 0 {
		r.metrics.truncated.WithLabelValues(robot).Add(float64(rendered.OmittedAlerts))
		r.logger.Warn("Alerts left out to fit WeCom's size limit", "robot", robot, "omitted", rendered.OmittedAlerts)
	}
}

// Message results, the result label of messages_total.
const (
	messageAccepted = "accepted"
	messageFailed   = "failed"
)

// recordSend counts a message sent to WeCom, and the errcode it failed with.
func (r *Receiver) recordSend(robot, msgtype string, err error) {
	result := messageAccepted
	if err != nil {
		result = messageFailed
		var apiErr *wecom.APIError
		if errors.As(err, &apiErr) {
			r.metrics.errcodes.WithLabelValues(robot, strconv.Itoa(apiErr.Code)).Inc()
		}
	}
	r.metrics.messages.WithLabelValues(robot, msgtype, result).Inc()
}

// recordMentions counts how each responder was resolved and logs anyone who
// cannot be mentioned, with the reason: a warning the first time, debug
// after that, so that a storm does not flood the log with one line per
// notification.
func (r *Receiver) recordMentions(logAttrs []any, robot *config.Robot, mentions []responders.Mention) {
	for _, m := range mentions {
		r.metrics.mentions.WithLabelValues(robot.Name, robot.Mention.Strategy, m.Outcome).Inc()
		if m.Outcome == responders.OutcomeUnresolved {
			level := slog.LevelDebug
			if r.unmentionable.first(robot.Name + "\x00" + m.Name + "\x00" + m.Reason) {
				level = slog.LevelWarn
			}
			r.logger.Log(context.Background(), level, "Responder cannot be mentioned", withAttrs(logAttrs, "responder", m.Name, "email", m.Email, "reason", m.Reason)...)
		}
	}
}

// seenSet remembers strings, up to a bound: past it, it forgets them all
// and starts again (the strings may come from alert labels).
type seenSet struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

// maxSeen bounds a seenSet.
const maxSeen = 1000

// first reports whether s was not seen since the set last forgot, and
// remembers it.
func (s *seenSet) first(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[key]; ok {
		return false
	}
	if s.seen == nil || len(s.seen) >= maxSeen {
		s.seen = map[string]struct{}{}
	}
	s.seen[key] = struct{}{}
	return true
}

// forget forgets every string: after a reload, what cannot be mentioned
// is worth a warning again.
func (s *seenSet) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = nil
}
