package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"pgforce/sync/audit"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/verify"
)

// Verifications is what `pgforce verify` asks (*admin.Verifications implements it).
type Verifications interface {
	Request(ctx context.Context, actor audit.Actor, mappingID int64) (verify.Verification, error)
	Repair(ctx context.Context, actor audit.Actor, verificationID int64) (verify.Verification, error)
	Get(ctx context.Context, id int64) (verify.Verification, error)
	LatestOf(ctx context.Context, mappingID int64) (verify.Verification, bool, error)
	Latest(ctx context.Context, connID int64) (map[int64]verify.Verification, error)
	Findings(ctx context.Context, id int64, kind verify.Kind, limit int) ([]verify.Finding, error)
}

// errDrift fails `pgforce verify` when a table does not hold what Salesforce holds and was not repaired.
var errDrift = errors.New("verification found drift")

// pickupWait is how long a requested verification may wait for a syncer before the command says
// that none runs.
const pickupWait = 30 * time.Second

// verifyCmd compares mapped tables with Salesforce (and repairs them with --repair). The connection's
// running `pgforce serve` does the work under its lease; this command asks and reports progress.
func (e *Env) verifyCmd(ctx context.Context, args []string) error {
	f := newFlags("verify")
	repair := f.Bool("repair", false, "fetch the records that differ again from Salesforce")
	timeout := f.Duration("timeout", time.Hour, "give up waiting after this long (the work goes on in pgforce serve)")
	if err := f.parse(args); err != nil {
		return err
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	var ms []mapping.Mapping
	if len(f.args) > 0 {
		m, err := e.pickMapping(ctx, c, f.args[0])
		if err != nil {
			return err
		}
		ms = []mapping.Mapping{m}
	} else if ms, err = e.Mappings.List(ctx, c.ID); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var results []verify.Verification
	drifted := 0
	for _, m := range ms {
		if m.State.Loading() {
			fmt.Fprintf(e.Out, "%s: skipped, it is loading (%s)\n", m.Object, m.State)
			continue
		}
		v, err := e.Verifications.Request(ctx, e.Actor, m.ID)
		if failure.Is(err, failure.Conflict) {
			// One is already open (the schedule, another admin): follow it.
			var open bool
			if v, open, err = e.Verifications.LatestOf(ctx, m.ID); err == nil && (!open || !v.State.Open()) {
				err = failure.E(failure.Conflict, "could not start a verification of %s", m.Object)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", m.Object, err)
		}
		if v, err = e.await(ctx, m.Object, v); err != nil {
			return err
		}
		if v.State == verify.DriftFound && *repair {
			if v, err = e.Verifications.Repair(ctx, e.Actor, v.ID); err != nil {
				return fmt.Errorf("%s: %w", m.Object, err)
			}
			if v, err = e.await(ctx, m.Object, v); err != nil {
				return err
			}
		}
		results = append(results, v)
		if !f.json {
			if err := e.printVerification(ctx, m.Object, v); err != nil {
				return err
			}
		}
		if v.Unrepaired() > 0 || v.State == verify.Failed {
			drifted++
		}
	}
	if f.json {
		if err := e.printJSON(results); err != nil {
			return err
		}
	}
	if drifted > 0 {
		return fmt.Errorf("%w in %d of %d mappings of %s", errDrift, drifted, len(results), c.Name)
	}
	return nil
}

// await follows a verification until its work is done, printing its progress.
func (e *Env) await(ctx context.Context, object string, v verify.Verification) (verify.Verification, error) {
	asked := time.Now()
	said := ""
	for v.State.Open() {
		if (v.State == verify.Requested || v.State == verify.RepairRequested) && time.Since(asked) > pickupWait {
			return v, fmt.Errorf("%s: no pgforce serve picked the %s up within %s: is one running for this connection? (it stays %s and runs when one starts)",
				object, map[bool]string{true: "repair", false: "verification"}[v.State == verify.RepairRequested], pickupWait, v.State)
		}
		if v.StateReason != said && v.StateReason != "" {
			fmt.Fprintf(e.Out, "%s: %s\n", object, v.StateReason)
			said = v.StateReason
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%s: stopped waiting (%s); the verification goes on in pgforce serve", object, v.State)
		case <-time.After(250 * time.Millisecond): // polling the database for the serve's progress
		}
		var err error
		if v, err = e.Verifications.Get(ctx, v.ID); err != nil {
			return v, err
		}
	}
	return v, nil
}

func (e *Env) printVerification(ctx context.Context, object string, v verify.Verification) error {
	fmt.Fprintf(e.Out, "%s: %s — %s\n", object, v.State, v.StateReason)
	if v.Unrepaired() == 0 {
		return nil
	}
	fs, err := e.Verifications.Findings(ctx, v.ID, "", 10)
	if err != nil {
		return err
	}
	for _, f := range fs {
		fmt.Fprintf(e.Out, "  %-7s %s\n", f.Kind, f.SFID)
	}
	if n := v.Drift(); n > int64(len(fs)) {
		fmt.Fprintf(e.Out, "  and %d more; `pgforce verify %s --repair` fetches them again\n", n-int64(len(fs)), object)
	}
	return nil
}
