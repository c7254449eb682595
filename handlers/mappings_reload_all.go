package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/sync/engine/mapping"
	"pgforce/views"
)

// ShowReloadAll confirms reloading every mapping of the current connection (the seed's recovery after
// a database rollback), listing each table with its rows and the pending writes that will be lost.
func (h *Handlers) ShowReloadAll(c echo.Context) error {
	p, cur, _, err := h.dashboard(c, "Reload all mappings", "settings")
	if err != nil {
		return err
	}
	if cur == nil {
		return seeOther(c, "/settings")
	}
	ms, counts, err := h.summariesWithCounts(c.Request().Context(), *cur)
	if err != nil {
		return err
	}
	m := views.ReloadAllConfirm{ConnID: cur.ID, ConnName: cur.Name}
	for _, mp := range ms {
		tc := counts[mp.Table]
		m.Mappings = append(m.Mappings, views.MappingConfirm{ID: mp.ID, Object: mp.Object, Schema: cur.Schema, Table: mp.Table,
			State: mappingBadge(mp.State), Loading: mp.State.Loading(), Rows: tc.Rows, RowsEstimated: tc.Estimated, Pending: tc.Pending})
	}
	return render(c, http.StatusOK, views.ReloadAllConfirmPage(p, m))
}

// ReloadAll reloads every mapping of a connection that is not loading already.
func (h *Handlers) ReloadAll(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	back := nextOr(c, "/mappings")
	ctx := c.Request().Context()
	ms, err := h.Mappings.List(ctx, id)
	if err != nil {
		return err
	}
	var n int64
	for _, m := range ms {
		if m.State.Loading() || m.State == mapping.Initial {
			continue
		}
		if err := h.Mappings.Reload(ctx, actorOf(c), m.ID); err != nil {
			return h.refuse(c, err, back)
		}
		n++
	}
	return h.finish(c, "Reloading "+itoa(n)+" "+map[bool]string{true: "mapping", false: "mappings"}[n == 1]+".", back, nil)
}
