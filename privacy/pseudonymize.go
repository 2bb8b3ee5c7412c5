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
// in the raw JSON that is stored and so in what ev decodes from it. It runs
// after enrichment, so journey-map rules still see the original values;
// nothing else of the event keeps them. Unlisted values keep their exact
// JSON text; the object is re-encoded (keys sorted) only when it has a
// listed key, which is looked up without decoding the object.
func (p *Pseudonymizer) Properties(ev *schemas.Event) error {
	if len(p.props) == 0 {
		return nil
	}
	if p.listed(ev.Property) {
		raw, err := p.object(ev.RawProperties)
		if err != nil {
			return fmt.Errorf("privacy: properties: %w", err)
		}
		ev.SetRawProperties(raw)
	}
	if p.listed(ev.Trait) {
		raw, err := p.object(ev.RawTraits)
		if err != nil {
			return fmt.Errorf("privacy: traits: %w", err)
		}
		ev.SetRawTraits(raw)
	}
	return nil
}

// listed reports whether the object that lookup reads has a listed key.
func (p *Pseudonymizer) listed(lookup func(key string) (any, bool)) bool {
	for k := range p.props {
		if _, ok := lookup(k); ok {
			return true
		}
	}
	return false
}

// object returns the JSON object raw with its listed keys hashed or
// dropped. Decoding the result gives what decoding raw gives, with those
// keys changed alike: encoding/json reads keys and keeps values here as it
// does into an any, so the event's decoded objects follow the text.
func (p *Pseudonymizer) object(raw []byte) ([]byte, error) {
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
			continue
		}
		// A string is hashed as its text, anything else as its JSON.
		text := string(v)
		var s string
		if json.Unmarshal(v, &s) == nil {
			text = s
		}
		obj[k], _ = json.Marshal(p.ID(text)) // a hex string always encodes
	}
	return json.Marshal(obj)
}
