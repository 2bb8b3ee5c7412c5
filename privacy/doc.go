// Package privacy holds the pure parts of journeys' privacy features:
// pseudonymisation of ids and listed properties (HMAC-SHA256 under a secret
// key, or dropping) applied by the collector before anything is stored, and
// the suppression key under which `journeys forget` records an erased
// customer and against which the collector checks every event. It does no
// I/O.
package privacy
