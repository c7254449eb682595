package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"pgforce/sync/report"
	"pgforce/views"
)

// ShowExplorer browses a mapped table of the current connection: 50 rows a page, searchable by sfid
// or Name.
func (h *Handlers) ShowExplorer(c echo.Context) error {
	p, cur, _, err := h.dashboard(c, "Explorer", "explorer")
	if err != nil {
		return err
	}
	m := views.ExplorerPage{Query: strings.TrimSpace(c.QueryParam("q")), Page: 1, PerPage: report.PerPage}
	if cur == nil {
		return render(c, http.StatusOK, views.Explorer(p, m, false))
	}
	ctx := c.Request().Context()
	ms, err := h.Mappings.List(ctx, cur.ID)
	if err != nil {
		return err
	}
	want, _ := strconv.ParseInt(c.QueryParam("mapping"), 10, 64)
	for _, mp := range ms {
		t := views.TableChoice{MappingID: mp.ID, Object: mp.Object, Table: mp.Table}
		m.Tables = append(m.Tables, t)
		if mp.ID == want || (want == 0 && m.Selected == nil) {
			m.Selected = &t
		}
	}
	if m.Selected == nil && len(m.Tables) > 0 {
		m.Selected = &m.Tables[0]
	}
	if m.Selected != nil {
		if pg, err := strconv.Atoi(c.QueryParam("page")); err == nil && pg > 0 {
			m.Page = pg
		}
		rows, err := h.Reports.Rows(ctx, cur.Schema, m.Selected.Table, report.RowQuery{Search: m.Query, Page: m.Page})
		if err != nil {
			return err
		}
		m.Columns, m.HasNext = rows.Columns, rows.HasNext
		lastOp := indexOf(rows.Columns, "_hc_lastop")
		for _, r := range rows.Rows {
			er := views.ExplorerRow{ID: r.ID, Cells: cells(r.Values)}
			er.Failed = lastOp >= 0 && r.Values[lastOp].Text == "FAILED"
			m.Rows = append(m.Rows, er)
		}
	}
	return render(c, http.StatusOK, views.Explorer(p, m, true))
}

func cells(vs []report.Value) []views.Cell {
	out := make([]views.Cell, len(vs))
	for i, v := range vs {
		out[i] = views.Cell{Text: v.Text, Null: v.Null}
	}
	return out
}

func indexOf(xs []string, x string) int {
	for i, s := range xs {
		if s == x {
			return i
		}
	}
	return -1
}
