package receiver

import (
	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "alertmanager_wecom"

// metrics are the receiver's counters. Labels hold configured robot names
// only, never a key or a name taken from a request.
type metrics struct {
	notifications *prometheus.CounterVec
	messages      *prometheus.CounterVec
	errcodes      *prometheus.CounterVec
	mentions      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "notifications_total",
			Help:      "Notifications received from Alertmanager, by robot and result (delivered, dry_run, bad_request, failed).",
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
	}
	if reg != nil {
		reg.MustRegister(m.notifications, m.messages, m.errcodes, m.mentions)
	}
	return m
}
