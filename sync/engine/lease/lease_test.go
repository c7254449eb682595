package lease_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/lease"
	"pgforce/sync/store"
	"pgforce/sync/store/storetest"
)

// twoInstances makes a connection and the lease managers of two pgforce instances with a short TTL.
func twoInstances(t *testing.T) (*pgxpool.Pool, int64, *lease.Manager, *lease.Manager) {
	t.Helper()
	pool, _ := storetest.Pool(t)
	var connID int64
	if err := pool.QueryRow(context.Background(), `INSERT INTO connections (name, schema_name, state, org_type, login_url, api_version)
		VALUES ('c', 'salesforce', 'IDLE', 'simulated', 'http://x', '62.0') RETURNING id`).Scan(&connID); err != nil {
		t.Fatal(err)
	}
	return pool, connID, lease.New(pool, "instance-a", 300*time.Millisecond), lease.New(pool, "instance-b", 300*time.Millisecond)
}

func TestOneHolderAtATimeWithTakeoverAfterExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, connID, a, b := twoInstances(t)

	if ok, err := a.TryAcquire(ctx, connID); !ok || err != nil {
		t.Fatalf("a acquires a free lease: %v %v", ok, err)
	}
	if ok, err := b.TryAcquire(ctx, connID); ok || err != nil {
		t.Fatalf("b must not take a held lease: %v %v", ok, err)
	}
	if ok, _ := a.TryAcquire(ctx, connID); !ok {
		t.Fatal("the holder renews its own lease")
	}
	fence := func(m *lease.Manager) error {
		return store.Tx(ctx, pool, func(tx pgx.Tx) error { return m.Check(ctx, tx, connID) })
	}
	if err := fence(a); err != nil {
		t.Fatalf("holder passes the fence: %v", err)
	}
	if err := fence(b); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("non-holder fails the fence: %v", err)
	}

	// a stops renewing (it died): once the lease expires, b takes over and a is fenced out.
	deadline := time.Now().Add(5 * time.Second)
	enginetest.Eventually(t, "b to take over the expired lease", time.Until(deadline), func() (bool, string) {
		ok, err := b.TryAcquire(ctx, connID)
		if err != nil {
			t.Fatal(err)
		}
		return ok, ""
	})
	if err := fence(a); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("the old holder must be fenced out: %v", err)
	}
	if holder, _, _ := lease.Holder(ctx, pool, connID); holder != "instance-b" {
		t.Fatalf("holder = %q", holder)
	}
	// Release frees it at once.
	if err := b.Release(ctx, connID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.TryAcquire(ctx, connID); !ok {
		t.Fatal("a released lease is free at once")
	}
}

// Work holds the fence for its whole transaction (a load can take minutes): the holder's renewals
// go through meanwhile, and a takeover after expiry waits until that work has committed.
func TestTheFenceLetsTheHolderRenewButMakesATakeoverWait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, connID, a, b := twoInstances(t)
	if ok, err := a.TryAcquire(ctx, connID); !ok || err != nil {
		t.Fatalf("a acquires: %v %v", ok, err)
	}
	work, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer work.Rollback(ctx)
	if err := a.Check(ctx, work, connID); err != nil {
		t.Fatal(err)
	}
	renew, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ok, err := a.TryAcquire(renew, connID); !ok || err != nil {
		t.Fatalf("the holder renews while its work holds the fence: %v %v", ok, err)
	}

	// a stops renewing; after expiry b tries to take over and must wait for a's open work.
	enginetest.Eventually(t, "the lease to expire", 5*time.Second, func() (bool, string) {
		var expired bool
		if err := pool.QueryRow(ctx, `SELECT expires_at < now() FROM leases WHERE connection_id = $1`, connID).Scan(&expired); err != nil {
			t.Fatal(err)
		}
		return expired, ""
	})
	took := make(chan error, 1)
	go func() {
		ok, err := b.TryAcquire(ctx, connID)
		if err == nil && !ok {
			err = errors.New("b did not get the expired lease")
		}
		took <- err
	}()
	enginetest.Eventually(t, "the takeover to wait for the old holder's work", 5*time.Second, func() (bool, string) {
		var waiting bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO leases%')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-took:
			t.Fatalf("the takeover did not wait for the old holder's work: %v", err)
		default:
		}
		return waiting, ""
	})
	if err := work.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-took; err != nil {
		t.Fatal(err)
	}
	if holder, _, _ := lease.Holder(ctx, pool, connID); holder != "instance-b" {
		t.Fatalf("holder = %q", holder)
	}
}

