package tlsconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClientErrors checks that each unusable file is refused with its name,
// at start rather than at the first connection.
func TestClientErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files Files
		want  string
	}{
		{"missing CA", Files{CAFile: filepath.Join(dir, "nope.pem")}, "nope.pem"},
		{"CA without PEM", Files{CAFile: notPEM}, "no PEM certificate"},
		{"cert without key", Files{CertFile: notPEM}, "both"},
		{"bad pair", Files{CertFile: notPEM, KeyFile: notPEM}, "ca.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Client(tc.files); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Client(%+v) = %v, want an error containing %q", tc.files, err, tc.want)
			}
		})
	}
	c, err := Client(Files{ServerName: "kafka.internal"})
	if err != nil || c.RootCAs != nil || c.ServerName != "kafka.internal" || c.MinVersion == 0 {
		t.Errorf("Client(no files) = %+v, %v: want system roots, the server name and a TLS floor", c, err)
	}
}
