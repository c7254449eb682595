package views

import (
	"context"
	"io"
	"time"

	"github.com/a-h/templ"
)

// MappingsTableRow is one row of the Mappings table. It is written in Go rather than templ because
// the table has a row per mapping (a thousand at issue 18's scale) and is rendered on every refresh:
// templ passes each of a row's dozen text expressions through fmt.Sprint, which took more time than
// writing the page. It writes exactly what this template would:
//
//	<tr data-testid="mapping-row" data-object={ r.Object }>
//		<td><a href={ mURL(r.ID, "") } id={ "mapping-link-" + itoa(r.ID) } data-testid="mapping-link">{ r.Object }</a></td>
//		<td class="mono">{ r.Table }</td> <td>{ AccessLabel(r.Access) }</td> <td>{ r.Mode }</td>
//		<td>@StateBadge(r.State), a <progress class="mini"> while a load with a known size runs, and the worst problem
//			(<div class="small [bad-text]" data-testid="mapping-problem">)</td>
//		<td class="num"><span data-testid="sf-rows">{ CountOrDash(r.SFRows) }</span> and how old Salesforce's count is
//			(<div class="muted small" title=… data-testid="sf-rows-age">)</td>
//		<td class="num" data-testid="pg-rows">[≈ ]{ CountOrDash(r.PGRows) }</td>
//		<td class="num" data-testid="pending">{ Count(r.Pending) }</td>
//		<td class="num [bad-text]" data-testid="errors">{ failed writes, linked to Activity }</td>
//		<td class="nowrap"><time> of the last sync, or "never"</td>
//	</tr>
func MappingsTableRow(r MappingRow, now time.Time) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		rw := rowWriter{w: asStringWriter(w)}
		id := itoa(r.ID)
		rw.raw(`<tr data-testid="mapping-row" data-object="`).text(r.Object).
			raw(`"><td><a href="/mappings/`).text(id).raw(`" id="mapping-link-`).text(id).raw(`" data-testid="mapping-link">`).text(r.Object).
			raw(`</a></td><td class="mono">`).text(r.Table).
			raw(`</td><td>`).text(AccessLabel(r.Access)).
			raw(`</td><td>`).text(r.Mode).
			raw(`</td><td>`).badge(r.State)
		if p := r.Progress; p != nil && p.Expected > 0 {
			rw.raw(`<progress class="mini" max="`).text(itoa(p.Expected)).raw(`" value="`).text(itoa(min(p.Done, p.Expected))).
				raw(`" title="`).text(Count(p.Done) + " of " + Count(p.Expected) + " loaded").raw(`"></progress>`)
		}
		if r.Problem != nil {
			if r.Problem.Critical {
				rw.raw(`<div class="small bad-text" data-testid="mapping-problem">`)
			} else {
				rw.raw(`<div class="small" data-testid="mapping-problem">`)
			}
			rw.text(r.Problem.Message).raw(`</div>`)
		}
		rw.raw(`</td><td class="num"><span data-testid="sf-rows">`).text(CountOrDash(r.SFRows)).raw(`</span> `)
		if r.SFRowsAt != nil {
			rw.raw(`<div class="muted small" title="`).text("Salesforce's count as of " + Stamp(*r.SFRowsAt)).raw(`" data-testid="sf-rows-age">`).
				text(Ago(*r.SFRowsAt, now)).raw(`</div>`)
		}
		rw.raw(`</td><td class="num" data-testid="pg-rows">`)
		if r.PGEstimated {
			rw.raw(`<span title="Estimate from table statistics">≈</span> `)
		}
		rw.text(CountOrDash(r.PGRows)).raw(`</td><td class="num" data-testid="pending">`).text(Count(r.Pending)).raw(`</td>`)
		if r.Failed > 0 {
			rw.raw(`<td class="num bad-text" data-testid="errors"><a href="/activity?mapping=`).text(id).raw(`" id="mapping-errors-`).text(id).raw(`">`).
				text(Count(r.Failed)).raw(`</a></td>`)
		} else {
			rw.raw(`<td class="num" data-testid="errors">0</td>`)
		}
		rw.raw(`<td class="nowrap">`)
		if r.LastSync != nil {
			rw.raw(`<time datetime="`).text(r.LastSync.UTC().Format(time.RFC3339)).raw(`" title="`).text(Stamp(*r.LastSync)).raw(`">`).
				text(Ago(*r.LastSync, now)).raw(`</time>`)
		} else {
			rw.raw(`<span class="muted">never</span>`)
		}
		rw.raw(`</td></tr>`)
		return rw.err
	})
}

// rowWriter writes markup and escaped text, keeping the first error.
type rowWriter struct {
	w   io.StringWriter
	err error
}

// raw writes markup as it is.
func (rw *rowWriter) raw(s string) *rowWriter {
	if rw.err == nil {
		_, rw.err = rw.w.WriteString(s)
	}
	return rw
}

// text writes text escaped for HTML (element content and quoted attribute values), as templ does.
func (rw *rowWriter) text(s string) *rowWriter { return rw.raw(templ.EscapeString(s)) }

type stringWriter struct{ io.Writer }

func (w stringWriter) WriteString(s string) (int, error) { return io.WriteString(w.Writer, s) }

func asStringWriter(w io.Writer) io.StringWriter {
	if sw, ok := w.(io.StringWriter); ok {
		return sw
	}
	return stringWriter{w}
}
