package handlers

import (
	"context"
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"

	"pgforce/internal/resource"
	"pgforce/sync/audit"
	"pgforce/sync/failure"
)

// byCodeRequest names the error code whose failed writes an action takes: a Salesforce error code,
// or "" for the writes Salesforce refused without one. It must be given.
type byCodeRequest struct {
	Code *string `json:"code"`
}

// errorCodeForm is how Salesforce writes its error codes (REQUIRED_FIELD_MISSING): a code in other
// letters is a typo that would match nothing.
var errorCodeForm = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// APIRetryWriteErrors sends every failed write of the mapping Salesforce refused with the code again
// (the rows' current values are queued), as the dashboard's Retry all; audited as write.retry.
func (h *Handlers) APIRetryWriteErrors(c echo.Context) error {
	return h.apiWritesByCode(c, "retried", h.Writes.RetryByCode)
}

// APIIgnoreWriteErrors dismisses every failed write of the mapping Salesforce refused with the code;
// the rows keep their values in Postgres. Audited as write.ignore.
func (h *Handlers) APIIgnoreWriteErrors(c echo.Context) error {
	return h.apiWritesByCode(c, "ignored", h.Writes.IgnoreByCode)
}

func (h *Handlers) apiWritesByCode(c echo.Context, action string, op func(context.Context, audit.Actor, int64, string) (int, error)) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var req byCodeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.Code == nil:
		return failure.InvalidField("code", `The body needs "code": a Salesforce error code such as REQUIRED_FIELD_MISSING (the mapping's are in its write-errors), or "" for failed writes without one.`)
	case *req.Code != "" && !errorCodeForm.MatchString(*req.Code):
		return failure.InvalidField("code", "%q is not a Salesforce error code: they are upper case, such as REQUIRED_FIELD_MISSING (the mapping's are in its write-errors).", *req.Code)
	}
	n, err := op(c.Request().Context(), apiActor(c), id, *req.Code)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resource.WritesByCode{MappingID: id, Code: *req.Code, Action: action, Count: n})
}
