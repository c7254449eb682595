package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"pgforce/internal/resource"
	"pgforce/sync/admin"
	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/failure"
)

func (e *Env) connection(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: pgforce connection create|list|delete")
	}
	switch args[0] {
	case "create":
		return e.createConnection(ctx, args[1:])
	case "list":
		return e.listConnections(ctx, args[1:])
	case "delete":
		return e.deleteConnection(ctx, args[1:])
	}
	return fmt.Errorf("unknown connection command %q: use create, list or delete", args[0])
}

func (e *Env) createConnection(ctx context.Context, args []string) error {
	f := newFlags("connection create")
	name := f.String("name", "", "the connection's name (default: the schema)")
	schema := f.String("schema", "", "database schema for the mapped tables")
	loginURL := f.String("login-url", "", "the org's login URL (default: the configured org)")
	orgType := f.String("org-type", "", "production, sandbox, custom or simulated (default: from the login URL)")
	apiVersion := f.String("api-version", "", "Salesforce API version (default "+admin.DefaultAPIVersion+")")
	username := f.String("username", "", "Salesforce username: authorize now, without a browser")
	password := f.String("password", "", "Salesforce password (+ security token); read from stdin when omitted with --username")
	if err := f.parse(args); err != nil {
		return err
	}
	if strings.TrimSpace(*schema) == "" {
		return failure.InvalidField("schema", "usage: pgforce connection create --schema S (the database schema for the mapped tables)")
	}
	n := admin.NewConnection{Name: *name, Schema: *schema, OrgType: connection.OrgType(*orgType), LoginURL: *loginURL, APIVersion: *apiVersion}
	if n.LoginURL == "" {
		n.LoginURL = e.LoginURL
		if n.OrgType == "" {
			n.OrgType = e.OrgType
		}
	}
	if n.OrgType == "" {
		n.OrgType = orgTypeOf(n.LoginURL)
	}
	c, err := e.Connections.Create(ctx, e.Actor, n)
	if err != nil {
		return err
	}
	if *username != "" {
		pw := *password
		if pw == "" {
			pw, err = firstLine(e)
			if err != nil {
				return err
			}
		}
		if c, err = e.Connections.AuthorizeWithPassword(ctx, e.Actor, c.ID, *username, pw); err != nil {
			return failure.Wrap(err, failure.KindOf(err), "Connection %s was created but not authorized: %s", c.Name, failure.Message(err))
		}
	}
	if f.json {
		rc, err := e.loader().Connection(ctx, c.ID, false)
		if err != nil {
			return err
		}
		return e.printJSON(rc)
	}
	fmt.Fprintf(e.Out, "created connection %s (schema %s, id %d): %s\n", c.Name, c.Schema, c.ID, c.State)
	if c.AuthorizedAt == nil {
		fmt.Fprintf(e.Out, "Authorize it with Salesforce: open %s/settings, choose %s and click Authorize,\n"+
			"or run `pgforce connection create` again with --username and --password for a non-interactive login.\n",
			strings.TrimRight(e.DashboardURL, "/"), c.Name)
	} else {
		fmt.Fprintf(e.Out, "authorized as %s (org %s); syncing starts in the running pgforce serve\n", c.Username, c.OrgID)
	}
	return nil
}

// orgTypeOf infers the org type from a login URL.
func orgTypeOf(loginURL string) connection.OrgType {
	switch strings.TrimRight(loginURL, "/") {
	case admin.ProductionLoginURL:
		return connection.Production
	case admin.SandboxLoginURL:
		return connection.Sandbox
	}
	if strings.HasPrefix(loginURL, "http://") {
		return connection.Simulated // only the simulated org is served without TLS
	}
	return connection.Custom
}

func firstLine(e *Env) (string, error) {
	if e.In == nil {
		return "", failure.InvalidField("password", "Give --password, or pipe the password on stdin.")
	}
	line, err := bufio.NewReader(e.In).ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		return "", failure.InvalidField("password", "Give --password, or pipe the password on stdin.")
	}
	return line, nil
}

func (e *Env) listConnections(ctx context.Context, args []string) error {
	f := newFlags("connection list")
	if err := f.parse(args); err != nil {
		return err
	}
	cs, err := e.loader().Connections(ctx, true)
	if err != nil {
		return err
	}
	if f.json {
		for i := range cs {
			cs[i].Mappings = nil
		}
		return e.printJSON(resource.NewList(cs))
	}
	var rows [][]string
	for _, c := range cs {
		rows = append(rows, []string{strconv.FormatInt(c.ID, 10), c.Name, c.SchemaName, c.State, orDash(c.SFInfo.Username), strconv.Itoa(len(c.Mappings))})
	}
	return e.table("ID\tNAME\tSCHEMA\tSTATE\tSALESFORCE USER\tMAPPINGS", rows)
}

