package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	promconfig "github.com/prometheus/common/config"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/receiver"
	"github.com/alertmanager-wecom/alertmanager-wecom/responders"
)

// checkConfig validates a configuration file, templates included, and
// prints what each robot will do; it never prints a key.
func checkConfig(stdout, stderr io.Writer, path string) int {
	state, err := receiver.LoadState(path)
	if err != nil {
		fmt.Fprintf(stderr, "FAILED: %v\n", err)
		return 1
	}
	cfg := state.Config
	fmt.Fprintf(stdout, "SUCCESS: %s is valid: %d members, %d teams, %d mapping tables, %d responder rules, %d robots\n",
		path, len(cfg.Members), len(cfg.Teams), len(cfg.MappingTables), len(cfg.Responders), len(cfg.Robots))
	for _, name := range slices.Sorted(maps.Keys(cfg.Robots)) {
		robot := cfg.Robots[name]
		limit := cfg.Limit(robot)
		mention := "off"
		if robot.MentionEnabled() {
			mention = robot.Mention.Strategy
			if robot.Mention.MappingTable != "" {
				mention += ", mapping table " + robot.Mention.MappingTable
			}
			if robot.Mention.OnResolved {
				mention += ", also on resolved"
			}
		}
		rate := "unlimited"
		switch {
		case limit.Messages == 1:
			rate = fmt.Sprintf("1 message per %s", limit.Per)
		case limit.Messages > 0:
			rate = fmt.Sprintf("%d messages per %s", limit.Messages, limit.Per)
		}
		overflow := robot.Overflow
		if overflow == "" {
			overflow = "split when the budget allows, else truncate"
		}
		fmt.Fprintf(stdout, "robot %s: POST /robots/%s/send -> %s (%s), mentions: %s; rate limit: %s; overflow: %s\n",
			name, name, robot.MsgType, robot.Language, mention, rate, overflow)
		for _, m := range responders.Unreachable(cfg, robot) {
			fmt.Fprintf(stdout, "  WARNING: cannot mention %s: %s\n", m.Email, m.Reason)
		}
	}
	return 0
}

// renderPayloadFile prints the exact WeCom requests robot would send for a
// webhook payload, in order, and how each responder is mentioned.
func renderPayloadFile(stdout, stderr io.Writer, configFile, robotName, payloadFile string) int {
	state, err := receiver.LoadState(configFile)
	if err != nil {
		fmt.Fprintf(stderr, "FAILED: %v\n", err)
		return 1
	}
	robot, ok := state.Config.Robots[robotName]
	if !ok {
		fmt.Fprintf(stderr, "FAILED: unknown robot %q\n", robotName)
		return 1
	}
	raw, err := os.ReadFile(payloadFile)
	if err != nil {
		fmt.Fprintf(stderr, "FAILED: %v\n", err)
		return 1
	}
	n, err := receiver.DecodeNotification(raw)
	if err != nil {
		fmt.Fprintf(stderr, "FAILED: %s: %v\n", payloadFile, err)
		return 1
	}
	// As a send by a robot whose rate limit window is fresh: its budget
	// decides whether content over WeCom's limit is split or truncated.
	limit, budget := state.Config.Limit(robot), receiver.Unlimited
	if limit.Messages > 0 {
		budget = limit.Messages
	}
	rendered, err := state.Render(robot, n, budget)
	if err != nil {
		fmt.Fprintf(stderr, "FAILED: %v\n", err)
		return 1
	}
	if rendered.Parts > 1 || rendered.OmittedAlerts > 0 {
		fmt.Fprintf(stdout, "# over WeCom's byte limit: %d part(s), %d alert(s) left out, as sent with the whole rate limit (%d messages a %s) left; with less left, truncated sooner\n\n",
			rendered.Parts, rendered.OmittedAlerts, limit.Messages, limit.Per)
	}
	for i, m := range rendered.Messages {
		fmt.Fprintf(stdout, "# request %d of %d: POST <webhook of robot %s>\n", i+1, len(rendered.Messages), robotName)
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(m)
		fmt.Fprintln(stdout)
	}
	fmt.Fprintln(stdout, "# responders")
	if len(rendered.Mentions) == 0 && !rendered.MentionAll {
		fmt.Fprintln(stdout, "(none)")
	}
	// Where each mention went, read from the messages themselves.
	first, bottom := rendered.Messages[0].Content(), "bottom"
	if robot.MsgType != config.MsgTypeText {
		bottom = "bottom of the companion text"
	}
	for _, m := range rendered.Mentions {
		var how string
		switch {
		case m.UserID != "" && strings.Contains(first, "<@"+m.UserID+">"):
			how = "user_id " + m.UserID + " (inline)"
		case m.UserID != "":
			how = "user_id " + m.UserID + " (" + bottom + ", mentioned_list)"
		case m.Phone != "":
			how = "phone " + m.Phone + " (" + bottom + ", mentioned_mobile_list)"
		default:
			how = "not mentioned: " + m.Reason
		}
		fmt.Fprintf(stdout, "%s: %s [%s]\n", m.Responder, how, strings.ReplaceAll(m.Outcome, "_", " "))
	}
	if rendered.MentionAll {
		fmt.Fprintf(stdout, "@all: %s, mentioned_list\n", bottom)
	}
	return 0
}

// healthcheck asks url, or when it is empty the receiver at the first of
// listen, whether the receiver is healthy: exit 0 when it answers 200, 1
// otherwise. httpConfigFile, if set, is a Prometheus HTTP client
// configuration (basic auth, TLS); with TLS in it, the default URL is https.
func healthcheck(stderr io.Writer, url, httpConfigFile string, listen []string) int {
	client, tls, err := healthClient(httpConfigFile)
	if err != nil {
		fmt.Fprintf(stderr, "FAILED: %v\n", err)
		return 1
	}
	if url == "" {
		scheme := "http"
		if tls {
			scheme = "https"
		}
		url = defaultHealthURL(scheme, listen)
	}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintf(stderr, "unhealthy: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The URL as Go's client errors show it: without a password.
		fmt.Fprintf(stderr, "unhealthy: %s answered %d\n", resp.Request.URL.Redacted(), resp.StatusCode)
		return 1
	}
	return 0
}

// healthClient is the HTTP client of healthcheck: a plain one, or the one
// a Prometheus HTTP client configuration file describes, and whether that
// configuration sets up TLS.
func healthClient(httpConfigFile string) (*http.Client, bool, error) {
	if httpConfigFile == "" {
		return &http.Client{Timeout: 5 * time.Second}, false, nil
	}
	cfg, _, err := promconfig.LoadHTTPConfigFile(httpConfigFile)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", httpConfigFile, err)
	}
	client, err := promconfig.NewClientFromConfig(*cfg, name)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", httpConfigFile, err)
	}
	client.Timeout = 5 * time.Second
	return client, cfg.TLSConfig != (promconfig.TLSConfig{}), nil
}

// explainCommand prints who an alert mentions on a robot, and why.
func explainCommand(stdout, stderr io.Writer, configFile, robotName, labels, at string, firingFor time.Duration, resolved bool) int {
	state, err := receiver.LoadState(configFile)
	if err != nil {
		fmt.Fprintf(stderr, "FAILED: %v\n", err)
		return 1
	}
	e, err := receiver.Explain(state, robotName, labels, at, firingFor, resolved)
	if err != nil {
		fmt.Fprintf(stderr, "FAILED: %v\n", err)
		return 1
	}
	e.WriteText(stdout)
	return 0
}
