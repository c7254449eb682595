package triggerlog

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

func ident(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// NotifyChannel is the channel the trigger log pings on every insert, as Heroku Connect's
// tlog_insert_trigger does ("<schema>.hc_trigger_log").
func NotifyChannel(schema string) string { return schema + ".hc_trigger_log" }

// SyncOriginSetting is how pgforce marks its own sessions: Heroku Connect's capture triggers fire only
// WHEN get_xmlbinary() = 'base64' (the default), and Connect's sessions run with xmlbinary = 'hex', so
// the rows it writes are never captured and never echo back to Salesforce.
const SyncOriginSetting = "SET LOCAL xmlbinary = 'hex'"

// InstallSchema creates a connection's schema with Heroku Connect's support objects: _hcmeta, the
// trigger log and its archive, _sf_event_log, the notify trigger, the re-capture helper functions and
// public.get_xmlbinary(). It is idempotent.
func InstallSchema(ctx context.Context, tx pgx.Tx, schema string) error {
	s := func(name string) string { return ident(schema, name) }
	stmts := []string{
		// hstore is a trusted extension: a database owner may create it. Serialise concurrent installs.
		`SELECT pg_advisory_xact_lock(8270461123)`,
		`CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public`,
		`CREATE OR REPLACE FUNCTION public.get_xmlbinary() RETURNS varchar LANGUAGE sql STABLE AS $$ SELECT current_setting('xmlbinary') $$`,
		`CREATE SCHEMA IF NOT EXISTS ` + ident(schema),
		`CREATE TABLE IF NOT EXISTS ` + s("_hcmeta") + ` (id serial PRIMARY KEY, hcver integer, org_id varchar(50), details text)`,
		`CREATE SEQUENCE IF NOT EXISTS ` + s("_trigger_log_id_seq"),
		`CREATE TABLE IF NOT EXISTS ` + s("_trigger_log") + ` (
			id integer NOT NULL DEFAULT nextval(` + literal(ident(schema, "_trigger_log_id_seq")) + `::regclass) PRIMARY KEY,
			txid bigint,
			created_at timestamptz DEFAULT now(),
			updated_at timestamptz DEFAULT now(),
			processed_at timestamptz,
			processed_tx bigint,
			state varchar(8),
			action varchar(7),
			table_name varchar(128),
			record_id integer,
			sfid varchar(18),
			old public.hstore,
			"values" public.hstore,
			sf_result integer,
			sf_message text)`,
		`ALTER SEQUENCE ` + s("_trigger_log_id_seq") + ` OWNED BY ` + s("_trigger_log") + `.id`,
		`CREATE INDEX IF NOT EXISTS _trigger_log_idx_state_id ON ` + s("_trigger_log") + ` (state, id)`,
		`CREATE INDEX IF NOT EXISTS _trigger_log_idx_created_at ON ` + s("_trigger_log") + ` (created_at)`,
		`CREATE INDEX IF NOT EXISTS _trigger_log_idx_state_table_name ON ` + s("_trigger_log") + ` (state, table_name) WHERE state IN ('NEW', 'PENDING')`,
		// The writer looks for newer waiting changes of the rows it just wrote.
		`CREATE INDEX IF NOT EXISTS _trigger_log_idx_waiting_record ON ` + s("_trigger_log") + ` (table_name, record_id, id) WHERE state IN ('NEW', 'PENDING')`,
		`CREATE TABLE IF NOT EXISTS ` + s("_trigger_log_archive") + ` (
			id integer NOT NULL PRIMARY KEY,
			txid bigint,
			created_at timestamptz,
			updated_at timestamptz,
			processed_at timestamptz,
			processed_tx bigint,
			state varchar(8),
			action varchar(7),
			table_name varchar(128),
			record_id integer,
			sfid varchar(18),
			old public.hstore,
			"values" public.hstore,
			sf_result integer,
			sf_message text)`,
		`CREATE INDEX IF NOT EXISTS _trigger_log_archive_idx_created_at ON ` + s("_trigger_log_archive") + ` (created_at)`,
		`CREATE INDEX IF NOT EXISTS _trigger_log_archive_idx_record_id ON ` + s("_trigger_log_archive") + ` (record_id)`,
		`CREATE INDEX IF NOT EXISTS _trigger_log_archive_idx_state_table_name ON ` + s("_trigger_log_archive") + ` (state, table_name) WHERE state = 'FAILED'`,
		`CREATE TABLE IF NOT EXISTS ` + s("_sf_event_log") + ` (
			id serial PRIMARY KEY,
			table_name varchar(128),
			action varchar(7),
			synced_at timestamptz DEFAULT now(),
			sf_timestamp timestamptz,
			sfid varchar(20),
			record text,
			processed boolean)`,
		`CREATE INDEX IF NOT EXISTS idx__sf_event_log_comp_key ON ` + s("_sf_event_log") + ` (table_name, synced_at)`,
		`CREATE INDEX IF NOT EXISTS idx__sf_event_log_sfid ON ` + s("_sf_event_log") + ` (sfid)`,
		// One ping per statement (Postgres folds identical notifications of a transaction); a per-row
		// trigger would cost a function call for every captured row.
		`CREATE OR REPLACE FUNCTION ` + s("tlog_notify_trigger") + `() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			PERFORM pg_notify(` + literal(NotifyChannel(schema)) + `, 'ping');
			RETURN NULL;
		END $$`,
		`DROP TRIGGER IF EXISTS tlog_insert_trigger ON ` + s("_trigger_log"),
		`CREATE TRIGGER tlog_insert_trigger AFTER INSERT ON ` + s("_trigger_log") + ` FOR EACH STATEMENT EXECUTE FUNCTION ` + s("tlog_notify_trigger") + `()`,
		captureInsertFunc(schema),
		captureUpdateFunc(schema),
		// Which transactions changed how many rows a mapped table holds (see RowChanges).
		`CREATE TABLE IF NOT EXISTS ` + s(RowChanges) + ` (
			xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
			table_name varchar(128) NOT NULL,
			at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (xid, table_name))`,
		`CREATE OR REPLACE FUNCTION ` + s(rowChangeFunc) + `() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO ` + s(RowChanges) + ` (table_name) VALUES (TG_TABLE_NAME) ON CONFLICT DO NOTHING;
			RETURN NULL;
		END $$`,
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("install trigger log in schema %s: %w", schema, err)
		}
	}
	return nil
}

