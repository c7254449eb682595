package web

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"

	"pgforce/sync/store/storetest"
)

// A page load renews its session (scs commits it again to move the idle deadline): the store writes
// it only when its data changed, or when the deadline moved by a thirtieth of the idle timeout since
// this process wrote it, or when what is stored is not what it wrote.
func TestSessionStoreWritesARenewalOnlyWhenSomethingChanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.Pool(t)
	sm := scs.New()
	sm.IdleTimeout = 30 * time.Minute // renewals are written once the deadline moved a minute
	inner := pgxstore.NewWithCleanupInterval(pool, 0)
	st := newRenewingStore(inner, sm)
	deadline := time.Now().Add(12 * time.Hour).UTC().Round(time.Microsecond)
	encode := func(values map[string]any) []byte {
		t.Helper()
		b, err := sm.Codec.Encode(deadline, values)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// stored returns the row's version and expiry.
	stored := func() (string, time.Time) {
		t.Helper()
		var xmin string
		var expiry time.Time
		if err := pool.QueryRow(ctx, `SELECT xmin::text, expiry FROM sessions WHERE token = 'tok'`).Scan(&xmin, &expiry); err != nil {
			t.Fatal(err)
		}
		return xmin, expiry
	}
	commit := func(what string, values map[string]any, expiry time.Time, wantWrite bool) {
		t.Helper()
		before := ""
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE token = 'tok'`).Scan(&n)
		if n > 0 {
			before, _ = stored()
		}
		if _, _, err := st.FindCtx(ctx, "tok"); err != nil { // as every request does first
			t.Fatal(err)
		}
		if err := st.CommitCtx(ctx, "tok", encode(values), expiry); err != nil {
			t.Fatal(err)
		}
		after, at := stored()
		if wrote := after != before; wrote != wantWrite {
			t.Fatalf("%s: wrote %v, want %v", what, wrote, wantWrite)
		}
		if wantWrite && !at.Equal(expiry) {
			t.Fatalf("%s: stored expiry %v, want %v", what, at, expiry)
		}
	}
	signedIn := map[string]any{"user": int64(7), "conn": int64(2), "flash": "one", "theme": "dark"}
	e := time.Now().Add(30 * time.Minute).UTC().Round(time.Microsecond)
	commit("a new session", signedIn, e, true)
	commit("a renewal 30 s later", signedIn, e.Add(30*time.Second), false)
	commit("a renewal 59 s after the write", signedIn, e.Add(59*time.Second), false)
	commit("a renewal a minute after the write", signedIn, e.Add(61*time.Second), true)
	e = e.Add(61 * time.Second)
	commit("a change of data", map[string]any{"user": int64(7), "conn": int64(3), "flash": "one", "theme": "dark"}, e.Add(time.Second), true)
	e = e.Add(time.Second)

	// Another instance writes the session: what this process wrote is no longer what is stored.
	if err := inner.Commit("tok", encode(signedIn), e); err != nil {
		t.Fatal(err)
	}
	commit("the data this process wrote last, after another wrote other data", map[string]any{"user": int64(7), "conn": int64(3), "flash": "one", "theme": "dark"}, e.Add(time.Second), true)
	e = e.Add(time.Second)

	// Deleted (signed out): the next commit writes.
	if err := st.DeleteCtx(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	if err := st.CommitCtx(ctx, "tok", encode(signedIn), e); err != nil {
		t.Fatal(err)
	}
	if _, at := stored(); !at.Equal(e) {
		t.Fatalf("after a deletion the session is written again: expiry %v, want %v", at, e)
	}
}
