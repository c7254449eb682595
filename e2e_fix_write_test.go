package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/enginetest"
	"pgforce/sync/store/storetest"
)

// An application inserts a Contact without a last name; Salesforce refuses it. The admin opens the
// row from its error, reads the reason in words, types the last name and saves: the row is written.
func TestBrowserFixesAFailedContactWriteFromTheRecordPage(t *testing.T) {
	t.Parallel()
	p, ctx := connectedProduct(t)
	if _, err := chromedp.Run(ctx, chromedp.Navigate(p.BaseURL+"/mappings")); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, `document.querySelector('[data-testid="setup-check-overall"]')?.textContent === "GREEN"`); err != nil {
		t.Fatalf("the Setup check: %v", err)
	}
	if err := createMapping(ctx, p.BaseURL, "Contact", true, []string{"FirstName", "Email"}, nil); err != nil { // read/write locks LastName in (required)
		screenshot(t, ctx, "failed-fix-create-mapping")
		t.Fatal(err)
	}
	if err := waitMappingState(ctx, p.BaseURL, "Contact", "DATA_SYNCED", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	db, err := pgx.Connect(context.Background(), storetest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	schema := connectedSchema(p)
	var rowID int64
	if err := db.QueryRow(context.Background(), `INSERT INTO `+schema+`.contact (firstname, lastname, email) VALUES ('Grace', '', 'grace@example.com') RETURNING id`).Scan(&rowID); err != nil {
		t.Fatal(err)
	}
	lastop := func() string {
		var op string
		_ = db.QueryRow(context.Background(), `SELECT COALESCE(_hc_lastop, '') FROM `+schema+`.contact WHERE id = $1`, rowID).Scan(&op)
		return op
	}
	enginetest.Eventually(t, "Salesforce to refuse the insert", 30*time.Second, func() (bool, string) { op := lastop(); return op == "FAILED", op })
	var mappingID int64
	if err := db.QueryRow(context.Background(), `SELECT id FROM `+p.Env["PGFORCE_DB_SCHEMA"]+`.mappings WHERE object_name = 'Contact'`).Scan(&mappingID); err != nil {
		t.Fatal(err)
	}
	record := p.BaseURL + "/explorer/" + strconv.FormatInt(mappingID, 10) + "/" + strconv.FormatInt(rowID, 10)
	if err := chromedp.Do(ctx, chromedp.Navigate(record), chromedp.WaitVisible(css(`[data-testid="record-fix"]`))); err != nil {
		screenshot(t, ctx, "failed-fix-record-page")
		t.Fatal(err)
	}
	screenshot(t, ctx, "record-failed-write")
	code, _ := text(ctx, `[data-testid="problem-code"]`)
	fields, _ := text(ctx, `[data-testid="problem-fields"]`)
	if code != "REQUIRED_FIELD_MISSING" || !strings.Contains(fields, "LastName") {
		t.Fatalf("the error in words: code %q, fields %q", code, fields)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(css(`[data-testid="fix-LastName"]`), "Hopper"),
		chromedp.Click(css(`[data-testid="save-resend"]`)),
	); err != nil {
		t.Fatal(err)
	}
	if err := flashContains(ctx, "Saved the row and resent write"); err != nil {
		screenshot(t, ctx, "failed-fix-flash")
		t.Fatal(err)
	}
	enginetest.Eventually(t, "the fixed row to be written", 30*time.Second, func() (bool, string) { op := lastop(); return op == "INSERTED", op })
	if err := chromedp.Do(ctx, chromedp.Navigate(record), chromedp.WaitVisible(css(`[data-testid="record-history"]`))); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "record-fixed")
	if got, _ := text(ctx, `[data-testid="col-lastname"]`); strings.TrimSpace(got) != "Hopper" {
		t.Fatalf("last name on the record page: %q", got)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="record-fix"]').length`)); n != 0 {
		t.Fatal("the fix form is still offered after the row was written")
	}
}
