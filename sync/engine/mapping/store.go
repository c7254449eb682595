package mapping

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
)

// Mapping is a stored mapping.
type Mapping struct {
	ID              int64
	ConnectionID    int64
	Object          string
	Table           string
	State           State
	StateReason     string
	StateChangedAt  time.Time
	Config          Config
	AppliedFields   []table.Field
	RequestedAction Action
	Backfill        []table.Field // fields an edit added, waiting for their values
	Revision        int
	AppliedAt       *time.Time
	LoadExpected    *int64
	LoadDone        int64
	LoadStartedAt   *time.Time
	LoadFinishedAt  *time.Time
	Watermark       *time.Time
	WatermarkID     string
	ReplayID        *int64
	StreamNote      string // why an accelerated mapping does not stream ("" when it does)
	PubSubReplayID  []byte // the last Pub/Sub event covered by the table, nil = none
	StreamTransport string // "pubsub" or "cometd" while an accelerated mapping streams, "" otherwise
	LastPollAt      *time.Time
	NextPollAt      *time.Time
	SFCount         *int64
	SFCountAt       *time.Time
	CountCheckedAt  *time.Time // the last count check (see package verify)
	CountDrift      *int64     // records its counts differed by beyond changes in flight (0: they agreed)
	Drift           []Drift
	OrphanedAt      *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// ReadAt is the database's time when this was read (now(): its transaction's start), by the clock
	// that stamps the mapping's polls: a poll that follows the read begins after it.
	ReadAt time.Time
}

// Drift is a field whose Salesforce definition changed since the table was built.
type Drift struct {
	Field   string `json:"field"`
	Was     string `json:"was"`     // column type the table has
	Now     string `json:"now"`     // column type Salesforce's definition needs ("" = field removed)
	Fix     string `json:"fix"`     // what the admin should do, in the seed's words
	Widen   bool   `json:"widen"`   // fixed by Edit + Save
	Removed bool   `json:"removed"` // the field no longer exists
	// Required: Salesforce now requires this unmapped field to create a record, so every insert of
	// this read/write mapping would be refused until it is mapped.
	Required bool `json:"required,omitempty"`
}

type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

const cols = `id, connection_id, object_name, table_name, state, state_reason, state_changed_at, config, applied_fields,
	COALESCE(requested_action, ''), backfill, revision, applied_at, load_expected, load_done, load_started_at, load_finished_at, watermark,
	watermark_id, replay_id, COALESCE(stream_note, ''), last_poll_at, next_poll_at, sf_count, sf_count_at, drift, orphaned_at, created_at, updated_at,
	pubsub_replay_id, COALESCE(stream_transport, ''), count_checked_at, count_drift, now()`

func scan(row pgx.Row) (Mapping, error) {
	var m Mapping
	var state, action string
	var cfg, fields, drift, backfill []byte
	err := row.Scan(&m.ID, &m.ConnectionID, &m.Object, &m.Table, &state, &m.StateReason, &m.StateChangedAt, &cfg, &fields,
		&action, &backfill, &m.Revision, &m.AppliedAt, &m.LoadExpected, &m.LoadDone, &m.LoadStartedAt, &m.LoadFinishedAt, &m.Watermark,
		&m.WatermarkID, &m.ReplayID, &m.StreamNote, &m.LastPollAt, &m.NextPollAt, &m.SFCount, &m.SFCountAt, &drift, &m.OrphanedAt, &m.CreatedAt, &m.UpdatedAt,
		&m.PubSubReplayID, &m.StreamTransport, &m.CountCheckedAt, &m.CountDrift, &m.ReadAt)
	if err != nil {
		return m, err
	}
	m.State, m.RequestedAction = State(state), Action(action)
	if m.Config, m.AppliedFields, err = decodeSettings(m.ID, cfg, fields); err != nil {
		return m, err
	}
	return m, decodeProgress(&m, backfill, drift)
}

// decoded holds, by mapping id, its configuration and applied fields as last decoded, with the
// bytes they were decoded from. Every poll loads its mapping (a thousand mappings polling load
// hundreds a second), those two columns change only when the mapping is edited, and decoding them
// was the largest cost of the whole process at issue 18's scale (a seventh of its CPU, more with
// the garbage). What is returned is a copy: callers may change it.
var decoded sync.Map // int64 → *decodedSettings

type decodedSettings struct {
	cfg, fields []byte // as read
	config      Config
	applied     []table.Field
}

