package handlers

import (
	"github.com/labstack/echo/v4"
)

// VerifyMapping asks for a full verification of the mapping; its page shows the progress and the
// findings.
func (h *Handlers) VerifyMapping(c echo.Context) error {
	m, _, err := h.mappingOf(c)
	if err != nil {
		return err
	}
	back := nextOr(c, "/mappings/"+itoa(m.ID)+"#verification")
	if _, err := h.Verifications.Request(c.Request().Context(), actorOf(c), m.ID); err != nil {
		return h.refuse(c, err, back)
	}
	return h.finish(c, "Verifying "+m.Object+": every record's Id and SystemModstamp is compared with the table.", back, nil)
}

// RepairVerification asks for a verification's findings to be fetched again from Salesforce.
func (h *Handlers) RepairVerification(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	v, err := h.Verifications.Get(ctx, id)
	if err != nil {
		return err
	}
	back := nextOr(c, "/mappings/"+itoa(v.MappingID)+"#verification")
	if _, err := h.Verifications.Repair(ctx, actorOf(c), id); err != nil {
		return h.refuse(c, err, back)
	}
	return h.finish(c, "Repairing: the differing records are fetched again from Salesforce.", back, nil)
}
