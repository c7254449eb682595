package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"pgforce/internal/apitoken"
	"pgforce/internal/resource"
	"pgforce/sync/audit"
	"pgforce/sync/diagnose"
	"pgforce/sync/failure"
)

func (e *Env) export(ctx context.Context, args []string) error {
	f := newFlags("export")
	if err := f.parse(args); err != nil {
		return err
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	raw, err := e.Configuration.Export(ctx, c.ID)
	if err != nil {
		return err
	}
	if len(f.args) == 0 || f.args[0] == "-" {
		_, err := e.Out.Write(raw)
		return err
	}
	if err := os.WriteFile(f.args[0], raw, 0o644); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	fmt.Fprintf(e.Out, "exported the configuration of %s to %s\n", c.Name, f.args[0])
	return nil
}

func (e *Env) importConfig(ctx context.Context, args []string) error {
	f := newFlags("import")
	dryRun := f.Bool("dry-run", false, "only show what the import would do")
	if err := f.parse(args); err != nil {
		return err
	}
	file, err := f.arg(0, "FILE (a Heroku Connect configuration export; - for stdin)")
	if err != nil {
		return err
	}
	var raw []byte
	if file == "-" {
		raw, err = io.ReadAll(io.LimitReader(e.In, 6<<20))
	} else {
		raw, err = os.ReadFile(file)
	}
	if err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	plan, err := e.Configuration.PlanImport(ctx, c.ID, raw)
	if err == nil && len(plan.Problems) > 0 {
		err = plan.Problems.Failure()
	}
	if err == nil && !*dryRun {
		plan, err = e.Configuration.ApplyImport(ctx, e.Actor, c.ID, raw)
	}
	if err != nil {
		return err
	}
	res := resource.NewImportResult(plan)
	if f.json {
		return e.printJSON(res)
	}
	verb := "imported into"
	if *dryRun {
		verb = "would import into"
	}
	fmt.Fprintf(e.Out, "%s %s: added %s; edited %s; unchanged %s\n", verb, c.Name, list(res.Added), list(res.Edited), list(res.Unchanged))
	for _, n := range res.Notes {
		fmt.Fprintln(e.Out, "note:", n)
	}
	return nil
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

func (e *Env) diagnose(ctx context.Context, args []string) error {
	f := newFlags("diagnose")
	verbose := f.Bool("v", false, "also show GREEN and SKIPPED checks")
	if err := f.parse(args); err != nil {
		return err
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	r, err := e.health().Run(ctx, c.ID)
	if err != nil {
		return err
	}
	return e.checks(f, "diagnose", c.Name, r.Status, r.Results, r, *verbose)
}

// doctor checks the org's setup; unlike diagnose it lists every check unless -q.
func (e *Env) doctor(ctx context.Context, args []string) error {
	f := newFlags("doctor")
	quiet := f.Bool("q", false, "show only RED and YELLOW checks")
	if err := f.parse(args); err != nil {
		return err
	}
	if e.Doctor == nil {
		return failure.E(failure.Invalid, "This pgforce has no org checks.")
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	r, err := e.Doctor.Run(ctx, c.ID)
	if err != nil {
		return err
	}
	return e.checks(f, "doctor", c.Name, r.Status, r.Results, r, !*quiet)
}

// checks prints a RED/YELLOW/GREEN report (report itself with --json) and fails when it is RED.
func (e *Env) checks(f *flags, cmd, conn string, status diagnose.Status, results []diagnose.Result, report any, all bool) error {
	if f.json {
		if err := e.printJSON(report); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.Out, "=== %s: %s\n", conn, status)
		for _, res := range results {
			if !all && (res.Status == diagnose.Green || res.Status == diagnose.Skipped) {
				continue
			}
			fmt.Fprintf(e.Out, "%-7s %s: %s\n", res.Status, res.DisplayName, res.Message)
			if res.Fix != "" {
				fmt.Fprintf(e.Out, "        fix: %s\n", res.Fix)
			}
		}
		if status == diagnose.Green {
			fmt.Fprintln(e.Out, "every check passed")
		}
	}
	if status == diagnose.Red {
		return fmt.Errorf("%s %w for connection %s", cmd, errRed, conn)
	}
	return nil
}

// auditFilter reads --since/--until (UTC days, until inclusive) and --action.
func auditFilter(since, until, action string) (audit.Filter, error) {
	var af audit.Filter
	if since != "" {
		t, err := time.Parse("2006-01-02", since)
		if err != nil {
			return af, failure.InvalidField("since", "--since must look like 2025-06-20")
		}
		af.Since = t
	}
	if until != "" {
		t, err := time.Parse("2006-01-02", until)
		if err != nil {
			return af, failure.InvalidField("until", "--until must look like 2025-06-20")
		}
		af.Until = t.AddDate(0, 0, 1)
	}
	af.Action = audit.Action(strings.TrimSpace(action))
	return af, nil
}

func (e *Env) audit(ctx context.Context, args []string) error {
	f := newFlags("audit")
	since := f.String("since", "", "first UTC day (2025-06-20)")
	until := f.String("until", "", "last UTC day, inclusive")
	action := f.String("action", "", `an action ("mapping.create") or area ("mapping.")`)
	if err := f.parse(args); err != nil {
		return err
	}
	af, err := auditFilter(*since, *until, *action)
	if err != nil {
		return err
	}
	if f.conn != "" {
		c, err := e.pick(ctx, f.conn)
		if err != nil {
			return err
		}
		af.ConnectionID = &c.ID
	}
	if !f.json {
		// Buffered so that a failure half-way never leaves a truncated file behind a redirect.
		var buf bytes.Buffer
		if err := e.Reports.AuditCSV(ctx, af, &buf); err != nil {
			return err
		}
		_, err := e.Out.Write(buf.Bytes())
		return err
	}
	entries, err := e.Reports.AuditEntries(ctx, af)
	if err != nil {
		return err
	}
	return e.printJSON(resource.NewList(resource.NewAuditEntries(entries)))
}

func (e *Env) writeErrors(ctx context.Context, args []string) error {
	f := newFlags("write-errors")
	obj := f.String("mapping", "", "only this mapping's errors")
	hours := f.Int("hours", 24, "how far back to look")
	if err := f.parse(args); err != nil {
		return err
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	var tables []string
	if *obj != "" {
		m, err := e.pickMapping(ctx, c, *obj)
		if err != nil {
			return err
		}
		tables = []string{m.Table}
	}
	es, err := e.Reports.WriteErrors(ctx, c.Schema, tables, e.Now().Add(-time.Duration(*hours)*time.Hour), 500)
	if err != nil {
		return err
	}
	out := resource.NewWriteErrors(es)
	if f.json {
		return e.printJSON(resource.NewList(out))
	}
	if len(out) == 0 {
		fmt.Fprintf(e.Out, "no write errors in the last %d hours\n", *hours)
		return nil
	}
	var rows [][]string
	for _, w := range out {
		rows = append(rows, []string{strconv.FormatInt(w.ID, 10), w.UpdatedAt.UTC().Format(time.RFC3339), w.TableName, strconv.FormatInt(w.RecordID, 10), w.Action, oneLine{fmt.Errorf("%s", w.Message)}.Error()})
	}
	return e.table("ID\tAT\tTABLE\tRECORD\tACTION\tMESSAGE", rows)
}

func (e *Env) token(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: pgforce token create|list|revoke")
	}
	f := newFlags("token " + args[0])
	name := f.String("name", "", "the token's name (who or what uses it)")
	role := f.String("role", "viewer", "admin, viewer or metrics")
	if err := f.parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "create":
		t, secret, err := e.Tokens.Create(ctx, e.Actor, *name, apitoken.Role(*role))
		if err != nil {
			return err
		}
		if f.json {
			return e.printJSON(struct {
				apitoken.Token
				Secret string `json:"token"`
			}{t, secret})
		}
		fmt.Fprintf(e.Out, "created token %s (%s)\ntoken (shown once): %s\n", t.Name, t.Role, secret)
		return nil
	case "list":
		ts, err := e.Tokens.List(ctx)
		if err != nil {
			return err
		}
		if f.json {
			return e.printJSON(resource.NewList(ts))
		}
		var rows [][]string
		for _, t := range ts {
			status := "live"
			if t.RevokedAt != nil {
				status = "revoked " + t.RevokedAt.UTC().Format(time.RFC3339)
			}
			rows = append(rows, []string{t.Name, string(t.Role), t.CreatedAt.UTC().Format(time.RFC3339), timeOrDash(t.LastUsedAt), status})
		}
		return e.table("NAME\tROLE\tCREATED\tLAST USED\tSTATUS", rows)
	case "revoke":
		n := *name
		if n == "" && len(f.args) > 0 {
			n = f.args[0]
		}
		if n == "" {
			return fmt.Errorf("usage: pgforce token revoke NAME")
		}
		if err := e.Tokens.Revoke(ctx, e.Actor, n); err != nil {
			return err
		}
		if f.json {
			return e.printJSON(map[string]any{"name": n, "revoked": true})
		}
		fmt.Fprintf(e.Out, "revoked token %s\n", n)
		return nil
	}
	return fmt.Errorf("unknown token command %q: use create, list or revoke", args[0])
}