// decodeSettings decodes a mapping's config and applied_fields columns, or copies what it decoded
// from the same bytes before.
func decodeSettings(id int64, cfg, fields []byte) (Config, []table.Field, error) {
	if v, ok := decoded.Load(id); ok {
		if d := v.(*decodedSettings); bytes.Equal(d.cfg, cfg) && bytes.Equal(d.fields, fields) {
			return d.config.clone(), slices.Clone(d.applied), nil
		}
	}
	var c Config
	var applied []table.Field
	if err := json.Unmarshal(cfg, &c); err != nil {
		return c, nil, fmt.Errorf("decode mapping %d config: %w", id, err)
	}
	if err := json.Unmarshal(fields, &applied); err != nil {
		return c, nil, fmt.Errorf("decode mapping %d fields: %w", id, err)
	}
	decoded.Store(id, &decodedSettings{cfg: bytes.Clone(cfg), fields: bytes.Clone(fields), config: c.clone(), applied: slices.Clone(applied)})
	return c, applied, nil
}

// clone copies a configuration with maps and pointers of its own.
func (c Config) clone() Config {
	c.Fields, c.Indexes = maps.Clone(c.Fields), maps.Clone(c.Indexes)
	if c.AppliedAt != nil {
		at := *c.AppliedAt
		c.AppliedAt = &at
	}
	if c.PGForce != nil {
		extra := *c.PGForce
		c.PGForce = &extra
	}
	return c
}

// Load returns a mapping by id.
func Load(ctx context.Context, q rowQuerier, id int64) (Mapping, error) {
	m, err := scan(q.QueryRow(ctx, `SELECT `+cols+` FROM mappings WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, failure.E(failure.NotFound, "mapping %d not found", id)
	}
	if err != nil {
		return m, fmt.Errorf("load mapping %d: %w", id, err)
	}
	return m, nil
}

// LoadForUpdate returns a mapping by id, locked for the rest of the transaction.
func LoadForUpdate(ctx context.Context, tx pgx.Tx, id int64) (Mapping, error) {
	m, err := scan(tx.QueryRow(ctx, `SELECT `+cols+` FROM mappings WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, failure.E(failure.NotFound, "mapping %d not found", id)
	}
	return m, err
}

// ByObject returns a connection's mapping of an object (case-insensitive).
func ByObject(ctx context.Context, q rowQuerier, connID int64, object string) (Mapping, error) {
	m, err := scan(q.QueryRow(ctx, `SELECT `+cols+` FROM mappings WHERE connection_id = $1 AND lower(object_name) = lower($2)`, connID, object))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, failure.E(failure.NotFound, "there is no mapping of %s", object)
	}
	return m, err
}

