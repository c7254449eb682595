package report

import "time"

// SetClock makes a Reader read the time from now.
func SetClock(r *Reader, now func() time.Time) { r.now = now }
