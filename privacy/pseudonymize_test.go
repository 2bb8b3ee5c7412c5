package privacy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/schemas"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestPseudonymizerIDs(t *testing.T) {
	if _, err := NewPseudonymizer([]byte("short"), nil, false); err == nil {
		t.Error("a short key was accepted")
	}
	p, err := NewPseudonymizer(testKey, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewPseudonymizer(bytes.Repeat([]byte("k"), 32), nil, false)
	ev := schemas.Event{UserID: "alice@example.com", AnonymousID: ""}
	p.IDs(&ev)
	if len(ev.UserID) != 64 || strings.Contains(ev.UserID, "alice") || ev.AnonymousID != "" {
		t.Errorf("IDs gave user %q anonymous %q", ev.UserID, ev.AnonymousID)
	}
	if ev.UserID != p.ID("alice@example.com") || ev.UserID == other.ID("alice@example.com") || ev.UserID == p.ID("bob@example.com") {
		t.Error("pseudonyms are not stable per key and distinct per id")
	}
	// Pinned: changing the derivation would split every customer in two.
	if want := "39536bc0c20e6efcd22ec30bb96eec5aff9be6a37fe8e9db166b4cc950c94e7e"; p.ID("u1") != want {
		t.Errorf("ID(u1) = %s, want %s", p.ID("u1"), want)
	}
}

func TestPseudonymizerProperties(t *testing.T) {
	v, err := schemas.NewValidator(schemas.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	const props = `{"plan":"pro","email":"a@b.c","price":1.10,"phone":12345}`
	for _, tc := range []struct {
		name string
		drop bool
		want func(p *Pseudonymizer) string
	}{
		{"hash", false, func(p *Pseudonymizer) string {
			return `{"email":"` + p.ID("a@b.c") + `","phone":"` + p.ID("12345") + `","plan":"pro","price":1.10}`
		}},
		{"drop", true, func(*Pseudonymizer) string { return `{"plan":"pro","price":1.10}` }},
	} {
		// The decoded properties follow the text whether a rule decoded
		// them before (readFirst) or not.
		for _, readFirst := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/read first %v", tc.name, readFirst), func(t *testing.T) {
				p, err := NewPseudonymizer(testKey, []string{"email", "phone"}, tc.drop)
				if err != nil {
					t.Fatal(err)
				}
				raw := `{"event_id":"e","type":"identify","user_id":"u","properties":` + props + `,"traits":{"plan":"pro"}}`
				ev, inv := v.Decode([]byte(raw), time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
				if inv != nil {
					t.Fatal(inv)
				}
				if readFirst {
					if ev.Properties()["email"] != "a@b.c" {
						t.Fatalf("decoded properties %v", ev.Properties())
					}
				}
				if err := p.Properties(&ev); err != nil {
					t.Fatal(err)
				}
				if got := string(ev.RawProperties); got != tc.want(p) {
					t.Errorf("properties = %s, want %s", got, tc.want(p))
				}
				if string(ev.RawTraits) != `{"plan":"pro"}` {
					t.Errorf("traits without listed keys changed: %s", ev.RawTraits)
				}
				if v, ok := ev.Property("email"); (tc.drop && ok) || (!tc.drop && v != p.ID("a@b.c")) {
					t.Errorf("parsed email = %v", v)
				}
				var want map[string]any
				if err := json.Unmarshal([]byte(tc.want(p)), &want); err != nil {
					t.Fatal(err)
				}
				if got := ev.Properties(); !reflect.DeepEqual(got, want) {
					t.Errorf("decoded properties = %v, want %v", got, want)
				}
			})
		}
	}
}
