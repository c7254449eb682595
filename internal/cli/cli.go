// Package cli holds pgforce's administrative commands, the counterparts of Heroku Connect's
// `heroku connect:*`: connections, mappings, import/export, diagnose, the audit trail, write errors
// and API tokens. Commands act on the database through the administration (package admin); no sync
// runs in the CLI process: the running `pgforce serve` picks every change up through its
// notifications. Failures are returned as
// one-line errors (main prints them and exits non-zero); --json prints the REST API's shapes.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"pgforce/internal/apitoken"
	"pgforce/internal/resource"
	"pgforce/sync/admin"
	"pgforce/sync/audit"
	"pgforce/sync/diagnose"
	"pgforce/sync/doctor"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/report"
)

// Connections is what the commands ask of connections (*admin.Connections implements it).
type Connections interface {
	Create(ctx context.Context, actor audit.Actor, n admin.NewConnection) (connection.Connection, error)
	List(ctx context.Context) ([]connection.Connection, error)
	Get(ctx context.Context, id int64) (connection.Connection, error)
	AuthorizeWithPassword(ctx context.Context, actor audit.Actor, connID int64, username, password string) (connection.Connection, error)
	Pause(ctx context.Context, actor audit.Actor, connID int64) error
	Resume(ctx context.Context, actor audit.Actor, connID int64) error
	Recover(ctx context.Context, actor audit.Actor, connID int64) error
	Delete(ctx context.Context, actor audit.Actor, connID int64, dropSchema bool) error
	APIUsage(ctx context.Context, connID int64) (used, max int, at time.Time, err error)
}

// Mappings is what the commands ask of mappings (*admin.Mappings implements it).
type Mappings interface {
	List(ctx context.Context, connID int64) ([]mapping.Mapping, error)
	ListStates(ctx context.Context, connID int64) ([]mapping.Mapping, error)
	Get(ctx context.Context, id int64) (mapping.Mapping, error)
	Create(ctx context.Context, actor audit.Actor, connID int64, object string, cfg mapping.Config) (mapping.Mapping, error)
	Edit(ctx context.Context, actor audit.Actor, mappingID int64, cfg mapping.Config, recreate []string) (mapping.Mapping, error)
	Reload(ctx context.Context, actor audit.Actor, mappingID int64) error
	Abort(ctx context.Context, actor audit.Actor, mappingID int64) error
	Recover(ctx context.Context, actor audit.Actor, mappingID int64) (mapping.State, error)
	Delete(ctx context.Context, actor audit.Actor, mappingID int64) error
}

// Configuration is what export and import ask (*admin.Configuration implements it).
type Configuration interface {
	Export(ctx context.Context, connID int64) ([]byte, error)
	PlanImport(ctx context.Context, connID int64, raw []byte) (admin.ImportPlan, error)
	ApplyImport(ctx context.Context, actor audit.Actor, connID int64, raw []byte) (admin.ImportPlan, error)
}

var (
	_ Connections   = (*admin.Connections)(nil)
	_ Mappings      = (*admin.Mappings)(nil)
	_ Configuration = (*admin.Configuration)(nil)
	_ Verifications = (*admin.Verifications)(nil)
)

// Doctor checks how a connection's org is set up (doctor.Doctor implements it).
type Doctor interface {
	Run(ctx context.Context, connID int64) (doctor.Report, error)
}

// Env is what the commands work with; main builds it from the configuration.
type Env struct {
	Connections   Connections
	Mappings      Mappings
	Configuration Configuration
	Doctor        Doctor
	Verifications Verifications
	Conflicts     Conflicts
	Writes        Writes
	Reports       *report.Reader
	Tokens        *apitoken.Service
	Actor         audit.Actor // recorded in the audit trail
	In            io.Reader   // passwords and confirmations
	Out           io.Writer

	// Where new connections log in when --login-url is not given: the configured real org, or the
	// simulated org served by `pgforce serve` under /sim.
	OrgType  connection.OrgType
	LoginURL string
	// DashboardURL is where to send admins for interactive steps (OAuth authorization).
	DashboardURL string
	Now          func() time.Time
}

// Commands are the top-level commands this package handles.
var Commands = []string{"connection", "info", "state", "pause", "resume", "recover", "export", "import", "mapping",
	"diagnose", "doctor", "verify", "audit", "write-errors", "token", "conflicts", "retry"}