// captureInsertFunc re-queues a row as an INSERT (Heroku Connect's hc_capture_insert_from_row):
//
//	SELECT hc_capture_insert_from_row(hstore(t.*), 'account', ARRAY['col_to_leave_out']) FROM account t WHERE ...
func captureInsertFunc(schema string) string {
	return `CREATE OR REPLACE FUNCTION ` + ident(schema, "hc_capture_insert_from_row") + `(
		source_row public.hstore, table_name varchar, excluded_cols text[] DEFAULT ARRAY[]::text[]) RETURNS integer
	LANGUAGE plpgsql AS $$
	DECLARE
		excluded_cols_standard text[] = ARRAY['_hc_lastop', '_hc_err']::text[];
		retval integer;
	BEGIN
		IF (source_row -> 'id') IS NULL THEN
			RETURN NULL; -- the row must carry pgforce's integer id
		END IF;
		excluded_cols_standard := array_remove(array_remove(excluded_cols, 'id'), 'sfid') || excluded_cols_standard;
		INSERT INTO ` + ident(schema, "_trigger_log") + ` (action, table_name, txid, created_at, state, record_id, "values")
		VALUES ('INSERT', table_name, txid_current(), clock_timestamp(), 'NEW', (source_row -> 'id')::integer,
		        source_row - excluded_cols_standard)
		RETURNING id INTO retval;
		RETURN retval;
	END $$`
}

// captureUpdateFunc re-queues a row as an UPDATE of the listed columns (all columns when the list is
// empty), Heroku Connect's hc_capture_update_from_row.
func captureUpdateFunc(schema string) string {
	return `CREATE OR REPLACE FUNCTION ` + ident(schema, "hc_capture_update_from_row") + `(
		source_row public.hstore, table_name varchar, columns_to_include text[] DEFAULT ARRAY[]::text[]) RETURNS integer
	LANGUAGE plpgsql AS $$
	DECLARE
		excluded_cols_standard text[] = ARRAY['_hc_lastop', '_hc_err']::text[];
		retval integer;
	BEGIN
		IF (source_row -> 'id') IS NULL OR (source_row -> 'sfid') IS NULL THEN
			RETURN NULL; -- an update needs the row's id and its Salesforce id
		END IF;
		IF array_length(columns_to_include, 1) > 0 THEN
			source_row := slice(source_row, columns_to_include || ARRAY['id', 'sfid']);
		END IF;
		INSERT INTO ` + ident(schema, "_trigger_log") + ` (action, table_name, txid, created_at, state, record_id, sfid, "values", old)
		VALUES ('UPDATE', table_name, txid_current(), clock_timestamp(), 'NEW', (source_row -> 'id')::integer,
		        source_row -> 'sfid', source_row - excluded_cols_standard - ARRAY['id', 'sfid'], ''::public.hstore)
		RETURNING id INTO retval;
		RETURN retval;
	END $$`
}

// RowChanges is the table in which a mapped table's row-count trigger notes, once per transaction,
// that the transaction inserted, deleted or truncated rows of it: whoever wrote (an application,
// pgforce's sync, a TRUNCATE), in the same transaction as the change. A count taken in a snapshot
// stays exact in a later one while no transaction the first did not see noted the table (see
// report.Reader.Counts). A transaction's note is one row per table, whatever the rows it changed.
const RowChanges = "_hc_row_changes"

