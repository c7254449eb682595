package account

import (
	"context"
	"fmt"
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

func TestAuthenticateChecksTheCredentials(t *testing.T) {
	t.Parallel()
	s := newService(t)
	ctx := context.Background()
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
	if _, err := s.Authenticate(ctx, "ann@example.com", "wrong password!", "10.0.0.1"); err != ErrBadCredentials {
		t.Fatalf("wrong password: %v", err)
	}
}

// clock is a settable time for the throttle.
type clock struct{ now time.Time }

func (c *clock) add(d time.Duration) { c.now = c.now.Add(d) }

func throttled(t *testing.T) (*Service, *clock) {
	t.Helper()
	s := newService(t)
	c := &clock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	s.now = func() time.Time { return c.now }
	if _, err := s.Create(context.Background(), cli, "ann@example.com", "long enough password", Admin); err != nil {
		t.Fatal(err)
	}
	return s, c
}

// guessWrong makes a wrong guess at email from ip that must be refused as only a wrong password.
func guessWrong(t *testing.T, s *Service, email, ip string) {
	t.Helper()
	if _, err := s.Authenticate(context.Background(), email, "wrong password!", ip); err != ErrBadCredentials {
		t.Fatalf("a wrong guess at %s from %s: %v, want only ErrBadCredentials", email, ip, err)
	}
}

// signIn signs ann in from ip with the right password, which must work.
func signIn(t *testing.T, s *Service, ip string) {
	t.Helper()
	if _, err := s.Authenticate(context.Background(), "ann@example.com", "long enough password", ip); err != nil {
		t.Fatalf("ann from %s with the right password: %v", ip, err)
	}
}

// wantWait checks a refusal that says to wait d (rounded up to what the message shows).
func wantWait(t *testing.T, err error, kind failure.Kind, d time.Duration, says string) {
	t.Helper()
	var fe *failure.Error
	if !asErr(err, &fe) || fe.Kind != kind || fe.After != d || !strings.Contains(fe.Message, says) {
		t.Fatalf("got %v (after %v), want %s after %v saying %q", err, afterOf(err), kind, d, says)
	}
}

func afterOf(err error) time.Duration {
	var fe *failure.Error
	if asErr(err, &fe) {
		return fe.After
	}
	return 0
}

// TestFailedSignInsFromOneAddressSlowThatAddressOnly: five attempts at an account from an address
// are free; then each waits a delay that doubles (1 s, 2 s, 4 s … up to 15 minutes), even with the
// right password, so the delay cannot be skipped. The right password from another address is never
// held up, so nobody can lock an account out by failing at it.
func TestFailedSignInsFromOneAddressSlowThatAddressOnly(t *testing.T) {
	t.Parallel()
	s, c := throttled(t)
	ctx := context.Background()
	for range 4 {
		guessWrong(t, s, "ann@example.com", "10.0.0.2")
	}
	// The fifth failure says the next attempt waits a second.
	_, err := s.Authenticate(ctx, "ann@example.com", "wrong password!", "10.0.0.2")
	wantWait(t, err, failure.Unauthenticated, time.Second, "The email or password is not correct. After several failed attempts, wait 1 second")
	// Within the wait, the right password from that address is refused without being checked.
	_, err = s.Authenticate(ctx, "ann@example.com", "long enough password", "10.0.0.2")
	wantWait(t, err, failure.RateLimited, time.Second, "for this account from your network address. Try again in 1 second.")
	// From another address it goes straight in.
	signIn(t, s, "10.0.0.3")
	// Each further failure doubles the wait.
	for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second} {
		c.add(time.Hour / 2) // past any wait so far, within the hour that keeps the count
		_, err := s.Authenticate(ctx, "ann@example.com", "wrong password!", "10.0.0.2")
		wantWait(t, err, failure.Unauthenticated, want, "wait")
		c.add(want - time.Millisecond)
		_, err = s.Authenticate(ctx, "ann@example.com", "long enough password", "10.0.0.2")
		wantWait(t, err, failure.RateLimited, time.Millisecond, "Try again in 1 second.")
	}
	// It grows to 15 minutes and no further.
	for range 10 {
		c.add(30 * time.Minute)
		_, err = s.Authenticate(ctx, "ann@example.com", "wrong password!", "10.0.0.2")
	}
	wantWait(t, err, failure.Unauthenticated, 15*time.Minute, "wait 15 minutes")
	// After the wait the right password works, and starts the count afresh.
	c.add(15 * time.Minute)
	signIn(t, s, "10.0.0.2")
	for range 4 {
		guessWrong(t, s, "ann@example.com", "10.0.0.2")
	}
	// An hour without attempts forgets them too.
	c.add(time.Hour + time.Second)
	for range 4 {
		guessWrong(t, s, "ann@example.com", "10.0.0.2")
	}
}

// TestAFloodFromOneAddressCannotLockTheAccount: hundreds of guesses at the only admin from one
// address are slowed (most refused unchecked) and capped, while the admin signs in from elsewhere.
func TestAFloodFromOneAddressCannotLockTheAccount(t *testing.T) {
	t.Parallel()
	s, c := throttled(t)
	ctx := context.Background()
	checked := 0
	for range 500 {
		_, err := s.Authenticate(ctx, "ann@example.com", "wrong password!", "198.51.100.7")
		if failure.Is(err, failure.Unauthenticated) {
			checked++
		} else if !failure.Is(err, failure.RateLimited) {
			t.Fatal(err)
		}
		c.add(400 * time.Millisecond)
	}
	// 200 s of flooding: five free attempts, then waits of 1, 2, 4, 8, 16, 32, 64 s.
	if checked > 12 {
		t.Fatalf("%d of 500 guesses had their password checked", checked)
	}
	signIn(t, s, "203.0.113.9")
}

