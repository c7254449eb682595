package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// axeScript is axe-core as pinned by testdata/axe/package-lock.json (`npm ci` there; .ci/run does it).
func axeScript() (string, error) {
	axeOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		path := filepath.Join(filepath.Dir(file), "testdata", "axe", "node_modules", "axe-core", "axe.min.js")
		b, err := os.ReadFile(path)
		if err != nil {
			axeErr = fmt.Errorf("axe-core is not installed (run npm ci in %s; .ci/run does it): %w", filepath.Dir(filepath.Dir(filepath.Dir(path))), err)
			return
		}
		axeSource = string(b)
	})
	return axeSource, axeErr
}

// SkipWithoutAxe skips the test when axe-core is not installed, saying how to install it.
func SkipWithoutAxe(t testing.TB) {
	t.Helper()
	if _, err := axeScript(); err != nil {
		t.Skip(err)
	}
}

// Violation is an axe-core rule the page breaks, with the elements that break it.
type Violation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s — %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, " | "))
}

// Axe runs axe-core's WCAG 2 A/AA rules on the page shown in ctx and returns the serious and
// critical violations.
func Axe(ctx context.Context) ([]Violation, error) {
	src, err := axeScript()
	if err != nil {
		return nil, err
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.axe !== undefined`)); err != nil {
		return nil, err
	}
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.axe !== undefined`)); !ok {
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
			return nil, fmt.Errorf("inject axe-core: %w", err)
		}
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})
		.then(r => JSON.stringify(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
			.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' ' + (n.failureSummary || '').split('\n').slice(1, 2).join(''))}))))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("run axe-core: %w", err)
	}
	var vs []Violation
	return vs, json.Unmarshal([]byte(raw), &vs)
}
