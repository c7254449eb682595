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
	RetryByCode(ctx context.Context, actor audit.Actor, mappingID int64, code string) (int, error)
	IgnoreByCode(ctx context.Context, actor audit.Actor, mappingID int64, code string) (int, error)
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

// retry sends a failed write again, after fixing its row: pgforce retry LOGID [--set Field=Value ...];
// or every failed write of a mapping Salesforce refused with one code: pgforce retry --mapping OBJ
// --code CODE [--ignore] (--ignore dismisses them instead).
func (e *Env) retry(ctx context.Context, args []string) error {
	f := newFlags("retry")
	set := setFlags{}
	f.Var(set, "set", "Field=Value: fix the row's field before resending (repeat for several; an empty value stores NULL)")
	object := f.String("mapping", "", "with --code: the mapping (Salesforce object) whose failed writes to retry")
	code := f.String("code", "", "with --mapping: the error code Salesforce refused the writes with")
	ignore := f.Bool("ignore", false, "with --mapping and --code: dismiss the failed writes instead of retrying them")
	if err := f.parse(args); err != nil {
		return err
	}
	if *object != "" || *code != "" {
		return e.retryByCode(ctx, f.conn, *object, *code, *ignore)
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

func (e *Env) retryByCode(ctx context.Context, conn, object, code string, ignore bool) error {
	if object == "" || code == "" {
		return fmt.Errorf("usage: pgforce retry --mapping OBJECT --code CODE [--ignore] (the codes are in pgforce write-errors)")
	}
	c, err := e.pick(ctx, conn)
	if err != nil {
		return err
	}
	m, err := e.pickMapping(ctx, c, object)
	if err != nil {
		return err
	}
	op, verb := e.Writes.RetryByCode, "queued %d failed write(s) of %s refused with %s for Salesforce again\n"
	if ignore {
		op, verb = e.Writes.IgnoreByCode, "ignored %d failed write(s) of %s refused with %s\n"
	}
	n, err := op(ctx, e.Actor, m.ID, code)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Out, verb, n, m.Object, code)
	return nil
}
