package config

import (
	"strings"
	"testing"
)

// TestSecretsRedacted checks that no password, from the environment or from
// a file, reaches the printed configuration.
func TestSecretsRedacted(t *testing.T) {
	env := map[string]string{
		EnvName("kafka.sasl.mechanism"):         "SCRAM-SHA-256",
		EnvName("kafka.sasl.username"):          "journeys",
		EnvName("kafka.sasl.password"):          "kafka-secret-from-env",
		EnvName("clickhouse.password_file"):     "testdata/password.txt",
		EnvName("privacy.pseudonymize.enabled"): "true",
		EnvName("privacy.pseudonymize.key"):     "pseudonymisation-key-of-32-bytes-at-least",
	}
	c, err := Load(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.SASL.Password != "kafka-secret-from-env" || c.ClickHouse.Password == "" {
		t.Fatalf("passwords not loaded: kafka %q, clickhouse set %v", c.Kafka.SASL.Password, c.ClickHouse.Password != "")
	}
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{c.Kafka.SASL.Password, c.ClickHouse.Password, c.Privacy.Pseudonymize.Key} {
		if strings.Contains(string(out), secret) {
			t.Errorf("printed config contains a secret:\n%s", out)
		}
	}
	if !strings.Contains(string(out), "password: <redacted>") {
		t.Errorf("the Kafka password from the environment is not shown as redacted:\n%s", out)
	}

	// From a file: blanked, the file named instead.
	env[EnvName("kafka.sasl.password")] = ""
	env[EnvName("kafka.sasl.password_file")] = "testdata/password.txt"
	c, err = Load(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.SASL.Password == "" {
		t.Fatal("kafka.sasl.password_file was not read")
	}
	if r := c.Redacted(); r.Kafka.SASL.Password != "" || r.ClickHouse.Password != "" {
		t.Errorf("passwords from files are redacted to %q and %q, want \"\"", r.Kafka.SASL.Password, r.ClickHouse.Password)
	}
}
