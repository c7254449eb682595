package admin

import (
	"context"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/store"
)

// SetStreamTransport picks how the connection's accelerated mappings hear of Salesforce changes:
// auto (the Pub/Sub API where the org offers it, CometD otherwise), pubsub or cometd. The running
// subscription switches at once; nothing is missed, as each (re)subscription catches up by polling.
func (s *Connections) SetStreamTransport(ctx context.Context, actor audit.Actor, connID int64, transport string) error {
	t, err := connection.ParseStreamTransport(transport)
	if err != nil {
		return err
	}
	return store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		_, before, err := connection.LockSetting(ctx, tx, connID, connection.StreamTransportSetting)
		if err != nil {
			return err
		}
		if err := connection.SaveSetting(ctx, tx, connID, connection.StreamTransportSetting, string(t)); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.StreamTransport,
			Before: map[string]any{"stream_transport": before}, After: map[string]any{"stream_transport": t}}); err != nil {
			return err
		}
		return connection.Notify(ctx, tx, connID, 0)
	})
}
