package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/internal/config"
	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/lifecycle"
	"pgforce/sync/orgclient"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// Connections administers connections: creating and authorizing them, their lifecycle (pause,
// resume, recover), their settings and deleting them.
type Connections struct{ *base }

// NewConnection is what an admin chooses when setting up a connection.
type NewConnection struct {
	Name       string             // defaults to the schema
	Schema     string             // database schema for the mapped tables, default "salesforce"
	OrgType    connection.OrgType // production, sandbox, custom or simulated
	LoginURL   string             // required for custom and simulated orgs
	APIVersion string             // e.g. "62.0"
}

// Login URLs of Salesforce's standard orgs.
const (
	ProductionLoginURL = "https://login.salesforce.com"
	SandboxLoginURL    = "https://test.salesforce.com"
)

// reservedSchemas cannot hold mapped tables.
var reservedSchemas = map[string]bool{"public": true, "information_schema": true, "pg_catalog": true, "pg_toast": true}

func (s *Connections) validateNew(n *NewConnection, appSchema string) error {
	n.Schema = strings.TrimSpace(n.Schema)
	if n.Schema == "" {
		n.Schema = "salesforce"
	}
	if !config.ValidIdentifier(n.Schema) || reservedSchemas[n.Schema] || strings.HasPrefix(n.Schema, "pg_") {
		return failure.InvalidField("schema", "The schema must be a lower-case name of letters, digits and underscores (not public or pg_*), got %q.", n.Schema)
	}
	if n.Schema == appSchema {
		return failure.InvalidField("schema", "Schema %q holds pgforce's own tables; choose another one for the synced tables.", n.Schema)
	}
	n.Name = strings.TrimSpace(n.Name)
	if n.Name == "" {
		n.Name = n.Schema
	}
	if len(n.Name) > 100 {
		return failure.InvalidField("name", "The connection name is too long (100 characters at most).")
	}
	switch n.OrgType {
	case connection.Production:
		n.LoginURL = ProductionLoginURL
	case connection.Sandbox:
		n.LoginURL = SandboxLoginURL
	case connection.Custom, connection.Simulated:
		u := strings.TrimRight(strings.TrimSpace(n.LoginURL), "/")
		if !strings.HasPrefix(u, "https://") && !(n.OrgType == connection.Simulated && strings.HasPrefix(u, "http://")) {
			return failure.InvalidField("login_url", "Enter your org's My Domain login URL, e.g. https://acme.my.salesforce.com.")
		}
		n.LoginURL = u
	default:
		return failure.InvalidField("org_type", "Choose production, sandbox or custom domain.")
	}
	v := strings.TrimPrefix(strings.TrimSpace(n.APIVersion), "v")
	if v == "" {
		v = DefaultAPIVersion
	}
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil || minor != 0 || major < MinAPIVersion {
		return failure.InvalidField("api_version", "The API version must look like %s and be %d.0 or newer.", DefaultAPIVersion, MinAPIVersion)
	}
	n.APIVersion = v
	return nil
}

// API versions pgforce supports.
const (
	DefaultAPIVersion = "62.0"
	MinAPIVersion     = 50
)

// appSchema returns the schema holding pgforce's own tables (first on the search path).
func (s *Connections) appSchema(ctx context.Context) string {
	var name string
	_ = s.opts.Pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&name)
	return name
}

// Create stores a connection waiting for authorization (state NEW) and installs Heroku
// Connect's support tables in its schema.
func (s *Connections) Create(ctx context.Context, actor audit.Actor, n NewConnection) (connection.Connection, error) {
	if err := s.validateNew(&n, s.appSchema(ctx)); err != nil {
		return connection.Connection{}, err
	}
	var c connection.Connection
	err := store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		id, err := connection.Insert(ctx, tx, connection.Row{Name: n.Name, Schema: n.Schema, OrgType: n.OrgType, LoginURL: n.LoginURL, APIVersion: n.APIVersion})
		if err != nil {
			return err
		}
		if err := triggerlog.InstallSchema(ctx, tx, n.Schema); err != nil {
			return err
		}
		c, err = connection.Load(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &id, Action: audit.ConnectionCreate, Target: n.Name,
			After: map[string]any{"schema": n.Schema, "org_type": n.OrgType, "login_url": n.LoginURL, "api_version": n.APIVersion}}); err != nil {
			return err
		}
		return connection.Notify(ctx, tx, id, 0)
	})
	return c, err
}

