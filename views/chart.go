package views

import (
	"fmt"
	"time"
)

// ActivityPoint is one bucket of synced records (the engine counts per minute).
type ActivityPoint struct {
	At     time.Time
	In     int64 // Salesforce → Postgres
	Out    int64 // Postgres → Salesforce
	Errors int64
}

// ActivityChart is the Overview's 24-hour activity histogram, laid out on the server as SVG
// geometry: records read from Salesforce grow up from the middle axis, records written to Salesforce
// grow down, failed records are marked under the axis.
type ActivityChart struct {
	Width, Height, Mid float64
	Bars               []ChartBar
	Ticks              []ChartTick
	Max                int64
	In, Out, Errors    int64
	Empty              bool
	Per                string // what one bar covers: "15 min", "minute"
	Span               string // what the chart covers: "last 24 hours", "last hour"
}

// ChartBar is one rectangle of the chart.
type ChartBar struct {
	X, Y, W, H float64
	Class      string // in, out, err
	Title      string
}

// ChartTick is an hour label on the time axis.
type ChartTick struct {
	X     float64
	Label string
}

// Chart geometry: both charts are 864 units wide (96 bars of 9, or 60 of 14.4).
const (
	chartWidth     = 864.0
	chartHalf      = 70.0
	chartAxisSpace = 18.0
)

// chartScale is one chart's time scale: how many bins of what width, where ticks go.
type chartScale struct {
	bins  int
	bin   time.Duration
	per   string // "15 min", "minute"
	tick  func(t time.Time) bool
	title string // "last 24 hours", "last hour"
}

var (
	dayScale  = chartScale{bins: 96, bin: 15 * time.Minute, per: "15 min", title: "last 24 hours", tick: func(t time.Time) bool { return t.Minute() == 0 && t.Hour()%3 == 0 }}
	hourScale = chartScale{bins: 60, bin: time.Minute, per: "minute", title: "last hour", tick: func(t time.Time) bool { return t.Minute()%10 == 0 }}
)

// NewActivityChart lays out the 24 hours ending at now in 15-minute bins.
func NewActivityChart(points []ActivityPoint, now time.Time) ActivityChart {
	return newChart(points, now, dayScale)
}

// NewHourChart lays out the last hour in one-minute bins, scaled on its own so that a spike earlier
// in the day does not flatten it.
func NewHourChart(points []ActivityPoint, now time.Time) ActivityChart {
	return newChart(points, now, hourScale)
}

func newChart(points []ActivityPoint, now time.Time, sc chartScale) ActivityChart {
	end := now.UTC().Truncate(sc.bin)
	start := end.Add(-time.Duration(sc.bins-1) * sc.bin)
	barWidth := chartWidth / float64(sc.bins)
	ch := ActivityChart{Width: chartWidth, Height: 2*chartHalf + chartAxisSpace, Mid: chartHalf, Per: sc.per, Span: sc.title}
	byBucket := map[int]ActivityPoint{}
	for _, p := range points {
		d := p.At.UTC().Sub(start)
		if d < 0 {
			continue
		}
		i := int(d / sc.bin)
		if i >= sc.bins {
			continue
		}
		b := byBucket[i]
		b.In, b.Out, b.Errors = b.In+p.In, b.Out+p.Out, b.Errors+p.Errors
		byBucket[i] = b
		ch.In, ch.Out, ch.Errors = ch.In+p.In, ch.Out+p.Out, ch.Errors+p.Errors
		ch.Max = max(ch.Max, b.In, b.Out)
	}
	ch.Empty = ch.In == 0 && ch.Out == 0 && ch.Errors == 0
	scale := func(n int64) float64 {
		if ch.Max == 0 || n == 0 {
			return 0
		}
		return max(1, float64(n)/float64(ch.Max)*(chartHalf-4))
	}
	for i := range sc.bins {
		b, ok := byBucket[i]
		if !ok {
			continue
		}
		at := start.Add(time.Duration(i) * sc.bin).Format("15:04")
		x := float64(i) * barWidth
		if h := scale(b.In); h > 0 {
			ch.Bars = append(ch.Bars, ChartBar{X: x, Y: chartHalf - h, W: barWidth - 0.6, H: h, Class: "in",
				Title: fmt.Sprintf("%s UTC: %s %s Salesforce → Postgres", at, Count(b.In), Plural(b.In, "record", "records"))})
		}
		if h := scale(b.Out); h > 0 {
			ch.Bars = append(ch.Bars, ChartBar{X: x, Y: chartHalf, W: barWidth - 0.6, H: h, Class: "out",
				Title: fmt.Sprintf("%s UTC: %s %s Postgres → Salesforce", at, Count(b.Out), Plural(b.Out, "record", "records"))})
		}
		if b.Errors > 0 {
			ch.Bars = append(ch.Bars, ChartBar{X: x, Y: 2*chartHalf + 4, W: barWidth, H: 5, Class: "err",
				Title: fmt.Sprintf("%s UTC: %s failed %s", at, Count(b.Errors), Plural(b.Errors, "record", "records"))})
		}
	}
	for i := range sc.bins {
		if t := start.Add(time.Duration(i) * sc.bin); sc.tick(t) {
			ch.Ticks = append(ch.Ticks, ChartTick{X: float64(i) * barWidth, Label: t.Format("15:04")})
		}
	}
	return ch
}