// List returns a connection's mappings by object name.
func List(ctx context.Context, q rowQuerier, connID int64) ([]Mapping, error) {
	rows, err := q.Query(ctx, `SELECT `+cols+` FROM mappings WHERE connection_id = $1 ORDER BY object_name`, connID)
	if err != nil {
		return nil, fmt.Errorf("list mappings: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Mapping, error) { return scan(r) })
}

// ListStates is List without each mapping's applied fields and without its configuration's field
// and index choices (AppliedFields, Config.Fields and Config.Indexes are empty): what health checks
// and lists read, on every refresh of a dashboard page, is a mapping's state and settings, not the
// describe of every field it once applied (decoding those for a thousand mappings took longer than
// the rest of the Mappings page).
func ListStates(ctx context.Context, q rowQuerier, connID int64) ([]Mapping, error) {
	return listStates(ctx, q, connID, "")
}

// ListAccelerated is ListStates of the accelerated mappings only (Config.Accelerated): what the
// change-event stream looks at each time a mapping changes, which should not cost a read of every
// mapping of a connection that has a thousand.
func ListAccelerated(ctx context.Context, q rowQuerier, connID int64) ([]Mapping, error) {
	return listStates(ctx, q, connID, ` AND (config->>'sf_notify_enabled')::boolean`)
}

func listStates(ctx context.Context, q rowQuerier, connID int64, where string) ([]Mapping, error) {
	rows, err := q.Query(ctx, `SELECT `+statesCols+` FROM mappings WHERE connection_id = $1`+where+` ORDER BY object_name`, connID)
	if err != nil {
		return nil, fmt.Errorf("list mappings: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Mapping, error) { return scanState(r) })
}

// statesCols are cols with the configuration's settings as columns of their own (no field or index
// choices: decoding a thousand configurations' JSON took longer than the rest of the Mappings page)
// and without the applied fields.
const statesCols = `id, connection_id, object_name, table_name, state, state_reason, state_changed_at,
	COALESCE(config->>'access', ''), COALESCE((config->>'sf_notify_enabled')::boolean, false), COALESCE((config->>'sf_polling_seconds')::int, 0),
	COALESCE((config->>'sf_max_daily_api_calls')::int, 0), COALESCE(config->>'upsert_field', ''), (config->>'applied_at')::timestamptz,
	config->'pgforce'->>'record_filter', config->'pgforce'->>'conflict_policy',
	COALESCE(requested_action, ''), backfill, revision, applied_at, load_expected, load_done, load_started_at, load_finished_at, watermark,
	watermark_id, replay_id, COALESCE(stream_note, ''), last_poll_at, next_poll_at, sf_count, sf_count_at, drift, orphaned_at, created_at, updated_at,
	pubsub_replay_id, COALESCE(stream_transport, ''), count_checked_at, count_drift, now()`

func scanState(row pgx.Row) (Mapping, error) {
	var m Mapping
	var state, action, access string
	var filter, policy *string
	var drift, backfill []byte
	c := &m.Config
	err := row.Scan(&m.ID, &m.ConnectionID, &m.Object, &m.Table, &state, &m.StateReason, &m.StateChangedAt,
		&access, &c.SFNotifyEnabled, &c.SFPollingSeconds, &c.SFMaxDailyAPICalls, &c.UpsertField, &c.AppliedAt, &filter, &policy,
		&action, &backfill, &m.Revision, &m.AppliedAt, &m.LoadExpected, &m.LoadDone, &m.LoadStartedAt, &m.LoadFinishedAt, &m.Watermark,
		&m.WatermarkID, &m.ReplayID, &m.StreamNote, &m.LastPollAt, &m.NextPollAt, &m.SFCount, &m.SFCountAt, &drift, &m.OrphanedAt, &m.CreatedAt, &m.UpdatedAt,
		&m.PubSubReplayID, &m.StreamTransport, &m.CountCheckedAt, &m.CountDrift, &m.ReadAt)
	if err != nil {
		return m, err
	}
	m.State, m.RequestedAction, c.Access = State(state), Action(action), Access(access)
	if filter != nil || policy != nil {
		c.PGForce = &Extra{}
		if filter != nil {
			c.PGForce.RecordFilter = *filter
		}
		if policy != nil {
			c.PGForce.ConflictPolicy = *policy
		}
	}
	return m, decodeProgress(&m, backfill, drift)
}

// Insert stores a new mapping in state INITIAL.
func Insert(ctx context.Context, tx pgx.Tx, connID int64, object string, cfg Config, fields []table.Field) (Mapping, error) {
	cfgJSON, _ := json.Marshal(cfg)
	fieldsJSON, _ := json.Marshal(fields)
	m, err := scan(tx.QueryRow(ctx, `INSERT INTO mappings (connection_id, object_name, table_name, state, config, applied_fields)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+cols, connID, object, table.Name(object), string(Initial), cfgJSON, fieldsJSON))
	if err != nil {
		var pgErr interface{ SQLState() string }
		if errors.As(err, &pgErr) && pgErr.SQLState() == "23505" {
			return m, failure.E(failure.Conflict, "%s is already mapped on this connection", object)
		}
		return m, fmt.Errorf("insert mapping: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO events (connection_id, mapping_id, object_name, level, kind, to_state, message)
		VALUES ($1, $2, $3, 'info', 'state', $4, 'mapping created')`, connID, m.ID, object, string(Initial)); err != nil {
		return m, fmt.Errorf("record mapping event: %w", err)
	}
	return m, nil
}

// SaveConfig stores an edited configuration and the fields the table now has, bumping the revision.
func SaveConfig(ctx context.Context, tx pgx.Tx, id int64, cfg Config, fields []table.Field) error {
	cfgJSON, _ := json.Marshal(cfg)
	fieldsJSON, _ := json.Marshal(fields)
	_, err := tx.Exec(ctx, `UPDATE mappings SET config = $2, applied_fields = $3, revision = revision + 1, applied_at = now(),
		drift = NULL, updated_at = now() WHERE id = $1`, id, cfgJSON, fieldsJSON)
	if err != nil {
		return fmt.Errorf("save mapping %d config: %w", id, err)
	}
	return nil
}

// Apply moves the mapping through t with a compare-and-set on its state and t's preconditions,
// recording the event in the same transaction; it returns a Conflict failure (its cause a
// *lifecycle.Refusal) when the mapping is not in one of t.From or a precondition does not hold.
func Apply(ctx context.Context, tx pgx.Tx, id int64, t Transition, reason string) (State, error) {
	args := pgx.NamedArgs{"id": id, "to": string(t.To), "reason": reason}
	var prev, object string
	var connID int64
	err := tx.QueryRow(ctx, `
		WITH cur AS (SELECT state, object_name, connection_id FROM mappings WHERE id = @id FOR UPDATE)
		UPDATE mappings m SET state = @to, state_reason = @reason, state_changed_at = now(), updated_at = now()
		FROM cur WHERE m.id = @id AND `+t.Guard("cur.state", args)+`
		RETURNING cur.state, cur.object_name, cur.connection_id`, args).Scan(&prev, &object, &connID)
	if errors.Is(err, pgx.ErrNoRows) {
		var cur string
		if err := tx.QueryRow(ctx, `SELECT state, object_name FROM mappings WHERE id = $1`, id).Scan(&cur, &object); err != nil {
			return "", failure.E(failure.NotFound, "mapping %d not found", id)
		}
		return State(cur), t.Explain(ctx, tx, State(cur), "mappings m WHERE m.id = @id", args, conflictMessage(t, object, State(cur)))
	}
	if err != nil {
		return "", fmt.Errorf("mapping %d %s: %w", id, t.Name, err)
	}
	if !t.Quiet && State(prev) != t.To {
		level := "info"
		switch t.To {
		case SystemError, BadConfig, BulkLoadError, DBUnavailable, Unauthorized:
			level = "error"
		case Aborted:
			level = "warn"
		}
		msg := fmt.Sprintf("%s → %s", prev, t.To)
		if reason != "" {
			msg += ": " + reason
		}
		if _, err := tx.Exec(ctx, `INSERT INTO events (connection_id, mapping_id, object_name, level, kind, from_state, to_state, message)
			VALUES ($1, $2, $3, $4, 'state', $5, $6, $7)`, connID, id, object, level, prev, string(t.To), msg); err != nil {
			return "", fmt.Errorf("record mapping event: %w", err)
		}
	}
	return State(prev), nil
}

func conflictMessage(t Transition, object string, cur State) string {
	switch t.Name {
	case "abort":
		return fmt.Sprintf("Nothing to abort: the %s mapping is %s, not loading.", object, cur)
	case "reload", "alter_schema":
		if cur.Loading() {
			return fmt.Sprintf("The %s mapping is busy (%s). Abort it first, or wait until it finishes.", object, cur)
		}
	}
	return fmt.Sprintf("Cannot %s the %s mapping while it is %s.", t.Name, object, cur)
}

// Event is one entry of a mapping's or connection's history.
type Event struct {
	At        time.Time
	MappingID *int64
	Object    string
	Level     string
	Kind      string
	FromState string
	ToState   string
	Message   string
}

// Events returns recent events of a connection (mappingID 0) or of one mapping, newest first.
func Events(ctx context.Context, q rowQuerier, connID, mappingID int64, since time.Time, limit int) ([]Event, error) {
	rows, err := q.Query(ctx, `SELECT at, mapping_id, object_name, level, kind, from_state, to_state, message FROM events
		WHERE connection_id = $1 AND ($2 = 0 OR mapping_id = $2) AND at >= $3 ORDER BY at DESC, id DESC LIMIT $4`, connID, mappingID, since, limit)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.At, &e.MappingID, &e.Object, &e.Level, &e.Kind, &e.FromState, &e.ToState, &e.Message)
		return e, err
	})
}

// Execer is a pool or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// RecordEvent adds a non-state event (load progress, poll results, errors) to a mapping's history.
func RecordEvent(ctx context.Context, q Execer, m Mapping, level, kind, message string) error {
	_, err := q.Exec(ctx, `INSERT INTO events (connection_id, mapping_id, object_name, level, kind, message) VALUES ($1, $2, $3, $4, $5, $6)`,
		m.ConnectionID, m.ID, m.Object, level, kind, message)
	if err != nil {
		return fmt.Errorf("record mapping event: %w", err)
	}
	return nil
}

// Delete removes a mapping (its events and statistics go with it, ON DELETE CASCADE).
func Delete(ctx context.Context, tx pgx.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM mappings WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete mapping %d: %w", id, err)
	}
	decoded.Delete(id) // (rolled back, it is decoded again at the next read)
	return nil
}

// LockOrphans returns a connection's orphaned mappings (their object is gone from Salesforce),
// locked for the rest of the transaction.
func LockOrphans(ctx context.Context, tx pgx.Tx, connID int64) ([]Mapping, error) {
	rows, err := tx.Query(ctx, `SELECT `+cols+` FROM mappings WHERE connection_id = $1 AND orphaned_at IS NOT NULL ORDER BY object_name FOR UPDATE`, connID)
	if err != nil {
		return nil, fmt.Errorf("list orphaned mappings: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Mapping, error) { return scan(r) })
}

// RequestBackfill asks the syncer to load the values of fields an edit added (RESYNC).
func RequestBackfill(ctx context.Context, tx pgx.Tx, id int64, fields []table.Field) error {
	raw, _ := json.Marshal(fields)
	if _, err := tx.Exec(ctx, `UPDATE mappings SET backfill = $2, requested_action = $3 WHERE id = $1`, id, raw, string(ActionResync)); err != nil {
		return fmt.Errorf("request backfill of mapping %d: %w", id, err)
	}
	return nil
}

// ResetForReload forgets a mapping's high-water mark and load figures and asks the syncer to load
// every record again.
func ResetForReload(ctx context.Context, tx pgx.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `UPDATE mappings SET watermark = NULL, watermark_id = '', load_done = 0, load_expected = NULL,
		load_started_at = NULL, load_finished_at = NULL, synced_in = NULL, requested_action = $2 WHERE id = $1`, id, string(ActionReload)); err != nil {
		return fmt.Errorf("reset mapping %d for a reload: %w", id, err)
	}
	return nil
}

// PollNow makes the mapping's next poll due at once (a recovery catches up without waiting).
func PollNow(ctx context.Context, tx pgx.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `UPDATE mappings SET next_poll_at = now() WHERE id = $1`, id); err != nil {
		return fmt.Errorf("schedule a poll of mapping %d: %w", id, err)
	}
	return nil
}

// ClearRequest drops what an admin asked the syncer to do (abort makes a reload request void).
func ClearRequest(ctx context.Context, tx pgx.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `UPDATE mappings SET requested_action = NULL WHERE id = $1`, id); err != nil {
		return fmt.Errorf("clear the request of mapping %d: %w", id, err)
	}
	return nil
}

