package migrations_test

import (
	"context"
	"testing"

	"pgforce/migrations"
	"pgforce/sync/store/storetest"
)

func TestMigrationsGoUpDownAndUpAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, schema := storetest.EmptyPool(t)

	tables := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := migrations.Up(ctx, pool); err != nil {
		t.Fatalf("up: %v", err)
	}
	cur, latest, err := migrations.Status(ctx, pool)
	if err != nil || cur != latest || int(latest) != migrations.Latest() {
		t.Fatalf("after up: current=%d latest=%d err=%v", cur, latest, err)
	}
	afterUp := tables()
	if afterUp < 5 {
		t.Fatalf("expected pgforce tables after up, found %d", afterUp)
	}
	if err := migrations.To(ctx, pool, 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	if n := tables(); n != 1 { // only tern's schema_version remains
		t.Fatalf("after down, %d tables remain, want only schema_version", n)
	}
	if err := migrations.Up(ctx, pool); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if n := tables(); n != afterUp {
		t.Fatalf("up after down made %d tables, first up made %d", n, afterUp)
	}
}

func TestConcurrentStartsMigrateOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.EmptyPool(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- migrations.Up(ctx, pool) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent up: %v", err)
		}
	}
	cur, latest, err := migrations.Status(ctx, pool)
	if err != nil || cur != latest {
		t.Fatalf("current=%d latest=%d err=%v", cur, latest, err)
	}
}
