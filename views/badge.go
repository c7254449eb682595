package views

import (
	"context"
	"io"

	"github.com/a-h/templ"
)

// StateBadge shows a state: <span class="badge {severity}" title="{title}">{label}</span>. It is
// written in Go because it renders on each of a thousand rows of the Mappings page, where templ's
// class={ … } attribute builds a map and its text expressions a fmt.Sprint per badge.
func StateBadge(b Badge) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		rw := rowWriter{w: asStringWriter(w)}
		rw.badge(b)
		return rw.err
	})
}

// badge writes a state badge (StateBadge's markup).
func (rw *rowWriter) badge(b Badge) *rowWriter {
	return rw.raw(`<span class="badge `).text(b.Severity).raw(`" title="`).text(b.Title).raw(`" data-testid="state">`).text(b.Label).raw(`</span>`)
}
