package connection

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// NotifyChannel is where the administration tells every instance's runtime that a connection, or one
// of its mappings, changed: the instance that syncs it acts at once instead of at its next round.
const NotifyChannel = "pgforce_engine"

// Notify announces a change of a connection (mappingID 0) or of one of its mappings; the notice is
// sent when tx commits, so nobody acts on a change that was rolled back.
func Notify(ctx context.Context, tx pgx.Tx, connID, mappingID int64) error {
	payload := fmt.Sprintf("conn:%d", connID)
	if mappingID != 0 {
		payload = fmt.Sprintf("mapping:%d:%d", connID, mappingID)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, payload); err != nil {
		return fmt.Errorf("notify the change of connection %d: %w", connID, err)
	}
	return nil
}

// ParseNotice reads a Notify payload: "conn:ID" or "mapping:CONN:ID".
func ParseNotice(payload string) (connID, mappingID int64, ok bool) {
	kind, rest, _ := strings.Cut(payload, ":")
	connPart, mapPart, _ := strings.Cut(rest, ":")
	connID, err := strconv.ParseInt(connPart, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if kind == "mapping" {
		mappingID, _ = strconv.ParseInt(mapPart, 10, 64)
	}
	return connID, mappingID, true
}
