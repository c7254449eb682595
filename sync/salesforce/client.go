package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TokenStore persists tokens after a refresh (pgforce seals them with the instance key).
type TokenStore func(ctx context.Context, access, refresh string) error

// Options configure a Client.
type Options struct {
	App        App
	Token      *Token
	Store      TokenStore
	APIVersion string // "62.0"; empty = the newest the org offers (at least 50.0)
	HTTPClient *http.Client
	// MaxAttempts bounds tries of one request for retriable failures (default 4).
	MaxAttempts int
	// Backoff returns the delay before retry n (default: jittered exponential from 500 ms, max 15 s).
	Backoff func(attempt int) time.Duration
	Logger  *slog.Logger
}

// Client talks to one org as one authorized user.
type Client struct {
	opts    Options
	hc      *http.Client
	version string

	mu       sync.Mutex
	access   string
	refresh  string
	instance string

	statsMu   sync.Mutex
	calls     map[string]int
	used, max int
	usageAt   time.Time

	descMu    sync.Mutex
	describes map[string]cachedDescribe
}

// New returns a client; with an empty APIVersion it asks the org for its versions.
func New(ctx context.Context, opts Options) (*Client, error) {
	if opts.Token == nil || opts.Token.InstanceURL == "" {
		return nil, errors.New("salesforce: a token with an instance URL is required")
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 4
	}
	if opts.Backoff == nil {
		opts.Backoff = defaultBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Minute}
	}
	if opts.App.HTTPClient == nil {
		opts.App.HTTPClient = hc
	}
	c := &Client{opts: opts, hc: hc, access: opts.Token.AccessToken, refresh: opts.Token.RefreshToken,
		instance: strings.TrimRight(opts.Token.InstanceURL, "/"), calls: map[string]int{}, describes: map[string]cachedDescribe{}}
	c.version = strings.TrimPrefix(opts.APIVersion, "v")
	if c.version == "" {
		vs, err := c.Versions(ctx)
		if err != nil {
			return nil, err
		}
		if len(vs) == 0 {
			return nil, errors.New("salesforce: the org lists no API versions")
		}
		c.version = vs[len(vs)-1].Version
	}
	return c, nil
}

func defaultBackoff(attempt int) time.Duration {
	d := 500 * time.Millisecond << min(attempt, 5)
	if d > 15*time.Second {
		d = 15 * time.Second
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)))
}

// APIVersion is the version the client uses ("62.0").
func (c *Client) APIVersion() string { return c.version }

// InstanceURL is the org's instance.
func (c *Client) InstanceURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.instance
}

// Usage is the daily API usage from the last Sforce-Limit-Info header.
func (c *Client) Usage() (used, max int, at time.Time) {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	return c.used, c.max, c.usageAt
}

