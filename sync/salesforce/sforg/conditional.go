package sforg

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Conditional requests on sObject Rows, as Salesforce documents them ("Conditional Request Headers",
// REST API Developer Guide):
//   - ETag is a hash of the record's content, returned by GET (and here PATCH) of an sObject row;
//     Salesforce supports it on Account records only, so other objects get none and their If-Match /
//     If-None-Match are ignored.
//   - If-Match (a list of ETags, or *): processed only when the record's ETag is one of them, else
//     412 Precondition Failed and nothing is changed.
//   - If-None-Match: the reverse; a match answers 304 Not Modified to GET/HEAD and 412 to PATCH.
//   - If-Modified-Since (GET/HEAD): 304 when the record was not modified after the date.
//   - If-Unmodified-Since: 412 when the record was modified after the date (weak validation against
//     the record's last modified date; HTTP dates have whole seconds, as SystemModstamp does).
//   - An invalid If-Match, If-None-Match or If-Unmodified-Since on PATCH/POST is 400 Bad Request;
//     If-Range is not supported; DELETE ignores the headers.

// precondition is the conditional headers of one request.
type precondition struct {
	ifMatch, ifNoneMatch                []string
	ifModifiedSince, ifUnmodifiedSince  time.Time
	hasIfModified, hasIfUnmodifiedSince bool
}

// empty reports whether the request has no conditional header.
func (p precondition) empty() bool {
	return p.ifMatch == nil && p.ifNoneMatch == nil && !p.hasIfModified && !p.hasIfUnmodifiedSince
}

// parsePrecondition reads a request's conditional headers. write (PATCH, POST) makes an unreadable
// value a 400, as Salesforce answers; a read ignores it, as HTTP says.
func parsePrecondition(r *http.Request, write bool) (precondition, *apiError) {
	var p precondition
	bad := func(h, v string) *apiError {
		return &apiError{Status: 400, Code: "INVALID_HEADER_VALUE", Message: fmt.Sprintf("The %s header value is invalid: %s", h, v)}
	}
	for _, h := range []string{"If-Match", "If-None-Match"} {
		v := strings.TrimSpace(r.Header.Get(h))
		if v == "" {
			continue
		}
		tags, ok := parseETags(v)
		if !ok {
			if write {
				return p, bad(h, v)
			}
			continue
		}
		if h == "If-Match" {
			p.ifMatch = tags
		} else {
			p.ifNoneMatch = tags
		}
	}
	if v := r.Header.Get("If-Unmodified-Since"); v != "" {
		t, err := http.ParseTime(v)
		switch {
		case err == nil:
			p.ifUnmodifiedSince, p.hasIfUnmodifiedSince = t, true
		case write:
			return p, bad("If-Unmodified-Since", v)
		}
	}
	if v := r.Header.Get("If-Modified-Since"); v != "" && !write {
		if t, err := http.ParseTime(v); err == nil {
			p.ifModifiedSince, p.hasIfModified = t, true
		}
	}
	return p, nil
}

// parseETags splits a list of quoted entity tags (W/ weak prefixes allowed), or "*".
func parseETags(v string) ([]string, bool) {
	if v == "*" {
		return []string{"*"}, true
	}
	var out []string
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if len(part) < 2 || part[0] != '"' || part[len(part)-1] != '"' {
			return nil, false
		}
		out = append(out, part)
	}
	return out, len(out) > 0
}

// etagMatches reports whether a record's ETag is in a list. Salesforce suffixes the tag of a
// compressed answer with -gzip; either form matches.
func etagMatches(list []string, etag string) bool {
	norm := func(s string) string { return strings.TrimSuffix(strings.Trim(s, `"`), "-gzip") }
	for _, t := range list {
		if t == "*" || norm(t) == norm(etag) {
			return true
		}
	}
	return false
}

// etag returns a record's entity tag: a hash of its content, quoted; "" for objects Salesforce gives
// none (every object but Account).
func (t *table) etag(r *row) string {
	if !strings.EqualFold(t.def.Name, "Account") {
		return ""
	}
	h := sha1.New()
	vals := r.values()
	for i, f := range t.def.Fields {
		if i < len(vals) {
			fmt.Fprintf(h, "%s=%v\x00", f.Name, vals[i])
		}
	}
	return `"` + base64.StdEncoding.EncodeToString(h.Sum(nil)) + `-gzip"`
}

// lastModified is the date conditional requests compare with: the record's LastModifiedDate.
func (t *table) lastModified(r *row) time.Time {
	if v, ok := t.get(r, "LastModifiedDate").(time.Time); ok {
		return v.UTC().Truncate(time.Second)
	}
	if v, ok := t.get(r, "SystemModstamp").(time.Time); ok {
		return v.UTC().Truncate(time.Second)
	}
	return time.Time{}
}

// check applies the precondition to a record: 0 to go on, or the status to answer (304 for reads
// whose copy is current, 412 with Salesforce's error otherwise).
func (p precondition) check(t *table, r *row, read bool) (int, *apiError) {
	etag, modified := t.etag(r), t.lastModified(r)
	failed := func(code, msg string) (int, *apiError) {
		return http.StatusPreconditionFailed, &apiError{Status: http.StatusPreconditionFailed, Code: code, Message: msg}
	}
	if etag != "" && p.ifMatch != nil && !etagMatches(p.ifMatch, etag) {
		return failed("PRECONDITION_FAILED", "The If-Match precondition failed: the record's ETag is "+etag)
	}
	if p.hasIfUnmodifiedSince && modified.After(p.ifUnmodifiedSince) {
		return failed("ENTITY_FAILED_IFLASTMODIFIED_ON_UPDATE_CHECK",
			fmt.Sprintf("The record has been modified since %s (last modified %s)", p.ifUnmodifiedSince.UTC().Format(http.TimeFormat), modified.Format(http.TimeFormat)))
	}
	if etag != "" && p.ifNoneMatch != nil && etagMatches(p.ifNoneMatch, etag) {
		if read {
			return http.StatusNotModified, nil
		}
		return failed("PRECONDITION_FAILED", "The If-None-Match precondition failed: the record's ETag is "+etag)
	}
	if read && p.ifNoneMatch == nil && p.hasIfModified && !modified.After(p.ifModifiedSince) {
		return http.StatusNotModified, nil
	}
	return 0, nil
}

// setValidators sets the ETag (Account) and Last-Modified headers of an answer about a record.
func setValidators(w http.ResponseWriter, t *table, r *row) {
	if etag := t.etag(r); etag != "" {
		w.Header().Set("ETag", etag)
	}
	if m := t.lastModified(r); !m.IsZero() {
		w.Header().Set("Last-Modified", m.Format(http.TimeFormat))
	}
}
