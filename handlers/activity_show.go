package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"pgforce/sync/report"
	"pgforce/sync/triggerlog"
	"pgforce/views"
)

// ShowActivity lists the current connection's last 24 hours in one list: events (loads, polls, write
// batches, verifications, ...), conflicts and writes Salesforce refused, filterable by level, mapping
// and kind.
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
	ms, err := h.Mappings.List(ctx, cur.ID)
	if err != nil {
		return err
	}
	f := report.TimelineFilter{Since: h.now().Add(-24 * time.Hour), MappingID: m.MappingID, Level: m.Level, Kind: m.Kind, Limit: 500}
	for _, mp := range ms {
		m.Mappings = append(m.Mappings, views.TableChoice{MappingID: mp.ID, Object: mp.Object, Table: mp.Table})
		f.Mappings = append(f.Mappings, report.TimelineMapping{ID: mp.ID, Object: mp.Object, Table: mp.Table})
	}
	tl, err := h.Reports.Timeline(ctx, cur.ID, cur.Schema, f)
	if err != nil {
		return err
	}
	m.Kinds, m.Events = tl.Kinds, timelineRows(tl.Entries)
	return render(c, http.StatusOK, views.Activity(p, m, true))
}

// timelineRows are Activity's lines, a conflict's and a failed write's linking to their record.
func timelineRows(es []report.TimelineEntry) []views.EventRow {
	out := make([]views.EventRow, 0, len(es))
	for _, e := range es {
		r := views.EventRow{At: e.At, MappingID: e.MappingID, Object: e.Object, Level: e.Level, Kind: e.Kind, Message: e.Message}
		if e.MappingID != 0 && e.RecordID != 0 {
			r.RecordURL = "/explorer/" + itoa(e.MappingID) + "/" + itoa(e.RecordID)
		}
		if cf := e.Conflict; cf != nil {
			r.ConflictsURL = "/conflicts?mapping=" + itoa(cf.MappingID)
			if cf.RecordID != 0 {
				r.ConflictsURL += "&record=" + itoa(cf.RecordID)
			}
		}
		if w := e.Write; w != nil && triggerlog.State(w.State) == triggerlog.Failed {
			r.FailedWriteID = w.ID
		}
		out = append(out, r)
	}
	return out
}
