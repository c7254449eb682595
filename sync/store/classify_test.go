package store_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"pgforce/sync/failure"
	_ "pgforce/sync/store" // registers the classification of database errors
)

func TestDatabaseOutagesAreUnavailableAndOtherDatabaseErrorsInternal(t *testing.T) {
	for code, want := range map[string]failure.Kind{
		"08006": failure.Unavailable, // connection failure
		"57P01": failure.Unavailable, // admin shutdown (a failover)
		"53300": failure.Unavailable, // too many connections
		"40P01": failure.Unavailable, // deadlock: trying again succeeds
		"23505": failure.Internal,    // a unique violation is a bug or a conflict its caller names
		"42P01": failure.Internal,    // undefined table
	} {
		err := fmt.Errorf("load connection 1: %w", &pgconn.PgError{Code: code, Message: "x"})
		if got := failure.KindOf(err); got != want {
			t.Errorf("SQLSTATE %s: %s, want %s", code, got, want)
		}
	}
	if err := fmt.Errorf("wrapped: %w", failure.E(failure.Conflict, "taken")); failure.KindOf(err) != failure.Conflict {
		t.Error("an error that has a kind keeps it")
	}
}

func TestARefusedConnectionIsUnavailableWithAMessageThatSaysSo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pgx.Connect(ctx, "postgres://postgres@"+addr+"/x?connect_timeout=2")
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	if !failure.Is(err, failure.Unavailable) || !failure.Transient(err) {
		t.Fatalf("a refused connection: kind %s (%v)", failure.KindOf(err), err)
	}
	if msg := failure.Message(err); msg == "" || msg[:12] != "The database" {
		t.Fatalf("message: %q", msg)
	}
}
