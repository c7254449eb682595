package apply_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/table"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// A merge given Waiting hands the changes still to be written of the records it brings to Judge,
// and keeps in the rows what Judge keeps: the fields an update touched (the others take
// Salesforce's values, and the row still waits), the absence of a deleted row; a change not kept
// lets the row take Salesforce's version whole.
func TestMergeKeepsTheWaitingChangesJudgeKeeps(t *testing.T) {
	t.Parallel()
	pool, tg := setup(t)
	ctx := context.Background()
	if err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
		return triggerlog.InstallTableTriggers(ctx, tx, tg.Schema, "contact", false)
	}); err != nil {
		t.Fatal(err)
	}
	inSync(t, pool, func(tx pgx.Tx) error {
		_, err := apply.Copy(ctx, tx, tg, encode(t, tg,
			`{"Id":"003000000000001AAA","IsDeleted":false,"SystemModstamp":"2024-05-01T10:00:00.000+0000","LastName":"A","Score__c":1}`,
			`{"Id":"003000000000002AAA","IsDeleted":false,"SystemModstamp":"2024-05-01T10:00:00.000+0000","LastName":"B"}`,
		), false)
		return err
	})
	for _, sql := range []string{`UPDATE ` + tg.Table() + ` SET score__c = 5 WHERE sfid = '003000000000001AAA'`,
		`DELETE FROM ` + tg.Table() + ` WHERE sfid = '003000000000002AAA'`} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	later := func(stamp string) *bytes.Buffer {
		return encode(t, tg,
			`{"Id":"003000000000001AAA","IsDeleted":false,"SystemModstamp":"`+stamp+`","LastName":"A2","Score__c":9}`,
			`{"Id":"003000000000002AAA","IsDeleted":false,"SystemModstamp":"`+stamp+`","LastName":"B2"}`)
	}
	var judged []apply.WaitingChange
	keep := true
	tg.Waiting = &apply.Waiting{Schema: tg.Schema, Table: "contact", Judge: func(_ context.Context, _ pgx.Tx, chs []apply.WaitingChange) ([]apply.Verdict, error) {
		judged = chs
		out := make([]apply.Verdict, len(chs))
		for i, ch := range chs {
			out[i] = apply.Verdict{ID: ch.ID, Keep: keep}
		}
		return out, nil
	}}
	inSync(t, pool, func(tx pgx.Tx) error {
		_, err := apply.Merge(ctx, tx, tg, later("2024-05-01T11:00:00.000+0000"))
		return err
	})
	if len(judged) != 2 {
		t.Fatalf("judged %+v, want the update and the delete", judged)
	}
	upd, del := judged[0], judged[1]
	if upd.Action != "UPDATE" || upd.State != "NEW" || !upd.Differs || upd.SFID != "003000000000001AAA" ||
		upd.SFStamp.Format(time.RFC3339) != "2024-05-01T11:00:00Z" || *upd.Values["score__c"] != "5" || *upd.SFValues["score__c"] != "9" {
		t.Fatalf("the update as judged: %+v", upd)
	}
	if del.Action != "DELETE" || del.SFID != "003000000000002AAA" {
		t.Fatalf("the delete as judged: %+v", del)
	}
	got := rows(t, pool, tg)
	if len(got) != 1 {
		t.Fatalf("rows %v: the deleted row must not come back", got)
	}
	if r := got["003000000000001AAA|A2"]; r.Score == nil || *r.Score != 5 || r.LastOp != "PENDING" {
		t.Fatalf("the updated row %+v: its change kept (score 5), Salesforce's name, still waiting", r)
	}

	keep = false
	inSync(t, pool, func(tx pgx.Tx) error {
		_, err := apply.Merge(ctx, tx, tg, later("2024-05-01T12:00:00.000+0000"))
		return err
	})
	got = rows(t, pool, tg)
	if r := got["003000000000001AAA|A2"]; r.Score == nil || *r.Score != 9 || r.LastOp != "SYNCED" {
		t.Fatalf("the row of a change not kept %+v: Salesforce's version whole", r)
	}
	if _, back := got["003000000000002AAA|B2"]; !back || len(got) != 2 {
		t.Fatalf("rows %v: a delete not kept gives the row back", got)
	}
}

// A value captured before its column's type changed (text in a now numeric column) does not stop
// the merge: no change is found to differ, and the row keeps the change.
func TestMergeAroundAWaitingChangeWhoseCapturedValueNoLongerFitsItsColumn(t *testing.T) {
	t.Parallel()
	pool, tg := setup(t)
	ctx := context.Background()
	inSync(t, pool, func(tx pgx.Tx) error {
		_, err := apply.Copy(ctx, tx, tg, encode(t, tg,
			`{"Id":"003000000000001AAA","IsDeleted":false,"SystemModstamp":"2024-05-01T10:00:00.000+0000","LastName":"A","Score__c":5}`), false)
		return err
	})
	inSync(t, pool, func(tx pgx.Tx) error { // as the writer marks a refused change's row
		_, err := tx.Exec(ctx, `UPDATE `+tg.Table()+` SET _hc_lastop = 'FAILED' WHERE sfid = '003000000000001AAA'`)
		return err
	})
	if _, err := pool.Exec(ctx, `INSERT INTO `+table.Ident(tg.Schema, "_trigger_log")+` (action, table_name, state, record_id, sfid, "values", old)
		SELECT 'UPDATE', 'contact', 'FAILED', id, sfid, hstore('score__c', '5'), hstore('score__c', 'five') FROM `+tg.Table()); err != nil {
		t.Fatal(err)
	}
	var judged []apply.WaitingChange
	tg.Waiting = &apply.Waiting{Schema: tg.Schema, Table: "contact", Judge: func(_ context.Context, _ pgx.Tx, chs []apply.WaitingChange) ([]apply.Verdict, error) {
		judged = chs
		return []apply.Verdict{{ID: chs[0].ID, Keep: true}}, nil
	}}
	inSync(t, pool, func(tx pgx.Tx) error {
		_, err := apply.Merge(ctx, tx, tg, encode(t, tg,
			`{"Id":"003000000000001AAA","IsDeleted":false,"SystemModstamp":"2024-05-01T11:00:00.000+0000","LastName":"A2","Score__c":9}`))
		return err
	})
	if len(judged) != 1 || judged[0].Differs || judged[0].State != "FAILED" {
		t.Fatalf("judged %+v", judged)
	}
	if r := rows(t, pool, tg)["003000000000001AAA|A2"]; r.Score == nil || *r.Score != 5 || r.LastOp != "FAILED" {
		t.Fatalf("row %+v", r)
	}
}