// List lists every connection.
func (s *Connections) List(ctx context.Context) ([]connection.Connection, error) {
	return connection.List(ctx, s.opts.Pool)
}

// Get returns one connection.
func (s *Connections) Get(ctx context.Context, id int64) (connection.Connection, error) {
	return connection.Load(ctx, s.opts.Pool, id)
}

// AuthorizeURL returns the Salesforce login URL for a connection; state and verifier must be kept in
// the admin's session and checked on the callback.
func (s *Connections) AuthorizeURL(ctx context.Context, connID int64, redirectURL, state, verifier string) (string, error) {
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return "", err
	}
	return s.opts.Orgs.AuthCodeURL(c, redirectURL, state, verifier)
}

// CompleteAuthorization exchanges the callback's code for tokens and resumes syncing.
func (s *Connections) CompleteAuthorization(ctx context.Context, actor audit.Actor, connID int64, redirectURL, code, verifier string) (connection.Connection, error) {
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return c, err
	}
	auth, err := s.opts.Orgs.Exchange(ctx, c, redirectURL, code, verifier)
	if err != nil {
		return c, err
	}
	return s.saveAuthorization(ctx, actor, c, auth)
}

// AuthorizeWithPassword authorizes a connection non-interactively (automation and the simulated org).
func (s *Connections) AuthorizeWithPassword(ctx context.Context, actor audit.Actor, connID int64, username, password string) (connection.Connection, error) {
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return c, err
	}
	auth, err := s.opts.Orgs.Password(ctx, c, username, password)
	if err != nil {
		return c, err
	}
	return s.saveAuthorization(ctx, actor, c, auth)
}

func (s *Connections) saveAuthorization(ctx context.Context, actor audit.Actor, c connection.Connection, auth orgclient.Authorization) (connection.Connection, error) {
	err := store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		cur, err := connection.LoadForUpdate(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		// The org check comes first: the authorization of another org must not be stored.
		if _, err := connection.Apply(ctx, tx, c.ID, connection.Authorize.With(connection.SameOrg(cur.OrgID, auth.OrgID)), connection.AuthorizedReason+auth.Username); err != nil {
			return err
		}
		if err := connection.SaveAuthorization(ctx, tx, c.ID, connection.Authorized{InstanceURL: auth.InstanceURL, IdentityURL: auth.IdentityURL,
			OrgID: auth.OrgID, OrgName: auth.OrgName, UserID: auth.UserID, Username: auth.Username}); err != nil {
			return err
		}
		if err := connection.SaveTokens(ctx, tx, s.opts.Keyring, c.ID, connection.Tokens{AccessToken: auth.AccessToken, RefreshToken: auth.RefreshToken}); err != nil {
			return err
		}
		// Mappings stopped by the lost authorization sync again; the recovery polls catch up.
		if err := recoverMappings(ctx, tx, c.ID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &c.ID, Action: audit.ConnectionAuthorize, Target: c.Name,
			After: map[string]any{"org_id": auth.OrgID, "username": auth.Username, "instance_url": auth.InstanceURL}}); err != nil {
			return err
		}
		return connection.Notify(ctx, tx, c.ID, 0)
	})
	if err != nil {
		return c, err
	}
	return connection.Load(ctx, s.opts.Pool, c.ID)
}

func recoverMappings(ctx context.Context, tx pgx.Tx, connID int64) error {
	ms, err := mapping.List(ctx, tx, connID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.State.Stopped() {
			if _, err := recoverMapping(ctx, tx, m, "connection recovered"); err != nil {
				return err
			}
		}
	}
	return nil
}

