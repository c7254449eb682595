package handlers

import (
	"context"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/report"
	"pgforce/views"
)

// ShowMappings lists the current connection's mappings with their live counts. With ?live=1 from htmx
// it renders only the table, which refreshes itself every two seconds.
func (h *Handlers) ShowMappings(c echo.Context) error {
	live := isHTMX(c) && c.QueryParam("live") == "1"
	conns, cur, err := h.current(c)
	if err != nil {
		return err
	}
	m := views.MappingsPage{}
	if cur != nil {
		// The diagnosis reads every mapping and counts every table of the connection: the rows
		// show the mappings and counts it judged.
		rep, err := h.diagnose(c, cur.ID)
		if err != nil {
			return err
		}
		now := h.now()
		m = views.MappingsPage{ConnID: cur.ID, ConnName: cur.Name, ConnSchema: cur.Schema, Authorized: cur.AuthorizedAt != nil, Rows: make([]views.MappingRow, 0, len(rep.Mappings))}
		problems := rep.ByMapping()
		for _, mp := range rep.Mappings {
			m.Rows = append(m.Rows, mappingRow(mapping.SummaryOf(mp), rep.CountsOf(mp.Table), problemViews(problems[mp.ID]), now))
		}
		m.Problems = problemViews(rep.Problems)
	}
	if live {
		if len(m.Rows) == 0 {
			// The last mapping went away (or the connection did): the page must change shape.
			c.Response().Header().Set("HX-Refresh", "true")
			return c.NoContent(http.StatusNoContent)
		}
		p := views.Page{Title: "Mappings", Attention: h.attention(c, cur.ID)}
		return render(c, http.StatusOK, templ.Join(views.MappingsTable(m, h.now()), views.DocTitle(p)))
	}
	p := h.dashPage(c, "Mappings", "mappings", conns, cur)
	return render(c, http.StatusOK, views.Mappings(p, m, h.now()))
}

// summariesWithCounts lists a connection's mappings with their tables' counts.
func (h *Handlers) summariesWithCounts(ctx context.Context, conn connection.Connection) ([]report.MappingSummary, map[string]report.TableCounts, error) {
	ms, err := h.Reports.MappingSummaries(ctx, conn.ID)
	if err != nil {
		return nil, nil, err
	}
	tables := make([]string, len(ms))
	for i, mp := range ms {
		tables[i] = mp.Table
	}
	counts, err := h.Reports.Counts(ctx, conn.Schema, tables)
	return ms, counts, err
}
