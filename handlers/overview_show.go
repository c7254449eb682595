package handlers

import (
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"pgforce/sync/engine/connection"
	"pgforce/sync/report"
	"pgforce/views"
)

// ShowOverview renders the Overview: the current connection, mapping health, 24 hours of activity and
// API usage. With ?live=1 from htmx it renders only the part that refreshes itself.
func (h *Handlers) ShowOverview(c echo.Context) error {
	live := isHTMX(c) && c.QueryParam("live") == "1"
	conns, cur, err := h.current(c)
	if err != nil {
		return err
	}
	var m views.OverviewPage
	if cur != nil {
		if m, err = h.overview(c, *cur); err != nil {
			return err
		}
	}
	if live {
		if cur == nil {
			c.Response().Header().Set("HX-Refresh", "true")
			return c.NoContent(http.StatusNoContent)
		}
		p := h.bare(c)
		p.Title, p.Attention = "Overview", h.attention(c, cur.ID)
		return render(c, http.StatusOK, templ.Join(views.OverviewLive(p, m, h.now()), views.DocTitle(p)))
	}
	p := h.dashPage(c, "Overview", "overview", conns, cur)
	return render(c, http.StatusOK, views.Overview(p, m, h.now()))
}

func (h *Handlers) overview(c echo.Context, conn connection.Connection) (views.OverviewPage, error) {
	ctx := c.Request().Context()
	now := h.now()
	cv := connectionView(conn)
	m := views.OverviewPage{Conn: &cv}
	ms, err := h.Reports.MappingSummaries(ctx, conn.ID)
	if err != nil {
		return m, err
	}
	m.NoMapping = len(ms) == 0
	rep, err := h.diagnose(c, conn.ID)
	if err != nil {
		return m, err
	}
	m.Health = healthView(rep, ms, conn)
	buckets, err := h.Reports.Activity(ctx, conn.ID, now.Add(-24*time.Hour))
	if err != nil {
		return m, err
	}
	points := make([]views.ActivityPoint, 0, len(buckets))
	for _, b := range buckets {
		p := views.ActivityPoint{At: b.At, Errors: b.Errors}
		if b.Direction == report.PGToSF {
			p.Out = b.Records
		} else {
			p.In = b.Records
		}
		points = append(points, p)
	}
	m.Chart, m.HourChart = views.NewActivityChart(points, now), views.NewHourChart(points, now)
	if used, limit, at, err := h.Connections.APIUsage(ctx, conn.ID); err == nil && limit > 0 {
		m.APIUsed, m.APILimit, m.APIAsOf = &used, &limit, &at
	}
	return m, nil
}
