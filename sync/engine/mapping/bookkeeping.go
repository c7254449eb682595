package mapping

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/lifecycle"
)

// What a syncer stores while it loads and polls a mapping. Every update that records progress is
// guarded by the state the work runs in: when an admin aborted, reloaded or edited the mapping
// meanwhile, it matches nothing and the caller learns that its work is void (false).

// RecordLoadSize notes that a load of expected records begins now.
func RecordLoadSize(ctx context.Context, q Execer, id int64, expected int) error {
	if _, err := q.Exec(ctx, `UPDATE mappings SET load_expected = $2, load_done = 0, load_started_at = now(),
		load_finished_at = NULL, sf_count = $2, sf_count_at = now() WHERE id = $1`, id, expected); err != nil {
		return fmt.Errorf("record load size: %w", err)
	}
	return nil
}

// SaveLoadProgress stores how many records a running load copied; false when the mapping is no
// longer loading.
func SaveLoadProgress(ctx context.Context, q Execer, id, done int64) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE mappings SET load_done = $2 WHERE id = $1 AND state = ANY($3)`, id, done, lifecycle.Strings(loading...))
	if err != nil {
		return false, fmt.Errorf("save load progress of mapping %d: %w", id, err)
	}
	return tag.RowsAffected() > 0, nil
}

// FinishLoad records a completed load of loaded records: the high-water mark it started from, and the
// first poll due after interval; false when the mapping is no longer loading.
func FinishLoad(ctx context.Context, tx pgx.Tx, id, loaded int64, watermark time.Time, interval time.Duration) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE mappings SET load_done = $2, load_finished_at = clock_timestamp(), watermark = $3, watermark_id = '',
		last_poll_at = load_started_at, next_poll_at = now() + make_interval(secs => $4), requested_action = NULL
		WHERE id = $1 AND state = ANY($5)`, id, loaded, watermark, interval.Seconds(), lifecycle.Strings(loading...))
	if err != nil {
		return false, fmt.Errorf("record finished load of mapping %d: %w", id, err)
	}
	return tag.RowsAffected() > 0, nil
}

// Poll is what a finished poll stores, in the transaction of the rows it merged.
type Poll struct {
	Watermark   *time.Time    // the new high-water mark
	WatermarkID string        // the Id of the last record at the mark
	Interval    time.Duration // the next poll is due after it
	ReplayID    int64         // the change event that triggered the poll (0: none)
	// PubSubReplayID is the same for the Pub/Sub API (nil: none; the stored one stays).
	PubSubReplayID []byte
	// StartedAt is the database's time before the poll's query ran (nil: the transaction's start).
	StartedAt *time.Time
	// Table is the mapping's table, qualified: the database history the mark is stored in is
	// noted with it (as StampHistory does), in the same statement.
	Table string
}

// SavePoll stores a poll's high-water mark and the database history it is stored in (see
// RolledBack); false when the mapping is no longer polling. The poll
// counts as having begun before its query ran (StartedAt, or when its transaction began): the next
// overlap window counts from it.
func SavePoll(ctx context.Context, tx pgx.Tx, id int64, p Poll) (bool, error) {
	// The replay id is stored with the data the event led to: after a restart the stream resumes
	// after it, and everything before is in the table.
	tag, err := tx.Exec(ctx, `UPDATE mappings SET watermark = $2, watermark_id = $3, last_poll_at = COALESCE($8, now()),
		next_poll_at = COALESCE($8, now()) + make_interval(secs => $4), replay_id = GREATEST(replay_id, NULLIF($6, 0)),
		pubsub_replay_id = COALESCE($7, pubsub_replay_id), synced_in = database_history($9)
		WHERE id = $1 AND state = ANY($5)`,
		id, p.Watermark, p.WatermarkID, p.Interval.Seconds(), lifecycle.Strings(PollingSFChanges, PollingSFBulk), p.ReplayID, p.PubSubReplayID, p.StartedAt, p.Table)
	if err != nil {
		return false, fmt.Errorf("record poll of mapping %d: %w", id, err)
	}
	return tag.RowsAffected() > 0, nil
}

