package table

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/failure"
	"pgforce/sync/triggerlog"
)

// Spec is a mapped table as it should exist.
type Spec struct {
	Schema   string
	Object   string          // Salesforce object; the table is its lower-case name
	Fields   []Field         // mapped fields, including Id, SystemModstamp and IsDeleted
	Indexes  map[string]bool // field name -> unique; Id and SystemModstamp are always indexed
	ReadOnly bool            // changes are captured as READONLY and never sent
}

// Table is the table name.
func (s Spec) Table() string { return Name(s.Object) }

// ownerComment marks tables pgforce created, so it never takes over (or drops) a table it did not make.
func ownerComment(object string) string { return "pgforce mapping of Salesforce object " + object }

const ownerPrefix = "pgforce mapping of Salesforce object "

// ErrNotOurs is returned when a table with the mapping's name exists but was not created by pgforce.
var ErrNotOurs = errors.New("table exists and was not created by pgforce")

// Owner reports whether the table exists and whether pgforce created it.
func Owner(ctx context.Context, q pgx.Tx, schema, table string) (exists, ours bool, err error) {
	var comment *string
	err = q.QueryRow(ctx, `SELECT obj_description(c.oid, 'pg_class') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`, schema, table).Scan(&comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("inspect table %s.%s: %w", schema, table, err)
	}
	return true, comment != nil && strings.HasPrefix(*comment, ownerPrefix), nil
}

// columns returns the ordered column definitions: mapped fields, then Heroku Connect's system columns.
func (s Spec) columns() ([]string, error) {
	var defs []string
	seen := map[string]string{}
	for _, f := range s.Fields {
		col := Column(f.Name)
		if err := cmp.Or(CheckIdentifier("field", f.Name), CheckIdentifier("column", col)); err != nil {
			return nil, failure.Wrap(err, failure.Invalid, "field %q cannot be mapped: %s", f.Name, failure.Message(err))
		}
		if other, dup := seen[col]; dup {
			return nil, failure.E(failure.Invalid, "fields %s and %s would both become column %q", other, f.Name, col)
		}
		seen[col] = f.Name
		typ, err := ColumnType(f)
		if err != nil {
			return nil, failure.Wrap(err, failure.Invalid, "%s", err.Error())
		}
		defs = append(defs, Ident(col)+" "+typ)
	}
	for _, sys := range []string{"id", "_hc_lastop", "_hc_err"} {
		if _, clash := seen[sys]; clash {
			return nil, failure.E(failure.Invalid, "field %s clashes with the system column %s", seen[sys], sys)
		}
	}
	// _hc_lastop defaults to SYNCED: rows pgforce writes come from Salesforce; application writes are
	// set to PENDING by the status trigger.
	defs = append(defs, "id serial PRIMARY KEY", "_hc_lastop varchar(32) DEFAULT 'SYNCED'", "_hc_err text")
	return defs, nil
}

// Create makes the mapped table with its indexes and capture triggers in the connection's schema.
// It refuses when a table of that name exists, whoever made it: a reload truncates, it does not recreate.
func Create(ctx context.Context, tx pgx.Tx, s Spec) error {
	table := s.Table()
	if err := cmp.Or(CheckIdentifier("object", s.Object), CheckIdentifier("table", table)); err != nil {
		return failure.Wrap(err, failure.Invalid, "object %q cannot be mapped: %s", s.Object, failure.Message(err))
	}
	exists, ours, err := Owner(ctx, tx, s.Schema, table)
	if err != nil {
		return err
	}
	if exists && !ours {
		return failure.Wrap(ErrNotOurs, failure.Conflict, "Table %s.%s already exists and was not created by pgforce. Rename or drop it, then create the mapping again.", s.Schema, table)
	}
	if exists {
		return failure.E(failure.Conflict, "Table %s.%s already exists; delete the old mapping first.", s.Schema, table)
	}
	if !slices.ContainsFunc(s.Fields, func(f Field) bool { return strings.EqualFold(f.Name, "Id") }) {
		return failure.E(failure.Invalid, "the Id field must be mapped")
	}
	cols, err := s.columns()
	if err != nil {
		return err
	}
	tbl := Ident(s.Schema, table)
	stmts := []string{
		"CREATE TABLE " + tbl + " (\n  " + strings.Join(cols, ",\n  ") + "\n)",
		"COMMENT ON TABLE " + tbl + " IS " + literal(ownerComment(s.Object)),
	}
	stmts = append(stmts, indexStatements(s, nil)...)
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create table %s: %w", tbl, err)
		}
	}
	return triggerlog.InstallTableTriggers(ctx, tx, s.Schema, table, s.ReadOnly)
}

