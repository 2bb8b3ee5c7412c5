// Package tlsconf builds the TLS client configuration of the connections to
// Kafka and ClickHouse from PEM files, so that both take the same keys and
// fail the same way: at start, naming the file.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Files are PEM files; every field is optional (see Client).
type Files struct {
	CAFile     string
	CertFile   string
	KeyFile    string
	ServerName string
}

// Client returns a client configuration that verifies the server against
// CAFile (else the system roots) and presents the CertFile/KeyFile pair when
// both are set. TLS 1.2 is the floor: older versions have known attacks and
// every supported Kafka and ClickHouse speaks 1.2.
func Client(f Files) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: CA file %s: no PEM certificate in it", f.CAFile)
		}
		c.RootCAs = pool
	}
	switch {
	case f.CertFile != "" && f.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate %s / key %s: %w", f.CertFile, f.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	case f.CertFile != "" || f.KeyFile != "":
		return nil, errors.New("tls: a client certificate needs both the certificate and the key file")
	}
	return c, nil
}
