// Package e2e runs the receiver binary as users do, behind a real
// Alertmanager fed by amtool, against the fake WeCom.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/alertmanager-wecom/alertmanager-wecom/internal/syncbuf"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

// The keys of the robots in examples/config.yml.
const (
	opsKey = "REPLACE-WITH-ROBOT-KEY"
	dbaKey = "REPLACE-WITH-DBA-ROBOT-KEY"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "alertmanager-wecom")
	build := exec.Command("go", "build", "-o", binary, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build receiver:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lookTool finds an Alertmanager binary; without one the test fails in CI
// and is skipped elsewhere, saying how to install it.
func lookTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := fmt.Sprintf("%s not found: install Debian's prometheus-alertmanager (scripts/install-alertmanager.sh, run by make test)", names[0])
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// process is a program started for a test, its output kept for failures.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
}

func start(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{name: filepath.Base(name), cmd: exec.Command(name, args...), out: &syncbuf.Buffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("output of %s:\n%s", p.name, p.out)
		}
	})
	return p
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready in 30 s", url)
}

// setup runs the fake WeCom, the receiver on examples/config.yml (only its
// api_url pointed at the fake) and Alertmanager on examples/alertmanager.yml
// (its webhooks pointed at the receiver, its group waits shortened).
func setup(t *testing.T, edits ...func(fake *wecomtest.Server, cfg []byte) []byte) (fake *wecomtest.Server, receiverAddr, amURL string) {
	t.Helper()
	return setupWith(t, nil, edits...)
}

// setupWith is setup with Alertmanager's configuration also changed by
// amEdit, when not nil, after its webhooks and group waits are set.
func setupWith(t *testing.T, amEdit func(cfg map[string]any), edits ...func(fake *wecomtest.Server, cfg []byte) []byte) (fake *wecomtest.Server, receiverAddr, amURL string) {
	t.Helper()
	alertmanager := lookTool(t, "prometheus-alertmanager", "alertmanager")
	amtool := lookTool(t, "amtool")
	dir := t.TempDir()

	fake = wecomtest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddRobot(opsKey)
	fake.AddRobot(dbaKey)

	example, err := os.ReadFile("../examples/config.yml")
	if err != nil {
		t.Fatal(err)
	}
	apiURL := regexp.MustCompile(`(?m)^  api_url: \S+`)
	if !apiURL.Match(example) {
		t.Fatal("examples/config.yml has no global api_url line to point at the fake WeCom")
	}
	cfg := apiURL.ReplaceAll(example, []byte("  api_url: "+fake.APIURL()))
	for _, edit := range edits {
		cfg = edit(fake, cfg)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	receiverAddr = freeAddr(t)
	start(t, binary, "--config.file="+filepath.Join(dir, "config.yml"), "--web.listen-address="+receiverAddr, "--log.level=debug")
	waitReady(t, "http://"+receiverAddr+"/-/ready")

	amConfig := alertmanagerConfig(t, receiverAddr, amEdit)
	amFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(amFile, amConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(amtool, "check-config", "../examples/alertmanager.yml").CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config examples/alertmanager.yml: %v\n%s", err, out)
	}
	amURL = startAlertmanager(t, alertmanager, amFile, filepath.Join(dir, "data"))

	addDiskFull(t, amURL)
	return fake, receiverAddr, amURL
}

// diskFullStart is when the example alert started: the same for every
// Alertmanager it is sent to, as Prometheus sends it.
var diskFullStart = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)

// addDiskFull sends the example alert to the Alertmanager at amURL with amtool.
func addDiskFull(t *testing.T, amURL string) {
	t.Helper()
	out, err := exec.Command(lookTool(t, "amtool"), "alert", "add", "alertname=DiskFull", "team=dba", "severity=critical", "instance=db-1",
		"--annotation=summary=disk 95% full", "--start="+diskFullStart, "--alertmanager.url="+amURL).CombinedOutput()
	if err != nil {
		t.Fatalf("amtool alert add: %v\n%s", err, out)
	}
}

