// Package apply writes Salesforce records into mapped tables: whole loads stream CSV straight into
// COPY, and change batches merge through a staging table (upserts by sfid, deletes, rows inserted in
// Postgres adopted by external id). Every write runs as pgforce (xmlbinary = hex), so the capture
// triggers stay silent and nothing echoes back to Salesforce.
package apply

import (
	"fmt"
	"strings"

	"pgforce/sync/engine/table"
)

// Target is a mapped table and the fields it receives, in SELECT order.
type Target struct {
	Schema      string
	Object      string
	Fields      []table.Field
	UpsertField string // Salesforce external id field used to adopt rows inserted in Postgres, or ""
	// Waiting, when set, keeps in rows the Postgres changes still to be written that a merge's
	// records would overwrite, as its Judge decides (waiting.go).
	Waiting *Waiting
}

// Table is the quoted table name.
func (t Target) Table() string { return table.Ident(t.Schema, table.Name(t.Object)) }

// SelectList is the SOQL field list, in the order CSV columns arrive.
func (t Target) SelectList() string {
	names := make([]string, len(t.Fields))
	for i, f := range t.Fields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// columns returns the quoted column names in field order.
func (t Target) columns() []string {
	cols := make([]string, len(t.Fields))
	for i, f := range t.Fields {
		cols[i] = table.Ident(table.Column(f.Name))
	}
	return cols
}

func (t Target) has(column string) bool {
	for _, f := range t.Fields {
		if table.Column(f.Name) == column {
			return true
		}
	}
	return false
}

// copySQL is COPY for CSV with every column forced to NULL when empty: Salesforce has no empty
// strings (empty is null), and Bulk API output quotes every value, "" included.
func (t Target) copySQL(into string, header bool) string {
	cols := strings.Join(t.columns(), ", ")
	return fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT csv, HEADER %t, FORCE_NULL (%s))", into, cols, header, cols)
}
