// Package harness runs the receiver binary as a separate process for the
// programs under bench/, and reads what it costs from /proc.
package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Directory is the people, mapping table "users", team and responder
// rules of the bench configurations: Alice has a phone, Bob does not, and
// both are in the table; team="dba" pages both, and an owner label names more.
const Directory = `members:
  - {email: alice@corp.com, name: Alice Zhang, phone: "13800001111"}
  - {email: bob@corp.com, name: Bob Li}
mapping_tables:
  users: {alice@corp.com: alice_wecom, bob@corp.com: bob_wecom}
teams:
  dba: [alice@corp.com, bob@corp.com]
responders:
  - matchers: ['team="dba"']
    teams: [dba]
  - from_label: owner
`

// Receiver is a running receiver process.
type Receiver struct {
	cmd  *exec.Cmd
	Addr string
}

// Start writes config to a temporary folder, runs bin on it on a free
// loopback port, and waits until it is ready.
func Start(bin, config string) (*Receiver, error) {
	dir, err := os.MkdirTemp("", "alertmanager-wecom-bench")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	logs, err := os.Create(filepath.Join(dir, "receiver.log"))
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "receiver log:", logs.Name())
	cmd := exec.Command(bin, "--config.file="+path, "--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &Receiver{cmd: cmd, Addr: addr}
	for range 100 {
		if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil {
			resp.Body.Close()
			return r, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Stop()
	return nil, fmt.Errorf("receiver did not become ready on %s", addr)
}

// Stop kills the process.
func (r *Receiver) Stop() { _ = r.cmd.Process.Kill(); _ = r.cmd.Wait() }

// URL returns the send endpoint of robot.
func (r *Receiver) URL(robot string) string { return "http://" + r.Addr + r.Path(robot) }

// Path returns the path of robot's send endpoint.
func (r *Receiver) Path(robot string) string { return "/robots/" + robot + "/send" }

// status returns a field of /proc/PID/status in KiB.
func (r *Receiver) status(field string) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb)
		}
	}
	return -1
}

// PeakRSS returns the process's peak resident set size in MiB.
func (r *Receiver) PeakRSS() float64 { return r.status("VmHWM") / 1024 }

// RSS returns the process's resident set size now, in MiB.
func (r *Receiver) RSS() float64 { return r.status("VmRSS") / 1024 }

// CPUSeconds returns the CPU time the process used so far (user + system).
func (r *Receiver) CPUSeconds() float64 {
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

var goroutinesRE = regexp.MustCompile(`(?m)^go_goroutines (\d+)`)

// Goroutines returns the receiver's goroutine count from its /metrics.
func (r *Receiver) Goroutines() int {
	resp, err := http.Get("http://" + r.Addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := goroutinesRE.FindSubmatch(b)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// Percentile returns the p-th quantile of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Report prints fields, one a line, sorted by name.
func Report(fields map[string]any) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := fields[k]
		if f, ok := v.(float64); ok {
			v = strconv.FormatFloat(f, 'f', 2, 64)
		}
		fmt.Printf("%-34s %v\n", k, v)
	}
}
