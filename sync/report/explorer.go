package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/failure"
)

// Column is one column of a mapped table.
type Column struct {
	Name string
	Type string
}

// Columns lists a table's columns in table order.
func (r *Reader) Columns(ctx context.Context, schema, table string) ([]Column, error) {
	rows, err := r.pool.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, schema, table)
	if err != nil {
		return nil, fmt.Errorf("list columns of %s.%s: %w", schema, table, err)
	}
	cols, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Column, error) {
		var c Column
		return c, row.Scan(&c.Name, &c.Type)
	})
	if err != nil {
		return nil, fmt.Errorf("list columns of %s.%s: %w", schema, table, err)
	}
	if len(cols) == 0 {
		return nil, failure.E(failure.NotFound, "Table %s.%s does not exist (yet).", schema, table)
	}
	return cols, nil
}

// PerPage is the explorer's page size.
const PerPage = 50

// RowQuery selects rows of a mapped table.
type RowQuery struct {
	Search string // matched against sfid and name (when the table has it), case-insensitively
	Page   int    // 1-based
}

// RowPage is one page of rows, each value as text ("" with Null set for NULL).
type RowPage struct {
	Columns []string
	Rows    []Row
	Page    int
	HasNext bool
}

// Row is one row of a page.
type Row struct {
	ID     int64
	Values []Value
}

// Value is a column's value as text.
type Value struct {
	Text string
	Null bool
}

// listColumns are shown in the row list, when the table has them; the record page shows all.
var listColumns = []string{"id", "sfid", "name", "systemmodstamp", "isdeleted", "_hc_lastop", "_hc_err"}

// EscapeLike escapes LIKE wildcards so a search term matches literally.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Rows returns a page of a mapped table's rows, by id.
func (r *Reader) Rows(ctx context.Context, schema, table string, q RowQuery) (RowPage, error) {
	cols, err := r.Columns(ctx, schema, table)
	if err != nil {
		return RowPage{}, err
	}
	have := func(name string) bool {
		return slices.ContainsFunc(cols, func(c Column) bool { return c.Name == name })
	}
	if q.Page < 1 {
		q.Page = 1
	}
	page := RowPage{Page: q.Page}
	var sel []string
	for _, c := range listColumns {
		if have(c) {
			page.Columns = append(page.Columns, c)
			expr := "t." + ident(c) + "::text"
			if c == "_hc_err" {
				expr = "left(" + expr + ", 160)"
			}
			sel = append(sel, expr)
		}
	}
	where, args := "TRUE", []any{}
	if s := strings.TrimSpace(q.Search); s != "" {
		args = append(args, "%"+EscapeLike(s)+"%")
		conds := []string{}
		for _, c := range []string{"sfid", "name"} {
			if have(c) {
				conds = append(conds, "t."+ident(c)+"::text ILIKE $1")
			}
		}
		if len(conds) > 0 {
			where = "(" + strings.Join(conds, " OR ") + ")"
		}
	}
	args = append(args, PerPage+1, (q.Page-1)*PerPage)
	sql := fmt.Sprintf(`SELECT t.id, %s FROM %s t WHERE %s ORDER BY t.id LIMIT $%d OFFSET $%d`,
		strings.Join(sel, ", "), ident(schema, table), where, len(args)-1, len(args))
	rows, err := r.pool.Query(ctx, sql, args...)
	if err != nil {
		return page, fmt.Errorf("browse %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	for rows.Next() {
		vals := make([]*string, len(sel))
		dest := []any{new(int64)}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return page, fmt.Errorf("browse %s.%s: %w", schema, table, err)
		}
		row := Row{ID: *dest[0].(*int64)}
		for _, v := range vals {
			row.Values = append(row.Values, textValue(v))
		}
		page.Rows = append(page.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("browse %s.%s: %w", schema, table, err)
	}
	if len(page.Rows) > PerPage {
		page.Rows, page.HasNext = page.Rows[:PerPage], true
	}
	return page, nil
}

func textValue(v *string) Value {
	if v == nil {
		return Value{Null: true}
	}
	return Value{Text: *v}
}

// Field is one column of a record.
type Field struct {
	Name  string
	Type  string
	Value Value
}

// Record returns every column of one row of a mapped table, in table order.
func (r *Reader) Record(ctx context.Context, schema, table string, id int64) ([]Field, error) {
	cols, err := r.Columns(ctx, schema, table)
	if err != nil {
		return nil, err
	}
	var raw []byte
	err = r.pool.QueryRow(ctx, `SELECT to_jsonb(t) FROM `+ident(schema, table)+` t WHERE id = $1`, id).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, failure.E(failure.NotFound, "Row %d of %s.%s does not exist (it may have been deleted or reloaded: reloads assign new ids).", id, schema, table)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s.%s row %d: %w", schema, table, id, err)
	}
	var values map[string]json.RawMessage
	if err := json.Unmarshal(raw, &values); err != nil {
		return nil, fmt.Errorf("decode %s.%s row %d: %w", schema, table, id, err)
	}
	out := make([]Field, 0, len(cols))
	for _, c := range cols {
		out = append(out, Field{Name: c.Name, Type: c.Type, Value: jsonValue(values[c.Name])})
	}
	return out, nil
}

// jsonValue shows a to_jsonb value as text: strings unquoted, null as NULL, the rest as JSON.
func jsonValue(raw json.RawMessage) Value {
	if len(raw) == 0 || string(raw) == "null" {
		return Value{Null: true}
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return Value{Text: s}
	}
	return Value{Text: string(raw)}
}
