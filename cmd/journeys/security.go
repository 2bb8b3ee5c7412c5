package main

import (
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/internal/tlsconf"
	"github.com/journeys-analytics/journeys/privacy"
)

func tlsFiles(f config.TLSFiles) tlsconf.Files {
	return tlsconf.Files{CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile, ServerName: f.ServerName}
}

// kafkaDialer returns the dialer of every Kafka connection, or nil for plain
// TCP without authentication (kafka-go's defaults).
func kafkaDialer(k config.Kafka) (*kafka.Dialer, error) {
	if !k.TLS.Enabled && k.SASL.Mechanism == "" {
		return nil, nil
	}
	d := &kafka.Dialer{ClientID: k.ClientID, Timeout: 10 * time.Second, DualStack: true}
	if k.TLS.Enabled {
		c, err := tlsconf.Client(tlsFiles(k.TLS.Files))
		if err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		d.TLS = c
	}
	var err error
	var m sasl.Mechanism
	switch k.SASL.Mechanism {
	case "":
	case "PLAIN":
		m = plain.Mechanism{Username: k.SASL.Username, Password: k.SASL.Password}
	case "SCRAM-SHA-256":
		m, err = scram.Mechanism(scram.SHA256, k.SASL.Username, k.SASL.Password)
	case "SCRAM-SHA-512":
		m, err = scram.Mechanism(scram.SHA512, k.SASL.Username, k.SASL.Password)
	default:
		// config.Validate refuses any other value.
		err = fmt.Errorf("unknown mechanism %q", k.SASL.Mechanism)
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: SASL: %w", err)
	}
	d.SASLMechanism = m
	return d, nil
}

// pseudonymizer returns the configured pseudonymizer, or nil when
// pseudonymisation is off.
func pseudonymizer(c config.Pseudonymize) (*privacy.Pseudonymizer, error) {
	if !c.Enabled {
		return nil, nil
	}
	return privacy.NewPseudonymizer([]byte(c.Key), c.Properties, c.PropertyAction == "drop")
}
