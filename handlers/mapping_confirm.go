package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/views"
)

// ShowReloadMapping asks for confirmation of a reload, naming the table, its rows and the pending
// writes that will be lost.
func (h *Handlers) ShowReloadMapping(c echo.Context) error {
	p, m, err := h.confirmMapping(c, "Reload")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ReloadConfirmPage(p, m))
}

// ShowAbortMapping asks for confirmation of aborting a running load, saying how much of the table is
// loaded (it stays incomplete) and that the mapping stops syncing until it is reloaded.
func (h *Handlers) ShowAbortMapping(c echo.Context) error {
	p, m, err := h.confirmMapping(c, "Abort")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.AbortConfirmPage(p, m))
}

// ShowDeleteMapping asks for confirmation of a delete, naming the table, its rows and the pending
// writes that will be lost.
func (h *Handlers) ShowDeleteMapping(c echo.Context) error {
	p, m, err := h.confirmMapping(c, "Delete")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.DeleteConfirmPage(p, m))
}

func (h *Handlers) confirmMapping(c echo.Context, verb string) (views.Page, views.MappingConfirm, error) {
	m, conn, err := h.mappingOf(c)
	if err != nil {
		return views.Page{}, views.MappingConfirm{}, err
	}
	ctx := c.Request().Context()
	pending, err := h.Mappings.PendingWrites(ctx, m.ID)
	if err != nil {
		return views.Page{}, views.MappingConfirm{}, err
	}
	counts, err := h.Reports.Counts(ctx, conn.Schema, []string{m.Table})
	if err != nil {
		return views.Page{}, views.MappingConfirm{}, err
	}
	tc := counts[m.Table]
	p, err := h.mappingPage(c, verb+" "+m.Object, conn)
	return p, views.MappingConfirm{ID: m.ID, Object: m.Object, Schema: conn.Schema, Table: m.Table, State: mappingBadge(m.State),
		Loading: m.State.Loading(), Rows: tc.Rows, RowsEstimated: tc.Estimated, Pending: pending, Expected: m.LoadExpected}, err
}
