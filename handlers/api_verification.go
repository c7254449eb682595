package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/internal/resource"
	"pgforce/sync/failure"
)

// findingsShown bounds the findings a page or an API answer lists (the rest stay in the database).
const findingsShown = 100

// APIVerifyMapping asks for a full verification of a mapping (202); the syncer runs it.
func (h *Handlers) APIVerifyMapping(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	v, err := h.Verifications.Request(c.Request().Context(), apiActor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, resource.NewVerification(v, nil))
}

// APIShowMappingVerification shows a mapping's newest verification with up to 100 findings.
func (h *Handlers) APIShowMappingVerification(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v, ok, err := h.Verifications.LatestOf(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return failure.E(failure.NotFound, "Mapping %d was never verified.", id)
	}
	fs, err := h.Verifications.Findings(ctx, v.ID, "", findingsShown)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resource.NewVerification(v, fs))
}

// APIRepairVerification asks for a verification's findings to be fetched again (202).
func (h *Handlers) APIRepairVerification(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	v, err := h.Verifications.Repair(c.Request().Context(), apiActor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, resource.NewVerification(v, nil))
}
