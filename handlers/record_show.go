package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/views"
)

// ShowRecord shows one row of a mapped table with every column, _hc_lastop and _hc_err, and its
// trigger-log history (live log and archive) with Retry and Ignore for failed writes.
func (h *Handlers) ShowRecord(c echo.Context) error {
	mid, err := idParam(c, "mapping")
	if err != nil {
		return err
	}
	rid, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	m, err := h.Mappings.Get(ctx, mid)
	if err != nil {
		return err
	}
	conn, err := h.Connections.Get(ctx, m.ConnectionID)
	if err != nil {
		return err
	}
	fields, err := h.Reports.Record(ctx, conn.Schema, m.Table, rid)
	if err != nil {
		return err
	}
	hist, err := h.Reports.RecordHistory(ctx, conn.Schema, m.Table, rid, 100)
	if err != nil {
		return err
	}
	rp := views.RecordPage{MappingID: m.ID, ConnID: conn.ID, Object: m.Object, Schema: conn.Schema, Table: m.Table, RecordID: rid,
		History: logRows(hist, map[string]int64{m.Table: m.ID})}
	for _, f := range fields {
		rp.Fields = append(rp.Fields, views.RecordField{Name: f.Name, Type: f.Type, Cell: views.Cell{Text: f.Value.Text, Null: f.Value.Null}})
		switch f.Name {
		case "_hc_lastop":
			rp.LastOp = f.Value.Text
		case "_hc_err":
			rp.Err = f.Value.Text
		}
	}
	for _, e := range hist {
		if e.State == "FAILED" {
			rp.FailedLogID, rp.Problems = e.ID, writeProblems(e.Message)
			break
		}
	}
	if rp.FailedLogID != 0 {
		rp.FixFields = fixFields(m, fields, rp.Problems)
	} else if rp.Err != "" {
		rp.Problems = writeProblems(rp.Err)
	}
	h.useConnection(c, conn.ID)
	conns, cur, err := h.current(c)
	if err != nil {
		return err
	}
	p := h.dashPage(c, m.Table+" #"+itoa(rid), "explorer", conns, cur)
	return render(c, http.StatusOK, views.RecordView(p, rp))
}
