package connection

import (
	"context"
	"fmt"

	"pgforce/sync/failure"
	"pgforce/sync/store"
)

// StreamTransport picks how a connection's accelerated mappings hear of Salesforce changes.
type StreamTransport string

// Stream transports.
const (
	TransportAuto   StreamTransport = "auto"   // Pub/Sub API where the org offers it, CometD otherwise
	TransportPubSub StreamTransport = "pubsub" // Pub/Sub API only
	TransportCometD StreamTransport = "cometd" // the Streaming API (CometD) only
)

// ParseStreamTransport validates a transport setting.
func ParseStreamTransport(s string) (StreamTransport, error) {
	switch t := StreamTransport(s); t {
	case TransportAuto, TransportPubSub, TransportCometD:
		return t, nil
	}
	return "", failure.InvalidField("stream_transport", "The streaming transport is auto, pubsub or cometd, not %q.", s)
}

// SetStreamTransport stores a connection's transport setting and returns the one it replaces.
func SetStreamTransport(ctx context.Context, q rowQuerier, id int64, t StreamTransport) (StreamTransport, error) {
	var before string
	err := q.QueryRow(ctx, `UPDATE connections c SET stream_transport = $2, updated_at = now()
		FROM (SELECT stream_transport FROM connections WHERE id = $1 FOR UPDATE) old
		WHERE c.id = $1 RETURNING old.stream_transport`, id, string(t)).Scan(&before)
	if err != nil {
		return "", fmt.Errorf("set the streaming transport: %w", store.NotFound(err, "connection"))
	}
	return StreamTransport(before), nil
}
