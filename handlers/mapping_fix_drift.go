package handlers

import (
	"strings"

	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
)

// FixDrift applies the fix for a field whose definition changed in Salesforce, in one click: a longer
// field is applied by saving the mapping unchanged (the seed's Edit + Save); a changed type drops and
// re-adds the column (the seed's two edits in one); a removed field is unmapped; a field Salesforce
// now requires to create records is mapped.
func (h *Handlers) FixDrift(c echo.Context) error {
	m, _, err := h.mappingOf(c)
	if err != nil {
		return err
	}
	back := "/mappings/" + itoa(m.ID)
	field, fix := c.FormValue("field"), c.FormValue("fix")
	cfg := m.Config.Clone()
	var recreate []string
	var done string
	switch fix {
	case "widen":
		done = "Applied the new definition of " + field + "."
	case "recreate":
		recreate = []string{field}
		done = "Recreated column " + field + " with its new type; its values are being loaded from Salesforce."
	case "remove":
		for name := range cfg.Fields {
			if strings.EqualFold(name, field) {
				delete(cfg.Fields, name)
				delete(cfg.Indexes, name)
			}
		}
		if strings.EqualFold(cfg.UpsertField, field) {
			cfg.UpsertField = ""
		}
		done = "Unmapped " + field + " and dropped its column."
	case "map":
		cfg.Fields[field] = struct{}{}
		done = "Mapped " + field + "; its values are being loaded from Salesforce."
	default:
		return failure.E(failure.Invalid, "Unknown fix %q.", fix)
	}
	if _, err := h.Mappings.Edit(c.Request().Context(), actorOf(c), m.ID, cfg, recreate); err != nil {
		return h.refuse(c, err, back)
	}
	return h.finish(c, done, back, nil)
}
