package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/sync/admin"
	"pgforce/sync/engine/connection"
	"pgforce/sync/failure"
	"pgforce/views"
)

// ShowDeleteConnection asks for confirmation of deleting a connection: its mappings with their
// tables, rows and pending writes, the choice to keep or drop the schema, and why it cannot be
// deleted now (the preconditions Delete checks).
func (h *Handlers) ShowDeleteConnection(c echo.Context) error {
	conn, err := h.connectionParam(c)
	if err != nil {
		return err
	}
	p, _, _, err := h.dashboard(c, "Delete connection "+conn.Name, "settings")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ms, counts, err := h.summariesWithCounts(ctx, conn)
	if err != nil {
		return err
	}
	m := views.DeleteConnectionConfirm{Conn: connectionView(conn)}
	states := make([]admin.MappingState, len(ms))
	for i, mp := range ms {
		tc := counts[mp.Table]
		states[i] = admin.MappingState{Object: mp.Object, State: mp.State}
		m.Mappings = append(m.Mappings, views.MappingConfirm{ID: mp.ID, Object: mp.Object, Schema: conn.Schema, Table: mp.Table,
			State: mappingBadge(mp.State), Loading: mp.State.Loading(), Rows: tc.Rows, RowsEstimated: tc.Estimated, Pending: tc.Pending})
		m.Pending += tc.Pending
	}
	if err := admin.DeleteRefusal(conn, states); err != nil {
		m.Refusal = failure.Message(err)
	}
	return render(c, http.StatusOK, views.DeleteConnectionConfirmPage(p, m))
}

// DeleteConnection deletes a connection once its schema name is typed, keeping or dropping the schema.
func (h *Handlers) DeleteConnection(c echo.Context) error {
	conn, err := h.connectionParam(c)
	if err != nil {
		return err
	}
	id, ctx := conn.ID, c.Request().Context()
	back := "/connections/" + itoa(id) + "/delete"
	if c.FormValue("confirm") != conn.Schema {
		return h.refuse(c, failure.E(failure.Invalid, "Type the schema name %s to confirm deleting connection %s.", conn.Schema, conn.Name), back)
	}
	drop := c.FormValue("schema") == "drop"
	if err := h.Connections.Delete(ctx, actorOf(c), id, drop); err != nil {
		return h.refuse(c, err, back)
	}
	msg := "Deleted connection " + conn.Name + "; schema " + conn.Schema + " and its tables were kept (capture triggers removed)."
	if drop {
		msg = "Deleted connection " + conn.Name + " and dropped schema " + conn.Schema + " with its tables."
	}
	return h.finish(c, msg, "/settings", nil)
}

// connectionParam loads the connection named by the path's :id.
func (h *Handlers) connectionParam(c echo.Context) (connection.Connection, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return connection.Connection{}, err
	}
	return h.Connections.Get(c.Request().Context(), id)
}