// RowChangeHorizon starts the table name of the note PurgeRowChanges leaves, "*" and the newest
// transaction whose notes it removed: a count taken in a snapshot older than that transaction may
// have missed a change it can no longer see (a later snapshot needs none of the notes removed).
const RowChangeHorizon = "*"

const rowChangeFunc = "hc_row_change"

// rowCountTrigger is the name of a mapped table's row-count trigger.
func rowCountTrigger(table string) string { return FitName("hc_" + table + "_rowcount") }

// HasRowCountTriggerSQL is a condition true of a table (pg_class alias c) whose inserts, deletes and
// truncations are noted in RowChanges; param is the query parameter holding RowChangeFunc(schema).
func HasRowCountTriggerSQL(param string) string {
	return `EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgenabled = 'A' AND t.tgfoid = (SELECT to_regproc(` + param + `)))`
}

// RowChangeFunc is the qualified name of a schema's row-count trigger function.
func RowChangeFunc(schema string) string { return ident(schema, rowChangeFunc) }

// PurgeRowChanges removes the row-count notes of transactions that began more than an hour ago and
// leaves a RowChangeHorizon note in their place (nothing when there was nothing to remove).
func PurgeRowChanges(ctx context.Context, tx pgx.Tx, schema string) error {
	if _, err := tx.Exec(ctx, `WITH gone AS (DELETE FROM `+ident(schema, RowChanges)+` WHERE at < now() - interval '1 hour' RETURNING xid)
		INSERT INTO `+ident(schema, RowChanges)+` (table_name) SELECT $1 || max(xid)::text FROM gone HAVING count(*) > 0 ON CONFLICT DO NOTHING`, RowChangeHorizon); err != nil {
		return fmt.Errorf("purge row-count notes of %s: %w", schema, err)
	}
	return nil
}

// SuspendTableTriggers turns a mapped table's capture and status triggers off inside tx, until
// ResumeTableTriggers or the end of tx. A load does this after truncating (so no other session can
// write meanwhile): the triggers would skip its rows anyway, but a BEFORE ROW trigger makes COPY
// insert row by row instead of in batches.
func SuspendTableTriggers(ctx context.Context, tx pgx.Tx, schema, table string) error {
	return alterTableTriggers(ctx, tx, schema, table, "DISABLE")
}

// ResumeTableTriggers turns the triggers SuspendTableTriggers turned off back on, in the same tx.
func ResumeTableTriggers(ctx context.Context, tx pgx.Tx, schema, table string) error {
	return alterTableTriggers(ctx, tx, schema, table, "ENABLE")
}

func alterTableTriggers(ctx context.Context, tx pgx.Tx, schema, table, verb string) error {
	stmt := `ALTER TABLE ` + ident(schema, table) + ` ` + verb + ` TRIGGER ` + ident(FitName("hc_"+table+"_logtrigger")) +
		`, ` + verb + ` TRIGGER ` + ident(FitName("hc_"+table+"_status_trigger"))
	if _, err := tx.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s capture triggers on %s.%s: %w", strings.ToLower(verb), schema, table, err)
	}
	return nil
}

