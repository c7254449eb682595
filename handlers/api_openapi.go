package handlers

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPI is the hand-written description of the REST API; api_test checks that it lists every
// API route of the route table.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPIDocument returns the embedded OpenAPI document.
func OpenAPIDocument() []byte { return openAPI }

// ShowOpenAPI serves the OpenAPI document.
func (h *Handlers) ShowOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI)
}

// ServeMetrics serves Prometheus metrics to a token of role metrics (or admin).
func (h *Handlers) ServeMetrics(c echo.Context) error {
	if h.Metrics == nil {
		return echo.ErrNotFound
	}
	h.Metrics.ServeHTTP(c.Response(), c.Request())
	return nil
}
