package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
	"pgforce/views"
)

// ShowRemoveOrphans confirms Remove Orphaned Mappings, listing them and offering to drop their tables.
func (h *Handlers) ShowRemoveOrphans(c echo.Context) error {
	p, cur, _, err := h.dashboard(c, "Remove orphaned mappings", "settings")
	if err != nil {
		return err
	}
	if cur == nil {
		return seeOther(c, "/settings")
	}
	orphans, err := h.Mappings.Orphans(c.Request().Context(), cur.ID)
	if err != nil {
		return err
	}
	m := views.OrphansConfirm{ConnID: cur.ID, Schema: cur.Schema}
	for _, o := range orphans {
		m.Orphans = append(m.Orphans, views.OrphanRow{ID: o.ID, Object: o.Object, Table: o.Table, Since: *o.OrphanedAt})
	}
	return render(c, http.StatusOK, views.OrphansConfirmPage(p, m))
}

// RemoveOrphans deletes the orphaned mappings of the current connection, dropping their tables only
// when the admin ticked it.
func (h *Handlers) RemoveOrphans(c echo.Context) error {
	_, cur, err := h.current(c)
	if err != nil {
		return err
	}
	if cur == nil {
		return failure.E(failure.Conflict, "There is no connection.")
	}
	drop := c.FormValue("drop_tables") == "1"
	n, err := h.Mappings.RemoveOrphans(c.Request().Context(), actorOf(c), cur.ID, drop)
	if err != nil {
		return h.refuse(c, err, "/settings#orphans")
	}
	msg := "Removed " + itoa(int64(n)) + " orphaned " + map[bool]string{true: "mapping", false: "mappings"}[n == 1]
	if drop {
		msg += " and dropped their tables."
	} else {
		msg += "; their tables were kept."
	}
	return h.finish(c, msg, "/settings#orphans", nil)
}
