package orgclient

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/salesforce"
	"pgforce/sync/salesforce/bayeux"
)

// ConnectedApp is the connected app pgforce uses with an org: the same for every connection to a real
// org; the simulated org has its own.
type ConnectedApp struct {
	ClientID, ClientSecret string
}

// SalesforceOrgs implements Orgs with the Salesforce client.
type SalesforceOrgs struct {
	// App returns the connected app for a connection's org type and login URL.
	App        func(c connection.Connection) ConnectedApp
	HTTPClient *http.Client
	// PubSub says where a connection's org serves the Pub/Sub API; nil (or a nil answer) = nowhere,
	// and accelerated mappings stream over CometD.
	PubSub func(c connection.Connection) *PubSubEndpoint
}

func (s SalesforceOrgs) app(c connection.Connection, redirectURL string) salesforce.App {
	ca := s.App(c)
	return salesforce.App{LoginURL: c.LoginURL, ClientID: ca.ClientID, ClientSecret: ca.ClientSecret, RedirectURL: redirectURL, HTTPClient: s.HTTPClient}
}

// Open returns an org client for an authorized connection.
func (s SalesforceOrgs) Open(ctx context.Context, c connection.Connection, tokens connection.Tokens, save func(ctx context.Context, access, refresh string) error) (Org, error) {
	client, err := salesforce.New(ctx, salesforce.Options{
		App:        s.app(c, ""),
		Token:      &salesforce.Token{AccessToken: tokens.AccessToken, RefreshToken: tokens.RefreshToken, InstanceURL: c.InstanceURL, ID: c.IdentityURL},
		Store:      salesforce.TokenStore(save),
		APIVersion: c.APIVersion,
		HTTPClient: s.HTTPClient,
	})
	if err != nil {
		return nil, err
	}
	if c.APIVersion != "" {
		if err := offered(ctx, client, client.APIVersion()); err != nil {
			return nil, err
		}
	}
	org := &sfOrg{c: client}
	if s.PubSub != nil {
		org.pubsub = s.PubSub(c)
	}
	return org, nil
}

// offered checks that the org offers API version v (every call would otherwise fail with
// NOT_FOUND): the org lists its versions at /services/data.
func offered(ctx context.Context, client *salesforce.Client, v string) error {
	return versionOffered(ctx, client, v, "The org", "Choose one of those.")
}

// versionOffered is offered with the refusal's subject and what the admin does next.
func versionOffered(ctx context.Context, client *salesforce.Client, v, subject, fix string) error {
	vs, err := client.Versions(ctx)
	if err != nil {
		return err
	}
	for _, o := range vs {
		if o.Version == v {
			return nil
		}
	}
	if len(vs) == 0 {
		return failure.InvalidField("api_version", "%s lists no Salesforce API version from 50.0 on, so pgforce cannot use API version %s with it. %s", subject, v, fix)
	}
	return failure.InvalidField("api_version", "%s does not offer Salesforce API version %s: it offers %s to %s. %s", subject, v, vs[0].Version, vs[len(vs)-1].Version, fix)
}

// AuthCodeURL is the authorize URL for the connection's org.
func (s SalesforceOrgs) AuthCodeURL(c connection.Connection, redirectURL, state, verifier string) (string, error) {
	return s.app(c, redirectURL).AuthCodeURL(state, verifier), nil
}

// Exchange completes the web-server flow.
func (s SalesforceOrgs) Exchange(ctx context.Context, c connection.Connection, redirectURL, code, verifier string) (Authorization, error) {
	a := s.app(c, redirectURL)
	tok, err := a.Exchange(ctx, code, verifier)
	if err != nil {
		return Authorization{}, err
	}
	return s.authorization(ctx, c, a, tok)
}

