package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const (
	schemaPath    = "../../event.v1.json"
	generatedPath = "../../event_v1_gen.go"
)

// TestGeneratedCodeUpToDate fails when event_v1_gen.go is not what the
// schema compiles to, e.g. after an edit of event.v1.json without
// `go generate ./schemas/`.
func TestGeneratedCodeUpToDate(t *testing.T) {
	src, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate(src, "event.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(generatedPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("schemas/event_v1_gen.go is stale: run `go generate ./schemas/`")
	}
}

// TestGenerateRefuses: a schema the generator cannot compile faithfully
// fails generation with an error naming the keyword or shape.
func TestGenerateRefuses(t *testing.T) {
	src, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		edit   func(root map[string]any)
		errors []string
	}{
		{
			name:   "unknown keyword",
			edit:   func(r map[string]any) { prop(r, "event_id")["pattern"] = "^[a-z]+$" },
			errors: []string{`#/properties/event_id/pattern: keyword "pattern" is not supported`},
		},
		{
			name:   "other format",
			edit:   func(r map[string]any) { prop(r, "user_id")["format"] = "email" },
			errors: []string{`#/properties/user_id/format: only "format": "date-time" is supported`},
		},
		{
			name:   "type list",
			edit:   func(r map[string]any) { prop(r, "event")["type"] = []any{"string", "null"} },
			errors: []string{`#/properties/event/type: only "type": "string" or "object" is supported`},
		},
		{
			name: "property without a binding",
			edit: func(r map[string]any) {
				r["properties"].(map[string]any)["channel_id"] = map[string]any{"type": "string"}
			},
			errors: []string{"#/properties/channel_id: property /channel_id has no entry in schemagen's bindings"},
		},
		{
			name:   "binding without a property",
			edit:   func(r map[string]any) { delete(r["properties"].(map[string]any), "name") },
			errors: []string{"bindings: /name names no property of the schema"},
		},
		{
			name:   "else",
			edit:   func(r map[string]any) { r["else"] = map[string]any{"required": []any{"name"}} },
			errors: []string{`#/else: keyword "else" is not supported`},
		},
		{
			name: "anyOf below the root",
			edit: func(r map[string]any) {
				prop(r, "context")["anyOf"] = []any{map[string]any{"required": []any{"channel"}}}
			},
			errors: []string{"#/properties/context/anyOf: only a non-empty anyOf at the root is supported"},
		},
		{
			name: "combinator on an undeclared property",
			edit: func(r map[string]any) {
				r["anyOf"].([]any)[0].(map[string]any)["required"] = []any{"customer_id"}
			},
			errors: []string{`#/anyOf/0/required: "customer_id" is not a property declared at the root`},
		},
		{
			name: "type in a combinator",
			edit: func(r map[string]any) {
				r["then"].(map[string]any)["properties"].(map[string]any)["event"].(map[string]any)["type"] = "string"
			},
			errors: []string{"#/then/properties/event: only const, enum, minLength and maxLength are supported"},
		},
		{
			name: "every problem at once",
			edit: func(r map[string]any) {
				prop(r, "event_id")["pattern"] = "x"
				prop(r, "type")["uniqueItems"] = true
			},
			errors: []string{`"pattern"`, `"uniqueItems"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var root map[string]any
			if err := json.Unmarshal(src, &root); err != nil {
				t.Fatal(err)
			}
			tt.edit(root)
			edited, err := json.Marshal(root)
			if err != nil {
				t.Fatal(err)
			}
			_, err = generate(edited, "event.v1.json")
			if err == nil {
				t.Fatal("Generate accepted the schema")
			}
			for _, want := range tt.errors {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
		})
	}
}

func prop(root map[string]any, name string) map[string]any {
	return root["properties"].(map[string]any)[name].(map[string]any)
}
