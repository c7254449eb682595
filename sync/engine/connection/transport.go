package connection

import "pgforce/sync/failure"

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
