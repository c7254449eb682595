package orgclient

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"pgforce/sync/engine/connection"
	"pgforce/sync/salesforce"
)

// Inspector reads how a connected org is set up, for `pgforce doctor`: what the integration user
// may do, what the connected app grants, which entities publish change events, how much API
// allowance is left. It only reads.
type Inspector interface {
	// APIVersion is the version the connection uses; Versions lists those the org offers.
	APIVersion() string
	Versions(ctx context.Context) ([]string, error)
	// DailyAPI is the org's daily API allowance (DailyApiRequests of /limits).
	DailyAPI(ctx context.Context) (remaining, max int, err error)
	// Identity is the integration user's identity (with the org's My Domain, if any).
	Identity(ctx context.Context) (salesforce.Identity, error)
	// Permissions are the integration user's system permissions (UserPermissionAccess): PermissionsApiEnabled, PermissionsViewAllData, …
	Permissions(ctx context.Context) (map[string]bool, error)
	// Access is what the integration user may do with an object; found is false when it cannot see it.
	Access(ctx context.Context, object string) (a ObjectAccess, found bool, err error)
	// CDCEntities are the objects selected for Change Data Capture on the standard channel.
	CDCEntities(ctx context.Context) ([]string, error)
	// Scopes are the OAuth scopes of the connection's access token (token introspection).
	Scopes(ctx context.Context) ([]string, error)
	// Refreshable says whether the connection holds a refresh token (the username-password flow
	// issues none: such a connection stops when its session expires).
	Refreshable() bool
	// RequiresPKCE says whether the connected app refuses an authorization without a PKCE challenge.
	RequiresPKCE(ctx context.Context) (bool, error)
}

// ObjectAccess is what describe says the integration user may do with an object.
type ObjectAccess struct {
	Read, Create, Edit, Delete bool
}

// Inspect opens an inspector for an authorized connection; redirectURL is the dashboard's OAuth
// callback (the PKCE probe asks for it).
func (s SalesforceOrgs) Inspect(ctx context.Context, c connection.Connection, tokens connection.Tokens, save func(ctx context.Context, access, refresh string) error, redirectURL string) (Inspector, error) {
	app := s.app(c, redirectURL)
	client, err := salesforce.New(ctx, salesforce.Options{
		App:        app,
		Token:      &salesforce.Token{AccessToken: tokens.AccessToken, RefreshToken: tokens.RefreshToken, InstanceURL: c.InstanceURL, ID: c.IdentityURL},
		Store:      salesforce.TokenStore(save),
		APIVersion: c.APIVersion,
		HTTPClient: s.HTTPClient,
		// One try: the doctor reports what it finds rather than waiting out a failing org.
		MaxAttempts: 1,
	})
	if err != nil {
		return nil, err
	}
	return &inspector{c: client, app: app, identityURL: c.IdentityURL, refreshable: tokens.RefreshToken != ""}, nil
}

type inspector struct {
	c           *salesforce.Client
	app         salesforce.App
	identityURL string
	refreshable bool
}

func (i *inspector) Refreshable() bool { return i.refreshable }

func (i *inspector) APIVersion() string { return i.c.APIVersion() }

func (i *inspector) Versions(ctx context.Context) ([]string, error) {
	vs, err := i.c.Versions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(vs))
	for k, v := range vs {
		out[k] = v.Version
	}
	return out, nil
}

func (i *inspector) DailyAPI(ctx context.Context) (int, int, error) {
	lim, err := i.c.Limits(ctx)
	if err != nil {
		return 0, 0, err
	}
	d, ok := lim["DailyApiRequests"]
	if !ok {
		return 0, 0, errors.New("the org's limits have no DailyApiRequests")
	}
	return d.Remaining, d.Max, nil
}

func (i *inspector) Identity(ctx context.Context) (salesforce.Identity, error) {
	access, _, _ := i.c.Session()
	id, err := i.app.Identity(ctx, &salesforce.Token{AccessToken: access, ID: i.identityURL})
	if err != nil {
		return salesforce.Identity{}, err
	}
	return *id, nil
}

func (i *inspector) Permissions(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	_, err := i.c.Query(ctx, "SELECT PermissionsApiEnabled, PermissionsViewAllData, PermissionsModifyAllData FROM UserPermissionAccess", false,
		func(r salesforce.Record) error {
			for k, v := range r {
				var b bool
				if strings.HasPrefix(k, "Permissions") && json.Unmarshal(v, &b) == nil {
					out[k] = b
				}
			}
			return nil
		})
	return out, err
}

func (i *inspector) Access(ctx context.Context, object string) (ObjectAccess, bool, error) {
	d, err := i.c.Describe(ctx, object)
	var se *salesforce.Error
	if errors.As(err, &se) && se.Status == 404 {
		return ObjectAccess{}, false, nil
	}
	if err != nil {
		return ObjectAccess{}, false, err
	}
	return ObjectAccess{Read: d.Queryable, Create: d.Createable, Edit: d.Updateable, Delete: d.Deletable}, true, nil
}

func (i *inspector) CDCEntities(ctx context.Context) ([]string, error) {
	var out []string
	_, err := i.c.ToolingQuery(ctx, "SELECT SelectedEntity, EventChannel FROM PlatformEventChannelMember", func(r salesforce.Record) error {
		var entity, channel string
		_ = json.Unmarshal(r["SelectedEntity"], &entity)
		_ = json.Unmarshal(r["EventChannel"], &channel)
		if channel != "" && !strings.EqualFold(channel, "ChangeEvents") {
			return nil // a custom channel: its events do not reach the object's own channel
		}
		if obj, ok := changeEventObject(entity); ok {
			out = append(out, obj)
		}
		return nil
	})
	return out, err
}

// changeEventObject turns a change event entity into its object: AccountChangeEvent → Account,
// Invoice__ChangeEvent → Invoice__c.
func changeEventObject(entity string) (string, bool) {
	switch {
	case strings.HasSuffix(entity, "__ChangeEvent"):
		return strings.TrimSuffix(entity, "__ChangeEvent") + "__c", true
	case strings.HasSuffix(entity, "ChangeEvent"):
		return strings.TrimSuffix(entity, "ChangeEvent"), true
	}
	return "", false
}

func (i *inspector) Scopes(ctx context.Context) ([]string, error) {
	if _, err := i.c.Limits(ctx); err != nil { // a live access token to introspect (refreshed if it expired)
		return nil, err
	}
	access, _, _ := i.c.Session()
	in, err := i.app.Introspect(ctx, access)
	if err != nil {
		return nil, err
	}
	if !in.Active {
		return nil, errors.New("Salesforce says the connection's access token is not active")
	}
	return strings.Fields(in.Scope), nil
}

func (i *inspector) RequiresPKCE(ctx context.Context) (bool, error) { return i.app.RequiresPKCE(ctx) }
