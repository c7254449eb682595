// Package audit records administrative changes. An entry is written in the same transaction as the
// change it describes, so the trail can neither miss a change nor record one that was rolled back.
package audit

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ActorKind says through which surface a change was made.
type ActorKind string

// Actor kinds.
const (
	ActorUser   ActorKind = "user"   // the dashboard
	ActorCLI    ActorKind = "cli"    // the pgforce command
	ActorAPI    ActorKind = "api"    // the REST API with a token
	ActorSystem ActorKind = "system" // pgforce itself
)

// Actor is who made a change.
type Actor struct {
	Name string // email, token name or "pgforce"
	Kind ActorKind
}

// System is pgforce acting on its own.
var System = Actor{Name: "pgforce", Kind: ActorSystem}

// Action names an administrative change.
type Action string

// Actions recorded in the trail.
const (
	UserAdd              Action = "user.add"
	UserRemove           Action = "user.remove"
	UserUnlock           Action = "user.unlock"
	TokenCreate          Action = "token.create"
	TokenRevoke          Action = "token.revoke"
	ConnectionCreate     Action = "connection.create"
	ConnectionDelete     Action = "connection.delete"
	ConnectionAuthorize  Action = "connection.authorize"
	ConnectionPause      Action = "connection.pause"
	ConnectionResume     Action = "connection.resume"
	ConnectionRecover    Action = "connection.recover"
	WriteAlgorithm       Action = "connection.write_algorithm"
	APIVersion           Action = "connection.api_version"
	PollingDefault       Action = "connection.polling_default"
	StreamTransport      Action = "connection.stream_transport"
	ConfigImport         Action = "connection.import"
	MappingCreate        Action = "mapping.create"
	MappingEdit          Action = "mapping.edit"
	MappingDelete        Action = "mapping.delete"
	MappingReload        Action = "mapping.reload"
	MappingAbort         Action = "mapping.abort"
	MappingRecover       Action = "mapping.recover"
	VerificationRequest  Action = "verification.request"
	VerificationRepair   Action = "verification.repair"
	VerificationSchedule Action = "verification.schedule"
	OrphansRemove        Action = "mapping.remove_orphans"
	WriteRetry           Action = "write.retry"
	WriteIgnore          Action = "write.ignore"
	ConflictResolve      Action = "conflict.resolve"
)

// Entry is one recorded change.
type Entry struct {
	ID           int64
	At           time.Time
	Actor        Actor
	ConnectionID *int64
	Action       Action
	Target       string
	Before       any // JSON-encodable configuration before the change, or nil
	After        any // and after
	Detail       string
}

// Record writes e using tx, which should be the transaction that makes the change.
func Record(ctx context.Context, tx pgx.Tx, e Entry) error {
	before, err := marshal(e.Before)
	if err != nil {
		return err
	}
	after, err := marshal(e.After)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_log (actor, actor_kind, connection_id, action, target, before, after, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.Actor.Name, string(e.Actor.Kind), e.ConnectionID, string(e.Action), e.Target, before, after, e.Detail)
	if err != nil {
		return fmt.Errorf("record audit entry %s: %w", e.Action, err)
	}
	return nil
}

func marshal(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("audit: encode configuration: %w", err)
	}
	return b, nil
}

// Filter selects entries. Zero values mean no bound.
type Filter struct {
	Since, Until time.Time
	Action       Action // exact action, or a prefix ending in "." (e.g. "mapping.")
	ConnectionID *int64
	Limit        int
}

func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if !f.Since.IsZero() {
		add("at >= $%d", f.Since)
	}
	if !f.Until.IsZero() {
		add("at < $%d", f.Until)
	}
	if f.Action != "" {
		if strings.HasSuffix(string(f.Action), ".") {
			add("starts_with(action, $%d)", string(f.Action))
		} else {
			add("action = $%d", string(f.Action))
		}
	}
	if f.ConnectionID != nil {
		add("connection_id = $%d", *f.ConnectionID)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Each streams entries matching f in time order, without holding them all in memory.
func Each(ctx context.Context, pool *pgxpool.Pool, f Filter, fn func(Entry) error) error {
	where, args := f.where()
	q := `SELECT id, at, actor, actor_kind, connection_id, action, target, before, after, detail FROM audit_log` + where + ` ORDER BY at, id`
	if f.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(f.Limit)
	}
	rows, err := pool.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read audit trail: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e Entry
		var kind, action string
		var before, after []byte
		if err := rows.Scan(&e.ID, &e.At, &e.Actor.Name, &kind, &e.ConnectionID, &action, &e.Target, &before, &after, &e.Detail); err != nil {
			return fmt.Errorf("read audit trail: %w", err)
		}
		e.Actor.Kind, e.Action = ActorKind(kind), Action(action)
		if before != nil {
			e.Before = json.RawMessage(before)
		}
		if after != nil {
			e.After = json.RawMessage(after)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CSVHeader is the header row of the downloadable trail.
var CSVHeader = []string{"id", "time_utc", "actor", "actor_kind", "connection_id", "action", "target", "before", "after", "detail"}

// WriteCSV streams the trail as RFC 4180 CSV with ISO-8601 UTC times.
func WriteCSV(ctx context.Context, pool *pgxpool.Pool, f Filter, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	err := Each(ctx, pool, f, func(e Entry) error {
		conn := ""
		if e.ConnectionID != nil {
			conn = strconv.FormatInt(*e.ConnectionID, 10)
		}
		return cw.Write([]string{
			strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), Neutralize(e.Actor.Name), string(e.Actor.Kind), conn,
			string(e.Action), Neutralize(e.Target), Neutralize(rawString(e.Before)), Neutralize(rawString(e.After)), Neutralize(e.Detail),
		})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func rawString(v any) string {
	if raw, ok := v.(json.RawMessage); ok {
		return string(raw)
	}
	return ""
}

// Neutralize defuses spreadsheet formulas: a cell starting with = + - @ (or a tab/CR that some
// spreadsheets skip) is prefixed with a single quote so it is shown as text, never evaluated.
func Neutralize(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
