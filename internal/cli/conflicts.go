package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"pgforce/internal/resource"
	"pgforce/sync/admin"
	"pgforce/sync/audit"
	"pgforce/sync/conflict"
)

// Conflicts is what the conflicts commands ask (*admin.Conflicts implements it).
type Conflicts interface {
	List(ctx context.Context, f conflict.Filter) ([]conflict.Conflict, error)
	Resolve(ctx context.Context, actor audit.Actor, connID, id int64, side admin.Side) (conflict.Conflict, error)
}

var _ Conflicts = (*admin.Conflicts)(nil)

// conflicts lists the connection's conflicts: pgforce conflicts [--mapping OBJ] [--held] [--json].
func (e *Env) conflicts(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "keep" {
		return e.keepConflict(ctx, args[1:])
	}
	f := newFlags("conflicts")
	obj := f.String("mapping", "", "only this mapping's conflicts")
	held := f.Bool("held", false, "only conflicts waiting for an admin (manual policy)")
	if err := f.parse(args); err != nil {
		return err
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	flt := conflict.Filter{ConnectionID: c.ID, HeldOnly: *held}
	if *obj != "" {
		m, err := e.pickMapping(ctx, c, *obj)
		if err != nil {
			return err
		}
		flt.MappingID = m.ID
	}
	cs, err := e.Conflicts.List(ctx, flt)
	if err != nil {
		return err
	}
	if f.json {
		return e.printJSON(resource.NewList(resource.NewConflicts(cs)))
	}
	if len(cs) == 0 {
		fmt.Fprintln(e.Out, "no conflicts")
		return nil
	}
	var rows [][]string
	for _, x := range cs {
		rows = append(rows, []string{strconv.FormatInt(x.ID, 10), x.DetectedAt.UTC().Format(time.RFC3339), x.Object, x.SFID, string(x.Kind),
			versions(x), x.SFModifiedBy, string(x.Policy), string(x.Outcome)})
	}
	return e.table("ID\tDETECTED\tOBJECT\tSFID\tKIND\tFIELDS (POSTGRES | SALESFORCE)\tSF_MODIFIED_BY\tPOLICY\tOUTCOME", rows)
}

// versions is a conflict's fields on one line: Field=pg|sf.
func versions(c conflict.Conflict) string {
	var parts []string
	for _, f := range c.Fields() {
		parts = append(parts, fmt.Sprintf("%s=%v|%v", f, c.PostgresValues[f], c.SalesforceValues[f]))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// keepConflict resolves a held conflict: pgforce conflicts keep ID postgres|salesforce.
func (e *Env) keepConflict(ctx context.Context, args []string) error {
	f := newFlags("conflicts keep")
	if err := f.parse(args); err != nil {
		return err
	}
	const usage = "ID postgres|salesforce"
	raw, err := f.arg(0, usage)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return fmt.Errorf("usage: pgforce conflicts keep %s", usage)
	}
	s, err := f.arg(1, usage)
	if err != nil {
		return err
	}
	side, err := admin.ParseSide(s)
	if err != nil {
		return err
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	x, err := e.Conflicts.Resolve(ctx, e.Actor, c.ID, id, side)
	if err != nil {
		return err
	}
	if f.json {
		return e.printJSON(resource.NewConflict(x))
	}
	fmt.Fprintf(e.Out, "conflict %d on %s %s: %s\n", x.ID, x.Object, x.SFID, x.Outcome.Label())
	return nil
}
