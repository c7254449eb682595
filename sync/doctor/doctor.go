// Package doctor checks that a connected Salesforce org is ready for pgforce, the way an admin
// would check it by hand in Setup: the integration user's API access, View All Data and object
// permissions for each mapped object, Change Data Capture for accelerated mappings, the daily API
// allowance left, the API version, My Domain, and the connected app's scopes and PKCE. Each check
// is RED, YELLOW, GREEN or SKIPPED with what was found and the fix, as `pgforce diagnose` reports
// the sync's health (package diagnose); the doctor asks the org itself, so it works before the first
// mapping. It only reads.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"pgforce/sync/diagnose"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/salesforce"
)

// Inspection opens a reader of a connection's org (*admin.Inspection implements it).
type Inspection interface {
	Org(ctx context.Context, connID int64, redirectURL string) (orgclient.Inspector, connection.Connection, error)
}

// Mappings lists a connection's mappings (*admin.Mappings implements it).
type Mappings interface {
	List(ctx context.Context, connID int64) ([]mapping.Mapping, error)
}

// Doctor runs the checks.
type Doctor struct {
	Inspection Inspection
	Mappings   Mappings
	// RedirectURL is the dashboard's OAuth callback, which the PKCE check asks the org about.
	RedirectURL string
	Now         func() time.Time // time.Now when nil
}

// Report is every check of one connection's org, worst status first in Status.
type Report struct {
	ConnectionID   int64             `json:"connection_id"`
	ConnectionName string            `json:"connection_name"`
	Status         diagnose.Status   `json:"status"`
	CheckedAt      time.Time         `json:"checked_at"`
	Results        []diagnose.Result `json:"results"`
}

// Fixes in Setup, written once.
const (
	fixAPI         = "Give the integration user the API Enabled permission (Setup → Permission Sets → a set assigned to the user → System Permissions), or use an edition with API access."
	fixAuth        = "Authorize the connection again in Settings (or `pgforce connection create` with --username and --password)."
	fixViewAll     = "Assign the integration user a permission set with View All Data (or View All on each mapped object): records it cannot see are not synced."
	fixObject      = "Setup → Permission Sets → a set assigned to the integration user → Object Settings → %s: grant %s."
	fixCDC         = "Setup → Integrations → Change Data Capture: move %s to Selected Entities. Until then these mappings poll."
	fixVersion     = "Set the connection's API version to one the org offers (Settings → API version), or leave it empty for the newest."
	fixMyDomain    = "Deploy My Domain (Setup → My Domain), then authorize the connection again with the My Domain login URL so pgforce uses it."
	fixScopes      = "Edit the connected app (Setup → App Manager → the app → Edit → Selected OAuth Scopes): add %s, then authorize the connection again in the dashboard (Settings → Authorize)."
	fixRefresh     = "Authorize the connection in the dashboard (Settings → Authorize): the web-server flow issues a refresh token, so pgforce renews the session itself."
	fixScopesFirst = "If the connected app does not offer %s, add it first: Setup → App Manager → the app → Edit → Selected OAuth Scopes."
	fixPKCE        = "Edit the connected app (Setup → App Manager → the app → Edit): select Require Proof Key for Code Exchange (PKCE). pgforce always sends a challenge."
	fixAPIUsage    = "Lower polling frequencies (Mappings → Edit), turn on accelerated mappings, or ask Salesforce for a larger allowance; `pgforce diagnose` shows pgforce's share."
)

// retirementGap is how many releases behind the newest a version may be before it nears retirement
// (Salesforce supports each version for at least three years, three releases a year).
const retirementGap = 9

// checks are the doctor's rules (id, name), in the order it reports them.
var checks = [][2]string{{"api_version", "API version"}, {"api_enabled", "API enabled"}, {"view_all_data", "View All Data"},
	{"object_access", "Object permissions"}, {"cdc_selection", "Change Data Capture selection"}, {"api_usage", "API usage headroom"},
	{"my_domain", "My Domain"}, {"oauth_scopes", "Connected app scopes"}, {"pkce", "PKCE"}}

// RuleIDs lists the doctor's checks.
func RuleIDs() []string {
	out := make([]string, len(checks))
	for i, c := range checks {
		out[i] = c[0]
	}
	return out
}

func result(id, name string, status diagnose.Status, fix, format string, args ...any) diagnose.Result {
	r := diagnose.Result{RuleID: id, DisplayName: name, Status: status, Message: fmt.Sprintf(format, args...)}
	if status == diagnose.Red || status == diagnose.Yellow {
		r.Fix = fix
	}
	return r
}

