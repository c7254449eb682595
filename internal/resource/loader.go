package resource

import (
	"context"
	"fmt"

	"pgforce/sync/admin"
	"pgforce/sync/diagnose"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/report"
)

// ConnectionReader is what the loader reads of connections (*admin.Connections implements it).
type ConnectionReader interface {
	List(ctx context.Context) ([]connection.Connection, error)
	Get(ctx context.Context, id int64) (connection.Connection, error)
}

// MappingReader is what the loader reads of mappings (*admin.Mappings implements it).
type MappingReader interface {
	List(ctx context.Context, connID int64) ([]mapping.Mapping, error)
	Get(ctx context.Context, id int64) (mapping.Mapping, error)
}

// Reports is what the loader reads from the report reader (*report.Reader implements it).
type Reports interface {
	Counts(ctx context.Context, schema string, tables []string) (map[string]report.TableCounts, error)
}

var (
	_ ConnectionReader = (*admin.Connections)(nil)
	_ MappingReader    = (*admin.Mappings)(nil)
	_ Reports          = (*report.Reader)(nil)
)

// HealthChecker runs a connection's health checks (diagnose.Checker implements it).
type HealthChecker interface {
	Run(ctx context.Context, connID int64) (diagnose.Report, error)
}

// Loader builds resources, counts and health included, for the API and the CLI alike.
type Loader struct {
	ConnReader ConnectionReader
	MapReader  MappingReader
	Reports    Reports
	Health     HealthChecker // nil: resources carry no health
}

func (l Loader) health(ctx context.Context, connID int64) (*diagnose.Report, error) {
	if l.Health == nil {
		return nil, nil
	}
	r, err := l.Health.Run(ctx, connID)
	if err != nil {
		return nil, fmt.Errorf("check health: %w", err)
	}
	return &r, nil
}

// Connection loads a connection; deep embeds its mappings.
func (l Loader) Connection(ctx context.Context, id int64, deep bool) (Connection, error) {
	c, err := l.ConnReader.Get(ctx, id)
	if err != nil {
		return Connection{}, err
	}
	return l.show(ctx, c, deep)
}

func (l Loader) show(ctx context.Context, c connection.Connection, deep bool) (Connection, error) {
	ms, err := l.mappings(ctx, c)
	if err != nil {
		return Connection{}, err
	}
	out := NewConnection(c, ms)
	r, err := l.health(ctx, c.ID)
	if err != nil {
		return Connection{}, err
	}
	if r != nil {
		out.Health = NewHealth(*r)
		out.MappingsSummaryState = "OK"
		if r.Count(diagnose.Red) > 0 {
			out.MappingsSummaryState = "ERROR"
		}
		for i := range out.Mappings {
			out.Mappings[i].Problems = r.Of(out.Mappings[i].ID)
		}
	}
	if !deep {
		out.Mappings = nil
	}
	return out, nil
}

// Connections loads every connection; deep embeds their mappings.
func (l Loader) Connections(ctx context.Context, deep bool) ([]Connection, error) {
	cs, err := l.ConnReader.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Connection, 0, len(cs))
	for _, c := range cs {
		rc, err := l.show(ctx, c, deep)
		if err != nil {
			return nil, err
		}
		out = append(out, rc)
	}
	return out, nil
}

// Mappings loads a connection's mappings with their counts.
func (l Loader) Mappings(ctx context.Context, connID int64) ([]Mapping, error) {
	c, err := l.ConnReader.Get(ctx, connID)
	if err != nil {
		return nil, err
	}
	return l.mappings(ctx, c)
}

func (l Loader) mappings(ctx context.Context, c connection.Connection) ([]Mapping, error) {
	ms, err := l.MapReader.List(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	tables := make([]string, len(ms))
	for i, m := range ms {
		tables[i] = m.Table
	}
	counts, err := l.Reports.Counts(ctx, c.Schema, tables)
	if err != nil {
		return nil, fmt.Errorf("count rows of %s: %w", c.Name, err)
	}
	r, err := l.health(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Mapping, len(ms))
	for i, m := range ms {
		out[i] = NewMapping(m, counts[m.Table])
		if r != nil {
			out[i].Problems = r.Of(m.ID)
		}
	}
	return out, nil
}

// Mapping loads one mapping with its counts.
func (l Loader) Mapping(ctx context.Context, id int64) (Mapping, error) {
	m, err := l.MapReader.Get(ctx, id)
	if err != nil {
		return Mapping{}, err
	}
	c, err := l.ConnReader.Get(ctx, m.ConnectionID)
	if err != nil {
		return Mapping{}, err
	}
	counts, err := l.Reports.Counts(ctx, c.Schema, []string{m.Table})
	if err != nil {
		return Mapping{}, fmt.Errorf("count rows of %s: %w", m.Table, err)
	}
	out := NewMapping(m, counts[m.Table])
	r, err := l.health(ctx, c.ID)
	if err != nil {
		return Mapping{}, err
	}
	if r != nil {
		out.Problems = r.Of(m.ID)
	}
	return out, nil
}

// NewImportResult shows what an import did.
func NewImportResult(p admin.ImportPlan) ImportResult {
	r := ImportResult{Added: []string{}, Edited: []string{}, Unchanged: p.Unchanged, Notes: p.Notes}
	for _, a := range p.Add {
		r.Added = append(r.Added, a.Object)
	}
	for _, e := range p.Edit {
		r.Edited = append(r.Edited, e.Object)
	}
	if r.Unchanged == nil {
		r.Unchanged = []string{}
	}
	if r.Notes == nil {
		r.Notes = []string{}
	}
	return r
}