// SetOrphaned flags a mapping whose object no longer exists in Salesforce, or clears the flag.
func SetOrphaned(ctx context.Context, q Execer, id int64, orphaned bool) error {
	sql := `UPDATE mappings SET orphaned_at = NULL WHERE id = $1`
	if orphaned {
		sql = `UPDATE mappings SET orphaned_at = now() WHERE id = $1`
	}
	if _, err := q.Exec(ctx, sql, id); err != nil {
		return fmt.Errorf("flag mapping %d as orphaned: %w", id, err)
	}
	return nil
}

// SaveDrift stores the fields whose Salesforce definition changed since the table was built (none:
// the flag is cleared).
func SaveDrift(ctx context.Context, q Execer, id int64, drift []Drift) error {
	var val any
	if len(drift) > 0 {
		val, _ = json.Marshal(drift)
	}
	if _, err := q.Exec(ctx, `UPDATE mappings SET drift = $2 WHERE id = $1`, id, val); err != nil {
		return fmt.Errorf("save field drift of mapping %d: %w", id, err)
	}
	return nil
}

// SetStreamTransports records the transport a connection's accelerated mappings stream over:
// objects get transport ("pubsub" or "cometd"), the connection's other mappings none.
func SetStreamTransports(ctx context.Context, q Execer, connID int64, objects []string, transport string) error {
	_, err := q.Exec(ctx, `UPDATE mappings SET stream_transport = CASE WHEN lower(object_name) = ANY($2) THEN $3 END
		WHERE connection_id = $1 AND stream_transport IS DISTINCT FROM (CASE WHEN lower(object_name) = ANY($2) THEN $3 END)`,
		connID, lowerAll(objects), transport)
	if err != nil {
		return fmt.Errorf("record the streaming transport: %w", err)
	}
	return nil
}

// ForgetPubSubReplay drops a mapping's stored Pub/Sub replay id (Salesforce no longer has the event).
func ForgetPubSubReplay(ctx context.Context, q Execer, connID int64, object string) error {
	_, err := q.Exec(ctx, `UPDATE mappings SET pubsub_replay_id = NULL WHERE connection_id = $1 AND lower(object_name) = lower($2)`, connID, object)
	if err != nil {
		return fmt.Errorf("forget the Pub/Sub replay id: %w", err)
	}
	return nil
}

func lowerAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ToLower(x)
	}
	return out
}

// decodeProgress decodes a mapping's backfill and drift columns (JSON, NULL when none).
func decodeProgress(m *Mapping, backfill, drift []byte) error {
	if backfill != nil {
		if err := json.Unmarshal(backfill, &m.Backfill); err != nil {
			return fmt.Errorf("decode mapping %d backfill: %w", m.ID, err)
		}
	}
	if drift != nil {
		if err := json.Unmarshal(drift, &m.Drift); err != nil {
			return fmt.Errorf("decode mapping %d drift: %w", m.ID, err)
		}
	}
	return nil
}