// Password authorizes with a username and password.
func (s SalesforceOrgs) Password(ctx context.Context, c connection.Connection, username, password string) (Authorization, error) {
	a := s.app(c, "")
	tok, err := a.Password(ctx, username, password)
	var se *salesforce.Error
	if errors.As(err, &se) && se.Code == "invalid_grant" {
		// Salesforce answers a blocked flow exactly as a wrong password: say both.
		return Authorization{}, failure.Wrap(err, failure.Unauthenticated, "Salesforce refused the username and password (invalid_grant: %s). "+
			"Check them (append the user's security token to the password if the org asks for one), and that the org allows the OAuth "+
			"username-password flow: Setup → OAuth and OpenID Connect Settings → Allow OAuth Username-Password Flows, which orgs created "+
			"since Summer '23 block. Or authorize in the dashboard instead (Settings → Authorize).", se.Message)
	}
	if err != nil {
		return Authorization{}, err
	}
	return s.authorization(ctx, c, a, tok)
}

// authorization identifies the user Salesforce authorized, and checks that the org offers the
// connection's API version: an authorization every call of which would fail is refused (and its
// tokens revoked), so the connection stays as it was instead of looking authorized while broken.
func (s SalesforceOrgs) authorization(ctx context.Context, c connection.Connection, a salesforce.App, tok *salesforce.Token) (Authorization, error) {
	id, err := a.Identity(ctx, tok)
	if err != nil {
		return Authorization{}, err
	}
	if err := s.versionOfferedTo(ctx, c, a, tok, id.Username); err != nil {
		return Authorization{}, err
	}
	issued := time.Now()
	return Authorization{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, InstanceURL: tok.InstanceURL, IdentityURL: tok.ID,
		OrgID: id.OrgID, OrgName: id.OrgName, UserID: id.UserID, Username: id.Username, IssuedAt: issued}, nil
}

// versionOfferedTo checks the connection's API version against the org a new authorization is for.
// On a refusal the new tokens are revoked (best effort): pgforce keeps nothing of it.
func (s SalesforceOrgs) versionOfferedTo(ctx context.Context, c connection.Connection, a salesforce.App, tok *salesforce.Token, username string) error {
	if c.APIVersion == "" {
		return nil
	}
	client, err := salesforce.New(ctx, salesforce.Options{App: a, Token: tok, APIVersion: c.APIVersion, HTTPClient: s.HTTPClient})
	if err != nil {
		return err
	}
	err = versionOffered(ctx, client, client.APIVersion(), "Salesforce authorized pgforce as "+username+", but the org",
		"The authorization was not kept: set the connection's API version to one of those (Settings → Salesforce API version), then authorize again.")
	if failure.KindOf(err) == failure.Invalid {
		revoke := cmp.Or(tok.RefreshToken, tok.AccessToken) // a refresh token's revocation ends its access tokens too
		_ = a.Revoke(ctx, revoke)
	}
	return err
}

// Revoke revokes a token.
func (s SalesforceOrgs) Revoke(ctx context.Context, c connection.Connection, token string) error {
	return s.app(c, "").Revoke(ctx, token)
}

// sfOrg adapts *salesforce.Client to Org (and PubSubOrg).
type sfOrg struct {
	c      *salesforce.Client
	pubsub *PubSubEndpoint
}

func (o *sfOrg) Objects(ctx context.Context) ([]ObjectSummary, error) {
	objs, err := o.c.DescribeGlobal(ctx)
	if err != nil {
		return nil, err
	}
	return summaries(objs), nil
}

func (o *sfOrg) ObjectsModifiedSince(ctx context.Context, since time.Time) ([]ObjectSummary, bool, error) {
	objs, modified, err := o.c.DescribeGlobalSince(ctx, since)
	if err != nil || !modified {
		return nil, modified, err
	}
	return summaries(objs), true, nil
}

func summaries(objs []salesforce.SObjectSummary) []ObjectSummary {
	out := make([]ObjectSummary, 0, len(objs))
	for _, x := range objs {
		out = append(out, ObjectSummary{Name: x.Name, Label: x.Label, Custom: x.Custom, Queryable: x.Queryable, Createable: x.Createable, Updateable: x.Updateable})
	}
	return out
}

