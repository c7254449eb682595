package views

import (
	"fmt"
	"time"
)

// ActivityPoint is one 5-minute bucket of synced records.
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

// Chart geometry.
const (
	chartBuckets   = 24 * 12
	chartBarWidth  = 3.0
	chartHalf      = 70.0
	chartAxisSpace = 18.0
)

// NewActivityChart lays out the 24 hours ending at now.
func NewActivityChart(points []ActivityPoint, now time.Time) ActivityChart {
	end := now.UTC().Truncate(5 * time.Minute)
	start := end.Add(-(chartBuckets - 1) * 5 * time.Minute)
	ch := ActivityChart{Width: chartBuckets * chartBarWidth, Height: 2*chartHalf + chartAxisSpace, Mid: chartHalf}
	byBucket := map[int]ActivityPoint{}
	for _, p := range points {
		i := int(p.At.UTC().Sub(start) / (5 * time.Minute))
		if i < 0 || i >= chartBuckets {
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
	for i := range chartBuckets {
		b, ok := byBucket[i]
		if !ok {
			continue
		}
		at := start.Add(time.Duration(i) * 5 * time.Minute).Format("15:04")
		x := float64(i) * chartBarWidth
		if h := scale(b.In); h > 0 {
			ch.Bars = append(ch.Bars, ChartBar{X: x, Y: chartHalf - h, W: chartBarWidth - 0.6, H: h, Class: "in",
				Title: fmt.Sprintf("%s UTC: %s %s Salesforce → Postgres", at, Count(b.In), Plural(b.In, "record", "records"))})
		}
		if h := scale(b.Out); h > 0 {
			ch.Bars = append(ch.Bars, ChartBar{X: x, Y: chartHalf, W: chartBarWidth - 0.6, H: h, Class: "out",
				Title: fmt.Sprintf("%s UTC: %s %s Postgres → Salesforce", at, Count(b.Out), Plural(b.Out, "record", "records"))})
		}
		if b.Errors > 0 {
			ch.Bars = append(ch.Bars, ChartBar{X: x, Y: 2*chartHalf + 4, W: chartBarWidth, H: 5, Class: "err",
				Title: fmt.Sprintf("%s UTC: %s failed %s", at, Count(b.Errors), Plural(b.Errors, "record", "records"))})
		}
	}
	for i := range chartBuckets {
		t := start.Add(time.Duration(i) * 5 * time.Minute)
		if t.Minute() == 0 && t.Hour()%3 == 0 {
			ch.Ticks = append(ch.Ticks, ChartTick{X: float64(i) * chartBarWidth, Label: t.Format("15:04")})
		}
	}
	return ch
}
