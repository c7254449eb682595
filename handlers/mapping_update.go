package handlers

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/views"
)

// UpdateMapping saves an edited mapping: pgforce alters the table and loads the values of added fields.
func (h *Handlers) UpdateMapping(c echo.Context) error {
	m, conn, err := h.mappingOf(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := c.FormParams(); err != nil {
		// Nothing to redraw the form from: say so on an error page.
		return failure.Wrap(err, failure.Invalid, "The form could not be read; reload the page and try again.")
	}
	f, ch, cfg, err := parseMappingForm(c)
	if removed := removedFields(m.Config, cfg); err == nil && len(removed) > 0 && c.FormValue("confirm_remove") != "yes" {
		return h.confirmRemoveFields(c, m, conn, removed)
	}
	if err == nil {
		var recreate []string
		for name := range ch.recreate {
			recreate = append(recreate, name)
		}
		slices.Sort(recreate)
		saved, err := h.Mappings.Edit(ctx, actorOf(c), m.ID, cfg, recreate)
		if err == nil {
			h.flash(c, "success", "Saved the "+saved.Object+" mapping (revision "+itoa(int64(saved.Revision))+"). "+saved.State.Describe())
			return seeOther(c, "/mappings/"+itoa(m.ID))
		}
		if failure.KindOf(err) == failure.Internal {
			return err
		}
		problemErrors(err, f.Errors)
	}
	obj, derr := h.Mappings.Describe(ctx, conn.ID, m.Object)
	if derr != nil {
		return derr
	}
	f.ConnID, f.MappingID, f.Object, f.Table = conn.ID, m.ID, m.Object, m.Table
	fillFields(&f, obj, ch, m.Drift)
	p, err := h.mappingPage(c, "Edit "+m.Object, conn)
	if err != nil {
		return err
	}
	return render(c, http.StatusUnprocessableEntity, views.MappingFormPage(p, f))
}

// removedFields are the fields mapped now that the edited configuration leaves out.
func removedFields(was, now mapping.Config) []views.RemovedField {
	var out []views.RemovedField
	for _, name := range was.FieldNames() {
		if _, kept := now.Fields[name]; !kept {
			out = append(out, views.RemovedField{Field: name, Column: table.Column(name)})
		}
	}
	slices.SortFunc(out, func(a, b views.RemovedField) int { return strings.Compare(a.Field, b.Field) })
	return out
}

// confirmRemoveFields asks before an edit drops columns: which, from how many rows, with the edit
// posted again once confirmed.
func (h *Handlers) confirmRemoveFields(c echo.Context, m mapping.Mapping, conn connection.Connection, removed []views.RemovedField) error {
	counts, err := h.Reports.Counts(c.Request().Context(), conn.Schema, []string{m.Table})
	if err != nil {
		return err
	}
	tc := counts[m.Table]
	v := views.RemoveFieldsConfirm{ID: m.ID, Object: m.Object, Schema: conn.Schema, Table: m.Table, Removed: removed, Rows: tc.Rows, RowsEstimated: tc.Estimated}
	for k, vs := range c.Request().PostForm {
		for _, val := range vs {
			v.Form = append(v.Form, views.KV{Key: k, Value: val})
		}
	}
	slices.SortStableFunc(v.Form, func(a, b views.KV) int { return strings.Compare(a.Key, b.Key) })
	p, err := h.mappingPage(c, "Remove fields from "+m.Object, conn)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.RemoveFieldsConfirmPage(p, v))
}
