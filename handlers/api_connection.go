package handlers

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/internal/resource"
	"pgforce/sync/audit"
	"pgforce/sync/failure"
)

// APIListConnections lists every connection; ?deep=true embeds their mappings.
func (h *Handlers) APIListConnections(c echo.Context) error {
	cs, err := h.loader().Connections(c.Request().Context(), c.QueryParam("deep") == "true")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resource.NewList(cs))
}

// APIShowConnection shows one connection; ?deep=true embeds its mappings.
func (h *Handlers) APIShowConnection(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	rc, err := h.loader().Connection(c.Request().Context(), id, c.QueryParam("deep") == "true")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rc)
}

// apiConnectionAction runs pause, resume or recover and answers 202 with the connection: the
// running syncer carries the change out.
func (h *Handlers) apiConnectionAction(c echo.Context, op func(context.Context, audit.Actor, int64) error) error {
	return apiAction(c, op, func(ctx context.Context, id int64) (any, error) { return h.loader().Connection(ctx, id, false) })
}

// apiAction runs an admin operation on the :id of the path and answers 202 with the resource as it
// stands afterwards.
func apiAction(c echo.Context, op func(context.Context, audit.Actor, int64) error, show func(context.Context, int64) (any, error)) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := op(ctx, apiActor(c), id); err != nil {
		return err
	}
	res, err := show(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, res)
}

// APIPauseConnection pauses syncing (only from IDLE).
func (h *Handlers) APIPauseConnection(c echo.Context) error {
	return h.apiConnectionAction(c, h.Connections.Pause)
}

// APIResumeConnection resumes a paused connection.
func (h *Handlers) APIResumeConnection(c echo.Context) error {
	return h.apiConnectionAction(c, h.Connections.Resume)
}

// APIRecoverConnection clears an error state (Heroku Connect's restart).
func (h *Handlers) APIRecoverConnection(c echo.Context) error {
	return h.apiConnectionAction(c, h.Connections.Recover)
}

// APIExportConfig answers a connection's configuration in Heroku Connect's export format.
func (h *Handlers) APIExportConfig(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	raw, err := h.Configuration.Export(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, raw)
}

// APIImportConfig applies an export (the body) to a connection; ?dry_run=true only plans it.
func (h *Handlers) APIImportConfig(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	raw, err := readBody(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if c.QueryParam("dry_run") == "true" {
		plan, err := h.Configuration.PlanImport(ctx, id, raw)
		if err == nil && len(plan.Problems) > 0 {
			err = plan.Problems.Failure()
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, resource.NewImportResult(plan))
	}
	plan, err := h.Configuration.ApplyImport(ctx, apiActor(c), id, raw)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resource.NewImportResult(plan))
}

// APIDiagnose runs a connection's health checks.
func (h *Handlers) APIDiagnose(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	r, err := h.Diagnose.Run(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// APIDoctor checks how a connection's org is set up.
func (h *Handlers) APIDoctor(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if h.Doctor == nil {
		return failure.E(failure.NotFound, "This pgforce runs without the org checks.")
	}
	r, err := h.Doctor.Run(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
