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

// CallOptionsClient is the client name pgforce's API calls give in Sforce-Call-Options.
const CallOptionsClient = "pgforce"

type callClientKey struct{}

// WithCallPart names the part of pgforce whose calls ctx carries: they give the client name
// "pgforce/<part>" in Sforce-Call-Options (e.g. pgforce/writer).
func WithCallPart(ctx context.Context, part string) context.Context {
	return context.WithValue(ctx, callClientKey{}, CallOptionsClient+"/"+part)
}

// callClient is the client name of ctx's calls.
func callClient(ctx context.Context) string {
	if name, ok := ctx.Value(callClientKey{}).(string); ok {
		return name
	}
	return CallOptionsClient
}

// StreamHandler receives what a Change Data Capture subscription delivers.
type StreamHandler struct {
	// Event is called with each event, in order; an error ends the stream with it.
	Event func(ctx context.Context, e bayeux.Event) error
	// Subscribed, if set, is told about each acknowledged subscription.
	Subscribed func(channel string)
	// Refused, if set, is told about each subscription Salesforce refuses (its replay id outside the
	// retention window: bayeux.ErrReplayUnavailable; its entity not selected for Change Data
	// Capture: bayeux.ErrNoChannel) while the other channels stream on; if nil, the refusal ends the
	// stream with that error.
	Refused func(*bayeux.SubscribeError)
}

// Stream subscribes to Change Data Capture channels (channel → replay id to resume after, -1 for
// new events) and hands h what arrives until ctx ends. An authentication failure is repaired once
// with the refresh token.
func (c *Client) Stream(ctx context.Context, channels map[string]int64, h StreamHandler) error {
	refreshed := false
	for {
		opts := bayeux.ClientOptions{
			URL:        c.InstanceURL() + "/cometd/" + c.version,
			HTTPClient: &http.Client{Transport: c.hc.Transport, Timeout: 3 * time.Minute},
			Token: func(context.Context) (string, error) {
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.access, nil
			},
		}
		if h.Refused != nil {
			opts.OnSubscribeError = func(err *bayeux.SubscribeError) {
				delete(channels, err.Channel) // not resubscribed after a re-authorization either
				h.Refused(err)
			}
		}
		opts.OnSubscribed = h.Subscribed
		bc := bayeux.NewClient(opts)
		for ch, replay := range channels {
			bc.Subscribe(ch, replay)
		}
		err := bc.Run(ctx, func(ctx context.Context, e bayeux.Event) error {
			if e.ReplayID > 0 {
				channels[e.Channel] = e.ReplayID
			}
			refreshed = false
			c.count("streaming", nil)
			return h.Event(ctx, e)
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
