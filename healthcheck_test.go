package main

import (
	"bytes"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHealthcheckDefaultURLWithTLS: `--web.listen-address=:PORT healthcheck
// --http.config.file=healthcheck.yml`, a file with basic_auth and
// tls_config, without --url (as the Dockerfile suggests) asks https.
func TestHealthcheckDefaultURLWithTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alertmanager" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	cfg := filepath.Join(dir, "healthcheck.yml")
	for path, content := range map[string][]byte{
		filepath.Join(dir, "ca.pem"):   ca,
		filepath.Join(dir, "password"): []byte("secret"),
		cfg:                            []byte("basic_auth: {username: alertmanager, password_file: password}\ntls_config: {ca_file: ca.pem, server_name: example.com}\n"),
	} {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	var out, errOut bytes.Buffer
	// With an explicit https URL it is healthy: the config file works.
	if code := run([]string{"healthcheck", "--url=https://127.0.0.1:" + port + "/-/healthy", "--http.config.file=" + cfg}, &out, &errOut); code != 0 {
		t.Fatalf("explicit https URL: exit %d: %s", code, errOut.String())
	}
	errOut.Reset()
	code := run([]string{"--web.listen-address=:" + port, "healthcheck", "--http.config.file=" + cfg}, &out, &errOut)
	t.Logf("default URL with a TLS http.config.file: exit %d, stderr %q", code, errOut.String())
	if code != 0 {
		t.Errorf("healthcheck with --http.config.file holding tls_config and no --url asks http:// and fails against the TLS receiver")
	}
}

// TestHealthcheckMissingConfigExits1: a missing --http.config.file (a
// Secret not mounted yet) is an unhealthy probe, exit 1: Docker reserves
// exit 2 of a HEALTHCHECK command.
func TestHealthcheckMissingConfigExits1(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"healthcheck", "--url=http://127.0.0.1:1/-/healthy", "--http.config.file=/nonexistent/healthcheck.yml"}, &out, &errOut)
	t.Logf("exit %d, stderr %q", code, errOut.String())
	if code != 1 {
		t.Errorf("healthcheck with a missing --http.config.file exits %d; an unhealthy/failed probe should exit 1 (Docker reserves 2)", code)
	}
}

// TestHealthcheckHidesPassword: healthcheck --url with basic auth in the
// URL prints no password when the answer is not 200, as Go's own client
// errors do not; it printed the URL whole.
func TestHealthcheckHidesPassword(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "http://", "http://probe:s3cr3t-pass@", 1) + "/-/healthy"
	var stderr bytes.Buffer
	if code := healthcheck(&stderr, url, "", nil); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(stderr.String(), "s3cr3t-pass") {
		t.Errorf("healthcheck prints the password: %s", strings.TrimSpace(stderr.String()))
	}
}
