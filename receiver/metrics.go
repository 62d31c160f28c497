package receiver

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

const namespace = "alertmanager_wecom"

// metrics are the receiver's counters. Labels hold configured robot names
// only, never a key or a name taken from a request.
type metrics struct {
	notifications *prometheus.CounterVec
	messages      *prometheus.CounterVec
	errcodes      *prometheus.CounterVec
	mentions      *prometheus.CounterVec
	queueDepth    *prometheus.GaugeVec
	waitSeconds   *prometheus.HistogramVec
	merged        *prometheus.CounterVec
	parts         *prometheus.CounterVec
	truncated     *prometheus.CounterVec
	rateLimited   *prometheus.CounterVec
	retries       *prometheus.CounterVec
	unavailable   *prometheus.CounterVec
	unknownRobot  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "notifications_total",
			Help:      "Notifications received from Alertmanager, by robot and result (delivered, dry_run, bad_request, failed, duplicate, abandoned: Alertmanager stopped waiting first; being sent, the outcome is logged; still queued, it is dropped).",
		}, []string{"robot", "result"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "messages_total",
			Help:      "Messages sent to WeCom, by robot, msgtype and result (accepted, failed).",
		}, []string{"robot", "msgtype", "result"}),
		errcodes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "wecom_errcodes_total",
			Help:      "Non-zero errcodes WeCom answered, by robot and errcode.",
		}, []string{"robot", "errcode"}),
		mentions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "mentions_total",
			Help:      "Responders resolved for mention, by robot, the robot's strategy and outcome (phone, user_id, phone_fallback, user_id_fallback, unresolved, disabled).",
		}, []string{"robot", "strategy", "outcome"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "queue_depth",
			Help:      "Notifications waiting for the robot's rate limit budget (or a retry) before their first message is posted.",
		}, []string{"robot"}),
		waitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "queue_wait_seconds",
			Help:      "How long notifications waited for the robot's budget before their first message was posted, or before they ended unsent (503 at max_wait).",
			Buckets:   []float64{.001, .01, .1, .5, 1, 2.5, 5, 10, 20, 30, 60},
		}, []string{"robot"}),
		merged: counter("notifications_merged_total", "Notifications merged into a digest with others, counted once WeCom accepted the digest's first card."),
		parts:  counter("parts_split_total", "Messages that oversized notifications were split into, counted once a notification is delivered."),
		truncated: counter("alerts_truncated_total",
			"Alerts left out of a message to fit WeCom's byte limit, counted once a notification is delivered."),
		rateLimited: counter("rate_limited_total", "WeCom answers 45009 (api freq out of limit)."),
		retries:     counter("retries_total", "WeCom sends tried again after a transient failure."),
		unavailable: counter("unavailable_total",
			"Notifications answered 503 so that Alertmanager retries them."),
		unknownRobot: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "unknown_robot_requests_total",
			Help:      "Notifications posted for a robot the configuration does not have, answered 404.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.notifications, m.messages, m.errcodes, m.mentions, m.queueDepth, m.waitSeconds,
			m.merged, m.parts, m.truncated, m.rateLimited, m.retries, m.unavailable, m.unknownRobot)
	}
	return m
}

// counter returns a counter by robot.
func counter(name, help string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, []string{"robot"})
}

// initRobots makes the series of cfg's robots exist from the start, at
// zero, so that rate() and alerts on them see their first event; with
// dryRun, the dry_run results too.
func (m *metrics) initRobots(cfg *config.Config, dryRun bool) {
	results := []string{resultDelivered, resultFailed, resultBadRequest, resultDuplicate, resultAbandoned}
	if dryRun {
		results = append(results, resultDryRun)
	}
	for name := range cfg.Robots {
		for _, result := range results {
			m.notifications.WithLabelValues(name, result)
		}
		for _, c := range []*prometheus.CounterVec{m.merged, m.parts, m.truncated, m.rateLimited, m.retries, m.unavailable} {
			c.WithLabelValues(name)
		}
		m.queueDepth.WithLabelValues(name)
		m.waitSeconds.WithLabelValues(name)
		robot := cfg.Robots[name]
		for _, msgtype := range []string{robot.MsgType, wecom.MsgTypeText} { // text: companions
			for _, result := range []string{messageAccepted, messageFailed} {
				m.messages.WithLabelValues(name, msgtype, result)
			}
		}
	}
}
