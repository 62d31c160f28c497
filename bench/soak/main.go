// Command soak runs mixed traffic against the receiver binary for a while,
// with a fake WeCom that answers 5xx, times out and answers 45009 now and
// then, and checks that nothing acknowledged was lost and that memory and
// goroutines come back to where they started.
//
//	go build -o /tmp/alertmanager-wecom . && go run ./bench/soak -bin /tmp/alertmanager-wecom -duration 60s
//
// Like Alertmanager, the sender retries a notification answered 5xx, until
// it is acknowledged or -give-up passes. It exits non-zero on a loss, on
// a notification never acknowledged, or on goroutines left behind.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alertmanager-wecom/alertmanager-wecom/bench/harness"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

var robots = []string{"md", "text", "v2", "table"}

func main() {
	bin := flag.String("bin", "./alertmanager-wecom", "receiver binary to run")
	duration := flag.Duration("duration", 60*time.Second, "how long to send")
	rate := flag.Int("rate", 8, "notifications a second, over all robots")
	giveUp := flag.Duration("give-up", 90*time.Second, "how long a sender retries one notification")
	flag.Parse()
	if err := soak(*bin, *duration, *rate, *giveUp); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func config(apiURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global:
  api_url: %s
  timeout: 1s
  max_wait: 5s
  rate_limit: {messages: 20, per: 10s}
%srobots:
  md:    {key: key-md, mention: {mapping_table: users}}
  text:  {key: key-text, msgtype: text, mention: {mapping_table: users}}
  v2:    {key: key-v2, msgtype: markdown_v2, language: zh, mention: {mapping_table: users}}
  table: {key: key-table, overflow: truncate, mention: {strategy: mapping_table, mapping_table: users}}
`, apiURL, harness.Directory)
	return b.String()
}

func soak(bin string, duration time.Duration, rate int, giveUp time.Duration) error {
	fake := wecomtest.NewServer()
	defer fake.Close()
	fake.Window = 10 * time.Second
	for _, r := range robots {
		fake.AddRobot("key-" + r)
	}
	var chaosMu sync.Mutex
	var chaosOn atomic.Bool
	chaos := rand.New(rand.NewPCG(1, 2))
	fake.Chaos = func(string) *wecomtest.Failure {
		if !chaosOn.Load() {
			return nil
		}
		chaosMu.Lock()
		defer chaosMu.Unlock()
		switch p := chaos.Float64(); {
		case p < 0.05:
			return &wecomtest.Failure{HTTPStatus: http.StatusBadGateway}
		case p < 0.08:
			return &wecomtest.Failure{Delay: 1500 * time.Millisecond} // beyond the receiver's timeout
		case p < 0.11:
			return &wecomtest.Failure{Errcode: wecom.ErrcodeRateLimited}
		case p < 0.13:
			return &wecomtest.Failure{Errcode: wecom.ErrcodeBusy}
		}
		return nil
	}

	r, err := harness.Start(bin, config(fake.APIURL()))
	if err != nil {
		return err
	}
	defer r.Stop()
	client := &http.Client{Timeout: 30 * time.Second}
	// Warm up: one notification per robot starts its queue worker and a
	// connection to WeCom, which stay; what grows after that is a leak.
	for i, robot := range robots {
		resp, err := client.Post(r.URL(robot), "application/json", bytes.NewReader(payload(-1-i, "Warmup"+robot)))
		if err != nil {
			return err
		}
		resp.Body.Close()
	}
	chaosOn.Store(true)
	time.Sleep(time.Second)
	startRSS, startGoroutines := r.RSS(), r.Goroutines()

	var sent, acked, retried, abandoned atomic.Int64
	type delivery struct{ robot, name string }
	var mu sync.Mutex
	var delivered []delivery
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	start := time.Now()
	end := start.Add(duration)
	var rssThird float64
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		if rssThird == 0 && time.Since(start) > duration/3 {
			rssThird = r.RSS()
		}
		robot := robots[i%len(robots)]
		name := fmt.Sprintf("Soak%05d", i)
		body := payload(i, name)
		sent.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for deadline := time.Now().Add(giveUp); ; {
				resp, err := client.Post(r.URL(robot), "application/json", bytes.NewReader(body))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						acked.Add(1)
						mu.Lock()
						delivered = append(delivered, delivery{robot, name})
						mu.Unlock()
						return
					}
				}
				if time.Now().After(deadline) {
					abandoned.Add(1)
					return
				}
				retried.Add(1)
				time.Sleep(2 * time.Second) // Alertmanager backs off too
			}
		}()
	}
	tick.Stop()
	wg.Wait()

	inWeCom := map[string]*strings.Builder{}
	for _, robot := range robots {
		inWeCom[robot] = &strings.Builder{}
		for _, m := range fake.AcceptedFor("key-" + robot) {
			inWeCom[robot].WriteString(m.Message.Content())
		}
	}
	lost := 0
	for _, d := range delivered {
		if !strings.Contains(inWeCom[d.robot].String(), d.name) {
			lost++
		}
	}
	time.Sleep(3 * time.Second) // let idle connections and timers settle
	endGoroutines := r.Goroutines()
	harness.Report(map[string]any{
		"duration_s":                duration.Seconds(),
		"notifications_sent":        sent.Load(),
		"notifications_acked":       acked.Load(),
		"retries_after_5xx":         retried.Load(),
		"notifications_abandoned":   abandoned.Load(),
		"acked_but_lost":            lost,
		"wecom_messages_accepted":   len(fake.Accepted()),
		"wecom_answers":             len(fake.Answers()),
		"wecom_45009_answers":       fake.CountErrcode(wecom.ErrcodeRateLimited),
		"receiver_rss_start_mib":    startRSS,
		"receiver_rss_third_mib":    rssThird,
		"receiver_rss_end_mib":      r.RSS(),
		"receiver_peak_rss_mib":     r.PeakRSS(),
		"receiver_goroutines_start": startGoroutines,
		"receiver_goroutines_end":   endGoroutines,
	})
	switch {
	case lost > 0:
		return fmt.Errorf("%d acknowledged notifications are not in WeCom", lost)
	case abandoned.Load() > 0:
		return fmt.Errorf("%d notifications were never acknowledged in %s", abandoned.Load(), giveUp)
	case r.RSS() > 2*rssThird+16:
		return fmt.Errorf("RSS grew from %.1f MiB a third of the way in to %.1f MiB", rssThird, r.RSS())
	case endGoroutines > startGoroutines+2*len(robots):
		// A few more idle keep-alive connections to WeCom may stay.
		return fmt.Errorf("goroutines grew from %d to %d", startGoroutines, endGoroutines)
	}
	return nil
}

func payload(i int, name string) []byte {
	status := "firing"
	if i >= 0 && i%7 == 6 {
		status = "resolved"
	}
	labels := map[string]string{"alertname": name, "instance": fmt.Sprintf("host-%d", i%13), "severity": "critical"}
	switch i % 3 {
	case 0:
		labels["team"] = "dba"
	case 1:
		labels["owner"] = "alice@corp.com,<@ceo>,@all"
	}
	alerts := []map[string]any{}
	for j := range 1 + max(i, 0)%5 {
		l := map[string]string{"job": fmt.Sprintf("job-%d", j)}
		for k, v := range labels {
			l[k] = v
		}
		alerts = append(alerts, map[string]any{
			"status": status, "labels": l,
			"annotations": map[string]string{"summary": strings.Repeat("磁盘快满了 ", 1+max(i, 0)%40), "description": "<@ceo> look"},
			"startsAt":    time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
			"fingerprint": fmt.Sprintf("%08x%08x", i, j),
		})
	}
	body, _ := json.Marshal(map[string]any{
		"version": "4", "status": status, "receiver": "wecom",
		"groupKey":     fmt.Sprintf(`{}:{alertname="%s"}`, name),
		"alerts":       alerts,
		"commonLabels": map[string]string{"alertname": name},
		"groupLabels":  map[string]string{"alertname": name},
	})
	return body
}
