package admin

import (
	"context"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/failure"
	"pgforce/sync/store"
)

// Polling intervals Heroku Connect offers, in seconds: 2 to 60 minutes.
const (
	MinPollingSeconds = 2 * 60
	MaxPollingSeconds = 60 * 60
)

// SetPollingDefault sets the polling interval new mappings of a connection start with. Existing
// mappings keep theirs (each is edited on its own), so nothing needs a pause.
func (s *Connections) SetPollingDefault(ctx context.Context, actor audit.Actor, connID int64, seconds int) error {
	if seconds < MinPollingSeconds || seconds > MaxPollingSeconds || seconds%60 != 0 {
		return failure.InvalidField("polling_minutes", "The polling interval is a whole number of minutes from 2 to 60.")
	}
	return store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		_, before, err := connection.LockSetting(ctx, tx, connID, connection.PollingSetting)
		if err != nil {
			return err
		}
		if err := connection.SaveSetting(ctx, tx, connID, connection.PollingSetting, seconds); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.PollingDefault,
			Before: map[string]any{"polling_seconds": before}, After: map[string]any{"polling_seconds": seconds}})
	})
}
