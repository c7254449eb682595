package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"pgforce/internal/config"
	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

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

func (e *Engine) validateNew(n *NewConnection, appSchema string) error {
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
func (e *Engine) appSchema(ctx context.Context) string {
	var s string
	_ = e.opts.Pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&s)
	return s
}

// CreateConnection stores a connection waiting for authorization (state NEW) and installs Heroku
// Connect's support tables in its schema.
func (e *Engine) CreateConnection(ctx context.Context, actor audit.Actor, n NewConnection) (connection.Connection, error) {
	if err := e.validateNew(&n, e.appSchema(ctx)); err != nil {
		return connection.Connection{}, err
	}
	var c connection.Connection
	err := store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO connections (name, schema_name, state, org_type, login_url, api_version)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, n.Name, n.Schema, string(connection.New), string(n.OrgType), n.LoginURL, n.APIVersion).Scan(&id)
		if store.IsCode(err, "23505") {
			return failure.E(failure.Conflict, "A connection named %q or using schema %q already exists.", n.Name, n.Schema)
		}
		if err != nil {
			return fmt.Errorf("create connection: %w", err)
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
		return notify(ctx, tx, id, 0)
	})
	return c, err
}

// Connections lists every connection.
func (e *Engine) Connections(ctx context.Context) ([]connection.Connection, error) {
	return connection.List(ctx, e.opts.Pool)
}

// Connection returns one connection.
func (e *Engine) Connection(ctx context.Context, id int64) (connection.Connection, error) {
	return connection.Load(ctx, e.opts.Pool, id)
}

// AuthorizeURL returns the Salesforce login URL for a connection; state and verifier must be kept in
// the admin's session and checked on the callback.
func (e *Engine) AuthorizeURL(ctx context.Context, connID int64, redirectURL, state, verifier string) (string, error) {
	c, err := connection.Load(ctx, e.opts.Pool, connID)
	if err != nil {
		return "", err
	}
	return e.opts.Orgs.AuthCodeURL(c, redirectURL, state, verifier)
}

// CompleteAuthorization exchanges the callback's code for tokens and resumes syncing.
func (e *Engine) CompleteAuthorization(ctx context.Context, actor audit.Actor, connID int64, redirectURL, code, verifier string) (connection.Connection, error) {
	c, err := connection.Load(ctx, e.opts.Pool, connID)
	if err != nil {
		return c, err
	}
	auth, err := e.opts.Orgs.Exchange(ctx, c, redirectURL, code, verifier)
	if err != nil {
		return c, err
	}
	return e.saveAuthorization(ctx, actor, c, auth)
}

// AuthorizeWithPassword authorizes a connection non-interactively (automation and the simulated org).
func (e *Engine) AuthorizeWithPassword(ctx context.Context, actor audit.Actor, connID int64, username, password string) (connection.Connection, error) {
	c, err := connection.Load(ctx, e.opts.Pool, connID)
	if err != nil {
		return c, err
	}
	auth, err := e.opts.Orgs.Password(ctx, c, username, password)
	if err != nil {
		return c, err
	}
	return e.saveAuthorization(ctx, actor, c, auth)
}