func (o *sfOrg) Describe(ctx context.Context, object string) (mapping.Object, error) {
	d, err := o.c.Describe(ctx, object)
	if err != nil {
		return mapping.Object{}, err
	}
	obj := mapping.Object{Name: d.Name, Label: d.Label, Queryable: d.Queryable, Createable: d.Createable, Updateable: d.Updateable}
	for _, f := range d.Fields {
		obj.Fields = append(obj.Fields, mapping.Field{Name: f.Name, Label: f.Label, Type: f.Type, Length: f.Length, Precision: f.Precision,
			Scale: f.Scale, Digits: f.Digits, Nillable: f.Nillable, Createable: f.Createable, Updateable: f.Updateable,
			DefaultedOnCreate: f.DefaultedOnCreate, ExternalID: f.ExternalID, IDLookup: f.IDLookup, Unique: f.Unique,
			Calculated: f.Calculated || f.AutoNumber, ReferenceTo: f.ReferenceTo, RelationshipName: f.RelationshipName})
	}
	return obj, nil
}

func (o *sfOrg) Count(ctx context.Context, soql string) (int, error) { return o.c.Count(ctx, soql) }

func (o *sfOrg) Query(ctx context.Context, soql string, all bool, fn func(rec map[string]json.RawMessage) error) (int, error) {
	return o.c.Query(ctx, soql, all, func(r salesforce.Record) error { return fn(r) })
}

func (o *sfOrg) BulkQuery(ctx context.Context, soql string, all bool, state func(BulkState), page func(csv io.Reader) error) error {
	_, err := o.c.BulkQuery(ctx, soql, all, salesforce.BulkQueryOptions{OnState: func(s string) {
		if state == nil {
			return
		}
		if strings.EqualFold(s, "loading") {
			state(BulkLoading)
		} else {
			state(BulkWaiting)
		}
	}}, page)
	return err
}

func (o *sfOrg) Calls() map[string]int { return o.c.Stats() }

func (o *sfOrg) BulkWrite(ctx context.Context, object, operation, extIDField string, csv []byte) (BulkWriteResult, error) {
	res, err := o.c.BulkIngest(ctx, salesforce.IngestJob{Object: object, Operation: operation, ExternalIDFieldName: extIDField}, csv)
	if err != nil {
		return BulkWriteResult{}, err
	}
	return BulkWriteResult{Header: res.Header, Successful: res.Successful, Failed: res.Failed, Unprocessed: res.Unprocessed}, nil
}

func (o *sfOrg) Usage() (used, max int) {
	u, m, _ := o.c.Usage()
	return u, m
}

func results(rs []salesforce.SaveResult, err error) ([]SaveResult, error) {
	out := make([]SaveResult, len(rs))
	for i, r := range rs {
		out[i] = SaveResult{ID: r.ID, Success: r.Success, Created: r.Created}
		for _, e := range r.Errors {
			out[i].Errors = append(out[i].Errors, RecordError{StatusCode: e.StatusCode, Message: e.Message, Fields: e.Fields})
		}
	}
	return out, err
}

func (o *sfOrg) CreateMany(ctx context.Context, object string, recs []map[string]any) ([]SaveResult, error) {
	return results(o.c.CreateMany(ctx, object, recs, false))
}

func (o *sfOrg) UpdateMany(ctx context.Context, object string, recs []map[string]any) ([]SaveResult, error) {
	return results(o.c.UpdateMany(ctx, object, recs, false))
}

func (o *sfOrg) UpsertMany(ctx context.Context, object, extIDField string, recs []map[string]any) ([]SaveResult, error) {
	return results(o.c.UpsertMany(ctx, object, extIDField, recs, false))
}

func (o *sfOrg) DeleteMany(ctx context.Context, ids []string) ([]SaveResult, error) {
	return results(o.c.DeleteMany(ctx, ids, false))
}

func (o *sfOrg) UpdateUnmodifiedSince(ctx context.Context, object string, rec map[string]any, since time.Time) (SaveResult, error) {
	id, _ := rec["Id"].(string)
	fields := make(map[string]any, len(rec))
	for k, v := range rec {
		if k != "Id" {
			fields[k] = v
		}
	}
	err := o.c.UpdateIfUnmodifiedSince(ctx, object, id, fields, since)
	if err == nil {
		return SaveResult{ID: id, Success: true}, nil
	}
	var se *salesforce.Error
	// Salesforce's refusal of this record (a 4xx answer; the client already retried a lock or a busy
	// server) is the record's result, as in a collection; limits and authentication fail the call.
	if errors.As(err, &se) && se.Status >= 400 && se.Status < 500 && (se.Kind == salesforce.Permanent || se.Kind == salesforce.Retriable) {
		return SaveResult{ID: id, Errors: []RecordError{{StatusCode: se.Code, Message: se.Message, Fields: se.Fields}}}, nil
	}
	return SaveResult{}, err
}

