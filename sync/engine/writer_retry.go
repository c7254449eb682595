package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/triggerlog"
)

// maxRecordAttempts is how many times a record Salesforce refuses with a transient error
// (UNABLE_TO_LOCK_ROW, a busy server) is sent, with the writer's backoff between rounds (2, 4, 8 s),
// before it becomes FAILED; the client has already retried each call a few times.
const maxRecordAttempts = 4

// retryState counts the transient refusals of changes still being retried.
type retryState struct {
	attempts map[int64]int // trigger-log id → transient refusals so far
	refused  []string      // codes refused this round (the round then backs off)
}

// transient handles a record Salesforce refused with a transient error: back to the queue (its
// order kept), with the attempt in sf_message, until maxRecordAttempts; then FAILED.
func (w *writer) transient(ch *change, errs []orgclient.RecordError) {
	if w.retry.attempts == nil {
		w.retry.attempts = map[int64]int{}
	}
	n := w.retry.attempts[ch.id] + 1
	out := make([]orgclient.RecordError, len(errs))
	copy(out, errs)
	if n >= maxRecordAttempts {
		delete(w.retry.attempts, ch.id)
		for i := range out {
			out[i].Message += fmt.Sprintf(" (still refused after %d attempts with backoff)", n)
		}
		b, _ := json.Marshal(out)
		ch.outcome, ch.message, ch.lastop = triggerlog.Fail, string(b), "FAILED"
		return
	}
	w.retry.attempts[ch.id] = n
	for i := range out {
		out[i].Message += fmt.Sprintf(" (attempt %d of %d: retrying with backoff)", n, maxRecordAttempts)
		w.retry.refused = append(w.retry.refused, out[i].StatusCode)
	}
	b, _ := json.Marshal(out)
	ch.outcome, ch.message = triggerlog.Release, string(b)
}

// backoffAfterTransient returns, once per round that released changes after transient refusals, the
// retriable error that makes the writer back off before the next round.
func (w *writer) backoffAfterTransient() error {
	if len(w.retry.refused) == 0 {
		return nil
	}
	codes := map[string]bool{}
	var names []string
	for _, c := range w.retry.refused {
		if !codes[c] {
			codes[c] = true
			names = append(names, c)
		}
	}
	n := len(w.retry.refused)
	w.retry.refused = nil
	return failure.E(failure.Unavailable, "Salesforce refused %d records for now (%s); they are sent again after a backoff", n, strings.Join(names, ", "))
}
