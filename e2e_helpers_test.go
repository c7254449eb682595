package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"pgforce/internal/browsertest"
	"pgforce/internal/keyring"
	"pgforce/sync/store/storetest"
)

// product is a running pgforce started through run(), as `go run .` would start it.
type product struct {
	t        *testing.T
	BaseURL  string
	SetupURL string
	Env      map[string]string
	out      *lineLog
	stop     context.CancelFunc
	done     chan error
}

// lineLog collects stdout lines and lets tests wait for one matching a pattern.
type lineLog struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func (l *lineLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	close(l.added)
	l.added = make(chan struct{})
	l.mu.Unlock()
}

// wait returns the first submatch of re in any line, waiting up to timeout.
func (l *lineLog) wait(t testing.TB, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		for _, line := range l.lines {
			if m := re.FindStringSubmatch(line); m != nil {
				l.mu.Unlock()
				return m[len(m)-1]
			}
		}
		added := l.added
		l.mu.Unlock()
		select {
		case <-added:
		case <-deadline:
			t.Fatalf("no output line matched %s within %v; output:\n%s", re, timeout, l.String())
		}
	}
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

var (
	dashboardLine = regexp.MustCompile(`pgforce: dashboard at (\S+)`)
	setupLine     = regexp.MustCompile(`(https?://\S+/setup\?token=\S+)`)
)

// testEnv is a complete environment for run(): an isolated schema, a random port, a fresh key.
func testEnv(t *testing.T) map[string]string {
	return map[string]string{
		"DATABASE_URL":       storetest.URL(),
		"PGFORCE_DB_SCHEMA":  storetest.SchemaName(t),
		"PGFORCE_ADDR":       "127.0.0.1:0",
		"PGFORCE_SECRET_KEY": base64.StdEncoding.EncodeToString([]byte(keyring.RandomToken(24))[:32]),
		"PGFORCE_LOG_LEVEL":  cmpOr(os.Getenv("E2E_LOG_LEVEL"), "warn"),
		"HOME":               t.TempDir(),
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// startProduct runs `pgforce serve` in-process and waits until it serves.
func startProduct(t *testing.T, env map[string]string) *product {
	t.Helper()
	if env == nil {
		env = testEnv(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &product{t: t, Env: env, out: &lineLog{added: make(chan struct{})}, stop: cancel, done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.out.add(sc.Text())
		}
	}()
	go func() {
		p.done <- run(ctx, []string{"pgforce"}, func(k string) string { return env[k] }, strings.NewReader(""), pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("pgforce output:\n%s", p.out.String())
		}
		storetest.DropSchema(t, env["PGFORCE_DB_SCHEMA"])
	})
	p.BaseURL = p.out.wait(t, dashboardLine, 60*time.Second)
	if env["PGFORCE_EXPECT_SETUP"] != "no" {
		p.SetupURL = p.out.wait(t, setupLine, time.Second)
	}
	return p
}

// Stop shuts the product down gracefully and reports run's error.
func (p *product) Stop() error {
	if p.stop == nil {
		return nil
	}
	p.stop()
	p.stop = nil
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatal("pgforce did not stop within 30s of cancellation")
		return nil
	}
}

// newBrowser returns a fresh tab with its own cookies in one headless Chromium shared by the test
// binary (skipped when Chromium is not installed; .ci/run installs it).
func newBrowser(t *testing.T) context.Context { return browsertest.New(t) }

// screenshot saves the current page under testdata/artifacts (not committed) for people to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := filepath.Join("testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

// text returns the visible text of the first element matching a CSS selector.
func text(ctx context.Context, css string) (string, error) {
	return chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
}

// signIn fills the sign-in form in the browser.
func signIn(ctx context.Context, baseURL, email, password string) error {
	return chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`[data-testid="login-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav"]`)),
	)
}

// setupAdmin completes first-run setup through the one-time link and leaves the browser signed in.
func setupAdmin(ctx context.Context, setupURL, email, password string) error {
	return chromedp.Do(ctx,
		chromedp.Navigate(setupURL),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="setup-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), password),
		chromedp.Click(chromedp.CSS(`[data-testid="setup-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav"]`)),
	)
}
