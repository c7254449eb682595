package apitoken_test

import (
	"context"
	"strings"
	"testing"

	"pgforce/internal/apitoken"
	"pgforce/sync/audit"
	"pgforce/sync/failure"
	"pgforce/sync/store/storetest"
)

var ops = audit.Actor{Name: "cli:ops", Kind: audit.ActorCLI}

func TestTokenSecretIsShownOnceAndOnlyItsHashIsStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.Pool(t)
	s := apitoken.New(pool)

	tok, secret, err := s.Create(ctx, ops, "deploy-script", apitoken.Admin)
	if err != nil || !strings.HasPrefix(secret, apitoken.Prefix) || tok.Role != apitoken.Admin {
		t.Fatalf("create: %+v %q %v", tok, secret, err)
	}
	var stored string
	if err := pool.QueryRow(ctx, `SELECT token_hash FROM api_tokens WHERE id = $1`, tok.ID).Scan(&stored); err != nil || strings.Contains(stored, secret[len(apitoken.Prefix):]) {
		t.Fatalf("stored %q: %v", stored, err)
	}
	got, err := s.Authenticate(ctx, secret)
	if err != nil || got.Name != "deploy-script" {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	list, _ := s.List(ctx)
	if len(list) != 1 || list[0].LastUsedAt == nil {
		t.Fatalf("last use recorded: %+v", list)
	}
	if _, _, err := s.Create(ctx, ops, "deploy-script", apitoken.Viewer); !failure.Is(err, failure.Conflict) {
		t.Fatalf("duplicate live name: %v", err)
	}
	if _, _, err := s.Create(ctx, ops, "x", "owner"); !failure.Is(err, failure.Invalid) {
		t.Fatalf("bad role: %v", err)
	}
}

func TestRevokedAndUnknownTokensAreRefusedAlike(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.Pool(t)
	s := apitoken.New(pool)
	_, secret, err := s.Create(ctx, ops, "scraper", apitoken.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, ops, "scraper"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{secret, "", "pgf_nope", "Bearer " + secret} {
		if _, err := s.Authenticate(ctx, bad); !failure.Is(err, failure.Unauthenticated) {
			t.Errorf("authenticate %q: %v", bad, err)
		}
	}
	if err := s.Revoke(ctx, ops, "scraper"); !failure.Is(err, failure.NotFound) {
		t.Fatalf("revoke twice: %v", err)
	}
	// The name is free again, and both changes are in the audit trail.
	if _, _, err := s.Create(ctx, ops, "scraper", apitoken.Metrics); err != nil {
		t.Fatal(err)
	}
	var n int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action IN ('token.create', 'token.revoke') AND target = 'scraper'`).Scan(&n)
	if n != 3 {
		t.Fatalf("audit entries: %d", n)
	}
}
