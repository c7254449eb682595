package store

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"pgforce/sync/failure"
)

// The database driver's errors get their kind here, where pgforce produces them: a lost or refused
// connection, a server shutting down or overloaded, a lock or serialization conflict are
// Unavailable (trying again later may succeed; a dashboard request answers 503); anything else
// stays Internal.
func init() { failure.Register(classify) }

// Messages of database errors, for the person who asked.
const (
	msgUnreachable = "The database cannot be reached right now; pgforce keeps retrying. Try again in a moment."
	msgBusy        = "The database was busy with a conflicting change; try again."
)

func classify(err error) *failure.Error {
	if errors.Is(err, context.Canceled) {
		return nil // the caller gave up; not the database's fault
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch code := pgErr.Code; {
		case strings.HasPrefix(code, "08"), // connection exception
			code == "57P01", code == "57P02", code == "57P03", // admin shutdown, crash shutdown, cannot connect now
			code == "53300": // too many connections
			return failure.Wrap(err, failure.Unavailable, msgUnreachable)
		case code == "40001", code == "40P01", code == "55P03", code == "57014": // serialization, deadlock, lock not available, canceled by timeout
			return failure.Wrap(err, failure.Unavailable, msgBusy)
		}
		return nil
	}
	// Without an SQLSTATE: the connection could not be made or broke.
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	var retry interface{ SafeToRetry() bool }
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || errors.As(err, &retry) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || pgconn.Timeout(err) {
		return failure.Wrap(err, failure.Unavailable, msgUnreachable)
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "failed to connect", "connection reset", "broken pipe", "unexpected EOF", "conn closed", "closed pool"} {
		if strings.Contains(msg, s) {
			return failure.Wrap(err, failure.Unavailable, msgUnreachable)
		}
	}
	return nil
}