// Handles reports whether cmd is one of Commands.
func Handles(cmd string) bool {
	for _, c := range Commands {
		if c == cmd {
			return true
		}
	}
	return false
}

// Usage lists the administration's commands.
const Usage = `  pgforce connection create --schema S [--name N] [--login-url URL] [--org-type T] [--username U --password P]
  pgforce connection list | delete NAME --confirm NAME [--drop-schema]
  pgforce info | state | pause | resume | recover     connection overview and lifecycle
  pgforce export [FILE] | import FILE                 Heroku Connect configuration JSON
  pgforce mapping list | state OBJ | reload OBJ | abort OBJ | delete OBJ --confirm OBJ
  pgforce mapping create OBJ --fields A,B [--access read_write] [--polling S] [--upsert-field F] [--config FILE]
  pgforce mapping edit OBJ [--add-fields A,B] [--remove-fields C] [--access A] [--polling S] [--config FILE]
  pgforce diagnose                                    RED/YELLOW/GREEN checks with fixes (exit 1 when RED)
  pgforce doctor                                      the org's setup checked in Salesforce, same style (exit 1 when RED)
  pgforce verify [OBJ] [--repair] [--timeout D]       compare tables with Salesforce record by record (exit 1 on drift left)
  pgforce mapping recover OBJ                         restart a mapping stopped by an error
  pgforce audit [--since D] [--until D] [--action A] > audit.csv
  pgforce write-errors [--mapping OBJ] [--hours 24]
  pgforce retry LOGID [--set Field=Value ...]         fix a failed write's row and send it again
  pgforce retry --mapping OBJ --code CODE [--ignore]  retry (or ignore) a mapping's failed writes by error code
  pgforce mapping edit OBJ --conflict-policy postgres_wins|salesforce_wins|newest_wins|manual
  pgforce conflicts [--mapping OBJ] [--held] | conflicts keep ID postgres|salesforce
  pgforce token create --name N --role admin|viewer|metrics | list | revoke NAME
  Common flags: --connection NAME (when there are several), --json (the REST API's JSON)
`

// Run runs one command.
func (e *Env) Run(ctx context.Context, cmd string, args []string) error {
	if e.Now == nil {
		e.Now = time.Now
	}
	var err error
	switch cmd {
	case "connection":
		err = e.connection(ctx, args)
	case "info":
		err = e.info(ctx, args)
	case "state":
		err = e.state(ctx, args)
	case "pause":
		err = e.lifecycle(ctx, args, "pause", e.Connections.Pause)
	case "resume":
		err = e.lifecycle(ctx, args, "resume", e.Connections.Resume)
	case "recover":
		err = e.lifecycle(ctx, args, "recover", e.Connections.Recover)
	case "export":
		err = e.export(ctx, args)
	case "import":
		err = e.importConfig(ctx, args)
	case "mapping":
		err = e.mapping(ctx, args)
	case "diagnose":
		err = e.diagnose(ctx, args)
	case "doctor":
		err = e.doctor(ctx, args)
	case "verify":
		err = e.verifyCmd(ctx, args)
	case "audit":
		err = e.audit(ctx, args)
	case "write-errors":
		err = e.writeErrors(ctx, args)
	case "retry":
		err = e.retry(ctx, args)
	case "conflicts":
		err = e.conflicts(ctx, args)
	case "token":
		err = e.token(ctx, args)
	default:
		err = fmt.Errorf("unknown command %q; run `pgforce help`", cmd)
	}
	if err != nil {
		return oneLine{err}
	}
	return nil
}

// oneLine keeps failures to one line, so scripts can log them as they are.
type oneLine struct{ err error }

func (o oneLine) Error() string {
	msg := o.err.Error()
	if failure.KindOf(o.err) != failure.Internal {
		// The user-facing message, without the cause it wraps (which repeats it in other words).
		msg = failure.Message(o.err)
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", "; ")), " ")
}
func (o oneLine) Unwrap() error { return o.err }

// flags are a command's flags, with the common --connection and --json, parsed wherever they appear
// among the positional arguments (`mapping reload Account --json`).
type flags struct {
	*flag.FlagSet
	conn string
	json bool
	args []string
}

func newFlags(name string) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.SetOutput(io.Discard)
	f.StringVar(&f.conn, "connection", "", "the connection's name (needed when there are several)")
	f.BoolVar(&f.json, "json", false, "print JSON, as the REST API does")
	return f
}

