package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"pgforce/internal/resource"
	"pgforce/sync/audit"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
)

// APIListMappings lists a connection's mappings with their counts.
func (h *Handlers) APIListMappings(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ms, err := h.loader().Mappings(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resource.NewList(ms))
}

// newMappingRequest is Heroku Connect's create-mapping body.
type newMappingRequest struct {
	ObjectName string          `json:"object_name"`
	Config     *mapping.Config `json:"config"`
}

// APICreateMapping creates a mapping (201); the table loads in the background.
func (h *Handlers) APICreateMapping(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var req newMappingRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.ObjectName == "" || req.Config == nil {
		return failure.E(failure.Invalid, `The body needs "object_name" and "config" (Heroku Connect's mapping config).`)
	}
	ctx := c.Request().Context()
	m, err := h.Mappings.Create(ctx, apiActor(c), id, req.ObjectName, *req.Config)
	if err != nil {
		return err
	}
	rm, err := h.loader().Mapping(ctx, m.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, rm)
}

// APIShowMapping shows one mapping.
func (h *Handlers) APIShowMapping(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	rm, err := h.loader().Mapping(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rm)
}

// updateMappingRequest changes a mapping: config keys given replace the current ones (a merge patch
// at the top level, so {"config": {"access": "read_write"}} changes only the access); recreate lists
// fields whose column is dropped and re-added after a type change in Salesforce.
type updateMappingRequest struct {
	Config   map[string]json.RawMessage `json:"config"`
	Recreate []string                   `json:"recreate"`
}

// APIUpdateMapping edits a mapping with ALTER TABLE; added fields load in the background.
func (h *Handlers) APIUpdateMapping(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var req updateMappingRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	cur, err := h.Mappings.Get(ctx, id)
	if err != nil {
		return err
	}
	cfg, err := patchConfig(cur.Config, req.Config)
	if err != nil {
		return err
	}
	m, err := h.Mappings.Edit(ctx, apiActor(c), id, cfg, req.Recreate)
	if err != nil {
		return err
	}
	rm, err := h.loader().Mapping(ctx, m.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rm)
}

// patchConfig overlays the given top-level keys on a configuration.
func patchConfig(cur mapping.Config, patch map[string]json.RawMessage) (mapping.Config, error) {
	raw, err := json.Marshal(cur)
	if err != nil {
		return cur, err
	}
	merged := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &merged); err != nil {
		return cur, err
	}
	for k, v := range patch {
		merged[k] = v
	}
	raw, err = json.Marshal(merged)
	if err != nil {
		return cur, err
	}
	var out mapping.Config
	if err := json.Unmarshal(raw, &out); err != nil {
		return cur, failure.E(failure.Invalid, "The config has a value of the wrong type: %s", err)
	}
	return out, nil
}

// APIDeleteMapping drops the mapping's table and pending writes (204).
func (h *Handlers) APIDeleteMapping(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := h.Mappings.Delete(c.Request().Context(), apiActor(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handlers) apiMappingAction(c echo.Context, op func(context.Context, audit.Actor, int64) error) error {
	return apiAction(c, op, func(ctx context.Context, id int64) (any, error) { return h.loader().Mapping(ctx, id) })
}

// APIReloadMapping empties the table and loads every record again (202).
func (h *Handlers) APIReloadMapping(c echo.Context) error {
	return h.apiMappingAction(c, h.Mappings.Reload)
}

// APIAbortMapping stops a running load (202).
func (h *Handlers) APIAbortMapping(c echo.Context) error {
	return h.apiMappingAction(c, h.Mappings.Abort)
}

// APIRecoverMapping restarts a mapping stopped by an error (202): the load resumes or it catches up.
func (h *Handlers) APIRecoverMapping(c echo.Context) error {
	return h.apiMappingAction(c, func(ctx context.Context, a audit.Actor, id int64) error {
		_, err := h.Mappings.Recover(ctx, a, id)
		return err
	})
}

// APIConnectionWriteErrors lists a connection's failed writes (?hours=24).
func (h *Handlers) APIConnectionWriteErrors(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	conn, err := h.Connections.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.writeErrors(c, conn.Schema, nil)
}

// APIMappingWriteErrors lists one mapping's failed writes (?hours=24).
func (h *Handlers) APIMappingWriteErrors(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	m, err := h.Mappings.Get(ctx, id)
	if err != nil {
		return err
	}
	conn, err := h.Connections.Get(ctx, m.ConnectionID)
	if err != nil {
		return err
	}
	return h.writeErrors(c, conn.Schema, []string{m.Table})
}

func (h *Handlers) writeErrors(c echo.Context, schema string, tables []string) error {
	hours, err := queryInt(c, "hours", 24)
	if err != nil {
		return err
	}
	es, err := h.Reports.WriteErrors(c.Request().Context(), schema, tables, h.now().Add(-time.Duration(hours)*time.Hour), 500)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resource.NewList(resource.NewWriteErrors(es)))
}
