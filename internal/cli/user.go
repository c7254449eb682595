package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"pgforce/internal/account"
	"pgforce/sync/audit"
)

// User runs `pgforce user add|list|remove` on the accounts, recorded as actor.
func User(ctx context.Context, accounts *account.Service, actor audit.Actor, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: pgforce user add|list|remove|unlock")
	}
	fs := flag.NewFlagSet("user "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	email := fs.String("email", "", "the user's email address")
	role := fs.String("role", "viewer", "admin or viewer")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "add":
		r, err := account.ParseRole(*role)
		if err != nil {
			return err
		}
		password, generated, err := readPassword(stdin)
		if err != nil {
			return err
		}
		u, err := accounts.Create(ctx, actor, *email, password, r)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s (%s)\n", u.Email, u.Role)
		if generated {
			fmt.Fprintf(stdout, "password (shown once): %s\n", password)
		}
		return nil
	case "list":
		users, err := accounts.List(ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			fmt.Fprintf(stdout, "%-40s %-7s created %s\n", u.Email, u.Role, u.CreatedAt.UTC().Format(time.RFC3339))
		}
		return nil
	case "remove":
		if err := accounts.Remove(ctx, actor, *email); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s\n", *email)
		return nil
	case "unlock":
		n, err := accounts.Unlock(ctx, actor, *email)
		if err != nil {
			return err
		}
		addresses := "addresses"
		if n == 1 {
			addresses = "address"
		}
		fmt.Fprintf(stdout, "unlocked %s: sign-in delays lifted for %d %s\n", strings.ToLower(strings.TrimSpace(*email)), n, addresses)
		return nil
	}
	return fmt.Errorf("unknown user command %q: use add, list, remove or unlock", args[0])
}

// readPassword takes the first line of stdin when it is piped, or generates a password when stdin
// is a terminal or empty.
func readPassword(stdin io.Reader) (password string, generated bool, err error) {
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return account.GeneratePassword(), true, nil
		}
	}
	if stdin != nil {
		b, err := io.ReadAll(io.LimitReader(stdin, 4096))
		if err != nil {
			return "", false, fmt.Errorf("read password from stdin: %w", err)
		}
		if line, _, _ := strings.Cut(string(b), "\n"); strings.TrimRight(line, "\r") != "" {
			return strings.TrimRight(line, "\r"), false, nil
		}
	}
	return account.GeneratePassword(), true, nil
}