// Stats returns API calls made through this client, by kind.
func (c *Client) Stats() map[string]int {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	out := map[string]int{}
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

var limitRe = regexp.MustCompile(`api-usage=(\d+)/(\d+)`)

func (c *Client) count(kind string, h http.Header) {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	c.calls[kind]++
	if h == nil {
		return
	}
	if m := limitRe.FindStringSubmatch(h.Get("Sforce-Limit-Info")); m != nil {
		c.used, _ = strconv.Atoi(m[1])
		c.max, _ = strconv.Atoi(m[2])
		c.usageAt = time.Now()
	}
}

// request is one API call.
type request struct {
	method     string
	path       string // absolute path on the instance ("/services/data/v62.0/...") or relative to the version root ("sobjects/...")
	body       []byte
	header     http.Header
	idempotent bool   // safe to resend after a network failure
	kind       string // for Stats
	stream     bool   // return the response with its body open
}

func (c *Client) url(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	if !strings.HasPrefix(path, "/") {
		path = "/services/data/v" + c.version + "/" + path
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.instance + path
}

// answered turns a path from one of Salesforce's answers (nextRecordsUrl) into a URL: such paths are
// relative to the host, not to the instance URL's path (which only an org mounted under a path, like
// pgforce's "/sim", has).
func (c *Client) answered(path string) string {
	c.mu.Lock()
	instance := c.instance
	c.mu.Unlock()
	if u, err := url.Parse(instance); err == nil && u.Host != "" && strings.HasPrefix(path, "/") {
		return u.Scheme + "://" + u.Host + path
	}
	return path
}

// response is a finished call.
type response struct {
	status int
	header http.Header
	body   []byte
	res    *http.Response // set for stream requests; caller closes Body
}

// send runs a request with refresh-once on INVALID_SESSION_ID and retries with backoff for retriable
// failures (network errors only when the request is idempotent).
func (c *Client) send(ctx context.Context, r request) (*response, error) {
	refreshed := false
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, r)
		if err == nil {
			return resp, nil
		}
		var se *Error
		if !errors.As(err, &se) {
			return nil, err
		}
		if se.Kind == NeedAuthentication && se.Status == http.StatusUnauthorized && !refreshed {
			refreshed = true
			if rerr := c.refreshToken(ctx); rerr != nil {
				return nil, rerr
			}
			attempt--
			continue
		}
		network := se.Status == 0
		if se.Kind != Retriable || attempt+1 >= c.opts.MaxAttempts || (network && !r.idempotent) {
			return nil, err
		}
		delay := c.opts.Backoff(attempt)
		c.opts.Logger.Debug("retrying Salesforce call", "path", r.path, "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
}

func (c *Client) once(ctx context.Context, r request) (*response, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.url(r.path), body)
	if err != nil {
		return nil, fmt.Errorf("salesforce request: %w", err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" && r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	c.mu.Lock()
	req.Header.Set("Authorization", "Bearer "+c.access)
	c.mu.Unlock()
	// Names pgforce in the changeOrigin of the change events its writes cause (";client=pgforce",
	// ";client=pgforce/writer"), so other subscribers, and admins, can tell its writes from their
	// own; the org's usage by client tells which part of pgforce made a call.
	req.Header.Set("Sforce-Call-Options", "client="+callClient(ctx))
	res, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, transportError(err)
	}
	c.count(r.kind, res.Header)
	if res.StatusCode >= 400 {
		defer res.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return nil, parseError(res.StatusCode, raw)
	}
	if r.stream {
		return &response{status: res.StatusCode, header: res.Header, res: res}, nil
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, transportError(err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: raw}, nil
}

// parseError reads Salesforce's error array (or an OAuth-style object, or plain text).
func parseError(status int, raw []byte) error {
	var arr []struct {
		ErrorCode string   `json:"errorCode"`
		Message   string   `json:"message"`
		Fields    []string `json:"fields"`
	}
	e := &Error{Status: status, Code: http.StatusText(status), Message: strings.TrimSpace(string(raw))}
	if json.Unmarshal(raw, &arr) == nil && len(arr) > 0 {
		e.Code, e.Message, e.Fields = arr[0].ErrorCode, arr[0].Message, arr[0].Fields
	}
	if len(e.Message) > 2000 {
		e.Message = e.Message[:2000]
	}
	return classify(e)
}

// refreshToken gets a new access token with the refresh token and saves it; without a refresh token,
// or when Salesforce refuses it, the client needs re-authorization.
func (c *Client) refreshToken(ctx context.Context) error {
	c.mu.Lock()
	refresh := c.refresh
	c.mu.Unlock()
	if refresh == "" {
		return &Error{Status: 401, Code: "INVALID_SESSION_ID", Message: "Session expired or invalid, and there is no refresh token", Kind: NeedAuthentication}
	}
	t, err := c.opts.App.Refresh(ctx, refresh)
	if err != nil {
		var se *Error
		if errors.As(err, &se) && se.Kind == NeedAuthentication {
			se.Message = "Salesforce refused the refresh token (" + se.Message + "): re-authorize the connection"
		}
		return err
	}
	c.mu.Lock()
	c.access = t.AccessToken
	if t.RefreshToken != "" {
		c.refresh = t.RefreshToken
	}
	if t.InstanceURL != "" {
		c.instance = strings.TrimRight(t.InstanceURL, "/")
	}
	access, newRefresh := c.access, t.RefreshToken
	c.mu.Unlock()
	if c.opts.Store != nil {
		if err := c.opts.Store(ctx, access, newRefresh); err != nil {
			return fmt.Errorf("save refreshed token: %w", err)
		}
	}
	return nil
}

func (c *Client) getJSON(ctx context.Context, path, kind string, out any) error {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: path, idempotent: true, kind: kind})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return fmt.Errorf("salesforce: decode %s: %w", path, err)
	}
	return nil
}

// Version is one API version the org offers.
type Version struct {
	Label, URL, Version string
}

// Versions lists the org's API versions, oldest first.
func (c *Client) Versions(ctx context.Context) ([]Version, error) {
	var vs []Version
	if err := c.getJSON(ctx, "/services/data/", "discovery", &vs); err != nil {
		return nil, err
	}
	var out []Version
	for _, v := range vs {
		var major int
		if _, err := fmt.Sscanf(v.Version, "%d", &major); err == nil && major >= 50 {
			out = append(out, v)
		}
	}
	return out, nil
}

// Limits returns the org's /limits.
func (c *Client) Limits(ctx context.Context) (map[string]struct{ Max, Remaining int }, error) {
	out := map[string]struct{ Max, Remaining int }{}
	err := c.getJSON(ctx, "limits", "limits", &out)
	return out, err
}
