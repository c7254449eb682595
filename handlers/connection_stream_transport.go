package handlers

import (
	"context"

	"github.com/labstack/echo/v4"

	"pgforce/sync/audit"
)

// SetStreamTransport picks how the connection's accelerated mappings stream: auto, pubsub or cometd.
func (h *Handlers) SetStreamTransport(c echo.Context) error {
	t := c.FormValue("stream_transport")
	return h.connectionAction(c, func(ctx context.Context, actor audit.Actor, id int64) error {
		return h.Connections.SetStreamTransport(ctx, actor, id, t)
	}, "Accelerated mappings stream over "+transportName(t)+".")
}

// transportName names a transport setting or the transport a mapping streams over, for people.
func transportName(transport string) string {
	switch transport {
	case "pubsub":
		return "the Pub/Sub API"
	case "cometd":
		return "CometD"
	case "auto":
		return "the Pub/Sub API where the org offers it, CometD otherwise"
	}
	return transport
}

// streamingText says how an accelerated mapping streams now.
func streamingText(transport string) string {
	if transport == "" {
		return "not streaming yet"
	}
	return "streamed over " + transportName(transport)
}
