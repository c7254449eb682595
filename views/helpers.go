package views

import (
	"net/http"
	"net/url"
	"strings"
)

func statusTitle(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Not found"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "Check your input"
	case http.StatusConflict:
		return "Not possible right now"
	case http.StatusServiceUnavailable:
		return "Temporarily unavailable"
	}
	if status >= 500 {
		return "Something went wrong"
	}
	return http.StatusText(status)
}

// actionTitle explains a disabled action to viewers.
func actionTitle(canAct bool, title string) string {
	if canAct {
		return title
	}
	return "Only admins can do this"
}

// pathOr is the switcher's target: the current page, or the overview.
func pathOr(path string) string {
	if path == "" || path[0] != '/' {
		return "/"
	}
	return path
}

// logSeverity colours a trigger-log state.
func logSeverity(state string) string {
	switch state {
	case "SUCCESS":
		return "ok"
	case "FAILED":
		return "bad"
	case "NEW", "PENDING", "REQUEUE":
		return "info"
	}
	return ""
}

// cURL is the URL of an action on a connection.
func cURL(id int64, action string) string { return "/connections/" + itoa(id) + "/" + action }

// mURL is the URL of a mapping page or action ("" = the mapping's page).
func mURL(id int64, action string) string {
	if action == "" {
		return "/mappings/" + itoa(id)
	}
	return "/mappings/" + itoa(id) + "/" + action
}

func authorizeLabel(authorized bool) string {
	if authorized {
		return "Re-authorize"
	}
	return "Authorize"
}

// pausedTitle explains controls that need a paused connection.
func pausedTitle(canAct, paused bool, title string) string {
	switch {
	case !canAct:
		return "Only admins can do this"
	case !paused:
		return "Pause the connection first"
	}
	return title
}

func pollingTitle(canAct bool) string {
	if !canAct {
		return "Only admins can do this"
	}
	return "Save the polling default"
}

// streamTransports are the connection's transport settings for accelerated mappings.
var streamTransports = []struct{ Value, Label string }{
	{"auto", "the Pub/Sub API where the org offers it, CometD otherwise"},
	{"pubsub", "the Pub/Sub API only"},
	{"cometd", "CometD (the Streaming API) only"},
}

// pollingChoices are the polling intervals offered, in minutes (Heroku Connect: 2 to 60).
var pollingChoices = []int{2, 5, 10, 15, 20, 30, 45, 60}

func stepClass(done bool) string {
	if done {
		return "step done"
	}
	return "step"
}

func refreshURL(m SandboxRefresh) string {
	u := "/settings/sandbox-refresh?from=" + itoa(m.From.ID)
	if m.To != nil {
		u += "&to=" + itoa(m.To.ID)
	}
	return u
}

func formAction(f MappingForm) string {
	if f.Creating() {
		return "/mappings"
	}
	return mURL(f.MappingID, "")
}

func saveTitle(f MappingForm) string {
	if f.Creating() {
		return "Create the table and load every record"
	}
	return "Alter the table and load the values of added fields"
}

func boolParam(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func rowsText(n int64, estimated bool) string {
	s := Count(n) + " " + Plural(n, "row", "rows")
	if estimated {
		return "about " + s
	}
	return s
}

func driftLabel(kind string) string {
	switch kind {
	case "widen":
		return "Apply (Edit + Save)"
	case "recreate":
		return "Recreate column"
	case "remove":
		return "Unmap field"
	case "map":
		return "Map field"
	}
	return "Fix"
}

func driftClass(kind string) string {
	if kind == "widen" || kind == "map" {
		return "primary"
	}
	return "danger"
}

func driftTitle(kind string) string {
	switch kind {
	case "widen":
		return "Alter the column to the new definition; no data is lost"
	case "recreate":
		return "Drop the column and add it again with the new type, then load its values from Salesforce (the column's current values are replaced)"
	case "remove":
		return "Remove the field from the mapping and drop its column"
	case "map":
		return "Add the field to the mapping and load its values from Salesforce; no data is lost"
	}
	return ""
}

func joinChanges(cs []string) string { return strings.Join(cs, "; ") }

func mappingParam(id int64) string {
	if id == 0 {
		return ""
	}
	return itoa(id)
}

// cellClass styles explorer columns: ids and sfids in monospace.
func cellClass(col string) string {
	switch col {
	case "id", "sfid", "systemmodstamp":
		return "mono nowrap"
	case "_hc_err":
		return "mono small wrap"
	}
	return ""
}

func explorerURL(m ExplorerPage, page int) string {
	v := url.Values{}
	if m.Selected != nil {
		v.Set("mapping", itoa(m.Selected.MappingID))
	}
	if m.Query != "" {
		v.Set("q", m.Query)
	}
	v.Set("page", itoa(int64(page)))
	return "/explorer?" + v.Encode()
}

func applyTitle(m ImportPreview) string {
	switch {
	case m.Blocked != "":
		return m.Blocked
	case len(m.Add)+len(m.Edit) == 0:
		return "Nothing to change"
	}
	return "Apply every change at once: all or nothing"
}

// transitional reports whether a connection state is a passing one the page should follow live.
func transitional(state string) bool {
	switch state {
	case "RECOVERY", "POLLING_DB_CHANGES", "IMPORT_CONFIGURATION", "DB_UNAVAILABLE":
		return true
	}
	return false
}

func problemStatus(p Problem) string {
	if p.Critical {
		return "RED"
	}
	return "YELLOW"
}

func criticalFirst(ps []Problem) bool { return len(ps) > 0 && ps[0].Critical }

func verifyClass(state string) string {
	switch state {
	case "VERIFIED", "REPAIRED":
		return "ok"
	case "DRIFT_FOUND", "FAILED":
		return "bad"
	}
	return "info"
}

func findingText(kind string) string {
	switch kind {
	case "missing":
		return "in Salesforce, missing in Postgres"
	case "extra":
		return "in Postgres, gone from Salesforce (or outside the filter)"
	case "stale":
		return "the row is older than its record"
	}
	return kind
}

// verifyChoices are the schedules offered for full verifications.
var verifyChoices = []struct {
	Hours int
	Label string
}{{0, "never on a schedule"}, {6, "every 6 hours"}, {12, "every 12 hours"}, {24, "every night (24 h)"}, {72, "every 3 days"}, {168, "every week"}}

// KindLabel is an Activity kind in words ("write_failure" is "write failure").
func KindLabel(kind string) string { return strings.ReplaceAll(kind, "_", " ") }

// docTitle is "(N) Title · pgforce" while N problems need attention, "Title · pgforce" otherwise.
func docTitle(p Page) string {
	t := p.Title + " · pgforce"
	if p.Attention > 0 {
		t = "(" + itoa(int64(p.Attention)) + ") " + t
	}
	return t
}

// fieldLabel names a field for screen readers: its label ("Last Name"), or its API name without one.
func fieldLabel(fc FieldChoice) string {
	if fc.Label != "" {
		return fc.Label
	}
	return fc.Name
}
