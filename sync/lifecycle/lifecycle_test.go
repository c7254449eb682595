package lifecycle_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/failure"
	"pgforce/sync/lifecycle"
	"pgforce/sync/store/storetest"
)

type state string

const (
	open   state = "OPEN"
	closed state = "CLOSED"
)

// nothingUnshipped is the precondition of closing an order: nothing of it is left unshipped.
var nothingUnshipped = lifecycle.Precondition{
	Name:    "nothing_unshipped",
	SQL:     `o.unshipped = 0`,
	Message: "Ship every item before closing the order.",
}

var closeOrder = lifecycle.Transition[state]{Name: "close", From: []state{open}, To: closed, Requires: []lifecycle.Precondition{nothingUnshipped}}

// apply is how a store uses a transition: one compare-and-set, and the refusal explained.
func apply(ctx context.Context, t *testing.T, tx pgx.Tx, id int64, tr lifecycle.Transition[state]) error {
	t.Helper()
	args := pgx.NamedArgs{"id": id, "to": string(tr.To)}
	tag, err := tx.Exec(ctx, `UPDATE orders o SET state = @to WHERE o.id = @id AND `+tr.Guard("o.state", args), args)
	if err != nil {
		t.Fatal(err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var cur string
	if err := tx.QueryRow(ctx, `SELECT state FROM orders WHERE id = $1`, id).Scan(&cur); err != nil {
		t.Fatal(err)
	}
	return tr.Explain(ctx, tx, state(cur), "orders o WHERE o.id = @id", args, "Only an open order can be closed.")
}

func setup(t *testing.T) (context.Context, pgx.Tx) {
	t.Helper()
	ctx := context.Background()
	pool, _ := storetest.Pool(t)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, `CREATE TABLE orders (id bigint PRIMARY KEY, state text NOT NULL, unshipped int NOT NULL, customer text)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO orders VALUES (1, 'OPEN', 0, 'ann'), (2, 'OPEN', 3, 'bob'), (3, 'CLOSED', 0, 'cy')`); err != nil {
		t.Fatal(err)
	}
	return ctx, tx
}

func TestATransitionAppliesWhenItsStateAndPreconditionsHold(t *testing.T) {
	t.Parallel()
	ctx, tx := setup(t)
	if err := apply(ctx, t, tx, 1, closeOrder); err != nil {
		t.Fatalf("closing an open, shipped order: %v", err)
	}
}

func TestAnUnmetPreconditionIsAConflictThatNamesIt(t *testing.T) {
	t.Parallel()
	ctx, tx := setup(t)
	err := apply(ctx, t, tx, 2, closeOrder)
	var r *lifecycle.Refusal
	if !failure.Is(err, failure.Conflict) || !errors.As(err, &r) || r.Precondition != "nothing_unshipped" || r.Current != "OPEN" {
		t.Fatalf("closing an order with unshipped items: %v (%+v)", err, r)
	}
	if failure.Message(err) != nothingUnshipped.Message {
		t.Fatalf("the refusal says why: %q", failure.Message(err))
	}
}

func TestAWrongStateIsRefusedBeforeAnyPrecondition(t *testing.T) {
	t.Parallel()
	ctx, tx := setup(t)
	err := apply(ctx, t, tx, 3, closeOrder)
	var r *lifecycle.Refusal
	if !errors.As(err, &r) || r.Precondition != "" || r.Current != "CLOSED" || failure.Message(err) != "Only an open order can be closed." {
		t.Fatalf("closing a closed order: %v (%+v)", err, r)
	}
}

func TestPreconditionsKnownOnlyWhenApplyingCarryTheirArguments(t *testing.T) {
	t.Parallel()
	ctx, tx := setup(t)
	ownedBy := func(who string) lifecycle.Precondition {
		return lifecycle.Precondition{Name: "owned_by_asker", SQL: `o.customer = @asker`, Args: map[string]any{"asker": who},
			Message: "Only the customer may close the order."}
	}
	err := apply(ctx, t, tx, 1, closeOrder.With(ownedBy("bob")))
	var r *lifecycle.Refusal
	if !errors.As(err, &r) || r.Precondition != "owned_by_asker" {
		t.Fatalf("bob closing ann's order: %v", err)
	}
	if len(closeOrder.Requires) != 1 {
		t.Fatal("With must not change the transition it extends")
	}
	if err := apply(ctx, t, tx, 1, closeOrder.With(ownedBy("ann"))); err != nil {
		t.Fatalf("ann closing her order: %v", err)
	}
}

func TestTwoConditionsCannotShareAnArgumentName(t *testing.T) {
	t.Parallel()
	p := lifecycle.Precondition{Name: "a", SQL: `TRUE`, Args: map[string]any{"from": 1}}
	defer func() {
		if recover() == nil {
			t.Fatal("an argument named like the From states must be refused")
		}
	}()
	closeOrder.With(p).Guard("o.state", pgx.NamedArgs{})
}

func TestAllowedLooksAtTheStateOnly(t *testing.T) {
	t.Parallel()
	if !closeOrder.Allowed(open) || closeOrder.Allowed(closed) {
		t.Fatal("close leaves OPEN only")
	}
	anyState := lifecycle.Transition[state]{Name: "archive", To: closed}
	if !anyState.Allowed(open) || !anyState.Allowed(closed) || anyState.Guard("o.state", pgx.NamedArgs{}) != "TRUE" {
		t.Fatal("a transition without From leaves any state")
	}
}
