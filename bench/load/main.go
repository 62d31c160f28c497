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
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	flag.Parse()

	var err error
	switch *mode {
	case "throughput":
		err = throughput(*bin, *payloadFile, *conns, *duration)
	case "storm":
		err = storm(*bin, *groups, *spread)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

const key = "bench-key"

// receiver is a running receiver process.
type receiver struct {
	cmd  *exec.Cmd
	addr string
}

func startReceiver(bin, apiURL, rateLimit string) (*receiver, error) {
	dir, err := os.MkdirTemp("", "load")
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`global:
  api_url: %s
  rate_limit: %s
  max_wait: 50s
members:
  - {email: alice@corp.com, name: Alice Zhang, phone: "13800001111"}
  - {email: bob@corp.com, name: Bob Li, phone: "13900002222"}
mapping_tables:
  users: {alice@corp.com: alice_wecom, bob@corp.com: bob_wecom}
teams:
  dba: [alice@corp.com, bob@corp.com]
responders:
  - matchers: ['team="dba"']
    teams: [dba]
  - from_label: owner
robots:
  bench: {key: %s, mention: {strategy: mapping_table, mapping_table: users}}
`, apiURL, rateLimit, key)
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+path, "--web.listen-address="+addr, "--log.level=error")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &receiver{cmd: cmd, addr: addr}
	for range 100 {
		if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil {
			resp.Body.Close()
			return r, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.stop()
	return nil, fmt.Errorf("receiver did not become ready on %s", addr)
}

func (r *receiver) stop() { _ = r.cmd.Process.Kill(); _ = r.cmd.Wait() }

// peakRSS returns the process's peak resident set size in MiB (VmHWM).
func (r *receiver) peakRSS() float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return -1
}

// cpuSeconds returns the CPU time the process used so far (user + system).
func (r *receiver) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	// The fields after the command name, which is in parentheses.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // clock ticks; 100 a second on Linux
}

func (r *receiver) url() string { return "http://" + r.addr + "/robots/bench/send" }

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func throughput(bin, payloadFile string, conns int, duration time.Duration) error {
	payload, err := os.ReadFile(payloadFile)
	if err != nil {
		return err
	}
	fake := wecomtest.NewServer()
	defer fake.Close()
	fake.Limit, fake.CountOnly = 0, true
	fake.AddRobot(key)
	// The same payload again and again: the duplicate window is off, so
	// that every notification is posted.
	r, err := startReceiver(bin, fake.APIURL(), "{messages: 0}\n  dedup_window: 0s")
	if err != nil {
		return err
	}
	defer r.stop()

	transport := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var ok, failed atomic.Int64
	latencies := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	cpuStart := r.cpuSeconds()
	start := time.Now()
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				resp, err := client.Post(r.url(), "application/json", bytes.NewReader(payload))
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				latencies[c] = append(latencies[c], time.Since(t0))
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := r.cpuSeconds() - cpuStart
	all := slices.Concat(latencies...)
	slices.Sort(all)
	report(map[string]any{
		"mode":                             "throughput",
		"connections":                      conns,
		"seconds":                          elapsed.Seconds(),
		"notifications_ok":                 ok.Load(),
		"notifications_failed":             failed.Load(),
		"notifications_per_s":              float64(ok.Load()) / elapsed.Seconds(),
		"wecom_messages":                   fake.Count(),
		"latency_p50_ms":                   ms(percentile(all, 0.50)),
		"latency_p99_ms":                   ms(percentile(all, 0.99)),
		"receiver_peak_rss_mib":            r.peakRSS(),
		"receiver_cpu_us_per_notification": cpu * 1e6 / float64(max(ok.Load(), 1)),
		"receiver_cpu_share_of_2_cores":    cpu / elapsed.Seconds() / 2,
		"messages_per_notification":        float64(fake.Count()) / float64(max(ok.Load(), 1)),
	})
	return nil
}

func storm(bin string, groups int, spread time.Duration) error {
	fake := wecomtest.NewServer()
	defer fake.Close()
	fake.AddRobot(key)
	r, err := startReceiver(bin, fake.APIURL(), "{messages: 20, per: 1m}")
	if err != nil {
		return err
	}
	defer r.stop()

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
			resp, err := client.Post(r.url(), "application/json", bytes.NewReader(body))
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
	report(map[string]any{
		"mode":                    "storm",
		"groups":                  groups,
		"spread_s":                spread.Seconds(),
		"acknowledged":            acked,
		"answered_other_than_200": refused,
		"alerts_lost":             lost,
		"wecom_messages":          len(accepted),
		"wecom_45009_answers":     fake.CountErrcode(wecom.ErrcodeRateLimited),
		"last_message_after_s":    last.Sub(start).Seconds(),
		"delivery_p50_ms":         ms(percentile(latencies, 0.50)),
		"delivery_p99_ms":         ms(percentile(latencies, 0.99)),
		"receiver_peak_rss_mib":   r.peakRSS(),
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

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func report(fields map[string]any) {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		v := fields[k]
		if f, ok := v.(float64); ok {
			v = strconv.FormatFloat(f, 'f', 2, 64)
		}
		fmt.Printf("%-28s %v\n", k, v)
	}
}
