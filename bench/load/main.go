// Command load measures alertmanager-wecom as users run it: it starts the
// receiver binary against a fake WeCom on loopback and posts Alertmanager
// webhook payloads at it.
//
//	go build -o /tmp/alertmanager-wecom . && go run ./bench/load -bin /tmp/alertmanager-wecom -mode throughput
//	go run ./bench/load -bin /tmp/alertmanager-wecom -mode storm
//
// throughput: the limiter off (rate_limit messages 0), one payload POSTed
// from -connections connections for -duration: notifications/s, latency
// percentiles, the receiver's peak RSS.
// storm: -groups distinct groups on one robot within -spread, WeCom at 20
// messages a minute: 45009 answers, alerts lost, time to delivery.
//
// -lean, -procs and -cpu set up the load side of throughput mode (see the
// README's performance section): -lean=false -procs 0 -cpu -1 is the setup
// of the sessions before the seventh.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alertmanager-wecom/alertmanager-wecom/bench/harness"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

func main() {
	bin := flag.String("bin", "./alertmanager-wecom", "receiver binary to run")
	mode := flag.String("mode", "throughput", "throughput or storm")
	payloadFile := flag.String("payload", "testdata/alertmanager/firing-two-alerts.json", "webhook payload (throughput)")
	conns := flag.Int("connections", 16, "concurrent connections (throughput)")
	duration := flag.Duration("duration", 20*time.Second, "how long to post (throughput)")
	groups := flag.Int("groups", 200, "distinct groups (storm)")
	spread := flag.Duration("spread", 5*time.Second, "time the storm's groups arrive in (storm)")
	lean := flag.Bool("lean", true, "throughput: the fake WeCom reads HTTP itself (wecomtest.LeanServer) rather than through net/http (wecomtest.Server), to leave more of the machine to the receiver; both check every message")
	procs := flag.Int("procs", 1, "throughput: GOMAXPROCS of the load program itself (the receiver's own is left alone); one P costs the load side the least scheduling, which leaves more of a 2-core machine to the receiver; 0 leaves Go's default")
	pin := flag.Int("cpu", 0, "throughput: pin the load program, once the receiver has started (which keeps every CPU), to this CPU, so that its wake-ups land on one core; -1 leaves it to the kernel")
	cpuProfile := flag.String("cpuprofile", "", "write the load program's own CPU profile (load generator and fake WeCom) to this file")
	flag.Parse()
	if *mode == "throughput" && *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	var err error
	switch *mode {
	case "throughput":
		err = throughput(*bin, *payloadFile, *conns, *duration, *lean, *pin)
	case "storm":
		err = storm(*bin, *groups, *spread)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

const key = "bench-key"

// config is the receiver's configuration for the load program.
func config(apiURL, global string) string {
	return fmt.Sprintf(`global:
  api_url: %s
  max_wait: 50s
%s
%srobots:
  bench: {key: %s, mention: {strategy: mapping_table, mapping_table: users}}
`, apiURL, global, harness.Directory, key)
}

func throughput(bin, payloadFile string, conns int, duration time.Duration, lean bool, pinCPU int) error {
	payload, err := os.ReadFile(payloadFile)
	if err != nil {
		return err
	}
	fake, err := newCountingFake(lean)
	if err != nil {
		return err
	}
	defer fake.Close()
	// The same payload again and again: the duplicate window is off, so
	// that every notification is posted.
	r, err := harness.Start(bin, config(fake.APIURL(), "  rate_limit: {messages: 0}\n  dedup_window: 0s"))
	if err != nil {
		return err
	}
	defer r.Stop()
	if pinCPU >= 0 {
		if err := pinTo(pinCPU); err != nil {
			// Not a reason to measure nothing: the figures are the old setup's.
			fmt.Fprintf(os.Stderr, "load: not pinned to CPU %d (%v); measuring unpinned\n", pinCPU, err)
			pinCPU = -1
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var ok, failed atomic.Int64
	latencies := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	cpuStart := r.CPUSeconds()
	start := time.Now()
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var poster *harness.Poster
			for ctx.Err() == nil {
				if poster == nil {
					p, err := harness.NewPoster(r.Addr, r.Path("bench"), payload)
					if err != nil {
						failed.Add(1)
						time.Sleep(10 * time.Millisecond) // not a busy loop while the receiver is down
						continue
					}
					poster = p
				}
				t0 := time.Now()
				status, err := poster.Post(10 * time.Second)
				if err != nil {
					failed.Add(1)
					poster.Close()
					poster = nil
					continue
				}
				latencies[c] = append(latencies[c], time.Since(t0))
				if status == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
			if poster != nil {
				poster.Close()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := r.CPUSeconds() - cpuStart
	all := slices.Concat(latencies...)
	slices.Sort(all)
	harness.Report(map[string]any{
		"mode":                             "throughput",
		"connections":                      conns,
		"load_pinned_to_cpu":               pinCPU,
		"load_procs":                       runtime.GOMAXPROCS(0),
		"lean_fake":                        lean,
		"seconds":                          elapsed.Seconds(),
		"notifications_ok":                 ok.Load(),
		"notifications_failed":             failed.Load(),
		"notifications_per_s":              float64(ok.Load()) / elapsed.Seconds(),
		"wecom_messages":                   fake.Accepted(),
		"wecom_refused":                    fake.Refused(),
		"latency_p50_ms":                   harness.Ms(harness.Percentile(all, 0.50)),
		"latency_p99_ms":                   harness.Ms(harness.Percentile(all, 0.99)),
		"receiver_peak_rss_mib":            r.PeakRSS(),
		"receiver_cpu_us_per_notification": cpu * 1e6 / float64(max(ok.Load(), 1)),
		"receiver_cpu_share_of_2_cores":    cpu / elapsed.Seconds() / 2,
		"messages_per_notification":        float64(fake.Accepted()) / float64(max(ok.Load(), 1)),
	})
	if n := fake.Refused(); n > 0 {
		return fmt.Errorf("the fake WeCom refused %d messages", n)
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d notifications were not acknowledged with 200", n)
	}
	return nil
}

// countingFake is a fake WeCom without a rate limit that counts what it accepted and refused.
type countingFake interface {
	APIURL() string
	Accepted() int64
	Refused() int64
	Close()
}

// newCountingFake starts a wecomtest.LeanServer, or when lean is false
// the net/http wecomtest.Server, which costs the machine more CPU a message.
func newCountingFake(lean bool) (countingFake, error) {
	if lean {
		return wecomtest.NewLeanServer(key)
	}
	fake := wecomtest.NewServer()
	fake.Limit, fake.CountOnly = 0, true
	fake.AddRobot(key)
	return serverCounts{fake}, nil
}

// serverCounts is a wecomtest.Server as a countingFake.
type serverCounts struct{ *wecomtest.Server }

func (s serverCounts) Accepted() int64 { return int64(s.Count()) }

// Refused counts the errcodes and injected failures answered: with
// CountOnly, Server records nothing else. A request net/http itself refused
// (a wrong method) is not counted, but its notification fails.
func (s serverCounts) Refused() int64 { return int64(len(s.Answers())) }

func storm(bin string, groups int, spread time.Duration) error {
	fake := wecomtest.NewServer()
	defer fake.Close()
	fake.AddRobot(key)
	r, err := harness.Start(bin, config(fake.APIURL(), "  rate_limit: {messages: 20, per: 1m}"))
	if err != nil {
		return err
	}
	defer r.Stop()

	client := &http.Client{Timeout: time.Minute}
	type result struct {
		code    int
		latency time.Duration
	}
	results := make([]result, groups)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(spread * time.Duration(i) / time.Duration(groups))
			body := stormPayload(i)
			t0 := time.Now()
			resp, err := client.Post(r.URL("bench"), "application/json", bytes.NewReader(body))
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results[i] = result{code: resp.StatusCode, latency: time.Since(t0)}
		}()
	}
	wg.Wait()

	accepted := fake.AcceptedFor(key)
	var inWeCom strings.Builder
	var last time.Time
	for _, a := range accepted {
		inWeCom.WriteString(a.Message.Content())
		last = a.At
	}
	acked, lost, refused := 0, 0, 0
	var latencies []time.Duration
	for i, res := range results {
		switch res.code {
		case http.StatusOK:
			acked++
			latencies = append(latencies, res.latency)
			if !strings.Contains(inWeCom.String(), stormName(i)) {
				lost++
			}
		default:
			refused++
		}
	}
	slices.Sort(latencies)
	harness.Report(map[string]any{
		"mode":                    "storm",
		"groups":                  groups,
		"spread_s":                spread.Seconds(),
		"acknowledged":            acked,
		"answered_other_than_200": refused,
		"alerts_lost":             lost,
		"wecom_messages":          len(accepted),
		"wecom_45009_answers":     fake.CountErrcode(wecom.ErrcodeRateLimited),
		"last_message_after_s":    last.Sub(start).Seconds(),
		"delivery_p50_ms":         harness.Ms(harness.Percentile(latencies, 0.50)),
		"delivery_p99_ms":         harness.Ms(harness.Percentile(latencies, 0.99)),
		"receiver_peak_rss_mib":   r.PeakRSS(),
	})
	if lost > 0 || acked < groups {
		return fmt.Errorf("%d of %d groups acknowledged, %d acknowledged but lost", acked, groups, lost)
	}
	return nil
}

func stormName(i int) string { return fmt.Sprintf("StormAlert%03d", i) }

func stormPayload(i int) []byte {
	body, _ := json.Marshal(map[string]any{
		"version": "4", "status": "firing", "receiver": "wecom",
		"groupKey": fmt.Sprintf(`{}:{alertname="%s"}`, stormName(i)),
		"alerts": []map[string]any{{
			"status":      "firing",
			"labels":      map[string]string{"alertname": stormName(i), "team": "dba", "severity": "critical", "instance": fmt.Sprintf("host-%d", i)},
			"annotations": map[string]string{"summary": "disk almost full"},
			"startsAt":    time.Now().UTC().Format(time.RFC3339),
			"fingerprint": fmt.Sprintf("%016x", i),
		}},
		"commonLabels": map[string]string{"alertname": stormName(i)},
		"groupLabels":  map[string]string{"alertname": stormName(i)},
	})
	return body
}
