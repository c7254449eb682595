package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"pgforce/sync/conflict"
	"pgforce/views"
)

// ShowConflicts lists the current connection's conflicts (?mapping=ID; ?record=ROW or ?sfid=ID for
// one record).
func (h *Handlers) ShowConflicts(c echo.Context) error {
	p, cur, _, err := h.dashboard(c, "Conflicts", "activity")
	if err != nil {
		return err
	}
	vm := views.ConflictsPage{}
	if cur == nil {
		return render(c, http.StatusOK, views.ConflictsView(p, vm))
	}
	f := conflict.Filter{ConnectionID: cur.ID, SFID: c.QueryParam("sfid")}
	f.MappingID, _ = strconv.ParseInt(c.QueryParam("mapping"), 10, 64)
	f.RecordID, _ = strconv.ParseInt(c.QueryParam("record"), 10, 64)
	cs, err := h.Conflicts.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ConflictsView(p, newConflictsPage(*cur, f, cs)))
}
