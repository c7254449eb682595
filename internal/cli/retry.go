package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"pgforce/sync/admin"
	"pgforce/sync/audit"
)

// Writes is what retry asks of failed writes (*admin.Writes implements it).
type Writes interface {
	FixAndRetry(ctx context.Context, actor audit.Actor, connID, logID int64, set map[string]string) error
}

var _ Writes = (*admin.Writes)(nil)

// setFlags collects repeated --set Field=Value flags.
type setFlags map[string]string

func (s setFlags) String() string { return fmt.Sprint(map[string]string(s)) }

func (s setFlags) Set(v string) error {
	field, value, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(field) == "" {
		return fmt.Errorf("--set wants Field=Value, not %q", v)
	}
	s[strings.TrimSpace(field)] = value
	return nil
}

// retry sends a failed write again, after fixing its row: pgforce retry LOGID [--set Field=Value ...].
func (e *Env) retry(ctx context.Context, args []string) error {
	f := newFlags("retry")
	set := setFlags{}
	f.Var(set, "set", "Field=Value: fix the row's field before resending (repeat for several; an empty value stores NULL)")
	if err := f.parse(args); err != nil {
		return err
	}
	raw, err := f.arg(0, "LOGID [--set Field=Value ...]")
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return fmt.Errorf("usage: pgforce retry LOGID [--set Field=Value ...]: %q is not a write's id (see pgforce write-errors)", raw)
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	if err := e.Writes.FixAndRetry(ctx, e.Actor, c.ID, id, set); err != nil {
		return err
	}
	if len(set) > 0 {
		fmt.Fprintf(e.Out, "fixed %d field(s) of write %d's row and queued it for Salesforce again\n", len(set), id)
	} else {
		fmt.Fprintf(e.Out, "queued write %d's row for Salesforce again\n", id)
	}
	return nil
}
