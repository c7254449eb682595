package handlers

import (
	"pgforce/sync/diagnose"
	"pgforce/sync/engine/connection"
	"pgforce/sync/report"
	"pgforce/views"
)

// healthView is the health model as the Overview shows it. A mapping is "in sync" only when no
// problem names it and the connection itself can sync: a mapping of a connection that needs
// re-authorization or is paused is not in sync, whatever its own state says.
func healthView(rep diagnose.Report, ms []report.MappingSummary, conn connection.Connection) views.Health {
	hv := views.Health{Healthy: rep.Healthy(), Summary: rep.Summary(), Problems: problemViews(rep.Problems), Total: len(ms)}
	problems := rep.ByMapping()
	for _, mp := range ms {
		ps := problems[mp.ID]
		switch {
		case len(ps) > 0:
			hv.Attention++
			hv.Unhealthy = append(hv.Unhealthy, views.MappingLink{ID: mp.ID, Object: mp.Object, State: mappingBadge(mp.State), Reason: mp.StateReason, Problem: ps[0].Message})
		case !conn.State.Syncing():
			hv.Attention++
		case mp.State.Loading():
			hv.Loading++
		default:
			hv.InSync++
		}
	}
	return hv
}

// problemViews converts health problems for the views.
func problemViews(ps []diagnose.Problem) []views.Problem {
	out := make([]views.Problem, len(ps))
	for i, p := range ps {
		out[i] = views.Problem{Critical: p.Status == diagnose.Red, MappingID: p.MappingID, Object: p.Object, Message: p.Message, Fix: p.Fix, FixURL: p.FixURL}
	}
	return out
}
