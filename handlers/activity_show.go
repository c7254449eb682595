package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"pgforce/sync/report"
	"pgforce/views"
)

// ShowActivity lists the current connection's events and failed writes of the last 24 hours,
// filterable by level, mapping and kind.
func (h *Handlers) ShowActivity(c echo.Context) error {
	p, cur, _, err := h.dashboard(c, "Activity", "activity")
	if err != nil {
		return err
	}
	m := views.ActivityPage{Level: c.QueryParam("level"), Kind: c.QueryParam("kind")}
	m.MappingID, _ = strconv.ParseInt(c.QueryParam("mapping"), 10, 64)
	if cur == nil {
		return render(c, http.StatusOK, views.Activity(p, m, false))
	}
	ctx := c.Request().Context()
	since := h.now().Add(-24 * time.Hour)
	ms, err := h.Mappings.List(ctx, cur.ID)
	if err != nil {
		return err
	}
	byTable := map[string]int64{}
	var tables []string
	for _, mp := range ms {
		m.Mappings = append(m.Mappings, views.TableChoice{MappingID: mp.ID, Object: mp.Object, Table: mp.Table})
		byTable[mp.Table] = mp.ID
		if mp.ID == m.MappingID {
			tables = []string{mp.Table}
		}
	}
	if m.Kinds, err = h.Reports.EventKinds(ctx, cur.ID, since); err != nil {
		return err
	}
	events, err := h.Reports.Events(ctx, cur.ID, report.EventFilter{Since: since, MappingID: m.MappingID, Level: m.Level, Kind: m.Kind, Limit: 500})
	if err != nil {
		return err
	}
	m.Events = eventRows(events)
	if (m.Level == "" || m.Level == "error") && (m.Kind == "" || m.Kind == "write") {
		if m.MappingID == 0 || len(tables) > 0 {
			failed, err := h.Reports.WriteErrors(ctx, cur.Schema, tables, since, 200)
			if err != nil {
				return err
			}
			m.Errors = logRows(failed, byTable)
		}
	}
	return render(c, http.StatusOK, views.Activity(p, m, true))
}