// FinishBackfill forgets the fields an edit added once their values are loaded.
func FinishBackfill(ctx context.Context, tx pgx.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `UPDATE mappings SET requested_action = NULL, backfill = NULL WHERE id = $1`, id); err != nil {
		return fmt.Errorf("finish backfill of mapping %d: %w", id, err)
	}
	return nil
}

// SaveCountCheck stores a count check: Salesforce's record count (the figure every surface shows,
// with its age) and the difference changes in flight could not explain.
func SaveCountCheck(ctx context.Context, q Execer, id, sfCount, drift int64) error {
	if _, err := q.Exec(ctx, `UPDATE mappings SET sf_count = $2, sf_count_at = now(), count_checked_at = now(), count_drift = $3 WHERE id = $1`,
		id, sfCount, drift); err != nil {
		return fmt.Errorf("save the count check of mapping %d: %w", id, err)
	}
	return nil
}

// SaveRefresh stores, with the rows of records read because a gap event named them, that event's
// replay id; false when the mapping no longer syncs.
func SaveRefresh(ctx context.Context, tx pgx.Tx, id, replayID int64) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE mappings SET replay_id = GREATEST(replay_id, NULLIF($2, 0)) WHERE id = $1 AND state = ANY($3)`,
		id, replayID, lifecycle.Strings(DataSynced, PollingSFChanges, PollingSFBulk))
	if err != nil {
		return false, fmt.Errorf("record refresh of mapping %d: %w", id, err)
	}
	return tag.RowsAffected() > 0, nil
}

// ForgetReplayID drops a mapping's stored change-event replay id: the events after it are not
// available, so its stream resubscribes for new events and a poll catches up.
func ForgetReplayID(ctx context.Context, q Execer, id int64) error {
	if _, err := q.Exec(ctx, `UPDATE mappings SET replay_id = NULL WHERE id = $1`, id); err != nil {
		return fmt.Errorf("forget the replay id of mapping %d: %w", id, err)
	}
	return nil
}

// SetStreamNote stores why an accelerated mapping does not stream ("" when it does); false when the
// note was already that.
func SetStreamNote(ctx context.Context, q Execer, id int64, note string) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE mappings SET stream_note = NULLIF($2, '') WHERE id = $1 AND stream_note IS DISTINCT FROM NULLIF($2, '')`, id, note)
	if err != nil {
		return false, fmt.Errorf("record the stream state of mapping %d: %w", id, err)
	}
	return tag.RowsAffected() > 0, nil
}

// databaseHistory names the database history a row is written in (migrations 011, 014): the cluster, the
// WAL timeline (a point-in-time recovery or a promoted standby starts a new one) and the oid of the
// mapping's table (a restored dump recreates it). $2 is the table's qualified name.
const databaseHistory = `database_history($2)`

// StampHistory notes, with a load's high-water mark, the database history it is stored in (see
// RolledBack; SavePoll does the same for a poll's).
func StampHistory(ctx context.Context, tx pgx.Tx, id int64, table string) error {
	if _, err := tx.Exec(ctx, `UPDATE mappings SET synced_in = `+databaseHistory+` WHERE id = $1`, id, table); err != nil {
		return fmt.Errorf("record where mapping %d's high-water mark is stored: %w", id, err)
	}
	return nil
}

// RolledBack reports whether the mapping's high-water mark was stored in another database history
// than the current one: the database was restored to an earlier point (or failed over to a standby
// that may lack the last commits), so the mark, the table and the trigger log may all be older than
// what was synced. A whole-database restore takes any record kept beside the mark with it; only the
// database's own history tells. Nothing is known before the first stamp (false).
func RolledBack(ctx context.Context, q rowQuerier, id int64, table string) (bool, error) {
	var back bool
	if err := q.QueryRow(ctx, `SELECT COALESCE(synced_in <> `+databaseHistory+`, false) FROM mappings WHERE id = $1`, id, table).Scan(&back); err != nil {
		return false, fmt.Errorf("compare mapping %d's database history: %w", id, err)
	}
	return back, nil
}
