package connection_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/lifecycle"
	"pgforce/sync/store/storetest"
)

// inState stores a connection in a state, bound to an org and authorized at a time.
func inState(t *testing.T, st connection.State, orgID string, authorizedAt time.Time) (context.Context, pgx.Tx, int64) {
	t.Helper()
	ctx := context.Background()
	pool, schema := storetest.Pool(t)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	id, err := connection.Insert(ctx, tx, connection.Row{Name: "acme", Schema: schema + "_sf", OrgType: connection.Production, LoginURL: "https://login.salesforce.com", APIVersion: "62.0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE connections SET state = $2, org_id = $3, authorized_at = $4 WHERE id = $1`, id, string(st), orgID, authorizedAt); err != nil {
		t.Fatal(err)
	}
	return ctx, tx, id
}

func refusedFor(t *testing.T, err error, precondition string) {
	t.Helper()
	var r *lifecycle.Refusal
	if !errors.As(err, &r) || r.Precondition != precondition {
		t.Fatalf("want a refusal for %s, got %v", precondition, err)
	}
}

func TestOnlyTheAuthorizationAFailingClientUsedIsDeclaredLost(t *testing.T) {
	t.Parallel()
	authorized := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ctx, tx, id := inState(t, connection.Idle, "00D000000000001AAA", authorized)
	// A client opened before a re-authorization fails with the old tokens.
	_, err := connection.Apply(ctx, tx, id, connection.LoseAuth.With(connection.AuthorizedNoLaterThan(authorized.Add(-time.Hour))), "refused")
	refusedFor(t, err, "authorization_unchanged")
	if _, err := connection.Apply(ctx, tx, id, connection.LoseAuth.With(connection.AuthorizedNoLaterThan(authorized)), "refused"); err != nil {
		t.Fatalf("the client of the current authorization loses it: %v", err)
	}
}

func TestAConnectionStaysWithItsOrg(t *testing.T) {
	t.Parallel()
	ctx, tx, id := inState(t, connection.Idle, "00D000000000001AAA", time.Now())
	_, err := connection.Apply(ctx, tx, id, connection.Authorize.With(connection.SameOrg("00D000000000001AAA", "00D000000000002AAA")), "")
	refusedFor(t, err, "same_org")
	// Ids compare on their first 15 characters (Salesforce's case-sensitive form).
	if _, err := connection.Apply(ctx, tx, id, connection.Authorize.With(connection.SameOrg("00D000000000001AAA", "00D000000000001")), ""); err != nil {
		t.Fatalf("the same org, 15-character id: %v", err)
	}
}

func TestAHealthyConnectionIsRecoveredOnlyForAStoppedMapping(t *testing.T) {
	t.Parallel()
	ctx, tx, id := inState(t, connection.Idle, "", time.Now())
	if err := connection.Check(ctx, tx, id, connection.Recover); err == nil {
		t.Fatal("nothing to recover from")
	} else {
		refusedFor(t, err, "something_to_recover")
	}
	m, err := mapping.Insert(ctx, tx, id, "Account", mapping.NewConfig("Name"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mapping.Apply(ctx, tx, m.ID, mapping.Fail, "boom"); err != nil {
		t.Fatal(err)
	}
	if err := connection.Check(ctx, tx, id, connection.Recover); err != nil {
		t.Fatalf("a stopped mapping is something to recover: %v", err)
	}
}

func TestARecoveryEndsOnceEveryMappingPolledSinceItBegan(t *testing.T) {
	t.Parallel()
	ctx, tx, id := inState(t, connection.Recovery, "", time.Now())
	m, err := mapping.Insert(ctx, tx, id, "Account", mapping.NewConfig("Name"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE mappings SET state = 'DATA_SYNCED', last_poll_at = now() - interval '1 hour' WHERE id = $1`, m.ID); err != nil {
		t.Fatal(err)
	}
	_, err = connection.Apply(ctx, tx, id, connection.Recovered, "caught up")
	refusedFor(t, err, "polled_since_recovery")
	if _, err := tx.Exec(ctx, `UPDATE mappings SET last_poll_at = clock_timestamp() WHERE id = $1`, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := connection.Apply(ctx, tx, id, connection.Recovered, "caught up"); err != nil {
		t.Fatalf("every mapping polled: %v", err)
	}
}
