package engine_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTokensNeverReachTheLogOrTheDatabaseInTheClear authorizes, syncs both ways and refreshes an
// expired access token with the engine logging at debug level: no token, old or new, appears in the
// log or in any row pgforce stores, though each opens with the instance key.
func TestTokensNeverReachTheLogOrTheDatabaseInTheClear(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	b := enginetest.New(t, enginetest.Options{Seed: 31, LogTo: logs, Debug: true, Org: sforg.Options{RedirectURIs: []string{dashboardCallback}}})
	b.ConnState(connection.Idle)
	b.WebServerFlow(dashboardCallback)
	b.ConnState(connection.Idle)
	first, err := connection.LoadTokens(b.Ctx, b.Pool, b.Keyring, b.Conn.ID)
	if err != nil || first.AccessToken == "" || first.RefreshToken == "" {
		t.Fatalf("tokens after authorization: %v", err)
	}
	m := b.CreateMapping("Contact", mapping.ReadWrite, "LastName")
	b.MappingState(m.ID, mapping.DataSynced)
	b.Org.ExpireTokens()
	b.Exec(`INSERT INTO $schema.contact (lastname) VALUES ('After expiry')`)
	b.Eventually("the insert to reach Salesforce with a refreshed token", 15*time.Second, func() (bool, string) {
		n := b.Count("contact", "lastname = 'After expiry' AND _hc_lastop = 'INSERTED'")
		return n == 1, fmt.Sprint(n)
	})
	second, err := connection.LoadTokens(b.Ctx, b.Pool, b.Keyring, b.Conn.ID)
	if err != nil || second.AccessToken == first.AccessToken {
		t.Fatalf("the access token was not refreshed: %v", err)
	}
	var stored string
	if err := b.Pool.QueryRow(b.Ctx, `SELECT concat_ws('|',
		(SELECT string_agg(c::text, '|') FROM connections c), (SELECT string_agg(l::text, '|') FROM audit_log l),
		(SELECT string_agg(e::text, '|') FROM events e), (SELECT string_agg(m::text, '|') FROM mappings m),
		(SELECT string_agg(l::text, '|') FROM leases l))`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	// The check proves something only of a log with debug lines in it (a poll's or a write's; under
	// load the test can get here before the first of them).
	b.Eventually("the engine to log at debug level", 15*time.Second, func() (bool, string) {
		return strings.Contains(logs.String(), "level=DEBUG"), "no debug line yet"
	})
	log := logs.String()
	for _, tok := range []string{first.AccessToken, first.RefreshToken, second.AccessToken} {
		for where, s := range map[string]string{"the log": log, "a stored row": stored} {
			if strings.Contains(s, tok) || strings.Contains(s, fmt.Sprintf("%x", tok)) {
				t.Errorf("%s holds a token (%.8s…)", where, tok)
			}
		}
	}
}

// dashboardCallback is the callback of the dashboard these tests stand in for, registered with the org.
const dashboardCallback = "http://localhost:9/oauth/callback"
