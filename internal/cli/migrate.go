package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/migrations"
)

// Migrate runs `pgforce migrate [up | down VERSION | status]` on pgforce's own schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool, args []string, stdout io.Writer) error {
	sub := "up"
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "up":
		if err := migrations.Up(ctx, pool); err != nil {
			return err
		}
	case "down":
		var target int32
		if len(args) < 2 {
			return errors.New("usage: pgforce migrate down VERSION")
		}
		if _, err := fmt.Sscan(args[1], &target); err != nil {
			return fmt.Errorf("migrate down: version must be a number: %w", err)
		}
		if err := migrations.To(ctx, pool, target); err != nil {
			return err
		}
	case "status":
	default:
		return fmt.Errorf("unknown migrate command %q: use up, down VERSION or status", sub)
	}
	cur, latest, err := migrations.Status(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema version %d of %d\n", cur, latest)
	return nil
}
