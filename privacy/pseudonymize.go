package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sync"

	"github.com/journeys-analytics/journeys/schemas"
)

// MinKeyBytes is the shortest pseudonymisation key accepted: HMAC-SHA256's
// security rests on the key, and a short one can be brute-forced together
// with guessable ids (emails, sequence numbers).
const MinKeyBytes = 32

// Pseudonymizer replaces personal identifiers by HMAC-SHA256 pseudonyms
// under a secret key, before anything is stored. The same id always gives the
// same pseudonym, so journeys, personas and identity stitching work as
// before; without the key nobody can tell which person a pseudonym is, nor
// compute the pseudonym of a known id. It is pure and safe for concurrent
// use.
type Pseudonymizer struct {
	key   []byte
	props map[string]bool
	drop  bool
	// macs reuses keyed HMAC states: building one hashes the key twice
	// and allocates, and ID runs twice per event.
	macs sync.Pool
}

// NewPseudonymizer returns a Pseudonymizer for key. properties are the
// top-level keys of event properties and traits to protect too: hashed like
// ids, or removed when drop is set.
func NewPseudonymizer(key []byte, properties []string, drop bool) (*Pseudonymizer, error) {
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("privacy: pseudonymisation key has %d bytes, want at least %d", len(key), MinKeyBytes)
	}
	p := &Pseudonymizer{key: append([]byte(nil), key...), props: map[string]bool{}, drop: drop}
	p.macs.New = func() any { return hmac.New(sha256.New, p.key) }
	for _, k := range properties {
		if k == "" {
			return nil, errors.New("privacy: empty property name")
		}
		p.props[k] = true
	}
	return p, nil
}

// ID returns the pseudonym of id: 64 hex digits. "" stays "", so an absent
// id stays absent.
func (p *Pseudonymizer) ID(id string) string {
	if id == "" {
		return ""
	}
	m := p.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(id))
	var sum [sha256.Size]byte
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], m.Sum(sum[:0]))
	p.macs.Put(m)
	return string(out[:])
}

// IDs pseudonymises the user and anonymous ids of ev in place. It runs
// before enrichment, so that identity stitching and every id stored (and
// restored from ClickHouse on a rebalance) are pseudonyms alike.
func (p *Pseudonymizer) IDs(ev *schemas.Event) {
	ev.UserID = p.ID(ev.UserID)
	ev.AnonymousID = p.ID(ev.AnonymousID)
}

// Properties hashes or drops the listed keys of ev's properties and traits,
// in the parsed maps and in the raw JSON that is stored. It runs after
// enrichment, so journey-map rules still see the original values; nothing
// else of the event keeps them. Unlisted values keep their exact JSON text;
// the object is re-encoded (keys sorted) only when it has a listed key.
func (p *Pseudonymizer) Properties(ev *schemas.Event) error {
	if len(p.props) == 0 {
		return nil
	}
	var err error
	if ev.RawProperties, err = p.object(ev.RawProperties, ev.Properties); err != nil {
		return fmt.Errorf("privacy: properties: %w", err)
	}
	if ev.RawTraits, err = p.object(ev.RawTraits, ev.Traits); err != nil {
		return fmt.Errorf("privacy: traits: %w", err)
	}
	return nil
}

func (p *Pseudonymizer) object(raw []byte, parsed map[string]any) ([]byte, error) {
	found := false
	for k := range parsed {
		if p.props[k] {
			found = true
			break
		}
	}
	if !found {
		return raw, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return raw, err
	}
	for k, v := range obj {
		if !p.props[k] {
			continue
		}
		if p.drop {
			delete(obj, k)
			delete(parsed, k)
			continue
		}
		// A string is hashed as its text, anything else as its JSON.
		text := string(v)
		var s string
		if json.Unmarshal(v, &s) == nil {
			text = s
		}
		h := p.ID(text)
		obj[k], _ = json.Marshal(h) // a hex string always encodes
		parsed[k] = h
	}
	return json.Marshal(obj)
}
