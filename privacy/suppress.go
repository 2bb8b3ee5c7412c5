package privacy

import (
	"crypto/sha256"
	"encoding/hex"
)

// suppressionDomain separates suppression hashes from any other SHA-256 of
// the same ids, so that the table cannot be joined against another hash
// list of user ids.
const suppressionDomain = "journeys/suppression/v1\x00"

// SuppressionKey is what the suppression list stores for id: hex SHA-256 of
// a fixed prefix and id. id is the id as the collector stores it (after
// pseudonymisation, when that is on), so that `journeys forget` and the
// collector compute the same key. "" has no key: an event without that id
// is never suppressed by it.
func SuppressionKey(id string) string {
	if id == "" {
		return ""
	}
	sum := suppressionSum(id)
	return hex.EncodeToString(sum[:])
}

func suppressionSum(id string) [sha256.Size]byte {
	// A stack buffer for the usual short ids: the check runs per event.
	var buf [128]byte
	b := append(append(buf[:0], suppressionDomain...), id...)
	return sha256.Sum256(b)
}

// Set is a suppression list loaded from storage: it answers whether any of
// an event's ids is suppressed. The zero Set suppresses nothing and costs
// nothing per event, the common case.
type Set struct {
	keys map[[sha256.Size]byte]struct{}
}

// NewSet builds a Set from stored keys; keys that are not hex SHA-256 (none
// that SuppressionKey wrote) are skipped.
func NewSet(keys []string) *Set {
	s := &Set{keys: make(map[[sha256.Size]byte]struct{}, len(keys))}
	for _, k := range keys {
		var sum [sha256.Size]byte
		if n, err := hex.Decode(sum[:], []byte(k)); err == nil && n == sha256.Size {
			s.keys[sum] = struct{}{}
		}
	}
	return s
}

// Len is the number of suppressed ids.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// Has reports whether any of ids is suppressed.
func (s *Set) Has(ids ...string) bool {
	if s.Len() == 0 {
		return false
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, ok := s.keys[suppressionSum(id)]; ok {
			return true
		}
	}
	return false
}

// HasKey reports whether a key (not an id) is in the set.
func (s *Set) HasKey(key string) bool {
	if s.Len() == 0 {
		return false
	}
	var sum [sha256.Size]byte
	if n, err := hex.Decode(sum[:], []byte(key)); err != nil || n != sha256.Size {
		return false
	}
	_, ok := s.keys[sum]
	return ok
}
