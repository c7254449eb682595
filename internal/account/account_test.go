package account

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"pgforce/sync/audit"
	"pgforce/sync/failure"
	"pgforce/sync/store/storetest"
)

var cli = audit.Actor{Name: "cli:test", Kind: audit.ActorCLI}

func newService(t *testing.T) *Service {
	t.Helper()
	pool, _ := storetest.Pool(t)
	return New(pool)
}

func TestPasswordHashIsArgon2idAndVerifies(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash = %q, want a PHC argon2id string", h)
	}
	if !CheckPassword(h, "correct horse battery staple") {
		t.Fatal("the right password must verify")
	}
	if CheckPassword(h, "correct horse battery stapl") {
		t.Fatal("a wrong password must not verify")
	}
	h2, _ := HashPassword("correct horse battery staple")
	if h == h2 {
		t.Fatal("two hashes of one password must differ (random salt)")
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$x$y$z$w", h[:len(h)-3] + "!!!"} {
		if CheckPassword(bad, "correct horse battery staple") {
			t.Fatalf("malformed hash %q must not verify", bad)
		}
	}
}

func TestCreateValidatesInput(t *testing.T) {
	t.Parallel()
	s := newService(t)
	ctx := context.Background()
	tests := []struct {
		email, password string
		role            Role
		field           string
	}{
		{"not-an-email", "long enough password", Admin, "email"},
		{"", "long enough password", Admin, "email"},
		{"a@example.com", "short", Admin, "password"},
		{"a@example.com", strings.Repeat("x", 129), Admin, "password"},
		{"a@example.com", "long enough password", Role("owner"), "role"},
	}
	for _, tt := range tests {
		_, err := s.Create(ctx, cli, tt.email, tt.password, tt.role)
		var fe *failure.Error
		if !asErr(err, &fe) || fe.Kind != failure.Invalid || fe.Field != tt.field {
			t.Errorf("Create(%q, %q, %q) = %v, want an invalid %s", tt.email, tt.password, tt.role, err, tt.field)
		}
	}
	if _, err := s.Create(ctx, cli, " Ann@Example.com ", "long enough password", Admin); err != nil {
		t.Fatal(err)
	}
	_, err := s.Create(ctx, cli, "ann@example.com", "long enough password", Viewer)
	if !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate email: %v", err)
	}
}

func TestAuthenticateAndThrottle(t *testing.T) {
	t.Parallel()
	s := newService(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	if _, err := s.Create(ctx, cli, "ann@example.com", "long enough password", Admin); err != nil {
		t.Fatal(err)
	}

	u, err := s.Authenticate(ctx, "ANN@example.com", "long enough password", "10.0.0.1")
	if err != nil || u.Email != "ann@example.com" || u.Role != Admin {
		t.Fatalf("good credentials: %+v %v", u, err)
	}
	if _, err := s.Authenticate(ctx, "nobody@example.com", "long enough password", "10.0.0.1"); err != ErrBadCredentials {
		t.Fatalf("unknown account must look like a wrong password, got %v", err)
	}

	// Four wrong passwords are refused as such; the fifth locks the account.
	for i := range 4 {
		if _, err := s.Authenticate(ctx, "ann@example.com", "wrong password!", "10.0.0.2"); err != ErrBadCredentials {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	_, err = s.Authenticate(ctx, "ann@example.com", "wrong password!", "10.0.0.2")
	if !failure.Is(err, failure.RateLimited) || !strings.Contains(failure.Message(err), "Try again in 15 minutes") {
		t.Fatalf("fifth failure must lock the account: %v", err)
	}
	// Locked: even the right password is refused, from any address.
	if _, err := s.Authenticate(ctx, "ann@example.com", "long enough password", "10.0.0.3"); !failure.Is(err, failure.RateLimited) {
		t.Fatalf("locked account accepted a sign-in: %v", err)
	}
	// After the lockout the right password works again.
	now = now.Add(16 * time.Minute)
	if _, err := s.Authenticate(ctx, "ann@example.com", "long enough password", "10.0.0.3"); err != nil {
		t.Fatalf("after lockout: %v", err)
	}
}

func TestThrottlePerAddressAcrossAccounts(t *testing.T) {
	t.Parallel()
	s := newService(t)
	ctx := context.Background()
	s.throttle.AddressLimit = 3
	for i := range 2 {
		if _, err := s.Authenticate(ctx, "user"+string(rune('a'+i))+"@example.com", "whatever password", "192.0.2.9"); err != ErrBadCredentials {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, err := s.Authenticate(ctx, "userz@example.com", "whatever password", "192.0.2.9")
	if !failure.Is(err, failure.RateLimited) || !strings.Contains(failure.Message(err), "your network address") {
		t.Fatalf("address limit: %v", err)
	}
	if _, err := s.Authenticate(ctx, "usery@example.com", "whatever password", "192.0.2.10"); err != ErrBadCredentials {
		t.Fatalf("another address is not locked: %v", err)
	}
}

func TestSetupLinkCreatesOneAdminOnce(t *testing.T) {
	t.Parallel()
	s := newService(t)
	ctx := context.Background()
	token, err := s.NewSetupLink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSetupToken(ctx, "wrong"); err != ErrSetupLinkInvalid {
		t.Fatalf("unknown token: %v", err)
	}
	if err := s.CheckSetupToken(ctx, token); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	// Two submissions race; exactly one creates the admin.
	var wg sync.WaitGroup
	results := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = s.CompleteSetup(ctx, token, "admin"+string(rune('0'+i))+"@example.com", "long enough password")
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range results {
		if err == nil {
			ok++
		} else if err != ErrSetupLinkInvalid {
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if n, _ := s.Count(ctx); ok != 1 || n != 1 {
		t.Fatalf("%d setups succeeded, %d users exist; want exactly one", ok, n)
	}
	if err := s.CheckSetupToken(ctx, token); err != ErrSetupLinkInvalid {
		t.Fatalf("used token must be invalid: %v", err)
	}
	if _, err := s.NewSetupLink(ctx); !failure.Is(err, failure.Conflict) {
		t.Fatalf("no setup link once users exist: %v", err)
	}
}

func TestExpiredSetupLinkIsRefused(t *testing.T) {
	t.Parallel()
	s := newService(t)
	ctx := context.Background()
	token, err := s.NewSetupLink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	if _, err := s.CompleteSetup(ctx, token, "a@example.com", "long enough password"); err != ErrSetupLinkInvalid {
		t.Fatalf("expired link: %v", err)
	}
}

func TestLastAdminCannotBeRemovedAndChangesAreAudited(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.Pool(t)
	s := New(pool)
	ctx := context.Background()
	if _, err := s.Create(ctx, cli, "a@example.com", "long enough password", Admin); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, cli, "v@example.com", "long enough password", Viewer); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, cli, "a@example.com"); !failure.Is(err, failure.Conflict) {
		t.Fatalf("removing the last admin: %v", err)
	}
	if err := s.Remove(ctx, cli, "v@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, cli, "v@example.com"); !failure.Is(err, failure.NotFound) {
		t.Fatalf("removing twice: %v", err)
	}
	var actions []string
	err := audit.Each(ctx, pool, audit.Filter{Action: "user."}, func(e audit.Entry) error {
		actions = append(actions, string(e.Action)+" "+e.Target+" by "+e.Actor.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"user.add a@example.com by cli:test", "user.add v@example.com by cli:test", "user.remove v@example.com by cli:test"}
	if strings.Join(actions, "|") != strings.Join(want, "|") {
		t.Fatalf("audit trail = %q, want %q", actions, want)
	}
}