// wantedIndexes returns column -> unique for every index the spec asks for: sfid (unique),
// systemmodstamp, and the fields marked Indexed.
func wantedIndexes(s Spec) map[string]bool {
	want := map[string]bool{"sfid": true}
	for _, f := range s.Fields {
		if strings.EqualFold(f.Name, "SystemModstamp") {
			want["systemmodstamp"] = false
		}
	}
	for field, unique := range s.Indexes {
		col := Column(field)
		if col == "sfid" {
			continue
		}
		want[col] = unique
	}
	return want
}

// indexStatements creates the indexes new wants that old (nil when creating) does not have.
func indexStatements(s Spec, old *Spec) []string {
	have := map[string]bool{}
	if old != nil {
		have = wantedIndexes(*old)
	}
	want := wantedIndexes(s)
	var stmts []string
	for _, col := range sortedKeys(want) {
		unique := want[col]
		if hadUnique, had := have[col]; had && hadUnique == unique {
			continue
		}
		kind := "INDEX"
		if unique {
			kind = "UNIQUE INDEX"
		}
		stmts = append(stmts, "CREATE "+kind+" IF NOT EXISTS "+Ident(IndexName(unique, s.Table(), col))+" ON "+Ident(s.Schema, s.Table())+" ("+Ident(col)+")")
	}
	return stmts
}

// Change describes what Alter did, for the audit trail and the dashboard.
type Change struct {
	Added, Dropped, Widened, Retyped []string // field names
	IndexesAdded, IndexesDropped     []string // column names
}

// Empty reports whether nothing changed.
func (c Change) Empty() bool {
	return len(c.Added)+len(c.Dropped)+len(c.Widened)+len(c.Retyped)+len(c.IndexesAdded)+len(c.IndexesDropped) == 0
}

// Alter brings the table from old to new with ALTER TABLE: new columns are added (the caller backfills
// them from Salesforce), removed ones dropped, text columns widened in place. A field whose type
// changed is refused unless listed in recreate, in which case its column is dropped and re-added
// (the seed's deselect-save-reselect-save in one step); the caller reloads its values.
func Alter(ctx context.Context, tx pgx.Tx, old, new Spec, recreate []string) (Change, error) {
	var ch Change
	tbl := Ident(new.Schema, new.Table())
	oldBy := map[string]Field{}
	for _, f := range old.Fields {
		oldBy[Column(f.Name)] = f
	}
	newBy := map[string]Field{}
	for _, f := range new.Fields {
		newBy[Column(f.Name)] = f
	}
	if _, err := new.columns(); err != nil {
		return ch, err
	}
	var stmts []string
	for _, f := range old.Fields {
		col := Column(f.Name)
		if _, keep := newBy[col]; !keep {
			if col == "sfid" || col == "systemmodstamp" || col == "isdeleted" {
				return ch, failure.E(failure.Invalid, "the %s field is required for syncing and cannot be removed", f.Name)
			}
			stmts = append(stmts, "ALTER TABLE "+tbl+" DROP COLUMN IF EXISTS "+Ident(col))
			ch.Dropped = append(ch.Dropped, f.Name)
		}
	}
	for _, f := range new.Fields {
		col := Column(f.Name)
		newType, _ := ColumnType(f)
		prev, had := oldBy[col]
		if !had {
			stmts = append(stmts, "ALTER TABLE "+tbl+" ADD COLUMN "+Ident(col)+" "+newType)
			ch.Added = append(ch.Added, f.Name)
			continue
		}
		oldType, _ := ColumnType(prev)
		if oldType == newType || col == "sfid" {
			continue
		}
		switch {
		case Widens(oldType, newType):
			stmts = append(stmts, "ALTER TABLE "+tbl+" ALTER COLUMN "+Ident(col)+" TYPE "+newType)
			ch.Widened = append(ch.Widened, f.Name)
		case slices.ContainsFunc(recreate, func(r string) bool { return strings.EqualFold(r, f.Name) }):
			stmts = append(stmts, "ALTER TABLE "+tbl+" DROP COLUMN "+Ident(col), "ALTER TABLE "+tbl+" ADD COLUMN "+Ident(col)+" "+newType)
			ch.Retyped = append(ch.Retyped, f.Name)
		default:
			return ch, &TypeChangeError{Field: f.Name, From: oldType, To: newType}
		}
	}
	// Indexes: drop those no longer wanted (or whose uniqueness changed), then create the new ones.
	have, want := wantedIndexes(old), wantedIndexes(new)
	for _, col := range sortedKeys(have) {
		if u, ok := want[col]; !ok || u != have[col] {
			stmts = append(stmts, "DROP INDEX IF EXISTS "+Ident(new.Schema, IndexName(have[col], new.Table(), col)))
			if !ok {
				ch.IndexesDropped = append(ch.IndexesDropped, col)
			}
		}
	}
	stmts = append(stmts, indexStatements(new, &old)...)
	for _, col := range sortedKeys(want) {
		if u, ok := have[col]; !ok || u != want[col] {
			ch.IndexesAdded = append(ch.IndexesAdded, col)
		}
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return ch, fmt.Errorf("alter table %s: %w", tbl, err)
		}
	}
	if old.ReadOnly != new.ReadOnly || len(ch.Added)+len(ch.Dropped)+len(ch.Retyped) > 0 {
		if err := triggerlog.InstallTableTriggers(ctx, tx, new.Schema, new.Table(), new.ReadOnly); err != nil {
			return ch, err
		}
	}
	return ch, nil
}

