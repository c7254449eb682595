package salesforce

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"pgforce/sync/salesforce/bayeux"
)

// ChannelFor is an object's Change Data Capture channel (Invoice__c → /data/Invoice__ChangeEvent).
func ChannelFor(object string) string {
	if strings.HasSuffix(object, "__c") {
		return "/data/" + strings.TrimSuffix(object, "__c") + "__ChangeEvent"
	}
	return "/data/" + object + "ChangeEvent"
}

// Stream subscribes to Change Data Capture channels (channel → replay id to resume after, -1 for
// new events) and calls fn for each event until ctx ends. An authentication failure is repaired
// once with the refresh token; a replay id outside the retention window returns an error wrapping
// bayeux.ErrReplayUnavailable so the caller can fall back to polling.
func (c *Client) Stream(ctx context.Context, channels map[string]int64, fn func(ctx context.Context, e bayeux.Event) error) error {
	refreshed := false
	for {
		bc := bayeux.NewClient(bayeux.ClientOptions{
			URL:        c.InstanceURL() + "/cometd/" + c.version,
			HTTPClient: &http.Client{Transport: c.hc.Transport, Timeout: 3 * time.Minute},
			Token: func(context.Context) (string, error) {
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.access, nil
			},
		})
		for ch, replay := range channels {
			bc.Subscribe(ch, replay)
		}
		err := bc.Run(ctx, func(ctx context.Context, e bayeux.Event) error {
			if e.ReplayID > 0 {
				channels[e.Channel] = e.ReplayID
			}
			refreshed = false
			c.count("streaming", nil)
			return fn(ctx, e)
		})
		if errors.Is(err, bayeux.ErrAuth) && !refreshed {
			refreshed = true
			if rerr := c.refreshToken(ctx); rerr != nil {
				return rerr
			}
			continue
		}
		if errors.Is(err, bayeux.ErrAuth) {
			return &Error{Status: 401, Code: "INVALID_SESSION_ID", Message: err.Error(), Kind: NeedAuthentication, Err: err}
		}
		return err
	}
}
