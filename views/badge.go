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
		_, err := io.WriteString(w, `<span class="badge `+templ.EscapeString(b.Severity)+`" title="`+templ.EscapeString(b.Title)+
			`" data-testid="state">`+templ.EscapeString(b.Label)+`</span>`)
		return err
	})
}
