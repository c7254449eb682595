// Package handlers holds the dashboard's HTTP handlers, one file per action. A handler parses the
// request, makes one call to a service, builds a view model and renders it; it holds no SQL.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"pgforce/internal/account"
	"pgforce/internal/apitoken"
	"pgforce/sync/audit"
	"pgforce/sync/diagnose"
	"pgforce/sync/doctor"
)

// Accounts is what handlers need from the user service.
type Accounts interface {
	Authenticate(ctx context.Context, email, password, clientIP string) (account.User, error)
	Get(ctx context.Context, id int64) (account.User, error)
	CheckSetupToken(ctx context.Context, token string) error
	CompleteSetup(ctx context.Context, token, email, password string) (account.User, error)
	List(ctx context.Context) ([]account.User, error)
	Create(ctx context.Context, actor audit.Actor, email, password string, role account.Role) (account.User, error)
	Remove(ctx context.Context, actor audit.Actor, email string) error
}

// actorOf names the signed-in user for the audit trail.
func actorOf(c echo.Context) audit.Actor {
	u, _ := account.FromContext(c.Request().Context())
	return audit.Actor{Name: u.Email, Kind: audit.ActorUser}
}

// Handlers serves the dashboard.
type Handlers struct {
	Log      *slog.Logger
	Sessions *scs.SessionManager
	Accounts Accounts
	// Ready reports whether the product can serve traffic (database reachable, migrations current).
	Ready func(ctx context.Context) error

	// The administration: every change to connections, mappings and failed writes.
	Connections   ConnectionAdmin
	Mappings      MappingAdmin
	Configuration ConfigurationAdmin
	Writes        WriteAdmin
	Verifications VerificationAdmin
	Conflicts     ConflictAdmin
	// Reports answers the dashboard's read-only queries.
	Reports Reports
	// BaseURL is the dashboard's public URL; the OAuth callback is BaseURL + "/oauth/callback".
	BaseURL string
	// SimulatedOrg offers the built-in simulated Salesforce org (served under /sim) when setting up a
	// connection; SimulatedLoginURL is its login URL.
	SimulatedOrg      bool
	SimulatedLoginURL string
	// SimOrg is the built-in simulated org itself when this process serves it (nil otherwise): the
	// Simulated org page drives it through its Go API.
	SimOrg SimulatedOrgControl
	// Now is the clock (tests pin it); time.Now when nil.
	Now func() time.Time

	// Tokens checks the REST API's bearer tokens.
	Tokens Tokens
	// Diagnose runs a connection's health checks (diagnose.Checker).
	Diagnose Diagnoser
	// Doctor checks a connected org's setup (doctor.Doctor); nil leaves it out.
	Doctor OrgDoctor
	// Metrics serves Prometheus metrics; nil answers 404.
	Metrics http.Handler
}

// Tokens is what the API needs from the token service (*apitoken.Service implements it).
type Tokens interface {
	Authenticate(ctx context.Context, secret string) (apitoken.Token, error)
}

// Diagnoser runs the health checks of a connection (diagnose.Checker implements it).
type Diagnoser interface {
	Run(ctx context.Context, connID int64) (diagnose.Report, error)
}

// OrgDoctor checks how a connection's org is set up (doctor.Doctor implements it).
type OrgDoctor interface {
	Run(ctx context.Context, connID int64) (doctor.Report, error)
}

func (h *Handlers) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