func (e *Env) deleteConnection(ctx context.Context, args []string) error {
	f := newFlags("connection delete")
	confirm := f.String("confirm", "", "the connection's name again, to confirm")
	drop := f.Bool("drop-schema", false, "also drop the schema with the mapped tables and their data")
	if err := f.parse(args); err != nil {
		return err
	}
	name, err := f.arg(0, "NAME --confirm NAME [--drop-schema]")
	if err != nil {
		return err
	}
	c, err := e.pick(ctx, name)
	if err != nil {
		return err
	}
	if *confirm != c.Name {
		return failure.E(failure.Invalid, "Deleting connection %s removes its mappings%s: confirm with --confirm %s.", c.Name, map[bool]string{true: " and drops schema " + c.Schema, false: ""}[*drop], c.Name)
	}
	if err := e.Connections.Delete(ctx, e.Actor, c.ID, *drop); err != nil {
		return err
	}
	if f.json {
		return e.printJSON(map[string]any{"id": c.ID, "name": c.Name, "deleted": true, "schema_dropped": *drop})
	}
	if *drop {
		fmt.Fprintf(e.Out, "deleted connection %s and dropped schema %s\n", c.Name, c.Schema)
	} else {
		fmt.Fprintf(e.Out, "deleted connection %s; schema %s and its tables were kept\n", c.Name, c.Schema)
	}
	return nil
}

func (e *Env) info(ctx context.Context, args []string) error {
	f := newFlags("info")
	if err := f.parse(args); err != nil {
		return err
	}
	cs, err := e.loader().Connections(ctx, true)
	if err != nil {
		return err
	}
	if f.conn != "" {
		c, err := e.pick(ctx, f.conn)
		if err != nil {
			return err
		}
		for _, rc := range cs {
			if rc.ID == c.ID {
				cs = []resource.Connection{rc}
			}
		}
	}
	if f.json {
		return e.printJSON(resource.NewList(cs))
	}
	if len(cs) == 0 {
		fmt.Fprintln(e.Out, "no connections; create one with `pgforce connection create --schema salesforce`")
		return nil
	}
	for i, c := range cs {
		if i > 0 {
			fmt.Fprintln(e.Out)
		}
		fmt.Fprintf(e.Out, "=== %s (%s)\nState:  %s\nSchema: %s\nOrg:    %s %s\n", c.Name, c.LoginURL, c.State, c.SchemaName, orDash(c.OrganizationID), orDash(c.SFInfo.Username))
		if c.Health != nil {
			fmt.Fprintf(e.Out, "Health: %s %s\n", c.Health.Status, c.Health.Summary)
			for _, p := range c.Health.Problems {
				fmt.Fprintf(e.Out, "  %-6s %s\n         fix: %s\n", p.Status, p.Message, p.Fix)
			}
		}
		if len(c.Mappings) == 0 {
			fmt.Fprintln(e.Out, "no mappings")
			continue
		}
		var rows [][]string
		for _, m := range c.Mappings {
			rows = append(rows, []string{m.ObjectName, m.State, m.Access, strconv.FormatInt(m.Counts.DB, 10), strconv.FormatInt(m.Counts.Pending, 10), strconv.FormatInt(m.Counts.Errors, 10)})
		}
		if err := e.table("OBJECT\tSTATE\tACCESS\tROWS\tPENDING\tFAILED", rows); err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) state(ctx context.Context, args []string) error {
	f := newFlags("state")
	if err := f.parse(args); err != nil {
		return err
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	if f.json {
		rc, err := e.loader().Connection(ctx, c.ID, false)
		if err != nil {
			return err
		}
		return e.printJSON(rc)
	}
	fmt.Fprintf(e.Out, "%s\t%s\t%s\n", c.Name, c.State, c.State.Describe())
	return nil
}

// lifecycle runs pause, resume or recover on the selected connection.
func (e *Env) lifecycle(ctx context.Context, args []string, verb string, op func(context.Context, audit.Actor, int64) error) error {
	f := newFlags(verb)
	if err := f.parse(args); err != nil {
		return err
	}
	c, err := e.pick(ctx, f.conn)
	if err != nil {
		return err
	}
	if err := op(ctx, e.Actor, c.ID); err != nil {
		return err
	}
	if f.json {
		rc, err := e.loader().Connection(ctx, c.ID, false)
		if err != nil {
			return err
		}
		return e.printJSON(rc)
	}
	c, err = e.Connections.Get(ctx, c.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Out, "%s: %s (%s)\n", c.Name, c.State, c.State.Describe())
	return nil
}
