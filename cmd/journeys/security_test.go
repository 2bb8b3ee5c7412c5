package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/internal/devbroker"
	"github.com/journeys-analytics/journeys/internal/testenv"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	caFile, clientCert, clientKey string
	serverCert, serverKey         string
	server                        tls.Certificate
	pool                          *x509.CertPool
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "journeys test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "journeys test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	srvCert, srvKey := issue(2, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	if p.server, err = tls.X509KeyPair(srvCert, srvKey); err != nil {
		t.Fatal(err)
	}
	p.serverCert, p.serverKey = write("server.pem", srvCert), write("server.key", srvKey)
	cliCert, cliKey := issue(3, x509.ExtKeyUsageClientAuth, nil)
	p.clientCert, p.clientKey = write("client.pem", cliCert), write("client.key", cliKey)
	return p
}

// TestKafkaSecurity runs the collector against a Kafka-protocol broker that
// requires SASL (each mechanism), with TLS and a client certificate where
// the case says so: it must become ready, consume an event into ClickHouse
// and dead-letter an invalid one, and a wrong password must make it unready.
func TestKafkaSecurity(t *testing.T) {
	pki := newTestPKI(t)
	cases := []struct {
		mechanism string
		tls       bool
	}{
		{"PLAIN", true},
		{"SCRAM-SHA-256", false},
		{"SCRAM-SHA-512", true},
	}
	for _, tc := range cases {
		t.Run(tc.mechanism, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			opts := devbroker.Options{
				Topics: []string{"sec.events", "sec.dlq"},
				SASL:   []devbroker.User{{Mechanism: tc.mechanism, Name: "journeys", Password: "s3cret"}},
			}
			if tc.tls {
				opts.TLS = &tls.Config{
					Certificates: []tls.Certificate{pki.server},
					ClientAuth:   tls.RequireAndVerifyClientCert,
					ClientCAs:    pki.pool,
					MinVersion:   tls.VersionTLS12,
				}
			}
			b, err := devbroker.Start(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			ch := testenv.ClickHouse(t)
			pwFile := filepath.Join(t.TempDir(), "kafka-password")
			if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{
				"JOURNEYS_KAFKA_BROKERS":             strings.Join(b.Addrs(), ","),
				"JOURNEYS_KAFKA_TOPIC":               "sec.events",
				"JOURNEYS_KAFKA_DEAD_LETTER_TOPIC":   "sec.dlq",
				"JOURNEYS_KAFKA_SASL_MECHANISM":      tc.mechanism,
				"JOURNEYS_KAFKA_SASL_USERNAME":       "journeys",
				"JOURNEYS_KAFKA_SASL_PASSWORD_FILE":  pwFile,
				"JOURNEYS_CLICKHOUSE_ADDR":           ch.Addr,
				"JOURNEYS_CLICKHOUSE_DATABASE":       ch.Database,
				"JOURNEYS_JOURNEY_MAP":               "../../deploy/journey-map.yaml",
				"JOURNEYS_BATCH_MAX_WAIT":            "100ms",
				"JOURNEYS_KAFKA_TLS_ENABLED":         "false",
				"JOURNEYS_KAFKA_TLS_FILES_CA_FILE":   "",
				"JOURNEYS_KAFKA_TLS_FILES_CERT_FILE": "",
				"JOURNEYS_KAFKA_TLS_FILES_KEY_FILE":  "",
			}
			if tc.tls {
				env["JOURNEYS_KAFKA_TLS_ENABLED"] = "true"
				env["JOURNEYS_KAFKA_TLS_FILES_CA_FILE"] = pki.caFile
				env["JOURNEYS_KAFKA_TLS_FILES_CERT_FILE"] = pki.clientCert
				env["JOURNEYS_KAFKA_TLS_FILES_KEY_FILE"] = pki.clientKey
			}
			cfg, err := config.Load(nil, lookup(env))
			if err != nil {
				t.Fatal(err)
			}
			dialer, err := kafkaDialer(cfg.Kafka)
			if err != nil {
				t.Fatal(err)
			}

			// Without credentials the broker refuses the client, so the
			// test cannot pass by not using them.
			plainClient := &kafka.Client{Addr: kafka.TCP(b.Addrs()...), Timeout: 5 * time.Second}
			if tc.tls {
				plainClient.Transport = &kafka.Transport{TLS: dialer.TLS}
			}
			if _, err := plainClient.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"sec.events"}}); err == nil {
				t.Fatal("the broker answered a client without SASL")
			}

			w := &kafka.Writer{
				Addr: kafka.TCP(b.Addrs()...), Topic: "sec.events", RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
				Transport: &kafka.Transport{TLS: dialer.TLS, SASL: dialer.SASLMechanism},
			}
			err = w.WriteMessages(ctx,
				kafka.Message{Key: []byte("u1"), Value: []byte(`{"event_id":"e1","type":"track","event":"Signed Up","user_id":"u1","timestamp":"2026-01-01T00:00:00Z"}`)},
				kafka.Message{Key: []byte("u2"), Value: []byte(`{"type":"track","event":"Signed Up"}`)},
			)
			w.Close()
			if err != nil {
				t.Fatalf("produce: %v", err)
			}

			p, err := newPipeline(ctx, cfg, testLogger(t), newRegistry())
			if err != nil {
				t.Fatal(err)
			}
			if err := p.ready(ctx); err != nil {
				t.Fatalf("not ready: %v", err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- p.run(runCtx) }()
			var rows uint64
			for rows == 0 && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
				if rows, _, err = p.store.EventCounts(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if rows != 1 {
				t.Errorf("events in ClickHouse = %d, want 1", rows)
			}
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.Addrs(), Topic: "sec.dlq", Partition: 0, Dialer: dialer, MaxWait: 100 * time.Millisecond})
			m, err := r.FetchMessage(ctx)
			r.Close()
			if err != nil || !strings.Contains(string(m.Value), "missing_id") {
				t.Errorf("dead letter: %v %q, want the invalid event with reason missing_id", err, m.Value)
			}
			stop()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}

			// A wrong password: the same collector is not ready.
			cfg.Kafka.SASL.Password = "wrong"
			bad, err := newPipeline(ctx, cfg, testLogger(t), newRegistry())
			if err != nil {
				t.Fatal(err)
			}
			defer bad.store.Close()
			if err := bad.ready(ctx); err == nil || !strings.Contains(err.Error(), "kafka") {
				t.Errorf("ready with a wrong password = %v, want a Kafka error", err)
			}
		})
	}
}
