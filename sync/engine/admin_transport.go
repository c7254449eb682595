package engine

import (
	"context"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/store"
)

// SetStreamTransport picks how the connection's accelerated mappings hear of Salesforce changes:
// auto (the Pub/Sub API where the org offers it, CometD otherwise), pubsub or cometd. A running
// subscription switches at once; nothing is missed, as each (re)subscription catches up by polling.
func (e *Engine) SetStreamTransport(ctx context.Context, actor audit.Actor, connID int64, transport string) error {
	t, err := connection.ParseStreamTransport(transport)
	if err != nil {
		return err
	}
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		before, err := connection.SetStreamTransport(ctx, tx, connID, t)
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.StreamTransport,
			Before: map[string]any{"stream_transport": before}, After: map[string]any{"stream_transport": t}}); err != nil {
			return err
		}
		return notify(ctx, tx, connID, 0)
	})
}