func skipped(cs [][2]string, why string) []diagnose.Result {
	out := make([]diagnose.Result, len(cs))
	for i, c := range cs {
		out[i] = result(c[0], c[1], diagnose.Skipped, "", "%s", why)
	}
	return out
}

// Run checks one connection's org.
func (d Doctor) Run(ctx context.Context, connID int64) (Report, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	in, c, err := d.Inspection.Org(ctx, connID, d.RedirectURL)
	if err != nil {
		return Report{}, err
	}
	ms, err := d.Mappings.List(ctx, connID)
	if err != nil {
		return Report{}, fmt.Errorf("doctor %s: %w", c.Name, err)
	}
	slices.SortFunc(ms, func(a, b mapping.Mapping) int { return strings.Compare(a.Object, b.Object) })
	r := Report{ConnectionID: c.ID, ConnectionName: c.Name, Status: diagnose.Green, CheckedAt: now().UTC()}
	// The version comes first: an org that does not offer it answers no other call.
	version := apiVersion(ctx, in)
	r.Results = append(r.Results, version)
	if version.Status == diagnose.Red {
		r.Results = append(r.Results, skipped(checks[1:], "Not checked: the org does not offer the connection's API version.")...)
	} else if api, perms := apiAccess(ctx, in); api.Status == diagnose.Red {
		// Nothing else can be asked: say so rather than report the same refusal seven times.
		r.Results = append(r.Results, api)
		r.Results = append(r.Results, skipped(checks[2:], "Not checked: the API refuses the connection.")...)
	} else {
		r.Results = append(r.Results, api, viewAllData(perms))
		r.Results = append(r.Results, objectAccess(ctx, in, ms)...)
		r.Results = append(r.Results, cdcSelection(ctx, in, ms), apiUsage(ctx, in), myDomain(ctx, in, c), scopes(ctx, in), pkce(ctx, in))
	}
	for _, res := range r.Results {
		if res.Status.Worse(r.Status) {
			r.Status = res.Status
		}
	}
	return r, nil
}