// An expired lease whose row the previous holder still has locked (its release waiting for its last
// transaction) is not taken this round, and the attempt gives up instead of waiting: the instance's
// other connections are not held up. Once the lock is gone it is taken.
func TestALockedExpiredLeaseIsSkippedNotWaitedFor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, connID, a, b := twoInstances(t)
	if ok, err := a.TryAcquire(ctx, connID); !ok || err != nil {
		t.Fatalf("a acquires: %v %v", ok, err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM leases WHERE connection_id = $1 FOR UPDATE`, connID); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "a's lease to expire", 5*time.Second, func() (bool, string) {
		h, until, _ := lease.Holder(ctx, pool, connID)
		return h == "" || until.Before(time.Now()), h
	})
	waitAtMost, cancel := context.WithTimeout(ctx, 10*time.Second) // waiting on the lock ends in an error
	defer cancel()
	if ok, err := b.TryAcquire(waitAtMost, connID); ok || err != nil {
		t.Fatalf("b while the row is locked: %v %v", ok, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryAcquire(ctx, connID); !ok || err != nil {
		t.Fatalf("b once the lock is gone: %v %v", ok, err)
	}
}

// A holder's name tells which process holds a lease: its process id is always the second field from
// the end ("HOST-PID-TOKEN", whatever the host's name), and no two names are alike.
func TestAHolderNameNamesItsProcess(t *testing.T) {
	t.Parallel()
	pid := strconv.Itoa(os.Getpid())
	seen := map[string]bool{}
	for range 2000 { // a base64url token held a "-" in about 1 name of 13
		name := lease.HolderName()
		fields := strings.Split(name, "-")
		if len(fields) < 3 || fields[len(fields)-2] != pid {
			t.Fatalf("holder name %q: its second field from the end is not the process id %s", name, pid)
		}
		if seen[name] {
			t.Fatalf("holder name %q given twice", name)
		}
		seen[name] = true
	}
}

// An instance under its share tries every connection each round. Those another instance holds it
// passes over at once, even while the holder's work has their lease rows under the fence (loads take
// minutes): it neither waits on them nor locks them.
func TestALeaseAnotherInstanceHoldsIsPassedOverWithoutWaitingForItsWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.Pool(t)
	a, b := lease.New(pool, "instance-a", time.Minute), lease.New(pool, "instance-b", time.Minute)
	const busy = 5
	for i := range busy {
		var connID int64
		if err := pool.QueryRow(ctx, `INSERT INTO connections (name, schema_name, state, org_type, login_url, api_version)
			VALUES ($1, $1, 'IDLE', 'simulated', 'http://x', '62.0') RETURNING id`, fmt.Sprintf("c%d", i)).Scan(&connID); err != nil {
			t.Fatal(err)
		}
		if ok, err := a.TryAcquire(ctx, connID); !ok || err != nil {
			t.Fatalf("a acquires connection %d: %v %v", connID, ok, err)
		}
		work, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = work.Rollback(ctx) })
		if err := a.Check(ctx, work, connID); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		if ok, err := b.TryAcquire(ctx, connID); ok || err != nil {
			t.Fatalf("b must not take connection %d that a holds: %v %v", connID, ok, err)
		}
		// Waiting on the fenced row would take the whole lock timeout (1 s).
		if took := time.Since(began); took >= time.Second {
			t.Fatalf("b's attempt on connection %d took %v: it waited for a's work", connID, took)
		}
	}
}
