package triggerlog

import (
	"crypto/sha256"
	"encoding/hex"
)

// FitName shortens names over Postgres's 63-byte limit with a hash suffix, so long table names
// never produce colliding trigger or function names.
func FitName(s string) string {
	const max = 63
	if len(s) <= max {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return s[:max-9] + "_" + hex.EncodeToString(sum[:4])
}
