package handlers

import (
	"pgforce/sync/conflict"
)

// policyLabel is a mapping's conflict policy in words.
func policyLabel(name string) string {
	p, err := conflict.ParsePolicy(name)
	if err != nil {
		return name
	}
	return p.Label()
}
