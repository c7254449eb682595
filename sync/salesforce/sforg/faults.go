package sforg

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Fault makes matching requests fail the way Salesforce or the network can.
type Fault struct {
	Method string // "" = any
	Path   string // regular expression matched against the path after the base path; "" = any
	// SOQL is a regular expression matched against a query's SOQL (its q parameter; "" = any request).
	// Such a fault applies to the query as a subrequest of a /composite call too (Salesforce runs
	// them in turn: a slow query makes the whole call slow); no other fault applies to subrequests.
	SOQL    string
	Status  int    // HTTP status to answer with (with ErrorCode); 0 = pass through after Latency
	Code    string // Salesforce errorCode, e.g. UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED, INVALID_SESSION_ID
	Message string
	Latency time.Duration // delay before answering (or before passing through)
	Drop    bool          // close the connection without answering
	// DropAfter handles the request (its changes happen) and then closes the connection without
	// the response: the client cannot know whether its write was applied.
	DropAfter bool
	Count     int // how many requests it applies to; -1 forever
	re, soql  *regexp.Regexp
}

// LockRecord makes the next n writes of a record fail with UNABLE_TO_LOCK_ROW, as when another
// transaction holds it (a long trigger, a Bulk job on its parent): the record alone is refused, the
// other records of the call are written.
func (o *Org) LockRecord(id string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.locked == nil {
		o.locked = map[string]int{}
	}
	o.locked[normalizeID(id)] = n
}

// InjectFault adds a fault; the newest matching fault applies first.
func (o *Org) InjectFault(f Fault) error {
	if f.Path != "" {
		re, err := regexp.Compile(f.Path)
		if err != nil {
			return err
		}
		f.re = re
	}
	if f.SOQL != "" {
		re, err := regexp.Compile(f.SOQL)
		if err != nil {
			return err
		}
		f.soql = re
	}
	if f.Count == 0 {
		f.Count = 1
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.faults = append([]*Fault{&f}, o.faults...)
	return nil
}

// Faults lists the injected faults still in force, newest first.
func (o *Org) Faults() []Fault {
	o.mu.RLock()
	defer o.mu.RUnlock()
	out := make([]Fault, len(o.faults))
	for i, f := range o.faults {
		out[i] = *f
	}
	return out
}

// ClearFaults removes every injected fault.
func (o *Org) ClearFaults() {
	o.mu.Lock()
	o.faults = nil
	o.mu.Unlock()
}

// fault applies the first matching fault; it reports whether the request was answered.
func (o *Org) fault(w http.ResponseWriter, r *http.Request) bool {
	if r.Context().Value(noFaultsKey{}) != nil {
		return false
	}
	sub := isSubrequest(r)
	o.mu.Lock()
	var f *Fault
	for i, cand := range o.faults {
		if sub && (cand.soql == nil || cand.Drop || cand.DropAfter) {
			continue // of a composite's subrequests, only a query's own faults apply, and none drops the call
		}
		if (cand.Method == "" || strings.EqualFold(cand.Method, r.Method)) && (cand.re == nil || cand.re.MatchString(r.URL.Path)) &&
			(cand.soql == nil || cand.soql.MatchString(r.URL.Query().Get("q"))) {
			f = cand
			if f.Count > 0 {
				f.Count--
				if f.Count == 0 {
					o.faults = append(o.faults[:i:i], o.faults[i+1:]...)
				}
			}
			break
		}
	}
	o.mu.Unlock()
	if f == nil {
		return false
	}
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
			return true
		}
	}
	if f.Drop {
		dropConnection(w)
		return true
	}
	if f.DropAfter {
		o.mux.ServeHTTP(discardWriter{w.Header()}, withoutFaults(r))
		dropConnection(w)
		return true
	}
	if f.Status == 0 {
		return false
	}
	msg := f.Message
	if msg == "" {
		msg = map[string]string{
			"UNABLE_TO_LOCK_ROW": "unable to obtain exclusive access to this record", "REQUEST_LIMIT_EXCEEDED": "TotalRequests Limit exceeded.",
			"INVALID_SESSION_ID": "Session expired or invalid", "SERVER_UNAVAILABLE": "Server temporarily unavailable",
		}[f.Code]
	}
	if msg == "" {
		msg = http.StatusText(f.Status)
	}
	code := f.Code
	if code == "" {
		code = "UNKNOWN_EXCEPTION"
	}
	writeError(w, &apiError{Status: f.Status, Code: code, Message: msg})
	return true
}

// discardWriter swallows a response.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}

type noFaultsKey struct{}

// withoutFaults marks a request so that faults do not apply to it again.
func withoutFaults(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), noFaultsKey{}, true))
}