func (f *flags) parse(args []string) error {
	for {
		if err := f.Parse(args); err != nil {
			return fmt.Errorf("%s: %w (run `pgforce help`)", f.Name(), err)
		}
		if f.NArg() == 0 {
			return nil
		}
		f.args = append(f.args, f.Arg(0))
		args = f.Args()[1:]
	}
}

// arg returns the i-th positional argument, or an error naming what is missing.
func (f *flags) arg(i int, what string) (string, error) {
	if i < len(f.args) && strings.TrimSpace(f.args[i]) != "" {
		return f.args[i], nil
	}
	return "", fmt.Errorf("usage: pgforce %s %s", f.Name(), what)
}

// printJSON writes v indented.
func (e *Env) printJSON(v any) error {
	enc := json.NewEncoder(e.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns.
func (e *Env) table(header string, rows [][]string) error {
	w := tabwriter.NewWriter(e.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, header)
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}

func (e *Env) loader() resource.Loader {
	return resource.Loader{ConnReader: e.Connections, MapReader: e.Mappings, Reports: e.Reports, Health: e.health()}
}

// health is the health model over this environment's administration and reports.
func (e *Env) health() diagnose.Checker {
	k := diagnose.Checker{Connections: e.Connections, Mappings: e.Mappings, Reports: e.Reports, Now: e.Now}
	if e.Verifications != nil {
		k.Verifications = e.Verifications
	}
	return k
}

// pick selects the connection a command acts on: --connection (name or id), or the only one.
func (e *Env) pick(ctx context.Context, want string) (connection.Connection, error) {
	cs, err := e.Connections.List(ctx)
	if err != nil {
		return connection.Connection{}, err
	}
	if want != "" {
		for _, c := range cs {
			if strings.EqualFold(c.Name, want) || strconv.FormatInt(c.ID, 10) == want {
				return c, nil
			}
		}
		return connection.Connection{}, failure.E(failure.NotFound, "There is no connection named %q (see `pgforce connection list`).", want)
	}
	switch len(cs) {
	case 0:
		return connection.Connection{}, failure.E(failure.NotFound, "There is no connection yet: create one with `pgforce connection create --schema salesforce`.")
	case 1:
		return cs[0], nil
	}
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return connection.Connection{}, failure.E(failure.Invalid, "There are %d connections (%s): choose one with --connection NAME.", len(cs), strings.Join(names, ", "))
}

// pickMapping finds a mapping of a connection by object name (case-insensitive) or id.
func (e *Env) pickMapping(ctx context.Context, c connection.Connection, want string) (mapping.Mapping, error) {
	ms, err := e.Mappings.List(ctx, c.ID)
	if err != nil {
		return mapping.Mapping{}, err
	}
	for _, m := range ms {
		if strings.EqualFold(m.Object, want) || strings.EqualFold(m.Table, want) || strconv.FormatInt(m.ID, 10) == want {
			return m, nil
		}
	}
	return mapping.Mapping{}, failure.E(failure.NotFound, "Connection %s has no mapping of %q (see `pgforce mapping list`).", c.Name, want)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// errRed makes diagnose and doctor fail the command when a check is RED, so monitoring scripts can
// alert on the exit status alone.
var errRed = errors.New("found RED checks")

// Help is `pgforce help`: every command, the administration's included.
const Help = `pgforce keeps Salesforce objects and Postgres tables in sync.

Usage:
  pgforce [serve]                         start the dashboard and the sync engine (default)
  pgforce user add --email E --role R     add a user (password read from stdin, or generated and printed)
  pgforce user list                       list users
  pgforce user remove --email E           remove a user
  pgforce user unlock --email E           lift a user's sign-in delays (after failed attempts) from every address
  pgforce migrate [up|down N|status]      manage pgforce's own schema
  pgforce bench [flags]                   measure pgforce against references (pgforce bench -h)
  pgforce sforg [--addr A] [flags]        serve a standalone simulated Salesforce org, with its Pub/Sub API on
                                          --pubsub-addr (pgforce sforg -h)
  pgforce help                            show this help

Administration (like heroku connect:*), against DATABASE_URL; a running serve picks changes up:
` + Usage + `

Configuration comes from the environment; see README.md.
`
