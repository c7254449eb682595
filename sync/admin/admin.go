// Package admin is pgforce's administration: every change an admin makes (from the dashboard, the
// CLI or the REST API) to connections, mappings and trigger-log rows, each through its store's named
// transitions and audited in the same transaction. It never syncs anything itself: each change is
// stored, then announced with a notification (connection.Notify) that the instance syncing the
// connection acts on at once (package engine). The service is split by concern so that each part
// stays small: Connections, Mappings, Configuration (import and export), Writes (failed writes),
// Inspection (readers of an org's setup, for the doctor) and Verifications (comparing tables with
// Salesforce).
package admin

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/internal/keyring"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/store"
)

// Options configure the administration.
type Options struct {
	Pool    *pgxpool.Pool
	Keyring *keyring.Keyring // decrypts the stored Salesforce tokens
	Orgs    orgclient.Orgs
	Log     *slog.Logger
	Now     func() time.Time
}

// Service is the administration, one part per concern; the parts share one cache of org clients.
type Service struct {
	Connections   *Connections
	Mappings      *Mappings
	Configuration *Configuration
	Writes        *Writes
	Inspection    *Inspection
	Verifications *Verifications
	Conflicts     *Conflicts
}

// New returns the administration over the database in opts.
func New(opts Options) *Service {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &base{opts: opts}
	return &Service{Connections: &Connections{b}, Mappings: &Mappings{base: b, states: mapping.NewStatesCache(opts.Pool)}, Configuration: &Configuration{b}, Writes: &Writes{b}, Inspection: &Inspection{b},
		Verifications: &Verifications{b}, Conflicts: &Conflicts{b}}
}

// base is what every part of the service works with.
type base struct {
	opts Options
	orgs orgCache
}

// orgCache keeps one org client per connection for administrative calls (describes are cached there).
type orgCache struct {
	mu      sync.Mutex
	clients map[int64]cachedOrg
}

type cachedOrg struct {
	key string
	org orgclient.Org
}

// orgFor returns an org client for administrative calls on a connection.
func (b *base) orgFor(ctx context.Context, c connection.Connection) (orgclient.Org, error) {
	if c.State == connection.New || c.AuthorizedAt == nil {
		return nil, failure.E(failure.Conflict, "Authorize the connection with Salesforce first.")
	}
	key := fmt.Sprintf("%s|%s", c.AuthorizedAt.Format(time.RFC3339Nano), c.APIVersion)
	b.orgs.mu.Lock()
	if b.orgs.clients == nil {
		b.orgs.clients = map[int64]cachedOrg{}
	}
	if co, ok := b.orgs.clients[c.ID]; ok && co.key == key {
		b.orgs.mu.Unlock()
		return co.org, nil
	}
	b.orgs.mu.Unlock()
	org, err := b.open(ctx, c)
	if err != nil {
		return nil, err
	}
	b.orgs.mu.Lock()
	b.orgs.clients[c.ID] = cachedOrg{key: key, org: org}
	b.orgs.mu.Unlock()
	return org, nil
}

// forget drops the cached client of a deleted connection.
func (b *base) forget(connID int64) {
	b.orgs.mu.Lock()
	delete(b.orgs.clients, connID)
	b.orgs.mu.Unlock()
}

// open opens an org client with the connection's stored tokens, storing refreshed ones.
func (b *base) open(ctx context.Context, c connection.Connection) (orgclient.Org, error) {
	tokens, err := connection.LoadTokens(ctx, b.opts.Pool, b.opts.Keyring, c.ID)
	if err != nil {
		return nil, err
	}
	return b.opts.Orgs.Open(ctx, c, tokens, b.tokenSaver(c.ID))
}

// tokenSaver stores a connection's refreshed tokens.
func (b *base) tokenSaver(connID int64) func(ctx context.Context, access, refresh string) error {
	return func(ctx context.Context, access, refresh string) error {
		return store.Tx(ctx, b.opts.Pool, func(tx pgx.Tx) error {
			return connection.SaveTokens(ctx, tx, b.opts.Keyring, connID, connection.Tokens{AccessToken: access, RefreshToken: refresh})
		})
	}
}