// salesforceCode is a Salesforce error's code (API_CURRENTLY_DISABLED, INVALID_TYPE, …), or "".
func salesforceCode(err error) string {
	var se *salesforce.Error
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

func apiAccess(ctx context.Context, in orgclient.Inspector) (diagnose.Result, map[string]bool) {
	const id, name = "api_enabled", "API enabled"
	perms, err := in.Permissions(ctx)
	switch code := salesforceCode(err); {
	case err == nil:
	case code == "API_CURRENTLY_DISABLED" || code == "API_DISABLED_FOR_ORG":
		return result(id, name, diagnose.Red, fixAPI, "Salesforce refuses API calls of the integration user (%s): pgforce cannot sync.", code), nil
	case failure.Is(err, failure.Unauthenticated):
		return result(id, name, diagnose.Red, fixAuth, "Salesforce refuses the connection's authorization: %s", failure.Message(err)), nil
	case code == "INVALID_TYPE" || code == "INVALID_FIELD":
		// The API answers, but this org does not show the user's permissions (older API version).
		return result(id, name, diagnose.Green, "", "API calls work."), nil
	default:
		return result(id, name, diagnose.Red, fixAPI, "The org did not answer an API call: %s", errText(err)), nil
	}
	if enabled, ok := perms["PermissionsApiEnabled"]; ok && !enabled {
		return result(id, name, diagnose.Red, fixAPI, "The integration user lacks API Enabled."), perms
	}
	return result(id, name, diagnose.Green, "", "The integration user may use the API."), perms
}

// errText is an error for a message: Salesforce's own words when it answered.
func errText(err error) string {
	if m := failure.Message(err); !strings.HasPrefix(m, "Something went wrong") {
		return m
	}
	return err.Error()
}

func viewAllData(perms map[string]bool) diagnose.Result {
	const id, name = "view_all_data", "View All Data"
	vad, ok := perms["PermissionsViewAllData"]
	switch {
	case !ok:
		return result(id, name, diagnose.Skipped, "", "The org does not show the integration user's system permissions.")
	case !vad:
		return result(id, name, diagnose.Yellow, fixViewAll, "The integration user lacks View All Data: records shared with it only partly (others' private records) are not synced.")
	}
	return result(id, name, diagnose.Green, "", "The integration user has View All Data: every record is visible to pgforce.")
}

func objectAccess(ctx context.Context, in orgclient.Inspector, ms []mapping.Mapping) []diagnose.Result {
	if len(ms) == 0 {
		return []diagnose.Result{result("object_access", "Object permissions", diagnose.Skipped, "", "No mappings yet: each object is checked once it is mapped.")}
	}
	var out []diagnose.Result
	for _, m := range ms {
		id, name := "object_access:"+m.Object, "Object permissions: "+m.Object
		a, found, err := in.Access(ctx, m.Object)
		switch {
		case err != nil:
			out = append(out, result(id, name, diagnose.Yellow, fmt.Sprintf(fixObject, m.Object, "Read"), "Could not describe %s: %s", m.Object, errText(err)))
			continue
		case !found || !a.Read:
			out = append(out, result(id, name, diagnose.Red, fmt.Sprintf(fixObject, m.Object, "Read"), "The integration user cannot read %s: the mapping cannot sync it.", m.Object))
			continue
		}
		if m.Config.Access != mapping.ReadWrite {
			out = append(out, result(id, name, diagnose.Green, "", "The integration user can read %s (a read-only mapping).", m.Object))
			continue
		}
		var missing []string
		for _, p := range []struct {
			ok   bool
			name string
		}{{a.Create, "Create"}, {a.Edit, "Edit"}, {a.Delete, "Delete"}} {
			if !p.ok {
				missing = append(missing, p.name)
			}
		}
		if len(missing) > 0 {
			out = append(out, result(id, name, diagnose.Red, fmt.Sprintf(fixObject, m.Object, strings.Join(missing, ", ")),
				"The integration user lacks %s on %s: those writes of the read/write mapping fail.", strings.Join(missing, ", "), m.Object))
			continue
		}
		out = append(out, result(id, name, diagnose.Green, "", "The integration user can read, create, edit and delete %s.", m.Object))
	}
	return out
}

func cdcSelection(ctx context.Context, in orgclient.Inspector, ms []mapping.Mapping) diagnose.Result {
	const id, name = "cdc_selection", "Change Data Capture selection"
	var accelerated []string
	for _, m := range ms {
		if m.Config.Accelerated() {
			accelerated = append(accelerated, m.Object)
		}
	}
	if len(accelerated) == 0 {
		return result(id, name, diagnose.Skipped, "", "No accelerated mapping: every mapping polls.")
	}
	selected, err := in.CDCEntities(ctx)
	if err != nil {
		return result(id, name, diagnose.Yellow, fmt.Sprintf(fixCDC, strings.Join(accelerated, ", ")), "Could not read the org's Change Data Capture selection (Tooling API): %s", errText(err))
	}
	var missing []string
	for _, obj := range accelerated {
		if !slices.ContainsFunc(selected, func(s string) bool { return strings.EqualFold(s, obj) }) {
			missing = append(missing, obj)
		}
	}
	if len(missing) > 0 {
		return result(id, name, diagnose.Yellow, fmt.Sprintf(fixCDC, strings.Join(missing, ", ")),
			"%s %s not selected for Change Data Capture: no change events, so %s instead of streaming.", strings.Join(missing, ", "), plural(len(missing), "is", "are"), plural(len(missing), "it polls", "they poll"))
	}
	return result(id, name, diagnose.Green, "", "Every accelerated mapping's object publishes change events (%s).", strings.Join(accelerated, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func apiUsage(ctx context.Context, in orgclient.Inspector) diagnose.Result {
	const id, name = "api_usage", "API usage headroom"
	remaining, max, err := in.DailyAPI(ctx)
	if err != nil {
		return result(id, name, diagnose.Yellow, fixAPIUsage, "Could not read the org's API limits: %s", errText(err))
	}
	if max <= 0 {
		return result(id, name, diagnose.Skipped, "", "The org reports no daily API allowance.")
	}
	share := float64(max-remaining) / float64(max)
	msg := fmt.Sprintf("%d of %d daily API requests used (%.0f%%), by every client of the org.", max-remaining, max, 100*share)
	switch {
	case share >= diagnose.APIUsageRed:
		return result(id, name, diagnose.Red, fixAPIUsage, "%s At the limit Salesforce refuses every call until the 24-hour window moves on.", msg)
	case share >= diagnose.APIUsageYellow:
		return result(id, name, diagnose.Yellow, fixAPIUsage, "%s", msg)
	}
	return result(id, name, diagnose.Green, "", "%s", msg)
}

func apiVersion(ctx context.Context, in orgclient.Inspector) diagnose.Result {
	const id, name = "api_version", "API version"
	used := in.APIVersion()
	offered, err := in.Versions(ctx)
	if err != nil || len(offered) == 0 {
		why := "it lists none from 50.0 on"
		if err != nil {
			why = errText(err)
		}
		return result(id, name, diagnose.Yellow, fixVersion, "Could not list the org's API versions: %s", why)
	}
	newest := offered[len(offered)-1]
	if !slices.Contains(offered, used) {
		return result(id, name, diagnose.Red, fixVersion, "pgforce uses API version %s, which the org does not offer (it offers %s to %s).", used, offered[0], newest)
	}
	if behind := major(newest) - major(used); behind >= retirementGap {
		return result(id, name, diagnose.Yellow, fixVersion, "pgforce uses API version %s, %d releases behind the org's newest (%s): Salesforce retires versions about three years (nine releases) after they come out.", used, behind, newest)
	}
	return result(id, name, diagnose.Green, "", "pgforce uses API version %s; the org offers up to %s.", used, newest)
}

func major(v string) int {
	var n int
	fmt.Sscanf(v, "%d", &n)
	return n
}

func myDomain(ctx context.Context, in orgclient.Inspector, c connection.Connection) diagnose.Result {
	const id, name = "my_domain", "My Domain"
	ident, err := in.Identity(ctx)
	instance := strings.TrimRight(c.InstanceURL, "/")
	switch {
	case err != nil:
		return result(id, name, diagnose.Yellow, fixMyDomain, "Could not read the integration user's identity: %s", errText(err))
	case ident.CustomDomain == "":
		return result(id, name, diagnose.Yellow, fixMyDomain, "The org has no My Domain: pgforce talks to %s, an instance URL that changes when Salesforce moves the org.", instance)
	case strings.TrimRight(ident.CustomDomain, "/") != instance:
		return result(id, name, diagnose.Yellow, fixMyDomain, "The org's My Domain is %s, but the connection talks to %s.", ident.CustomDomain, instance)
	}
	return result(id, name, diagnose.Green, "", "The connection talks to the org's My Domain, %s.", instance)
}

func scopes(ctx context.Context, in orgclient.Inspector) diagnose.Result {
	const id, name = "oauth_scopes", "Connected app scopes"
	got, err := in.Scopes(ctx)
	if err != nil {
		return result(id, name, diagnose.Skipped, "", "Could not introspect the connection's token: %s", errText(err))
	}
	has := func(s ...string) bool {
		return slices.ContainsFunc(got, func(g string) bool { return slices.Contains(s, g) || g == "full" })
	}
	switch refresh := has("refresh_token", "offline_access"); {
	case !has("api"):
		missing := "api (Manage user data via APIs)"
		if !refresh && !in.Refreshable() {
			missing += " and refresh_token (Perform requests at any time)"
		}
		return result(id, name, diagnose.Red, fmt.Sprintf(fixScopes, missing), "The connection's token lacks %s: without api no call is allowed. It has %s.", missing, strings.Join(got, " "))
	case !in.Refreshable():
		msg := "The connection holds no refresh token: it stops when the session expires (2 hours by default)."
		if refresh {
			return result(id, name, diagnose.Red, fixRefresh, "%s It was authorized with a username and password, a flow that issues none.", msg)
		}
		return result(id, name, diagnose.Red, fixRefresh+" "+fmt.Sprintf(fixScopesFirst, "refresh_token (Perform requests at any time)"),
			"%s Its token (%s) lacks refresh_token: the connected app does not grant it, or the connection was authorized with a username and password, a flow that issues none.", msg, strings.Join(got, " "))
	}
	return result(id, name, diagnose.Green, "", "The connection's token has the scopes pgforce needs, and a refresh token: %s.", strings.Join(got, " "))
}

func pkce(ctx context.Context, in orgclient.Inspector) diagnose.Result {
	const id, name = "pkce", "PKCE"
	required, err := in.RequiresPKCE(ctx)
	switch {
	case err != nil:
		return result(id, name, diagnose.Yellow, fixPKCE, "Could not ask the org whether the connected app requires PKCE: %s", errText(err))
	case !required:
		return result(id, name, diagnose.Yellow, fixPKCE, "The org did not refuse an authorization request without a PKCE challenge: the connected app does not require PKCE.")
	}
	return result(id, name, diagnose.Green, "", "The connected app requires PKCE (pgforce sends an S256 challenge with every authorization).")
}