// startAlertmanager runs Alertmanager on config, alone (no cluster), and
// returns its URL once it is ready.
func startAlertmanager(t *testing.T, alertmanager, config, storage string) string {
	t.Helper()
	addr := freeAddr(t)
	start(t, alertmanager, "--config.file="+config, "--storage.path="+storage,
		"--web.listen-address="+addr, "--cluster.listen-address=")
	url := "http://" + addr
	waitReady(t, url+"/-/ready")
	return url
}

// alertmanagerConfig is examples/alertmanager.yml with its webhook URLs on
// the receiver's address and group_wait and group_interval of 1 s, then
// changed by edit when not nil.
func alertmanagerConfig(t *testing.T, receiverAddr string, edit func(cfg map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile("../examples/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.ReplaceAll(raw, []byte("localhost:9096"), []byte(receiverAddr))
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	route := cfg["route"].(map[string]any)
	route["group_wait"], route["group_interval"] = "1s", "1s"
	if edit != nil {
		edit(cfg)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(receiverAddr)) {
		t.Fatal("examples/alertmanager.yml does not post to localhost:9096")
	}
	return out
}

// waitMessages polls the fake until robot key got at least n messages.
func waitMessages(t *testing.T, fake *wecomtest.Server, key string, n int) []wecomtest.Received {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if got := fake.AcceptedFor(key); len(got) >= n {
			time.Sleep(500 * time.Millisecond) // anything more would show now
			return fake.AcceptedFor(key)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("robot %s got %d messages in 60 s, want %d", key[:3], len(fake.AcceptedFor(key)), n)
	return nil
}

func TestAlertReachesWeComWithMentions(t *testing.T) {
	fake, receiverAddr, _ := setup(t)

	ops := waitMessages(t, fake, opsKey, 2)
	if len(ops) != 2 {
		t.Fatalf("ops robot got %d messages, want a card and its companion", len(ops))
	}
	if ops[0].Message.MsgType != "markdown" || !strings.Contains(ops[0].Message.Content(), "DiskFull") {
		t.Errorf("ops card is not a markdown card about DiskFull: %+v", ops[0].Message)
	}
	if text := ops[1].Message.Text; text == nil || !slices.Equal(text.MentionedMobileList, []string{"13800001111", "13900002222"}) {
		t.Errorf("ops companion does not mention Alice and Bob by phone: %+v", ops[1].Message)
	}

	dba := waitMessages(t, fake, dbaKey, 1)
	if len(dba) != 1 {
		t.Fatalf("dba robot got %d messages, want one card", len(dba))
	}
	content := dba[0].Message.Content()
	for _, want := range []string{"DiskFull", "<@alice_wecom>", "<@bob_wecom>"} {
		if !strings.Contains(content, want) {
			t.Errorf("dba card lacks %s:\n%s", want, content)
		}
	}

	metrics := get(t, "http://"+receiverAddr+"/metrics")
	if !regexp.MustCompile(`alertmanager_wecom_notifications_total\{result="delivered",robot="ops"\} [1-9]`).MatchString(metrics) {
		t.Errorf("metrics do not count the delivery:\n%s", grep(metrics, "notifications_total"))
	}
	for _, key := range []string{opsKey, dbaKey} {
		if strings.Contains(metrics, key) {
			t.Errorf("metrics reveal robot key %s", key)
		}
	}
}

func TestAlertmanagerRetriesWhenWeComFails(t *testing.T) {
	// WeCom answers 502 to the receiver's every try within a shortened
	// max_wait, so the receiver answers 503 and Alertmanager must retry.
	fake, receiverAddr, _ := setup(t, func(fake *wecomtest.Server, cfg []byte) []byte {
		fake.Inject(opsKey, slices.Repeat([]wecomtest.Failure{{HTTPStatus: http.StatusBadGateway}}, 10)...)
		return regexp.MustCompile(`(?m)^  max_wait: \S+`).ReplaceAll(cfg, []byte("  max_wait: 2s"))
	})
	ops := waitMessages(t, fake, opsKey, 2)
	if !strings.Contains(ops[0].Message.Content(), "DiskFull") {
		t.Errorf("retried card lacks DiskFull: %s", ops[0].Message.Content())
	}
	metrics := get(t, "http://"+receiverAddr+"/metrics")
	if !regexp.MustCompile(`alertmanager_wecom_notifications_total\{result="failed",robot="ops"\} [1-9]`).MatchString(metrics) {
		t.Errorf("the receiver never answered a failure, so Alertmanager's retry was not exercised:\n%s", grep(metrics, "notifications_total"))
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grep(s, substr string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestMaxAlertsLeftOutIsSaid: with the webhook's max_alerts at 1, Alertmanager
// sends one alert of a group of three and says it left two out; the card
// in WeCom says so.
func TestMaxAlertsLeftOutIsSaid(t *testing.T) {
	fake, _, amURL := setupWith(t, func(cfg map[string]any) {
		for _, r := range cfg["receivers"].([]any) {
			for _, w := range r.(map[string]any)["webhook_configs"].([]any) {
				w.(map[string]any)["max_alerts"] = 1
			}
		}
	})
	var alerts []map[string]any
	for i := range 3 {
		alerts = append(alerts, map[string]any{
			"labels": map[string]string{"alertname": "ShardDown", "service": "search", "team": "dba", "instance": fmt.Sprintf("shard-%d", i)},
		})
	}
	postAlerts(t, amURL, alerts)
	const want = "…and 2 more alerts that Alertmanager did not send (webhook max_alerts)"
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range fake.AcceptedFor(opsKey) {
			if c := m.Message.Content(); strings.Contains(c, "ShardDown") {
				if !strings.Contains(c, want) {
					t.Fatalf("the card does not say Alertmanager left 2 alerts out:\n%s", c)
				}
				if n := strings.Count(c, "shard-"); n != 1 {
					t.Errorf("the card lists %d shards, want the 1 Alertmanager sent:\n%s", n, c)
				}
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no ShardDown card reached the ops robot in 60 s")
}

// postAlerts posts alerts to Alertmanager's API in one request, as Prometheus does.
func postAlerts(t *testing.T, amURL string, alerts []map[string]any) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Alertmanager answered %s to the alerts", resp.Status)
	}
}

// TestTwoAlertmanagersPostOnce: Prometheus sends each alert to every
// Alertmanager; two that do not gossip (an HA pair split apart) both notify
// the receiver of the same group. Each robot posts it once, and the second
// notification is acknowledged as a duplicate.
func TestTwoAlertmanagersPostOnce(t *testing.T) {
	fake, receiverAddr, _ := setup(t)
	dir := t.TempDir()
	amFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(amFile, alertmanagerConfig(t, receiverAddr, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	second := startAlertmanager(t, lookTool(t, "prometheus-alertmanager", "alertmanager"), amFile, filepath.Join(dir, "data"))
	addDiskFull(t, second)

	duplicates := regexp.MustCompile(`alertmanager_wecom_notifications_total\{result="duplicate",robot="(ops|dba)"\} 1\n`)
	deadline := time.Now().Add(30 * time.Second)
	metrics := ""
	for time.Now().Before(deadline) {
		if metrics = get(t, "http://"+receiverAddr+"/metrics"); len(duplicates.FindAllString(metrics, -1)) == 2 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := len(duplicates.FindAllString(metrics, -1)); n != 2 {
		t.Fatalf("the second Alertmanager's notification is not counted as a duplicate on both robots:\n%s", grep(metrics, "notifications_total"))
	}
	if ops := fake.AcceptedFor(opsKey); len(ops) != 2 {
		t.Errorf("ops robot got %d messages, want one card and its companion", len(ops))
	}
	if dba := fake.AcceptedFor(dbaKey); len(dba) != 1 {
		t.Errorf("dba robot got %d messages, want one card", len(dba))
	}
}
