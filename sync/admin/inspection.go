package admin

import (
	"context"

	"pgforce/sync/engine/connection"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
)

// Inspection opens readers of a connected org's setup, for `pgforce doctor`; it changes nothing but
// the stored tokens when they are refreshed.
type Inspection struct{ *base }

// Org returns an inspector of an authorized connection's org and the connection. redirectURL is
// the dashboard's OAuth callback (the PKCE probe asks the org for it).
func (s *Inspection) Org(ctx context.Context, connID int64, redirectURL string) (orgclient.Inspector, connection.Connection, error) {
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return nil, c, err
	}
	if c.State == connection.New || c.AuthorizedAt == nil {
		return nil, c, failure.E(failure.Conflict, "Authorize the connection with Salesforce first.")
	}
	tokens, err := connection.LoadTokens(ctx, s.opts.Pool, s.opts.Keyring, c.ID)
	if err != nil {
		return nil, c, err
	}
	in, err := s.opts.Orgs.Inspect(ctx, c, tokens, s.tokenSaver(c.ID), redirectURL)
	return in, c, err
}
