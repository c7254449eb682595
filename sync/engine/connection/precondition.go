package connection

import (
	"fmt"
	"time"

	"pgforce/sync/engine/mapping"
	"pgforce/sync/lifecycle"
)

// Preconditions of connection transitions, on the connection's row c (see lifecycle.Precondition).
var (
	// somethingToRecover: a healthy (IDLE) connection is recovered only to restart mappings stopped by
	// errors (the seed: resume the connection instead of reloading the mapping).
	somethingToRecover = lifecycle.Precondition{
		Name: "something_to_recover",
		SQL: `c.state <> '` + string(Idle) + `' OR EXISTS (SELECT 1 FROM mappings m
			WHERE m.connection_id = c.id AND m.state = ANY(@stopped_mapping_states::text[]))`,
		Args:    map[string]any{"stopped_mapping_states": lifecycle.Strings(mapping.SystemError, mapping.DBUnavailable, mapping.Unauthorized, mapping.BulkLoadError)},
		Message: "There is no error to recover from: the connection is IDLE and every mapping is healthy.",
	}

	// polledSinceRecovery: a recovery is over once every syncing mapping polled after it began (the
	// seed: resuming "retrieves changes made in Salesforce using polling, including mappings that
	// normally use the Streaming API").
	polledSinceRecovery = lifecycle.Precondition{
		Name: "polled_since_recovery",
		SQL: `NOT EXISTS (SELECT 1 FROM mappings m WHERE m.connection_id = c.id AND m.state = ANY(@syncing_mapping_states::text[])
			AND (m.last_poll_at IS NULL OR m.last_poll_at < c.state_changed_at))`,
		Args:    map[string]any{"syncing_mapping_states": lifecycle.Strings(mapping.DataSynced, mapping.PollingSFChanges, mapping.PollingSFBulk)},
		Message: "Not every mapping has polled Salesforce since the recovery began.",
	}
)

// AuthorizedNoLaterThan holds while the connection's authorization is the one a client opened at
// used, or older: a client opened before a re-authorization fails with the old tokens, which says
// nothing about the new ones, so only the authorization it used may be declared lost.
func AuthorizedNoLaterThan(used time.Time) lifecycle.Precondition {
	return lifecycle.Precondition{
		Name:    "authorization_unchanged",
		SQL:     `c.authorized_at IS NULL OR c.authorized_at <= @used_authorization`,
		Args:    map[string]any{"used_authorization": used},
		Message: "The connection was authorized again since; the new authorization stands.",
	}
}

// SameOrg holds while the connection is bound to no org yet or to signedIn (Salesforce ids compare
// on their first 15 characters): a connection keeps its org for life, since its tables hold that
// org's records. boundTo is the org it is bound to, for the message.
func SameOrg(boundTo, signedIn string) lifecycle.Precondition {
	return lifecycle.Precondition{
		Name:    "same_org",
		SQL:     `c.org_id = '' OR @signed_in_org::text = '' OR left(c.org_id, 15) = left(@signed_in_org::text, 15)`,
		Args:    map[string]any{"signed_in_org": signedIn},
		Message: fmt.Sprintf("This connection is bound to org %s, but you signed in to org %s. Sign in to the right org, or create a new connection (after a sandbox refresh: export, create, import).", boundTo, signedIn),
	}
}
