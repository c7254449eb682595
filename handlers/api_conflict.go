package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"pgforce/internal/resource"
	"pgforce/sync/admin"
	"pgforce/sync/conflict"
)

// APIListConflicts lists a connection's conflicts, newest first (?mapping=ID, ?held=true).
func (h *Handlers) APIListConflicts(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	f := conflict.Filter{ConnectionID: id, HeldOnly: c.QueryParam("held") == "true"}
	f.MappingID, _ = strconv.ParseInt(c.QueryParam("mapping"), 10, 64)
	cs, err := h.Conflicts.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resource.NewList(resource.NewConflicts(cs)))
}

// keepRequest chooses the side a held conflict keeps.
type keepRequest struct {
	Keep string `json:"keep"` // postgres or salesforce
}

// APIKeepConflict resolves a held conflict ({"keep": "postgres"|"salesforce"}).
func (h *Handlers) APIKeepConflict(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var req keepRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	side, err := admin.ParseSide(req.Keep)
	if err != nil {
		return err
	}
	cf, err := h.Conflicts.Resolve(c.Request().Context(), apiActor(c), 0, id, side)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resource.NewConflict(cf))
}
