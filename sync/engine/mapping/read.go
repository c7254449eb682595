package mapping

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Summary is what the Mappings table and the Overview show of a mapping, read without decoding its
// configuration and field definitions (the page refreshes every two seconds).
type Summary struct {
	ID             int64
	Object         string
	Table          string
	State          State
	StateReason    string
	Access         Access
	PollingSeconds int
	Accelerated    bool
	SFCount        *int64
	SFCountAt      *time.Time // when Salesforce said so: a load or the last count check
	CountDrift     *int64     // the last count check's difference beyond changes in flight
	LastPollAt     *time.Time
	LoadExpected   *int64
	LoadDone       int64
	LoadStartedAt  *time.Time
}

// SummaryOf is what a Summary says of a mapping already read (ListStates reads all it needs).
func SummaryOf(m Mapping) Summary {
	return Summary{ID: m.ID, Object: m.Object, Table: m.Table, State: m.State, StateReason: m.StateReason, Access: m.Config.Access,
		PollingSeconds: m.Config.SFPollingSeconds, Accelerated: m.Config.Accelerated(), SFCount: m.SFCount, SFCountAt: m.SFCountAt,
		CountDrift: m.CountDrift, LastPollAt: m.LastPollAt, LoadExpected: m.LoadExpected, LoadDone: m.LoadDone, LoadStartedAt: m.LoadStartedAt}
}

// Summaries lists a connection's mappings by object name.
func Summaries(ctx context.Context, q rowQuerier, connID int64) ([]Summary, error) {
	rows, err := q.Query(ctx, `SELECT id, object_name, table_name, state, state_reason, COALESCE(config->>'access', ''),
			COALESCE((config->>'sf_polling_seconds')::int, 0), COALESCE((config->>'sf_notify_enabled')::boolean, false),
			sf_count, sf_count_at, last_poll_at, load_expected, load_done, load_started_at, count_drift
		FROM mappings WHERE connection_id = $1 ORDER BY object_name`, connID)
	if err != nil {
		return nil, fmt.Errorf("list mappings: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Summary, error) {
		var m Summary
		var state, access string
		err := row.Scan(&m.ID, &m.Object, &m.Table, &state, &m.StateReason, &access, &m.PollingSeconds, &m.Accelerated,
			&m.SFCount, &m.SFCountAt, &m.LastPollAt, &m.LoadExpected, &m.LoadDone, &m.LoadStartedAt, &m.CountDrift)
		m.State, m.Access = State(state), Access(access)
		return m, err
	})
}

// SyncedTotal is the number of records a mapping synced in one direction since it was created.
type SyncedTotal struct {
	ConnectionID int64
	MappingID    int64
	Direction    string // SFToPG or PGToSF
	Records      int64
	Errors       int64
	APICalls     int64
}

// SyncedTotals sums the activity statistics of every mapping still configured, per direction.
func SyncedTotals(ctx context.Context, q rowQuerier) ([]SyncedTotal, error) {
	rows, err := q.Query(ctx, `SELECT s.connection_id, s.mapping_id, s.direction, sum(s.records)::bigint, sum(s.errors)::bigint, sum(s.api_calls)::bigint
		FROM sync_stats s JOIN mappings m ON m.id = s.mapping_id
		GROUP BY s.connection_id, s.mapping_id, s.direction ORDER BY s.connection_id, s.mapping_id, s.direction`)
	if err != nil {
		return nil, fmt.Errorf("sum sync statistics: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (SyncedTotal, error) {
		var t SyncedTotal
		return t, row.Scan(&t.ConnectionID, &t.MappingID, &t.Direction, &t.Records, &t.Errors, &t.APICalls)
	})
}
