package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/alertmanager-wecom/alertmanager-wecom/internal/golden"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom/wecomtest"
)

// secretKey is the robot key of the ops tests: it must never show.
const secretKey = "s3cr3t-0ps-key"

func opsConfig(apiURL string) string {
	return fmt.Sprintf(`global:
  api_url: %s
  timeout: 5s
  max_wait: 3s
members:
  - {email: alice@corp.com, name: Alice Zhang, phone: "13800001111"}
responders:
  - matchers: ['team="dba"']
    members: [alice@corp.com]
robots:
  ops: {key_file: ops.key}
  gone: {key: s3cr3t-gone-key}
`, apiURL)
}

// startReceiver runs the binary on config in dir (with the key file) and
// waits until it is ready; scheme is http or https.
func startReceiver(t *testing.T, dir, config string, args ...string) (*process, string) {
	t.Helper()
	for name, content := range map[string]string{"config.yml": config, "ops.key": secretKey + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	p := start(t, binary, append([]string{"--config.file=" + filepath.Join(dir, "config.yml"), "--web.listen-address=" + addr}, args...)...)
	return p, addr
}

func post(t *testing.T, client *http.Client, url string, body []byte) (int, string) {
	t.Helper()
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func payloadFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "alertmanager", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSecretsNeverShow drives every path that could print a key (a
// delivery, a WeCom refusal, a bad request, a reload, the status page, the
// metrics, the logs at debug level) and greps everything for the keys.
func TestSecretsNeverShow(t *testing.T) {
	fake := wecomtest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddRobot(secretKey) // "gone" is unknown to WeCom: 93000
	dir := t.TempDir()
	p, addr := startReceiver(t, dir, opsConfig(fake.APIURL()), "--log.level=debug")
	base := "http://" + addr
	waitReady(t, base+"/-/ready")

	var seen strings.Builder
	for _, robot := range []string{"ops", "gone"} {
		code, body := post(t, http.DefaultClient, base+"/robots/"+robot+"/send", payloadFile(t, "firing-two-alerts.json"))
		fmt.Fprintf(&seen, "%d %s\n", code, body)
	}
	code, body := post(t, http.DefaultClient, base+"/robots/ops/send", []byte("{"))
	fmt.Fprintf(&seen, "%d %s\n", code, body)
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	seen.WriteString(get(t, base+"/api/v1/status"))
	seen.WriteString(get(t, base+"/metrics"))
	time.Sleep(200 * time.Millisecond)
	seen.WriteString(p.out.String())

	if len(fake.AcceptedFor(secretKey)) == 0 || !strings.Contains(seen.String(), "wecom errcode 93000") {
		t.Fatalf("the test did not exercise delivery and refusal:\n%s", seen.String())
	}
	for _, key := range []string{secretKey, "s3cr3t-gone-key"} {
		if strings.Contains(seen.String(), key) {
			t.Errorf("key %s shows in an answer, the status page, the metrics or the logs", key)
		}
	}
}

func TestReloadOnSIGHUP(t *testing.T) {
	fake := wecomtest.NewServer()
	t.Cleanup(fake.Close)
	dir := t.TempDir()
	p, addr := startReceiver(t, dir, opsConfig(fake.APIURL()))
	base := "http://" + addr
	waitReady(t, base+"/-/ready")
	reloads := regexp.MustCompile(`alertmanager_wecom_config_last_reload_successful (\d)`)

	// A bad file is refused; the running configuration keeps serving.
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte("robots: {ops: {key: a, url: b}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return reloads.FindStringSubmatch(get(t, base+"/metrics"))[1] == "0" })
	if code, body := post(t, http.DefaultClient, base+"/robots/ops/send", payloadFile(t, "firing-one-alert.json")); code != http.StatusServiceUnavailable && code != http.StatusOK && code != http.StatusBadGateway {
		t.Errorf("after a refused reload, ops answered %d %s", code, body)
	}
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(b.String(), "at most one of key, key_file, url, url_file, key_from") {
		t.Errorf("POST /-/reload of a bad file answered %d %q", resp.StatusCode, b.String())
	}

	// A good file with a new robot is taken.
	good := opsConfig(fake.APIURL()) + "  added: {key: added-key}\n"
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return reloads.FindStringSubmatch(get(t, base+"/metrics"))[1] == "1" })
	if !strings.Contains(get(t, base+"/api/v1/status"), `"name": "added"`) {
		t.Error("the reloaded robot is not in the status page")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met in 10 s")
}

// TestGracefulShutdown sends SIGTERM while a delivery waits on a slow
// WeCom: the request still gets its 200 and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	fake := wecomtest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddRobot(secretKey)
	fake.Inject(secretKey, wecomtest.Failure{Delay: 2 * time.Second})
	dir := t.TempDir()
	p, addr := startReceiver(t, dir, opsConfig(fake.APIURL()))
	waitReady(t, "http://"+addr+"/-/ready")

	done := make(chan int, 1)
	go func() {
		code, _ := post(t, http.DefaultClient, "http://"+addr+"/robots/ops/send", payloadFile(t, "firing-one-alert.json"))
		done <- code
	}()
	time.Sleep(500 * time.Millisecond) // the request is in flight
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != http.StatusOK {
		t.Errorf("in-flight request answered %d after SIGTERM, want 200", code)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if len(fake.AcceptedFor(secretKey)) == 0 {
		t.Error("the in-flight notification never reached WeCom")
	}
}

// TestShutdownAnswersWaitingNotifications: on SIGTERM a notification
// waiting for the robot's budget is answered 503 with Retry-After, so that
// Alertmanager keeps it, and the process exits 0. It waited until the
// shutdown timeout and was dropped with the process, its connection reset.
func TestShutdownAnswersWaitingNotifications(t *testing.T) {
	fake := wecomtest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddRobot(secretKey)
	dir := t.TempDir()
	config := strings.Replace(opsConfig(fake.APIURL()), "max_wait: 3s", "max_wait: 20s\n  rate_limit: {messages: 1, per: 1m}", 1)
	p, addr := startReceiver(t, dir, config, "--web.shutdown-timeout=5s")
	waitReady(t, "http://"+addr+"/-/ready")
	url := "http://" + addr + "/robots/ops/send"
	if code, b := post(t, http.DefaultClient, url, payloadFile(t, "firing-one-alert.json")); code != http.StatusOK {
		t.Fatalf("first notification: %d %s", code, b)
	}
	type answer struct {
		code       int
		retryAfter string
	}
	done := make(chan answer, 1)
	go func() { // waits: the minute's one message is spent
		resp, err := http.Post(url, "application/json", bytes.NewReader(payloadFile(t, "firing-two-alerts.json")))
		if err != nil {
			done <- answer{code: -1}
			return
		}
		resp.Body.Close()
		done <- answer{resp.StatusCode, resp.Header.Get("Retry-After")}
	}()
	time.Sleep(500 * time.Millisecond) // the second notification waits in the queue
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if a := <-done; a.code != http.StatusServiceUnavailable || a.retryAfter == "" {
		t.Errorf("the waiting notification was answered %d, Retry-After %q; want 503 with Retry-After (-1: no answer)", a.code, a.retryAfter)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if n := len(fake.AcceptedFor(secretKey)); n != 1 {
		t.Errorf("WeCom accepted %d messages, want 1: the waiting notification is not sent", n)
	}
}

// TestTLSAndBasicAuth serves through exporter-toolkit's web config, as
// Alertmanager's http_config with tls_config and basic_auth would call it.
func TestTLSAndBasicAuth(t *testing.T) {
	fake := wecomtest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddRobot(secretKey)
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("am-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := fmt.Sprintf("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  alertmanager: %s\n", hash)
	for name, content := range map[string][]byte{"cert.pem": certPEM, "key.pem": keyPEM, "web.yml": []byte(webConfig)} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, addr := startReceiver(t, dir, opsConfig(fake.APIURL()), "--web.config.file="+filepath.Join(dir, "web.yml"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	url := "https://" + addr + "/robots/ops/send"
	waitFor(t, func() bool {
		resp, err := client.Get("https://" + addr + "/-/healthy")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	if _, err := http.Post("http://"+addr+"/robots/ops/send", "application/json", nil); err == nil {
		// Plain HTTP to a TLS port gets an HTTP 400 from Go's server, not a delivery.
		if n := len(fake.AcceptedFor(secretKey)); n != 0 {
			t.Fatal("plain HTTP was served")
		}
	}
	if code, _ := post(t, client, url, payloadFile(t, "firing-one-alert.json")); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", code)
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(payloadFile(t, "firing-one-alert.json")))
	req.SetBasicAuth("alertmanager", "am-password")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(fake.AcceptedFor(secretKey)) != 1 {
		t.Errorf("with credentials: %d, %d messages in WeCom", resp.StatusCode, len(fake.AcceptedFor(secretKey)))
	}
	healthcheckBehindAuth(t, dir, addr)
}

// healthcheckBehindAuth runs healthcheck against a receiver behind TLS and
// basic auth: it needs the CA and the password, the latter from a file
// named in --http.config.file, never on the command line.
func healthcheckBehindAuth(t *testing.T, dir, addr string) {
	t.Helper()
	files := map[string]string{
		"password":        "am-password\n",
		"tls-only.yml":    "tls_config: {ca_file: cert.pem}\n",
		"healthcheck.yml": "basic_auth: {username: alertmanager, password_file: password}\ntls_config: {ca_file: cert.pem}\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		config  string
		healthy bool
	}{{"tls-only.yml", false}, {"healthcheck.yml", true}} {
		for _, path := range []string{"/-/healthy", "/-/ready"} {
			out, err := exec.Command(binary, "healthcheck", "--url=https://"+addr+path,
				"--http.config.file="+filepath.Join(dir, tc.config)).CombinedOutput()
			if (err == nil) != tc.healthy {
				t.Errorf("healthcheck %s with %s: %v %s, want healthy=%t", path, tc.config, err, out, tc.healthy)
			}
		}
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// TestCLIGolden checks check-config and render against golden files.
// Refresh with: go test ./e2e -run TestCLIGolden -update
func TestCLIGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{name: "check-config", args: []string{"check-config", "../examples/config.yml"}},
		// The same file through --config.file, as render and explain take it: the same output.
		{name: "check-config", args: []string{"--config.file=../examples/config.yml", "check-config"}},
		{name: "check-config-oncall-gaps", args: []string{"check-config", "testdata/gaps.yml"}},
		{name: "check-config-bad", args: []string{"check-config", "testdata/bad.yml"}, code: 1},
		{name: "render-ops", args: []string{"--config.file=../examples/config.yml", "render", "--robot=ops", "../testdata/alertmanager/firing-two-alerts.json"}},
		{name: "explain-oncall", args: []string{"--config.file=../examples/oncall.yml", "explain", "--robot=dba",
			"--labels=team=dba,severity=critical", "--firing-for=45m", "--at=2026-11-03T10:00:00+08:00"}},
		{name: "explain-unknown-robot", args: []string{"--config.file=../examples/oncall.yml", "explain", "--robot=web", "--labels=team=dba"}, code: 1},
		{name: "render-dba", args: []string{"--config.file=../examples/config.yml", "render", "--robot=dba", "../testdata/alertmanager/firing-with-resolved.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary, tc.args...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			code := 0
			if exit, ok := err.(*exec.ExitError); ok {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out.String())
			}
			golden.Check(t, filepath.Join("testdata", tc.name+".golden"), out.String())
			if strings.Contains(out.String(), "REPLACE-WITH") {
				t.Error("output shows a robot key")
			}
		})
	}
}

func TestHealthcheckCommand(t *testing.T) {
	fake := wecomtest.NewServer()
	t.Cleanup(fake.Close)
	_, addr := startReceiver(t, t.TempDir(), opsConfig(fake.APIURL()))
	waitReady(t, "http://"+addr+"/-/ready")
	if err := exec.Command(binary, "healthcheck", "--url=http://"+addr+"/-/healthy").Run(); err != nil {
		t.Errorf("healthcheck of a running receiver: %v", err)
	}
	if err := exec.Command(binary, "healthcheck", "--url=http://"+freeAddr(t)+"/-/healthy").Run(); err == nil {
		t.Error("healthcheck of nothing succeeded")
	}
	// Without --url, the port is the one of --web.listen-address, as the
	// receiver would be started with.
	_, port, _ := net.SplitHostPort(addr)
	if out, err := exec.Command(binary, "--web.listen-address=:"+port, "healthcheck").CombinedOutput(); err != nil {
		t.Errorf("healthcheck --web.listen-address=:%s: %v %s", port, err, out)
	}
}

// TestStartupConfigFailure starts the receiver on a bad and on a missing
// configuration: it must say it cannot load it and exit 1, not that a
// running configuration (there is none) keeps serving.
func TestStartupConfigFailure(t *testing.T) {
	for _, file := range []string{"testdata/bad.yml", filepath.Join(t.TempDir(), "missing.yml")} {
		cmd := exec.Command(binary, "--config.file="+file, "--web.listen-address="+freeAddr(t))
		out, err := cmd.CombinedOutput()
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 {
			t.Errorf("%s: exit %v, want 1", file, err)
		}
		if !strings.Contains(string(out), "Cannot load configuration; exiting") || strings.Contains(string(out), "keeps serving") {
			t.Errorf("%s: the log does not say the process cannot load its configuration and exits:\n%s", file, out)
		}
	}
}

// TestVersion checks that a plain go build, as the tests make, still shows
// a version, a branch and a revision in --version, build_info and the
// status page, and the same ones in all three.
func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "--version").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`version (\S+) \(branch: (\S+), revision: (\S+)\)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("--version shows an empty version, branch or revision:\n%s", out)
	}
	fake := wecomtest.NewServer()
	t.Cleanup(fake.Close)
	_, addr := startReceiver(t, t.TempDir(), opsConfig(fake.APIURL()))
	base := "http://" + addr
	waitReady(t, base+"/-/ready")
	var status struct{ Version map[string]string }
	if err := json.Unmarshal([]byte(get(t, base+"/api/v1/status")), &status); err != nil {
		t.Fatal(err)
	}
	if v := status.Version; v["version"] != m[1] || v["branch"] != m[2] || v["revision"] != m[3] {
		t.Errorf("status page version %v, --version %q", v, m[0])
	}
	info := fmt.Sprintf(`alertmanager_wecom_build_info{branch="%s",goarch=`, m[2])
	metrics := get(t, base+"/metrics")
	if !strings.Contains(metrics, info) || !strings.Contains(metrics, fmt.Sprintf(`revision="%s"`, m[3])) ||
		!strings.Contains(metrics, fmt.Sprintf(`version="%s"`, m[1])) {
		t.Errorf("build_info does not carry %q", m[0])
	}
}

func TestExplainAPI(t *testing.T) {
	fake := wecomtest.NewServer()
	t.Cleanup(fake.Close)
	_, addr := startReceiver(t, t.TempDir(), opsConfig(fake.APIURL()))
	base := "http://" + addr
	waitReady(t, base+"/-/ready")
	body := get(t, base+"/api/v1/explain?robot=ops&labels=team%3Ddba&status=resolved")
	var e struct {
		Responders []struct{ Email, Outcome, Reason string } `json:"responders"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(e.Responders) != 1 || e.Responders[0].Email != "alice@corp.com" || e.Responders[0].Outcome != "resolved" {
		t.Errorf("explain = %s", body)
	}
	resp, err := http.Get(base + "/api/v1/explain?robot=nope&labels=a%3Db")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown robot: %d, want 400", resp.StatusCode)
	}
}

// TestSlowClientCutOff holds a request open, sending its body a byte at a
// time: the receiver must cut it off after --web.read-timeout, not wait.
func TestSlowClientCutOff(t *testing.T) {
	fake := wecomtest.NewServer()
	t.Cleanup(fake.Close)
	_, addr := startReceiver(t, t.TempDir(), opsConfig(fake.APIURL()), "--web.read-timeout=1s")
	waitReady(t, "http://"+addr+"/-/ready")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /robots/ops/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	start := time.Now()
	var closedAfter time.Duration
	for time.Since(start) < 10*time.Second {
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := conn.Write([]byte(" ")); err != nil {
			closedAfter = time.Since(start)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if closedAfter == 0 {
		// The write side may stay open; the answer must have come anyway.
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 512)
		if n, _ := conn.Read(buf); n == 0 {
			t.Fatal("a slow client kept its request open for 10 s")
		}
	}
	if len(fake.Accepted()) != 0 {
		t.Error("a cut-off request was delivered")
	}
}

// TestBrowsersCrossOriginRefused: a web page an on-call engineer has open
// cannot make their browser reload the receiver or post a forged alert (a
// text/plain POST needs no CORS preflight); Alertmanager, curl and probes,
// which send no Origin or Sec-Fetch-Site, are served.
func TestBrowsersCrossOriginRefused(t *testing.T) {
	fake := wecomtest.NewServer()
	t.Cleanup(fake.Close)
	fake.AddRobot(secretKey)
	_, addr := startReceiver(t, t.TempDir(), opsConfig(fake.APIURL()))
	base := "http://" + addr
	waitReady(t, base+"/-/ready")
	body := payloadFile(t, "firing-one-alert.json")
	for _, path := range []string{"/-/reload", "/robots/ops/send"} {
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("a browser's cross-site POST %s was answered %d, want 403", path, resp.StatusCode)
		}
	}
	if n := len(fake.Accepted()); n != 0 {
		t.Errorf("WeCom got %d messages from cross-site POSTs", n)
	}
	if code, b := post(t, http.DefaultClient, base+"/robots/ops/send", body); code != http.StatusOK {
		t.Errorf("a POST as Alertmanager sends it was answered %d %s", code, b)
	}
}
