package receiver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/responders"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// Explain explains, with state's configuration, whom an alert with labels
// mentions on the named robot: at is RFC 3339 or empty for now, firingFor
// how long the alert has fired (for escalation steps).
func Explain(state *State, robotName, labels, at string, firingFor time.Duration, resolved bool) (*responders.Explanation, error) {
	robot, ok := state.Config.Robots[robotName]
	if !ok {
		return nil, fmt.Errorf("unknown robot %q", robotName)
	}
	if firingFor < 0 {
		return nil, fmt.Errorf("firing for %s: a negative time would start the alert in the future", firingFor)
	}
	kv, err := responders.ParseLabels(labels)
	if err != nil {
		return nil, err
	}
	when := time.Now()
	if at != "" {
		if when, err = time.Parse(time.RFC3339, at); err != nil {
			return nil, fmt.Errorf("at: %q is not an RFC 3339 time", at)
		}
	}
	status := "firing"
	if resolved {
		status = "resolved"
	}
	e := responders.Explain(state.Config, robot, kv, status, when.Add(-firingFor), when)
	if robot.MsgType == wecom.MsgTypeMarkdown {
		alert := template.Alert{Status: status, Labels: kv, StartsAt: when.Add(-firingFor), Fingerprint: "explain"}
		if resolved {
			alert.EndsAt = when
		}
		data := &template.Data{Receiver: "explain", Status: status, Alerts: template.Alerts{alert},
			GroupLabels: template.KV{}, CommonLabels: kv, CommonAnnotations: template.KV{}}
		e.NotInline = notInline(state, robot, state.prepareAt(robot, data, when))
	}
	return &e, nil
}

// notInline returns the user_ids of p's mentions that the first card of
// robot does not hold inline. Where a user_id stands is the robot's
// template's say, so the card is rendered as a send would; a template
// that cannot render p's alert (it only prints annotations, which explain
// has none of, or a function refuses a label) is rendered over the sample
// notification the configuration check renders, with p's mentions.
func notInline(state *State, robot *config.Robot, p *prepared) []string {
	rendered, err := state.renderPrepared(p, Unlimited)
	if err != nil {
		sample := state.prepare(robot, sampleNotification())
		sample.mentions, sample.mentionAll = p.mentions, p.mentionAll
		sample.data.Responders, sample.data.Mentions, sample.data.InlineMentions = p.data.Responders, p.data.Mentions, p.data.InlineMentions
		if rendered, err = state.renderPrepared(sample, Unlimited); err != nil {
			return nil // NewState rendered the sample: not reached
		}
	}
	userIDs, _ := bottomMentions(robot, rendered.Messages[0].Content(), p.mentions, false)
	return userIDs
}

// ExplainHandler serves GET /api/v1/explain?robot=R&labels=...&at=...&firing_for=...&status=resolved
// with the explanation as JSON.
func ExplainHandler(recv *Receiver) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		state := recv.State()
		if state == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		q := req.URL.Query()
		var firingFor time.Duration
		if f := q.Get("firing_for"); f != "" {
			var err error
			if firingFor, err = time.ParseDuration(f); err != nil {
				http.Error(w, fmt.Sprintf("firing_for: %q is not a duration", f), http.StatusBadRequest)
				return
			}
		}
		status := q.Get("status")
		if status != "" && status != "firing" && status != "resolved" {
			http.Error(w, fmt.Sprintf("status: %q is neither firing nor resolved", status), http.StatusBadRequest)
			return
		}
		e, err := Explain(state, q.Get("robot"), q.Get("labels"), q.Get("at"), firingFor, status == "resolved")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(e)
	})
}
