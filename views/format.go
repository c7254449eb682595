package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Count formats a number with thousands separators: 1234567 → "1,234,567".
func Count(n int64) string {
	if n > -1000 && n < 1000 { // most counts of the Mappings page's rows: nothing to separate
		return strconv.FormatInt(n, 10)
	}
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// CountOrDash formats an optional count, "—" when unknown.
func CountOrDash(n *int64) string {
	if n == nil {
		return "—"
	}
	return Count(*n)
}

// Ago says how long ago t was, compactly: "just now", "4 min ago", "3 h ago", "2 d ago".
func Ago(t time.Time, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in " + Duration(-d)
	case d < 10*time.Second:
		return "just now"
	}
	return Duration(d) + " ago"
}

// Duration formats a duration compactly: "45 s", "12 min", "3 h 5 min", "2 d". (strconv, not fmt:
// each row of the Mappings page says how old two of its figures are.)
func Duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d < 24*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return strconv.Itoa(h) + " h"
		}
		return strconv.Itoa(h) + " h " + strconv.Itoa(m) + " min"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " d"
}

// Stamp formats a time in UTC for tables: "2025-06-20 14:05:09 UTC".
func Stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// AccessLabel names a mapping's access for people.
func AccessLabel(a string) string {
	switch a {
	case "read_only":
		return "Read only"
	case "read_write":
		return "Read/write"
	}
	return a
}

// Rate formats records per second.
func Rate(r float64) string {
	switch {
	case r <= 0:
		return "—"
	case r < 10:
		return fmt.Sprintf("%.1f/s", r)
	}
	return Count(int64(r)) + "/s"
}

// Plural picks a word form: Plural(1, "row", "rows").
func Plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// StampOrDash is Stamp, or a dash when there is no time.
func StampOrDash(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return Stamp(*t)
}