func (e *Engine) saveAuthorization(ctx context.Context, actor audit.Actor, c connection.Connection, auth Authorization) (connection.Connection, error) {
	err := store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		cur, err := connection.Load(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		if cur.OrgID != "" && auth.OrgID != "" && cur.OrgID != auth.OrgID && cur.OrgID[:min(15, len(cur.OrgID))] != auth.OrgID[:min(15, len(auth.OrgID))] {
			return failure.E(failure.Conflict, "This connection is bound to org %s, but you signed in to org %s. Sign in to the right org, or create a new connection (after a sandbox refresh: export, create, import).", cur.OrgID, auth.OrgID)
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET instance_url = $2, identity_url = $3, org_id = $4, org_name = $5,
			sf_user_id = $6, sf_username = $7, authorized_at = now(), updated_at = now() WHERE id = $1`,
			c.ID, auth.InstanceURL, auth.IdentityURL, auth.OrgID, auth.OrgName, auth.UserID, auth.Username); err != nil {
			return fmt.Errorf("save authorization: %w", err)
		}
		if err := connection.SaveTokens(ctx, tx, e.opts.Keyring, c.ID, connection.Tokens{AccessToken: auth.AccessToken, RefreshToken: auth.RefreshToken}); err != nil {
			return err
		}
		if _, err := connection.Apply(ctx, tx, c.ID, connection.Authorize, "authorized as "+auth.Username); err != nil {
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
		return notify(ctx, tx, c.ID, 0)
	})
	if err != nil {
		return c, err
	}
	return connection.Load(ctx, e.opts.Pool, c.ID)
}

func recoverMappings(ctx context.Context, tx pgx.Tx, connID int64) error {
	ms, err := mapping.List(ctx, tx, connID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if mapping.Recover.Allowed(m.State) && (m.State == mapping.SystemError || m.State == mapping.Unauthorized || m.State == mapping.DBUnavailable) {
			if _, err := mapping.Apply(ctx, tx, m.ID, mapping.Recover, "connection recovered"); err != nil {
				return err
			}
		}
	}
	return nil
}

// connAction applies a connection transition with its audit entry and wakes the syncer.
func (e *Engine) connAction(ctx context.Context, actor audit.Actor, connID int64, t connection.Transition, action audit.Action, extra func(pgx.Tx, connection.Connection) error) error {
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
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
		return notify(ctx, tx, connID, 0)
	})
}

// Pause stops syncing. From IDLE the connection is PAUSED at once; while a write batch or a catch-up
// is in flight it is BUSY until that work is done (nothing new starts), then PAUSED. Changes made in
// the database keep accumulating in the trigger log; nothing is polled or streamed from Salesforce.
func (e *Engine) Pause(ctx context.Context, actor audit.Actor, connID int64) error {
	err := e.connAction(ctx, actor, connID, connection.Pause, audit.ConnectionPause, nil)
	var te *connection.ErrTransition
	if errors.As(err, &te) && connection.PauseWhenDone.Allowed(te.Current) {
		err = e.connAction(ctx, actor, connID, connection.PauseWhenDone, audit.ConnectionPause, nil)
	}
	return err
}

// Resume continues where the connection stopped: the trigger log is drained to Salesforce and every
// mapping (streaming ones included) polls for the changes made meanwhile.
func (e *Engine) Resume(ctx context.Context, actor audit.Actor, connID int64) error {
	return e.connAction(ctx, actor, connID, connection.Resume, audit.ConnectionResume, nil)
}

// Recover clears SYSTEM_ERROR, DB_UNAVAILABLE and authorization errors after checking the cause is
// gone, and resumes syncing (mappings stopped by errors included).
func (e *Engine) Recover(ctx context.Context, actor audit.Actor, connID int64) error {
	c, err := connection.Load(ctx, e.opts.Pool, connID)
	if err != nil {
		return err
	}
	if !connection.Recover.Allowed(c.State) {
		_, err := store.TxResult(ctx, e.opts.Pool, func(tx pgx.Tx) (connection.State, error) {
			return connection.Apply(ctx, tx, connID, connection.Recover, "")
		})
		return err
	}
	if c.State == connection.Idle {
		// A healthy connection can still have mappings stopped by errors: recovering the connection
		// restarts them (the seed: resume the connection instead of reloading the mapping).
		var stuck int
		if err := e.opts.Pool.QueryRow(ctx, `SELECT count(*) FROM mappings WHERE connection_id = $1 AND state IN ('SYSTEM_ERROR', 'DB_UNAVAILABLE', 'UNAUTHORIZED')`, connID).Scan(&stuck); err != nil {
			return err
		}
		if stuck == 0 {
			return failure.E(failure.Conflict, "There is no error to recover from: the connection is IDLE and every mapping is healthy.")
		}
	}
	if err := e.checkOrg(ctx, c); err != nil {
		return err
	}
	if err := e.opts.Pool.Ping(ctx); err != nil {
		return failure.Wrap(err, failure.Unavailable, "The database is still unreachable; pgforce keeps retrying.")
	}
	return e.connAction(ctx, actor, connID, connection.Recover, audit.ConnectionRecover, func(tx pgx.Tx, c connection.Connection) error {
		return recoverMappings(ctx, tx, c.ID)
	})
}

// checkOrg makes one cheap call to the org with the stored tokens (refreshing them if needed).
func (e *Engine) checkOrg(ctx context.Context, c connection.Connection) error {
	tokens, err := connection.LoadTokens(ctx, e.opts.Pool, e.opts.Keyring, c.ID)
	if err != nil {
		return err
	}
	org, err := e.opts.Orgs.Open(ctx, c, tokens, func(ctx context.Context, access, refresh string) error {
		return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
			return connection.SaveTokens(ctx, tx, e.opts.Keyring, c.ID, connection.Tokens{AccessToken: access, RefreshToken: refresh})
		})
	})
	if err == nil {
		_, err = org.Objects(ctx)
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
func (e *Engine) SetWriteAlgorithm(ctx context.Context, actor audit.Actor, connID int64, algo connection.WriteAlgorithm) error {
	if algo != connection.Ordered && algo != connection.Merged {
		return failure.InvalidField("write_algorithm", "The write algorithm must be ordered or merged.")
	}
	return e.pausedSetting(ctx, actor, connID, audit.WriteAlgorithm, "write_algorithm", string(algo), "change the write algorithm")
}

// SetAPIVersion changes the Salesforce API version; only while paused.
func (e *Engine) SetAPIVersion(ctx context.Context, actor audit.Actor, connID int64, version string) error {
	n := NewConnection{Schema: "x", OrgType: connection.Production, APIVersion: version}
	if err := e.validateNew(&n, ""); err != nil {
		return err
	}
	return e.pausedSetting(ctx, actor, connID, audit.APIVersion, "api_version", n.APIVersion, "change the API version")
}

func (e *Engine) pausedSetting(ctx context.Context, actor audit.Actor, connID int64, action audit.Action, column, value, what string) error {
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		var state, before string
		if err := tx.QueryRow(ctx, `SELECT state, `+column+` FROM connections WHERE id = $1 FOR UPDATE`, connID).Scan(&state, &before); err != nil {
			return store.NotFound(err, "connection")
		}
		if connection.State(state) != connection.Paused {
			return failure.E(failure.Conflict, "Pause the connection first: you can only %s while it is paused (it is %s).", what, state)
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET `+column+` = $2, updated_at = now() WHERE id = $1`, connID, value); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: action,
			Before: map[string]any{column: before}, After: map[string]any{column: value}})
	})
}
