package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/conflict"
	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// record stores the outcome of a batch in one transaction under the lease fence: each trigger-log
// row's outcome and Salesforce message, and on the table rows (as pgforce, so nothing is captured) the
// sfid of created records, _hc_lastop and _hc_err. Undecided rows go back to NEW.
func (w *writer) record(ctx context.Context, b *writeBatch) error {
	e := w.s.e
	c, tables, batch, took := b.c, b.tables, b.batch, b.took
	ctx = context.WithoutCancel(ctx) // the writes happened in Salesforce: always record them
	err := store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		if err := e.leases.Check(ctx, tx, c.ID); err != nil {
			return err
		}
		if err := apply.AsSync(ctx, tx); err != nil {
			return err
		}
		outcomes := make([]triggerlog.Outcome, 0, len(batch))
		byTable := map[string][]*change{}
		var written, failed int64
		for _, ch := range batch {
			if !ch.decided() {
				ch.outcome = triggerlog.Release
			}
			outcomes = append(outcomes, triggerlog.Outcome{ID: ch.id, Transition: ch.outcome, Message: ch.message, SFID: firstNonEmpty(ch.newSFID, ch.sfid)})
			if ch.lastop != "" {
				byTable[ch.table] = append(byTable[ch.table], ch)
			}
			switch ch.outcome.To {
			case triggerlog.Success:
				written++
			case triggerlog.Failed:
				failed++
			}
		}
		if err := triggerlog.RecordOutcomes(ctx, tx, c.Schema, outcomes); err != nil {
			return err
		}
		if err := w.recordConflicts(ctx, tx, batch, b.refreshes); err != nil {
			return err
		}
		for name, chs := range byTable {
			var marks []triggerlog.RowMark
			created := map[int64]string{}
			written := map[int64]int64{} // row → its successful change
			var ok, bad, later int64
			for _, ch := range chs {
				if ch.released() {
					later++
				}
				switch ch.outcome.To {
				case triggerlog.Success:
					ok++
					written[ch.recordID] = max(written[ch.recordID], ch.id)
					if ch.action == triggerlog.Insert && ch.newSFID != "" {
						created[ch.recordID] = ch.newSFID
					}
				case triggerlog.Failed:
					bad++
				}
				if ch.action == triggerlog.Delete {
					continue // the row is gone
				}
				mark := triggerlog.RowMark{RecordID: ch.recordID, LogID: ch.id, LastOp: ch.lastop, SFID: ch.newSFID}
				if ch.outcome.To == triggerlog.Failed {
					mark.Err = ch.message
				}
				marks = append(marks, mark)
			}
			if err := triggerlog.MarkRows(ctx, tx, c.Schema, name, lastMarks(marks)); err != nil {
				return err
			}
			if err := triggerlog.QueueDeletesOfVanished(ctx, tx, c.Schema, name, created); err != nil {
				return err
			}
			if err := triggerlog.SupersedeFailed(ctx, tx, c.Schema, name, written); err != nil {
				return err
			}
			if err := conflict.Written(ctx, tx, c.ID, name, written); err != nil {
				return err
			}
			if wt := tables[name]; wt != nil {
				if err := addStats(ctx, tx, c.ID, wt.m.ID, "pg_to_sf", ok, bad, e.opts.Now()); err != nil {
					return err
				}
				level, msg := batchEvent(wt.m.Object, ok, bad, later, took)
				if err := mapping.RecordEvent(ctx, tx, wt.m, level, "write", msg); err != nil {
					return err
				}
			}
		}
		if failed > 0 {
			w.log.Warn("Salesforce refused some writes", "failed", failed, "written", written)
		}
		return nil
	})
	if err == nil {
		e.opts.Signals.BatchRecorded.Fire(len(batch))
	}
	return err
}

// lastMarks keeps one mark per row, as the row ends up after the batch: the last change's _hc_lastop
// and _hc_err (an insert then two updates is UPDATED), and the sfid its insert created. One UPDATE
// given several marks of a row would apply any one of them.
func lastMarks(marks []triggerlog.RowMark) []triggerlog.RowMark {
	byRow := map[int64]int{}
	var out []triggerlog.RowMark
	for _, mk := range marks {
		i, seen := byRow[mk.RecordID]
		if !seen {
			byRow[mk.RecordID] = len(out)
			out = append(out, mk)
			continue
		}
		last := &out[i]
		sfid := firstNonEmpty(last.SFID, mk.SFID)
		if mk.LogID > last.LogID {
			*last = mk
		}
		last.SFID = sfid
	}
	return out
}

// batchEvent is the Activity line of a write batch to one object: how many changes, their outcome,
// how long the batch took (0: not known, when recorded again after a failure).
func batchEvent(object string, ok, bad, later int64, took time.Duration) (level, msg string) {
	level = "info"
	msg = fmt.Sprintf("Wrote %d %s %s to Salesforce", ok+bad+later, object, plural(ok+bad+later, "change", "changes"))
	if took > 0 {
		msg += " in " + took.Round(time.Millisecond).String()
	}
	msg += fmt.Sprintf(": %d succeeded", ok)
	if bad > 0 {
		level = "error"
		msg += fmt.Sprintf(", %d failed (each one is a write failure in Activity)", bad)
	}
	if later > 0 {
		msg += fmt.Sprintf(", %d retried later", later)
	}
	return level, msg
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Trigger-log retention defaults: processed rows move to the archive after ArchiveAfter and are
// purged from it after the connection's retention (31 days by default, as Heroku Connect).
const DefaultArchiveAfter = 24 * time.Hour

// archive moves processed rows to _trigger_log_archive and purges old archived rows.
func (w *writer) archive(ctx context.Context) error {
	e := w.s.e
	c := w.s.currentConn()
	after := e.opts.ArchiveAfter
	if after <= 0 {
		after = DefaultArchiveAfter
	}
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		if err := e.leases.Check(ctx, tx, c.ID); err != nil {
			return err
		}
		return triggerlog.Archive(ctx, tx, c.Schema, after, c.RetentionDays)
	})
}