func TestAnAddressIsCappedAcrossAccounts(t *testing.T) {
	t.Parallel()
	s, c := throttled(t)
	ctx := context.Background()
	s.throttle.AddressCap = 3
	for i := range 3 {
		guessWrong(t, s, fmt.Sprintf("user%d@example.com", i), "192.0.2.9")
		c.add(time.Minute)
	}
	// Over the cap, even the right password at another account waits for the window (from the first
	// failure) to end.
	_, err := s.Authenticate(ctx, "ann@example.com", "long enough password", "192.0.2.9")
	wantWait(t, err, failure.RateLimited, 12*time.Minute, "Too many failed sign-in attempts from your network address. Try again in 12 minutes.")
	guessWrong(t, s, "usery@example.com", "192.0.2.10")
	c.add(12 * time.Minute)
	signIn(t, s, "192.0.2.9")
	// Signing in to one's own account between guesses does not reset the cap.
	for i := range 2 {
		guessWrong(t, s, fmt.Sprintf("other%d@example.com", i), "192.0.2.9")
		signIn(t, s, "192.0.2.9")
	}
	guessWrong(t, s, "other9@example.com", "192.0.2.9")
	if _, err := s.Authenticate(ctx, "ann@example.com", "long enough password", "192.0.2.9"); !failure.Is(err, failure.RateLimited) {
		t.Fatalf("three guesses in the window reach the cap, whatever came between: %v", err)
	}
}

// TestIPv6AddressesAreCountedBySubnet: one subscriber holds a whole /64, so its addresses count as one.
func TestIPv6AddressesAreCountedBySubnet(t *testing.T) {
	t.Parallel()
	s, _ := throttled(t)
	ctx := context.Background()
	s.throttle.AddressCap = 2
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"} {
		guessWrong(t, s, "x@example.com", ip)
	}
	if _, err := s.Authenticate(ctx, "ann@example.com", "long enough password", "2001:db8:1:2::77"); !failure.Is(err, failure.RateLimited) {
		t.Fatalf("a third address of the same /64: %v", err)
	}
	signIn(t, s, "2001:db8:1:3::1")
	for ip, want := range map[string]string{"::ffff:192.0.2.1": "192.0.2.1", "192.0.2.1": "192.0.2.1", "2001:db8::1%eth0": "2001:db8::/64", "not an ip": "not an ip"} {
		if got := clientAddress(ip); got != want {
			t.Errorf("clientAddress(%q) = %q, want %q", ip, got, want)
		}
	}
}

// TestParallelGuessesCannotSlipPastTheCount: an attempt is counted before its password is checked,
// so a burst of parallel guesses gets no more than the free attempts checked.
func TestParallelGuessesCannotSlipPastTheCount(t *testing.T) {
	t.Parallel()
	s, _ := throttled(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Authenticate(ctx, "ann@example.com", "wrong password!", "10.9.9.9")
			mu.Lock()
			defer mu.Unlock()
			if failure.Is(err, failure.Unauthenticated) {
				checked++
			} else if !failure.Is(err, failure.RateLimited) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if checked != DefaultThrottle.Free {
		t.Fatalf("%d of 20 parallel guesses were checked, want %d", checked, DefaultThrottle.Free)
	}
}

// TestUnlockLiftsAnAccountsDelaysFromEveryAddress: an admin lets a user who must wait sign in at
// once; the unlock is audited, and an unknown user is an error.
func TestUnlockLiftsAnAccountsDelaysFromEveryAddress(t *testing.T) {
	t.Parallel()
	s, _ := throttled(t)
	ctx := context.Background()
	for _, ip := range []string{"10.1.1.1", "10.1.1.2"} {
		for range 5 {
			_, _ = s.Authenticate(ctx, "ann@example.com", "wrong password!", ip)
		}
		if _, err := s.Authenticate(ctx, "ann@example.com", "long enough password", ip); !failure.Is(err, failure.RateLimited) {
			t.Fatalf("%s waits: %v", ip, err)
		}
	}
	n, err := s.Unlock(ctx, cli, " Ann@Example.com ")
	if err != nil || n != 2 {
		t.Fatalf("unlock: %d addresses, %v", n, err)
	}
	for _, ip := range []string{"10.1.1.1", "10.1.1.2"} {
		signIn(t, s, ip)
	}
	if _, err := s.Unlock(ctx, cli, "nobody@example.com"); !failure.Is(err, failure.NotFound) {
		t.Fatalf("unlocking an unknown user: %v", err)
	}
	var entries []string
	err = audit.Each(ctx, s.pool, audit.Filter{Action: audit.UserUnlock}, func(e audit.Entry) error {
		entries = append(entries, e.Target+" by "+e.Actor.Name+": "+e.Detail)
		return nil
	})
	if err != nil || len(entries) != 1 || entries[0] != "ann@example.com by cli:test: sign-in delays lifted for 2 address(es)" {
		t.Fatalf("audit: %q %v", entries, err)
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
