package soql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Date literals and date functions, in the org's time zone (UTC) with the default fiscal year
// (starting in January), where weeks start on Sunday (en_US).

// dateRange resolves a date literal (TODAY, LAST_N_DAYS:n, THIS_QUARTER, …) to a half-open UTC
// range of days. ok is false when the identifier is not a date literal.
func (p *parser) dateRange(t token) (from, to time.Time, ok bool, err error) {
	name := strings.ToUpper(t.text)
	day := time.Date(p.now.Year(), p.now.Month(), p.now.Day(), 0, 0, 0, 0, time.UTC)
	if r, ok := fixedRanges(day)[name]; ok {
		return r[0], r[1], true, nil
	}
	unit, kind, ok := nRange(name)
	if !ok {
		return time.Time{}, time.Time{}, false, nil
	}
	if p.peek().kind != tColon {
		return time.Time{}, time.Time{}, false, malformed(p.q, p.peek(), fmt.Sprintf("%s needs a number: %s:n", name, name))
	}
	p.next()
	nt := p.next()
	n, cerr := strconv.Atoi(nt.text)
	if nt.kind != tNumber || cerr != nil || n < 0 {
		return time.Time{}, time.Time{}, false, p.unexpected(nt)
	}
	start := periodStart(day, unit)
	step := func(t time.Time, k int) time.Time { return addPeriods(t, unit, k) }
	switch kind {
	case "LAST":
		if unit == "DAY" { // LAST_N_DAYS:n runs from n days ago through today
			return day.AddDate(0, 0, -n), day.AddDate(0, 0, 1), true, nil
		}
		return step(start, -n), start, true, nil
	case "NEXT":
		if unit == "DAY" { // NEXT_N_DAYS:n starts tomorrow
			return day.AddDate(0, 0, 1), day.AddDate(0, 0, n+1), true, nil
		}
		return step(start, 1), step(start, n+1), true, nil
	}
	// N_..._AGO:n is the one period n periods back.
	return step(start, -n), step(start, -n+1), true, nil
}

// nRange splits LAST_N_WEEKS, NEXT_N_FISCAL_QUARTERS, N_DAYS_AGO … into their unit and direction.
func nRange(name string) (unit, kind string, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(name, "LAST_N_"):
		kind, rest = "LAST", strings.TrimPrefix(name, "LAST_N_")
	case strings.HasPrefix(name, "NEXT_N_"):
		kind, rest = "NEXT", strings.TrimPrefix(name, "NEXT_N_")
	case strings.HasPrefix(name, "N_") && strings.HasSuffix(name, "_AGO"):
		kind, rest = "AGO", strings.TrimSuffix(strings.TrimPrefix(name, "N_"), "_AGO")
	default:
		return "", "", false
	}
	rest = strings.TrimPrefix(rest, "FISCAL_")
	unit, ok = map[string]string{"DAYS": "DAY", "WEEKS": "WEEK", "MONTHS": "MONTH", "QUARTERS": "QUARTER", "YEARS": "YEAR"}[rest]
	return unit, kind, ok
}

// fixedRanges are the literals without a number.
func fixedRanges(day time.Time) map[string][2]time.Time {
	out := map[string][2]time.Time{
		"YESTERDAY": {day.AddDate(0, 0, -1), day}, "TODAY": {day, day.AddDate(0, 0, 1)}, "TOMORROW": {day.AddDate(0, 0, 1), day.AddDate(0, 0, 2)},
		"LAST_90_DAYS": {day.AddDate(0, 0, -90), day.AddDate(0, 0, 1)}, "NEXT_90_DAYS": {day.AddDate(0, 0, 1), day.AddDate(0, 0, 91)},
	}
	for _, unit := range []string{"WEEK", "MONTH", "QUARTER", "YEAR"} {
		start := periodStart(day, unit)
		this := [2]time.Time{start, addPeriods(start, unit, 1)}
		last := [2]time.Time{addPeriods(start, unit, -1), start}
		next := [2]time.Time{this[1], addPeriods(start, unit, 2)}
		out["THIS_"+unit], out["LAST_"+unit], out["NEXT_"+unit] = this, last, next
		if unit == "QUARTER" || unit == "YEAR" { // the fiscal year is the calendar year
			out["THIS_FISCAL_"+unit], out["LAST_FISCAL_"+unit], out["NEXT_FISCAL_"+unit] = this, last, next
		}
	}
	return out
}

func periodStart(day time.Time, unit string) time.Time {
	switch unit {
	case "WEEK":
		return day.AddDate(0, 0, -int(day.Weekday()))
	case "MONTH":
		return time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	case "QUARTER":
		return time.Date(day.Year(), time.Month((int(day.Month())-1)/3*3+1), 1, 0, 0, 0, 0, time.UTC)
	case "YEAR":
		return time.Date(day.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

func addPeriods(t time.Time, unit string, k int) time.Time {
	switch unit {
	case "WEEK":
		return t.AddDate(0, 0, 7*k)
	case "MONTH":
		return t.AddDate(0, k, 0)
	case "QUARTER":
		return t.AddDate(0, 3*k, 0)
	case "YEAR":
		return t.AddDate(k, 0, 0)
	}
	return t.AddDate(0, 0, k)
}

// dateFunctions are the functions of a date or datetime: all return a number except DAY_ONLY (a date).
var dateFunctions = map[string]func(time.Time) any{
	"CALENDAR_MONTH":   func(t time.Time) any { return float64(t.Month()) },
	"CALENDAR_QUARTER": func(t time.Time) any { return float64((int(t.Month())-1)/3 + 1) },
	"CALENDAR_YEAR":    func(t time.Time) any { return float64(t.Year()) },
	"DAY_IN_MONTH":     func(t time.Time) any { return float64(t.Day()) },
	"DAY_IN_WEEK":      func(t time.Time) any { return float64(t.Weekday()) + 1 }, // 1 = Sunday
	"DAY_IN_YEAR":      func(t time.Time) any { return float64(t.YearDay()) },
	"DAY_ONLY":         func(t time.Time) any { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) },
	"FISCAL_MONTH":     func(t time.Time) any { return float64(t.Month()) },
	"FISCAL_QUARTER":   func(t time.Time) any { return float64((int(t.Month())-1)/3 + 1) },
	"FISCAL_YEAR":      func(t time.Time) any { return float64(t.Year()) },
	"HOUR_IN_DAY":      func(t time.Time) any { return float64(t.Hour()) },
	"WEEK_IN_MONTH":    func(t time.Time) any { return float64((t.Day()-1)/7 + 1) },
	"WEEK_IN_YEAR":     func(t time.Time) any { return float64((t.YearDay()-1)/7 + 1) },
}
