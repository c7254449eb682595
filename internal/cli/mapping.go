package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"pgforce/internal/resource"
	"pgforce/sync/audit"
	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
)

func (e *Env) mapping(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: pgforce mapping list|state|create|edit|delete|reload|abort|recover")
	}
	switch args[0] {
	case "list":
		return e.listMappings(ctx, args[1:])
	case "state":
		return e.mappingState(ctx, args[1:])
	case "create":
		return e.createMapping(ctx, args[1:])
	case "edit":
		return e.editMapping(ctx, args[1:])
	case "delete":
		return e.deleteMapping(ctx, args[1:])
	case "reload":
		return e.mappingAction(ctx, args[1:], "reload", e.Mappings.Reload, func() string { return "reloading: the table was emptied and every record is loaded again" })
	case "abort":
		return e.mappingAction(ctx, args[1:], "abort", e.Mappings.Abort, func() string { return "aborted; reload or delete it" })
	case "recover":
		var to mapping.State
		op := func(ctx context.Context, a audit.Actor, id int64) (err error) {
			to, err = e.Mappings.Recover(ctx, a, id)
			return err
		}
		return e.mappingAction(ctx, args[1:], "recover", op, func() string { return recoveredText(to) })
	}
	return fmt.Errorf("unknown mapping command %q: use list, state, create, edit, delete, reload, abort or recover", args[0])
}

// target parses a mapping command's flags and finds its connection and mapping.
func (e *Env) target(ctx context.Context, f *flags, args []string, usage string) (connection.Connection, mapping.Mapping, error) {
	if err := f.parse(args); err != nil {
		return connection.Connection{}, mapping.Mapping{}, err
	}
	obj, err := f.arg(0, usage)
	if err != nil {
		return connection.Connection{}, mapping.Mapping{}, err
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return c, mapping.Mapping{}, err
	}
	m, err := e.pickMapping(ctx, c, obj)
	return c, m, err
}

func (e *Env) printMapping(ctx context.Context, id int64, asJSON bool) error {
	rm, err := e.loader().Mapping(ctx, id)
	if err != nil {
		return err
	}
	if asJSON {
		return e.printJSON(rm)
	}
	progress := ""
	if rm.Load != nil && rm.Load.FinishedAt == nil {
		progress = fmt.Sprintf(" (loaded %d", rm.Load.Done)
		if rm.Load.Expected != nil {
			progress += fmt.Sprintf(" of %d", *rm.Load.Expected)
		}
		progress += ")"
	}
	fmt.Fprintf(e.Out, "%s\t%s%s\t%s\n", rm.ObjectName, rm.State, progress, rm.StateDescription)
	return nil
}