// InstallTableTriggers (re)creates the capture and status triggers of one mapped table, Heroku
// Connect's hc_<table>_logger / hc_<table>_logtrigger and hc_<table>_status / hc_<table>_status_trigger.
// Changes on read-only mappings are captured as READONLY and never sent.
func InstallTableTriggers(ctx context.Context, tx pgx.Tx, schema, table string, readOnly bool) error {
	initial := New
	if readOnly {
		initial = ReadOnly
	}
	logger := ident(schema, FitName("hc_"+table+"_logger"))
	status := ident(schema, FitName("hc_"+table+"_status"))
	tbl := ident(schema, table)
	stmts := []string{
		`CREATE OR REPLACE FUNCTION ` + logger + `() RETURNS trigger LANGUAGE plpgsql AS $$
		DECLARE
			trigger_row ` + ident(schema, "_trigger_log") + `;
			excluded_cols text[] = ARRAY['_hc_lastop', '_hc_err']::text[];
		BEGIN
			-- VERSION 4 (pgforce) --
			trigger_row = ROW();
			trigger_row.id = nextval(` + literal(ident(schema, "_trigger_log_id_seq")) + `::regclass);
			trigger_row.action = TG_OP::text;
			trigger_row.table_name = TG_TABLE_NAME::text;
			trigger_row.txid = txid_current();
			trigger_row.created_at = clock_timestamp();
			trigger_row.updated_at = trigger_row.created_at;
			trigger_row.state = ` + literal(string(initial)) + `;
			IF (TG_OP = 'DELETE') THEN
				trigger_row.record_id = OLD.id;
				trigger_row.old = hstore(OLD.*) - excluded_cols;
				IF (OLD.sfid IS NOT NULL) THEN
					trigger_row.sfid = OLD.sfid;
				ELSE
					trigger_row.state = 'IGNORE'; -- never reached Salesforce: nothing to delete there
				END IF;
			ELSIF (TG_OP = 'INSERT') THEN
				trigger_row.record_id = NEW.id;
				trigger_row."values" = hstore(NEW.*) - excluded_cols;
			ELSIF (TG_OP = 'UPDATE') THEN
				trigger_row.record_id = NEW.id;
				trigger_row.old = hstore(OLD.*) - excluded_cols;
				trigger_row."values" = (hstore(NEW.*) - hstore(trigger_row.old)) - excluded_cols;
				IF (OLD.sfid IS NOT NULL) THEN
					trigger_row.sfid = OLD.sfid;
				END IF;
				IF (trigger_row."values" = ''::public.hstore) THEN
					trigger_row.state = 'IGNORE'; -- nothing changed
				END IF;
			END IF;
			INSERT INTO ` + ident(schema, "_trigger_log") + ` VALUES (trigger_row.*);
			RETURN NULL;
		END $$`,
		// Only application writes reach this trigger (see the WHEN below): pgforce's own writes say
		// what they are in _hc_lastop themselves, and skipping the trigger keeps bulk loads at COPY speed.
		`CREATE OR REPLACE FUNCTION ` + status + `() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			-- A change made by an application: it waits to be written to Salesforce.
			NEW._hc_lastop = 'PENDING';
			NEW._hc_err = NULL;
			RETURN NEW;
		END $$`,
		`DROP TRIGGER IF EXISTS ` + ident(FitName("hc_"+table+"_logtrigger")) + ` ON ` + tbl,
		`CREATE TRIGGER ` + ident(FitName("hc_"+table+"_logtrigger")) + ` AFTER INSERT OR UPDATE OR DELETE ON ` + tbl +
			` FOR EACH ROW WHEN (public.get_xmlbinary() = 'base64') EXECUTE FUNCTION ` + logger + `()`,
		`DROP TRIGGER IF EXISTS ` + ident(FitName("hc_"+table+"_status_trigger")) + ` ON ` + tbl,
		`CREATE TRIGGER ` + ident(FitName("hc_"+table+"_status_trigger")) + ` BEFORE INSERT OR UPDATE ON ` + tbl +
			` FOR EACH ROW WHEN (public.get_xmlbinary() = 'base64') EXECUTE FUNCTION ` + status + `()`,
	}
	// The row-count trigger fires for every writer (no WHEN, and ALWAYS, whatever the session's
	// replication role) and once per statement: a COPY of a million rows notes its table once. A
	// schema installed before row-count notes existed has no RowChanges: its tables are counted on
	// every read.
	var noted bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL AND to_regproc($2) IS NOT NULL`, ident(schema, RowChanges), ident(schema, rowChangeFunc)).Scan(&noted); err != nil {
		return fmt.Errorf("install capture triggers on %s.%s: %w", schema, table, err)
	}
	if noted {
		stmts = append(stmts,
			`DROP TRIGGER IF EXISTS `+ident(rowCountTrigger(table))+` ON `+tbl,
			`CREATE TRIGGER `+ident(rowCountTrigger(table))+` AFTER INSERT OR DELETE OR TRUNCATE ON `+tbl+
				` FOR EACH STATEMENT EXECUTE FUNCTION `+ident(schema, rowChangeFunc)+`()`,
			`ALTER TABLE `+tbl+` ENABLE ALWAYS TRIGGER `+ident(rowCountTrigger(table)))
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("install capture triggers on %s.%s: %w", schema, table, err)
		}
	}
	return nil
}

// DropTableTriggers removes a table's trigger functions (their triggers go with them) and its
// row-count trigger, whose function the schema's tables share: a table kept after its mapping or
// connection is gone must not note its changes for nobody.
func DropTableTriggers(ctx context.Context, tx pgx.Tx, schema, table string) error {
	if _, err := tx.Exec(ctx, `DROP TRIGGER IF EXISTS `+ident(rowCountTrigger(table))+` ON `+ident(schema, table)); err != nil {
		return fmt.Errorf("drop row-count trigger of %s.%s: %w", schema, table, err)
	}
	for _, fn := range []string{"hc_" + table + "_logger", "hc_" + table + "_status"} {
		if _, err := tx.Exec(ctx, `DROP FUNCTION IF EXISTS `+ident(schema, FitName(fn))+`() CASCADE`); err != nil {
			return fmt.Errorf("drop trigger function %s: %w", fn, err)
		}
	}
	return nil
}
