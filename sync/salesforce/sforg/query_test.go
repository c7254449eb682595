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

// A query whose WHERE requires Id = or Id IN (…) is answered from the id index: exactly the
// records a scan of every record would match, deleted ones only for queryAll, each once whichever
// form of its id is given, the other conditions still applied.
func TestQueriesByIDMatchWhatAFullScanMatches(t *testing.T) {
	t.Parallel()
	org := New(Options{Seed: 3})
	if err := org.Generate("Contact", 500, 7); err != nil {
		t.Fatal(err)
	}
	c, qerr := org.runQuery("SELECT Id FROM Contact", false)
	if qerr != nil {
		t.Fatal(qerr.Message)
	}
	ids := make([]string, len(c.rows))
	for i, r := range c.rows {
		ids[i] = fmt.Sprint(r.val(0))
	}
	if err := org.DeleteAsUser("Contact", ids[3]); err != nil {
		t.Fatal(err)
	}
	in := "'" + ids[1] + "', '" + ids[3] + "', '" + ids[7][:15] + "', '" + ids[7] + "', '" + ids[9] + "', '003000000000000AAA'"
	for _, q := range []struct {
		where string
		all   bool
		want  []string
	}{
		{"Id IN (" + in + ")", false, []string{ids[1], ids[7], ids[9]}},
		{"Id IN (" + in + ")", true, []string{ids[1], ids[3], ids[7], ids[9]}},
		{"Id = '" + ids[9][:15] + "'", false, []string{ids[9]}},
		{"Id IN (" + in + ") AND Id != '" + ids[7] + "'", false, []string{ids[1], ids[9]}},
		{"Id IN (" + in + ") AND Id IN ('" + ids[9] + "', '" + ids[2] + "')", false, []string{ids[9]}},
		{"(Id IN (" + in + ") OR Id = '" + ids[2] + "')", false, []string{ids[1], ids[2], ids[7], ids[9]}},
		{"NOT Id IN (" + in + ")", false, nil}, // every other live record: counted below
	} {
		res, qerr := org.runQuery("SELECT Id FROM Contact WHERE "+q.where, q.all)
		if qerr != nil {
			t.Fatalf("%s: %s", q.where, qerr.Message)
		}
		var got []string
		for _, r := range res.rows {
			got = append(got, fmt.Sprint(r.val(0)))
		}
		if q.want == nil {
			if len(got) != len(ids)-4 {
				t.Fatalf("%s: %d records, want %d", q.where, len(got), len(ids)-4)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(q.want) {
			t.Fatalf("%s (all %v): %v, want %v", q.where, q.all, got, q.want)
		}
	}
}
