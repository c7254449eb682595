package web_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

var screenshotDir = flag.String("screenshots", "", "write screenshots of the main pages at 1400 and 390 px to this directory (docs/screenshots: go test ./web -run TestScreenshots -args -screenshots=$PWD/docs/screenshots)")

// TestScreenshots captures the main pages for the README (PNG, full page); it runs only when asked
// with -screenshots.
func TestScreenshots(t *testing.T) {
	if *screenshotDir == "" {
		t.Skip("no -screenshots directory given")
	}
	_, b, _ := pagesApp(t)
	pages := []struct{ name, path string }{
		{"overview", "/"}, {"mappings", "/mappings"}, {"mapping", "/mappings/1"}, {"mapping-edit", "/mappings/1/edit"},
		{"explorer", "/explorer?mapping=1"}, {"activity", "/activity"}, {"settings", "/settings"}, {"simulated-org", "/simulated-org"},
	}
	if err := os.MkdirAll(*screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		suffix string
		width  int64
	}{{"1400", 1400}, {"390", 390}} {
		b.run(chromedp.EmulateViewport(w.width, 900))
		for _, p := range pages {
			b.open(p.path)
			png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(*screenshotDir, p.name+"-"+w.suffix+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
