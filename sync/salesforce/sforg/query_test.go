package sforg

import (
	"fmt"
	"testing"
)

// ORDER BY with a small LIMIT selects the first rows without sorting everything; the result must be
// exactly what a stable sort followed by OFFSET and LIMIT gives, ties included.
func TestOrderByWithASmallLimitMatchesAFullSort(t *testing.T) {
	t.Parallel()
	org := New(Options{Seed: 3})
	if err := org.Generate("Contact", 3000, 7); err != nil {
		t.Fatal(err)
	}
	ids := func(q string) []string {
		t.Helper()
		c, err := org.runQuery(q, false)
		if err != nil {
			t.Fatalf("%s: %s", q, err.Message)
		}
		out := make([]string, len(c.rows))
		for i, r := range c.rows {
			out[i] = fmt.Sprint(r.val(0))
		}
		return out
	}
	for _, order := range []string{"LastName", "LastName DESC, Email", "SystemModstamp DESC", "Title NULLS LAST, LastName"} {
		all := ids("SELECT Id FROM Contact ORDER BY " + order)
		for _, lim := range []struct{ limit, offset int }{{1, 0}, {5, 3}, {0, 2}, {200, 0}, {1000, 0}} {
			got := ids(fmt.Sprintf("SELECT Id FROM Contact ORDER BY %s LIMIT %d OFFSET %d", order, lim.limit, lim.offset))
			want := all[lim.offset : lim.offset+lim.limit]
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("ORDER BY %s LIMIT %d OFFSET %d: got %v…, want %v…", order, lim.limit, lim.offset, got[:min(3, len(got))], want[:min(3, len(want))])
			}
			if lim.offset == 0 { // without an OFFSET clause
				if got := ids(fmt.Sprintf("SELECT Id FROM Contact ORDER BY %s LIMIT %d", order, lim.limit)); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("ORDER BY %s LIMIT %d: %d rows, want %d", order, lim.limit, len(got), len(want))
				}
			}
		}
	}
}