// recoverMapping restarts a mapping stopped by an error, by what its data allows: the load resumes
// when its table holds no completed load (RELOAD_TABLE), otherwise it catches up at once
// (POLLING_SF_CHANGES, then DATA_SYNCED when the poll is done). It never calls a table in sync that
// the data does not show in sync.
func recoverMapping(ctx context.Context, tx pgx.Tx, m mapping.Mapping, reason string) (mapping.State, error) {
	t := mapping.RecoverBy(m)
	if t.Name == mapping.RecoverLoad.Name {
		if err := mapping.ResetForReload(ctx, tx, m.ID); err != nil {
			return "", err
		}
		reason += "; its last load did not finish, so it loads again"
	} else if err := mapping.PollNow(ctx, tx, m.ID); err != nil {
		return "", err
	}
	if _, err := mapping.Apply(ctx, tx, m.ID, t, reason); err != nil {
		return "", err
	}
	return t.To, nil
}

// connAction applies a connection transition with its audit entry and wakes the syncer.
func (s *Connections) connAction(ctx context.Context, actor audit.Actor, connID int64, t connection.Transition, action audit.Action, extra func(pgx.Tx, connection.Connection) error) error {
	return store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		c, err := connection.Load(ctx, tx, connID)
		if err != nil {
			return err
		}
		prev, err := connection.Apply(ctx, tx, connID, t, "by "+actor.Name)
		if err != nil {
			return err
		}
		if extra != nil {
			if err := extra(tx, c); err != nil {
				return err
			}
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: action, Target: c.Name,
			Before: map[string]any{"state": prev}, After: map[string]any{"state": t.To}}); err != nil {
			return err
		}
		return connection.Notify(ctx, tx, connID, 0)
	})
}

// Pause stops syncing. From IDLE the connection is PAUSED at once; while a write batch or a catch-up
// is in flight it is BUSY until that work is done (nothing new starts), then PAUSED. Changes made in
// the database keep accumulating in the trigger log; nothing is polled or streamed from Salesforce.
//
// The runtime moves the state between IDLE and its busy states while this runs, so a refusal names
// the state it met: the transition that state allows is tried next (a few times at most), rather
// than refusing a pause because the connection went idle between two attempts.
func (s *Connections) Pause(ctx context.Context, actor audit.Actor, connID int64) error {
	t := connection.Pause
	var err error
	for range 5 {
		err = s.connAction(ctx, actor, connID, t, audit.ConnectionPause, nil)
		var r *lifecycle.Refusal
		if !errors.As(err, &r) {
			return err
		}
		switch current := connection.State(r.Current); {
		case connection.Pause.Allowed(current):
			t = connection.Pause
		case connection.PauseWhenDone.Allowed(current):
			t = connection.PauseWhenDone
		default:
			return err
		}
	}
	return err
}

// Resume continues where the connection stopped: the trigger log is drained to Salesforce and every
// mapping (streaming ones included) polls for the changes made meanwhile.
func (s *Connections) Resume(ctx context.Context, actor audit.Actor, connID int64) error {
	return s.connAction(ctx, actor, connID, connection.Resume, audit.ConnectionResume, nil)
}

// Recover clears SYSTEM_ERROR, DB_UNAVAILABLE and authorization errors after checking the cause is
// gone, and resumes syncing (mappings stopped by errors included).
func (s *Connections) Recover(ctx context.Context, actor audit.Actor, connID int64) error {
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return err
	}
	// Refused before asking the org, which would be a wasted call (or a misleading error).
	if err := connection.Check(ctx, s.opts.Pool, connID, connection.Recover); err != nil {
		return err
	}
	if err := s.checkOrg(ctx, c); err != nil {
		return err
	}
	if err := s.opts.Pool.Ping(ctx); err != nil {
		return failure.Wrap(err, failure.Unavailable, "The database is still unreachable; pgforce keeps retrying.")
	}
	return s.connAction(ctx, actor, connID, connection.Recover, audit.ConnectionRecover, func(tx pgx.Tx, c connection.Connection) error {
		return recoverMappings(ctx, tx, c.ID)
	})
}

