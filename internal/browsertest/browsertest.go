// Package browsertest drives headless Chromium for the dashboard's browser tests: one browser per
// test binary, a fresh tab with its own cookies per test, and the checks every page must pass (axe-core
// accessibility rules, no sideways scrolling on a phone).
package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"pgforce/internal/keyring"
)

// ChromiumPath is Debian's Chromium (.ci/run installs it).
const ChromiumPath = "/usr/bin/chromium"

var (
	once       sync.Once
	browserCtx context.Context
	browserErr error
)

// New returns a fresh tab with its own cookies (a new browser context) in one headless Chromium
// shared by the test binary, 1280 px wide. Tests are skipped when Chromium is not installed.
func New(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Skipf("browser tests need %s (apt-get install chromium chromium-driver; .ci/run does this)", ChromiumPath)
	}
	once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(ChromiumPath),
			chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-quic", true),
			chromedp.UserDataDir(filepath.Join(os.TempDir(), "pgforce-chromium-"+keyring.RandomToken(6))),
			chromedp.WindowSize(1280, 900),
		)
		actx, _ := chromedp.NewExecAllocator(context.Background(), opts...)
		browserCtx, _ = chromedp.NewContext(actx)
		// The first Run starts the browser; it must not carry a timeout (that would end the browser).
		browserErr = chromedp.Do(browserCtx)
	})
	if browserErr != nil {
		t.Fatalf("start chromium: %v", browserErr)
	}
	tab, cancelTab := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	ctx, cancel := context.WithTimeout(tab, 120*time.Second)
	t.Cleanup(func() { cancel(); cancelTab() })
	return ctx
}