func (o *sfOrg) Stream(ctx context.Context, objects map[string]int64, fn func(StreamEvent)) error {
	channels := map[string]int64{}
	byChannel := map[string]string{}
	for obj, replay := range objects {
		ch := salesforce.ChannelFor(obj)
		channels[ch], byChannel[ch] = replay, obj
	}
	refused := func(err *bayeux.SubscribeError) {
		ev := StreamEvent{Object: byChannel[err.Channel]}
		switch {
		case errors.Is(err, bayeux.ErrReplayUnavailable):
			ev.Err = fmt.Errorf("%w: %s", ErrReplayGone, err.Reason)
		default: // bayeux.ErrNoChannel: the client reports no other refusal here
			ev.Err = fmt.Errorf("%w: %s", ErrNoChangeEvents, err.Reason)
		}
		fn(ev)
	}
	event := func(_ context.Context, e bayeux.Event) error {
		ev := StreamEvent{Object: byChannel[e.Channel], ReplayID: e.ReplayID}
		if ce, err := bayeux.DecodeChangeEvent(e.Data); err == nil {
			ev.ChangeType, ev.RecordIDs = ce.Header.ChangeType, ce.Header.RecordIDs
			if ev.Object == "" {
				ev.Object = ce.Header.EntityName
			}
		}
		fn(ev)
		return nil
	}
	subscribed := func(ch string) { fn(StreamEvent{Object: byChannel[ch], Subscribed: true}) }
	return o.c.Stream(ctx, channels, salesforce.StreamHandler{Event: event, Subscribed: subscribed, Refused: refused})
}

// ObjectGone reports whether a call failed because its object does not exist for this user (removed
// or renamed in Salesforce, or no longer visible). A describe of it answers 404 NOT_FOUND (describe
// set); any other call, a query's INVALID_TYPE "sObject type 'X' is not supported" naming it (a 404
// there can mean something else, such as a Bulk job that is gone).
func ObjectGone(err error, object string, describe bool) bool {
	var se *salesforce.Error
	if !errors.As(err, &se) {
		return false
	}
	if describe && (se.Status == 404 || se.Code == "NOT_FOUND") {
		return true
	}
	return se.Code == "INVALID_TYPE" && strings.Contains(strings.ToLower(se.Message), strings.ToLower("sObject type '"+object+"' is not supported"))
}

func (o *sfOrg) QueryBatch(ctx context.Context, queries []BatchQuery) ([]FirstPage, error) {
	soqls, all := make([]string, len(queries)), make([]bool, len(queries))
	for i, q := range queries {
		soqls[i], all[i] = q.SOQL, q.All
	}
	pages, err := o.c.QueryBatch(ctx, soqls, all)
	if err != nil {
		return nil, err
	}
	out := make([]FirstPage, len(pages))
	for i, p := range pages {
		out[i] = FirstPage{Total: p.Total, Next: p.Next, Err: p.Err, Records: make([]map[string]json.RawMessage, len(p.Records))}
		for j, r := range p.Records {
			out[i].Records[j] = r
		}
	}
	return out, nil
}

func (o *sfOrg) QueryMore(ctx context.Context, next string, fn func(rec map[string]json.RawMessage) error) error {
	return o.c.QueryMore(ctx, next, func(r salesforce.Record) error { return fn(r) })
}

// WithPart names the part of pgforce whose calls ctx carries, to Salesforce (Sforce-Call-Options
// client=pgforce/<part>), so an org's API usage by client tells the parts apart.
func WithPart(ctx context.Context, part string) context.Context {
	return salesforce.WithCallPart(ctx, part)
}