// TypeChangeError reports a field whose Salesforce type changed in a way ALTER cannot follow safely.
type TypeChangeError struct{ Field, From, To string }

func (e *TypeChangeError) Error() string {
	return fmt.Sprintf("field %s changed from %s to %s in Salesforce; remove the field, save, then add it back and save again (or choose \"recreate column\"): its values are reloaded", e.Field, e.From, e.To)
}

// Widens reports whether newType holds every value of oldType (longer varchar, or varchar to text).
func Widens(oldType, newType string) bool {
	var o, n int
	if _, err := fmt.Sscanf(oldType, "varchar(%d)", &o); err != nil {
		return false
	}
	if newType == "text" {
		return true
	}
	if _, err := fmt.Sscanf(newType, "varchar(%d)", &n); err != nil {
		return false
	}
	return n >= o
}

// Drop removes a mapped table pgforce created, with its trigger functions.
func Drop(ctx context.Context, tx pgx.Tx, schema, object string) error {
	table := Name(object)
	exists, ours, err := Owner(ctx, tx, schema, table)
	if err != nil {
		return err
	}
	if exists && !ours {
		return failure.E(failure.Conflict, "Table %s.%s was not created by pgforce; it is left alone.", schema, table)
	}
	if exists {
		if _, err := tx.Exec(ctx, "DROP TABLE "+Ident(schema, table)); err != nil {
			return fmt.Errorf("drop table %s.%s: %w", schema, table, err)
		}
	}
	return triggerlog.DropTableTriggers(ctx, tx, schema, table)
}

// Truncate empties a mapped table for a reload and restarts its id sequence (ids change on reload,
// as in Heroku Connect). TRUNCATE is not captured by the triggers.
func Truncate(ctx context.Context, tx pgx.Tx, schema, object string) error {
	if _, err := tx.Exec(ctx, "TRUNCATE "+Ident(schema, Name(object))+" RESTART IDENTITY"); err != nil {
		return fmt.Errorf("truncate %s.%s: %w", schema, Name(object), err)
	}
	return nil
}

// Lock takes a mapped table's ACCESS EXCLUSIVE lock for the rest of the transaction (nothing when
// the table does not exist). Changing a table's shape or contents and its mapping's row together must
// take the table first: polls and loads hold the table and then update the mapping, so taking the
// mapping's row first deadlocks with them.
func Lock(ctx context.Context, tx pgx.Tx, schema, object string) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, Ident(schema, Name(object))).Scan(&exists); err != nil {
		return fmt.Errorf("look up %s.%s: %w", schema, Name(object), err)
	}
	if !exists {
		return nil
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+Ident(schema, Name(object))+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return fmt.Errorf("lock %s.%s: %w", schema, Name(object), err)
	}
	return nil
}

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
