package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"pgforce/internal/apitoken"
	"pgforce/internal/resource"
	"pgforce/sync/audit"
	"pgforce/sync/failure"
)

// The REST API (v3): JSON in and out, bearer tokens instead of sessions. Each handler parses the
// request, makes one engine call and answers with the resource shapes the CLI's --json prints too.
// Errors go through the server's one error handler, which answers {"id": …, "message": …}.

// apiActor names the request's token in the audit trail.
func apiActor(c echo.Context) audit.Actor {
	t, _ := apitoken.FromContext(c.Request().Context())
	return t.Actor()
}

// loader builds resources from the engine and reports.
func (h *Handlers) loader() resource.Loader {
	return resource.Loader{ConnReader: h.Connections, MapReader: h.Mappings, Reports: h.Reports, Health: h.Diagnose}
}

// decodeJSON reads a request body into v, refusing unknown fields so typos are not silently ignored.
func decodeJSON(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return failure.E(failure.Invalid, "The request needs a JSON body.")
		}
		return failure.E(failure.Invalid, "The request body is not valid JSON for this call: %s", err)
	}
	return nil
}

// queryInt reads an optional positive integer query parameter.
func queryInt(c echo.Context, name string, def int) (int, error) {
	s := c.QueryParam(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, failure.InvalidField(name, "%s must be a positive whole number.", name)
	}
	return n, nil
}

// readBody reads a raw request body (the server bounds its size).
func readBody(c echo.Context) ([]byte, error) {
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, failure.E(failure.Invalid, "The request needs a JSON body.")
	}
	return raw, nil
}
