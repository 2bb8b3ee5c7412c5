package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// envPrefix starts every environment variable that sets a key.
const envPrefix = "JOURNEYS_"

// leaf is one configuration key and its value in some Config.
type leaf struct {
	key   string // dotted, e.g. "kafka.group_id"
	value reflect.Value
}

// leaves lists every key of c in declaration order. The keys are read from
// the struct tags, so the list of keys given defaults, read from the
// environment and printed cannot drift from the struct.
func leaves(c *Config) []leaf {
	var out []leaf
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			key := prefix + fieldKey(t.Field(i))
			if f := v.Field(i); f.Kind() == reflect.Struct {
				walk(key+".", f)
			} else {
				out = append(out, leaf{key: key, value: f})
			}
		}
	}
	walk("", reflect.ValueOf(c).Elem())
	return out
}

// fieldKey mirrors how mapstructure names a field: its tag, else its name
// (which mapstructure matches case-insensitively, and viper lower-cases).
func fieldKey(f reflect.StructField) string {
	if tag, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ","); tag != "" {
		return tag
	}
	return strings.ToLower(f.Name)
}

// Keys returns every configuration key, dotted ("kafka.group_id"), in the
// order of the Config struct.
func Keys() []string {
	ls := leaves(Default())
	keys := make([]string, len(ls))
	for i, l := range ls {
		keys[i] = l.key
	}
	return keys
}

// EnvName returns the environment variable that sets key:
// "kafka.group_id" is JOURNEYS_KAFKA_GROUP_ID.
func EnvName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

var durationType = reflect.TypeFor[time.Duration]()

// YAML renders c, with secrets redacted, in the format Load reads: keys as
// in the file and durations as "250ms" rather than nanoseconds, so the
// output can be saved and loaded back.
func (c Config) YAML() ([]byte, error) {
	r := c.Redacted()
	n, err := yamlNode(reflect.ValueOf(r))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2) // as journeys.example.yaml, so the two can be diffed
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// yamlNode builds the document from the mapstructure tags instead of adding
// yaml tags to every field, which would be a second list of key names to
// keep in step with the first.
func yamlNode(v reflect.Value) (*yaml.Node, error) {
	if v.Kind() == reflect.Struct {
		n := &yaml.Node{Kind: yaml.MappingNode}
		for i := range v.NumField() {
			child, err := yamlNode(v.Field(i))
			if err != nil {
				return nil, err
			}
			key := &yaml.Node{Kind: yaml.ScalarNode, Value: fieldKey(v.Type().Field(i))}
			n.Content = append(n.Content, key, child)
		}
		return n, nil
	}
	val := v.Interface()
	if v.Type() == durationType {
		val = v.Interface().(time.Duration).String()
	}
	if v.Kind() == reflect.Slice && v.Len() == 0 {
		// A nil slice would encode as null; [] says "empty list" plainly.
		return &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}, nil
	}
	n := &yaml.Node{}
	if err := n.Encode(val); err != nil {
		return nil, fmt.Errorf("config: encode %s: %w", v.Type(), err)
	}
	return n, nil
}