// checkOrg makes one cheap call to the org with the stored tokens (refreshing them if needed).
func (s *Connections) checkOrg(ctx context.Context, c connection.Connection) error {
	org, err := s.open(ctx, c)
	if err == nil {
		_, err = org.Objects(ctx)
	}
	if failure.Is(err, failure.Invalid) { // the org does not offer the API version: the refusal says which it does
		return err
	}
	if failure.Is(err, failure.Unauthenticated) {
		return failure.Wrap(err, failure.Unauthenticated, "Salesforce still refuses pgforce's authorization: re-authorize the connection.")
	}
	if err != nil {
		return failure.Wrap(err, failure.Unavailable, "Salesforce cannot be reached yet (%s); try again shortly.", failure.Message(err))
	}
	return nil
}

// SetWriteAlgorithm switches between ordered and merged writes; only while paused, so no write batch
// is in flight when the algorithm changes.
func (s *Connections) SetWriteAlgorithm(ctx context.Context, actor audit.Actor, connID int64, algo connection.WriteAlgorithm) error {
	if algo != connection.Ordered && algo != connection.Merged {
		return failure.InvalidField("write_algorithm", "The write algorithm must be ordered or merged.")
	}
	return s.pausedSetting(ctx, actor, connID, audit.WriteAlgorithm, connection.WriteAlgorithmSetting, string(algo), "change the write algorithm")
}

// SetAPIVersion changes the Salesforce API version while nothing is synced (see
// connection.State.APIVersionChangeable): paused, or not authorized yet, or stopped. An authorized
// connection's org says which versions it offers (opening a client checks it); one not authorized
// yet, or whose authorization Salesforce refuses, has the version checked when it is authorized.
func (s *Connections) SetAPIVersion(ctx context.Context, actor audit.Actor, connID int64, version string) error {
	n := NewConnection{Schema: "x", OrgType: connection.Production, APIVersion: version}
	if err := s.validateNew(&n, ""); err != nil {
		return err
	}
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return err
	}
	if c.AuthorizedAt != nil && c.State.APIVersionChangeable() {
		c.APIVersion = n.APIVersion
		if _, err := s.open(ctx, c); err != nil && !failure.Is(err, failure.Unauthenticated) {
			return err
		}
	}
	return s.setting(ctx, actor, connID, audit.APIVersion, connection.APIVersionSetting, n.APIVersion, connection.State.APIVersionChangeable,
		"Pause the connection first: you can only change the API version while it is paused, not authorized yet or stopped by an error (it is %s).")
}

func (s *Connections) pausedSetting(ctx context.Context, actor audit.Actor, connID int64, action audit.Action, setting connection.Setting, value any, what string) error {
	return s.setting(ctx, actor, connID, action, setting, value, func(st connection.State) bool { return st == connection.Paused },
		"Pause the connection first: you can only "+what+" while it is paused (it is %s).")
}

// setting saves a connection setting if the connection's state allows it (refused naming the state
// otherwise: refusal has one %s), with its audit entry.
func (s *Connections) setting(ctx context.Context, actor audit.Actor, connID int64, action audit.Action, setting connection.Setting, value any, allowed func(connection.State) bool, refusal string) error {
	return store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		state, before, err := connection.LockSetting(ctx, tx, connID, setting)
		if err != nil {
			return err
		}
		if !allowed(state) {
			return failure.E(failure.Conflict, refusal, state)
		}
		if err := connection.SaveSetting(ctx, tx, connID, setting, value); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: action,
			Before: map[string]any{string(setting): before}, After: map[string]any{string(setting): value}})
	})
}

// APIUsage reports the org's daily API usage as last seen by the syncer; max is 0 when it has not been
// seen yet (nothing synced, or an org that does not report it).
func (s *Connections) APIUsage(ctx context.Context, connID int64) (used, max int, at time.Time, err error) {
	return connection.APIUsage(ctx, s.opts.Pool, connID)
}