func (e *Env) listMappings(ctx context.Context, args []string) error {
	f := newFlags("mapping list")
	if err := f.parse(args); err != nil {
		return err
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	ms, err := e.loader().Mappings(ctx, c.ID)
	if err != nil {
		return err
	}
	if f.json {
		return e.printJSON(resource.NewList(ms))
	}
	var rows [][]string
	for _, m := range ms {
		rows = append(rows, []string{strconv.FormatInt(m.ID, 10), m.ObjectName, m.TableName, m.State, m.Access,
			strconv.Itoa(m.SFPollingSeconds), strconv.FormatInt(m.Counts.DB, 10), strconv.FormatInt(m.Counts.Pending, 10), strconv.FormatInt(m.Counts.Errors, 10)})
	}
	return e.table("ID\tOBJECT\tTABLE\tSTATE\tACCESS\tPOLL(S)\tROWS\tPENDING\tERRORS", rows)
}

func (e *Env) mappingState(ctx context.Context, args []string) error {
	f := newFlags("mapping state")
	_, m, err := e.target(ctx, f, args, "state OBJECT")
	if err != nil {
		return err
	}
	return e.printMapping(ctx, m.ID, f.json)
}

// configFlags are the options of mapping create and edit.
type configFlags struct {
	file, access, upsert, fields, add, remove, indexes string
	polling                                            int
	notify                                             string
	conflictPolicy                                     string
}

func addConfigFlags(f *flags, edit bool) *configFlags {
	var cf configFlags
	f.StringVar(&cf.file, "config", "", "a JSON file with the mapping's config (Heroku Connect's format)")
	f.StringVar(&cf.access, "access", "", "read_only or read_write")
	f.StringVar(&cf.upsert, "upsert-field", "", "external id field used as unique identifier")
	f.StringVar(&cf.indexes, "indexes", "", "comma-separated fields to index")
	f.IntVar(&cf.polling, "polling", 0, "polling interval in seconds (120 to 3600)")
	f.StringVar(&cf.notify, "accelerated", "", "true or false: stream changes besides polling")
	f.StringVar(&cf.conflictPolicy, "conflict-policy", "", "postgres_wins, salesforce_wins, newest_wins or manual: what a change made on both sides keeps")
	if edit {
		f.StringVar(&cf.add, "add-fields", "", "comma-separated fields to add")
		f.StringVar(&cf.remove, "remove-fields", "", "comma-separated fields to remove")
	} else {
		f.StringVar(&cf.fields, "fields", "", "comma-separated fields to map (system fields are added)")
	}
	return &cf
}

// apply changes cfg by the flags given; a --config file replaces it first.
func (cf *configFlags) apply(cfg mapping.Config) (mapping.Config, error) {
	if cf.file != "" {
		raw, err := os.ReadFile(cf.file)
		if err != nil {
			return cfg, fmt.Errorf("read mapping config: %w", err)
		}
		var c mapping.Config
		if err := json.Unmarshal(raw, &c); err != nil {
			return cfg, failure.E(failure.Invalid, "%s is not a mapping config: %s", cf.file, err)
		}
		cfg = c
	}
	cfg = cfg.Clone()
	if cfg.Fields == nil {
		cfg.Fields = map[string]struct{}{}
	}
	if cfg.Indexes == nil {
		cfg.Indexes = map[string]mapping.IndexOption{}
	}
	for _, f := range splitList(cf.fields) {
		cfg.Fields[f] = struct{}{}
	}
	for _, f := range splitList(cf.add) {
		cfg.Fields[f] = struct{}{}
	}
	for _, f := range splitList(cf.remove) {
		delete(cfg.Fields, f)
		delete(cfg.Indexes, f)
	}
	for _, f := range splitList(cf.indexes) {
		cfg.Indexes[f] = mapping.IndexOption{}
	}
	if cf.access != "" {
		cfg.Access = mapping.Access(cf.access)
	}
	if cf.upsert != "" {
		cfg.UpsertField = cf.upsert
	}
	if cf.polling != 0 {
		cfg.SFPollingSeconds = cf.polling
	}
	if cf.conflictPolicy != "" {
		p, err := conflict.ParsePolicy(cf.conflictPolicy)
		if err != nil {
			return cfg, err
		}
		if cfg.PGForce == nil {
			cfg.PGForce = &mapping.Extra{}
		}
		cfg.PGForce.ConflictPolicy = string(p)
	}
	switch cf.notify {
	case "":
	case "true":
		cfg.SFNotifyEnabled = true
	case "false":
		cfg.SFNotifyEnabled = false
	default:
		return cfg, failure.InvalidField("accelerated", "--accelerated must be true or false")
	}
	return cfg, nil
}

func (e *Env) createMapping(ctx context.Context, args []string) error {
	f := newFlags("mapping create")
	cf := addConfigFlags(f, false)
	if err := f.parse(args); err != nil {
		return err
	}
	obj, err := f.arg(0, "create OBJECT --fields A,B [--access read_write]")
	if err != nil {
		return err
	}
	cfg, err := cf.apply(mapping.NewConfig())
	if err != nil {
		return err
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	m, err := e.Mappings.Create(ctx, e.Actor, c.ID, obj, cfg)
	if err != nil {
		return err
	}
	if f.json {
		return e.printMapping(ctx, m.ID, true)
	}
	fmt.Fprintf(e.Out, "created mapping %s → %s.%s (%s, %d fields); loading starts in the running pgforce serve\n",
		m.Object, c.Schema, m.Table, m.Config.Access, len(m.Config.Fields))
	return nil
}

func (e *Env) editMapping(ctx context.Context, args []string) error {
	f := newFlags("mapping edit")
	cf := addConfigFlags(f, true)
	recreate := f.String("recreate", "", "comma-separated fields whose column is dropped and re-added (type changed in Salesforce)")
	_, m, err := e.target(ctx, f, args, "edit OBJECT [--add-fields A] [--remove-fields B] [--access A]")
	if err != nil {
		return err
	}
	cfg, err := cf.apply(m.Config)
	if err != nil {
		return err
	}
	m, err = e.Mappings.Edit(ctx, e.Actor, m.ID, cfg, splitList(*recreate))
	if err != nil {
		return err
	}
	if f.json {
		return e.printMapping(ctx, m.ID, true)
	}
	fmt.Fprintf(e.Out, "edited mapping %s: %s (%s)\n", m.Object, m.State, m.StateReason)
	return nil
}

func (e *Env) deleteMapping(ctx context.Context, args []string) error {
	f := newFlags("mapping delete")
	confirm := f.String("confirm", "", "the object name again, to confirm")
	c, m, err := e.target(ctx, f, args, "delete OBJECT --confirm OBJECT")
	if err != nil {
		return err
	}
	if *confirm != m.Object {
		return failure.E(failure.Invalid, "Deleting the %s mapping drops table %s.%s and its pending writes: confirm with --confirm %s.", m.Object, c.Schema, m.Table, m.Object)
	}
	if err := e.Mappings.Delete(ctx, e.Actor, m.ID); err != nil {
		return err
	}
	if f.json {
		return e.printJSON(map[string]any{"id": m.ID, "object_name": m.Object, "deleted": true})
	}
	fmt.Fprintf(e.Out, "deleted mapping %s; table %s.%s dropped\n", m.Object, c.Schema, m.Table)
	return nil
}

// recoveredText says what a mapping recovery did.
func recoveredText(to mapping.State) string {
	if to == mapping.ReloadTable {
		return "recovered: its last load did not finish, so it is loading again (RELOAD_TABLE)"
	}
	return "recovered: catching up on changes now (" + string(to) + "), DATA_SYNCED once the poll is done"
}

func (e *Env) mappingAction(ctx context.Context, args []string, verb string, op func(context.Context, audit.Actor, int64) error, done func() string) error {
	f := newFlags("mapping " + verb)
	_, m, err := e.target(ctx, f, args, verb+" OBJECT")
	if err != nil {
		return err
	}
	if err := op(ctx, e.Actor, m.ID); err != nil {
		return err
	}
	if f.json {
		return e.printMapping(ctx, m.ID, true)
	}
	fmt.Fprintf(e.Out, "%s: %s\n", m.Object, done())
	return nil
}
