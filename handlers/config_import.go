package handlers

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"pgforce/sync/admin"
	"pgforce/sync/engine/connection"
	"pgforce/sync/failure"
	"pgforce/views"
)

// maxImportBytes bounds an uploaded configuration (Heroku Connect exports are small).
const maxImportBytes = 5 << 20

// ShowImport renders the upload form of Import Configuration.
func (h *Handlers) ShowImport(c echo.Context) error {
	p, cur, _, err := h.dashboard(c, "Import configuration", "settings")
	if err != nil {
		return err
	}
	if cur == nil {
		return seeOther(c, "/settings")
	}
	return render(c, http.StatusOK, views.ImportPage(p, views.ImportForm{ConnID: cur.ID, ConnName: cur.Name}))
}

// PreviewImport checks an uploaded configuration against the org and shows what importing it would
// add, edit and leave alone, with problems located by JSON path. Nothing changes yet.
func (h *Handlers) PreviewImport(c echo.Context) error {
	p, cur, _, err := h.dashboard(c, "Import configuration", "settings")
	if err != nil {
		return err
	}
	if cur == nil {
		return failure.E(failure.Conflict, "There is no connection to import into.")
	}
	uploadErr := func(msg string) error {
		return render(c, http.StatusUnprocessableEntity, views.ImportPage(p, views.ImportForm{ConnID: cur.ID, ConnName: cur.Name, Error: msg}))
	}
	fh, err := c.FormFile("file")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return uploadErr("The file is too large: configurations are 5 MiB at most.")
		}
		return uploadErr("Choose a configuration file (JSON) to upload.")
	}
	if fh.Size > maxImportBytes {
		return uploadErr("The file is too large: configurations are 5 MiB at most.")
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxImportBytes+1))
	if err != nil {
		return err
	}
	plan, err := h.Configuration.PlanImport(c.Request().Context(), cur.ID, raw)
	if err != nil {
		if failure.KindOf(err) == failure.Internal {
			return err
		}
		return uploadErr(failure.Message(err))
	}
	m := importPreview(cur.ID, cur.Name, fh.Filename, raw, plan)
	if m.Blocked, err = h.importBlocked(c, *cur, plan); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ImportPreviewPage(p, m))
}

// ApplyImport applies the previewed configuration, all or nothing.
func (h *Handlers) ApplyImport(c echo.Context) error {
	_, cur, err := h.current(c)
	if err != nil {
		return err
	}
	if cur == nil {
		return failure.E(failure.Conflict, "There is no connection to import into.")
	}
	raw := []byte(c.FormValue("config"))
	plan, err := h.Configuration.ApplyImport(c.Request().Context(), actorOf(c), cur.ID, raw)
	if err != nil {
		if failure.KindOf(err) == failure.Internal {
			return err
		}
		// The org or the connection changed since the preview: show the new verdict.
		p, _, _, perr := h.dashboard(c, "Import configuration", "settings")
		if perr != nil {
			return perr
		}
		m := importPreview(cur.ID, cur.Name, c.FormValue("file_name"), raw, plan)
		if len(m.Problems) == 0 {
			m.Problems = []views.ProblemRow{{Path: "(file)", Message: failure.Message(err)}}
		}
		return render(c, http.StatusUnprocessableEntity, views.ImportPreviewPage(p, m))
	}
	return h.finish(c, importSummary(plan), "/mappings", nil)
}

// importBlocked says why an import cannot be applied right now: the connection's state, or a mapping
// it edits that is loading.
func (h *Handlers) importBlocked(c echo.Context, conn connection.Connection, plan admin.ImportPlan) (string, error) {
	if why := connectionView(conn).ImportWhy; why != "" {
		return why, nil
	}
	if len(plan.Edit) == 0 {
		return "", nil
	}
	ms, err := h.Mappings.List(c.Request().Context(), conn.ID)
	if err != nil {
		return "", err
	}
	var busy []string
	for _, e := range plan.Edit {
		for _, m := range ms {
			if strings.EqualFold(m.Object, e.Object) && m.State.Loading() {
				busy = append(busy, m.Object+" ("+string(m.State)+")")
			}
		}
	}
	if len(busy) == 0 {
		return "", nil
	}
	return "The import edits mappings that are loading: " + strings.Join(busy, ", ") + ". Wait until they finish, or abort them, then upload again.", nil
}

func importPreview(connID int64, connName, fileName string, raw []byte, plan admin.ImportPlan) views.ImportPreview {
	m := views.ImportPreview{ConnID: connID, ConnName: connName, FileName: fileName, Raw: string(raw), Unchanged: plan.Unchanged, Notes: plan.Notes}
	for _, a := range plan.Add {
		m.Add = append(m.Add, views.PlannedRow{Object: a.Object, Changes: a.Changes})
	}
	for _, e := range plan.Edit {
		m.Edit = append(m.Edit, views.PlannedRow{Object: e.Object, Changes: e.Changes})
	}
	for _, pr := range plan.Problems {
		m.Problems = append(m.Problems, views.ProblemRow{Path: pr.Path, Message: pr.Message})
	}
	return m
}

func importSummary(plan admin.ImportPlan) string {
	return "Imported the configuration: " + itoa(int64(len(plan.Add))) + " added, " + itoa(int64(len(plan.Edit))) + " edited, " +
		itoa(int64(len(plan.Unchanged))) + " unchanged. New mappings are loading every record."
}
