package salesforce

import (
	"context"
	"strings"
)

// Session is what another API of the same org (the Pub/Sub API) needs to act as this client: the
// current access token, the instance URL and the org id.
func (c *Client) Session() (accessToken, instanceURL, orgID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	orgID = c.opts.Token.OrgID()
	if orgID == "" {
		// Salesforce's access tokens begin with the org id: "00D…!…".
		orgID, _, _ = strings.Cut(c.access, "!")
	}
	return c.access, c.instance, orgID
}

// RefreshSession gets a new access token after another API of the org refused the current one.
func (c *Client) RefreshSession(ctx context.Context) error { return c.refreshToken(ctx) }
