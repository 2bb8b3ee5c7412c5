package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestServeHTTPWebConfig serves the collector's handler set with an
// exporter-toolkit web config: TLS, basic auth and a response header.
func TestServeHTTPWebConfig(t *testing.T) {
	pki := newTestPKI(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "web.yml")
	webCfg := fmt.Sprintf(`tls_server_config:
  cert_file: %s
  key_file: %s
basic_auth_users:
  prometheus: %s
http_server_config:
  headers:
    X-Frame-Options: deny
`, pki.serverCert, pki.serverKey, hash)
	if err := os.WriteFile(file, []byte(webCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkWebConfig(file); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(bad, []byte("basic_auth_users: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkWebConfig(bad); err == nil || !strings.Contains(err.Error(), "http.web_config_file") {
		t.Errorf("checkWebConfig(bad) = %v, want an error naming the key", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "up 1") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- serveHTTP(ln, srv, file, testLogger(t)) }()
	defer func() {
		_ = srv.Close()
		<-done
	}()

	url := "https://" + ln.Addr().String() + "/metrics"
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool, MinVersion: tls.VersionTLS12}}}
	get := func(user, pw string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	if code, _, _ := get("", ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", code)
	}
	if code, _, _ := get("prometheus", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", code)
	}
	code, body, h := get("prometheus", "scrape-pw")
	if code != http.StatusOK || !strings.Contains(body, "up 1") {
		t.Errorf("right credentials: %d %q", code, body)
	}
	if h.Get("X-Frame-Options") != "deny" {
		t.Errorf("X-Frame-Options = %q, want the configured header", h.Get("X-Frame-Options"))
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get("http://" + ln.Addr().String() + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP was served")
		}
	}
}
