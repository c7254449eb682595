package sforg

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"pgforce/sync/salesforce/bayeux"
)

// streaming sets up the CometD endpoint and turns every record change into a Change Data Capture
// event on /data/ChangeEvents and /data/<Object>ChangeEvent.
func (o *Org) streaming(m *http.ServeMux) {
	o.bus = bayeux.NewServer(bayeux.ServerOptions{
		Authenticate: func(r *http.Request) error {
			if o.sessionFor(r) == nil {
				return errInvalidSession
			}
			return nil
		},
		ChannelExists:   o.channelExists,
		LongPollTimeout: o.opts.LongPollTimeout,
		Now:             o.opts.Now,
	})
	handler := func(w http.ResponseWriter, r *http.Request) {
		if o.fault(w, r) {
			return
		}
		if _, ok := apiVersion("v" + r.PathValue("version")); !ok {
			http.NotFound(w, r)
			return
		}
		o.bus.ServeHTTP(w, r)
	}
	m.HandleFunc("/cometd/{version}", handler)
	m.HandleFunc("/cometd/{version}/{meta...}", handler)
	o.OnChange(o.publishChange)
}

var errInvalidSession = &apiError{Status: 401, Code: "INVALID_SESSION_ID", Message: "Session expired or invalid"}

// eventChannel is an object's CDC channel: Account → AccountChangeEvent, Invoice__c → Invoice__ChangeEvent.
func eventChannel(object string) string {
	return "/data/" + strings.TrimSuffix(object, "__c") + map[bool]string{true: "__", false: ""}[strings.HasSuffix(object, "__c")] + "ChangeEvent"
}

func (o *Org) channelExists(ch string) bool {
	if ch == "/data/ChangeEvents" {
		return true
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, t := range o.tables {
		if eventChannel(t.def.Name) == ch {
			return true
		}
	}
	return false
}

func (o *Org) publishChange(ch Change) {
	header := map[string]any{
		"entityName": ch.Object, "recordIds": ch.IDs, "changeType": ch.Type, "changeOrigin": ch.Origin,
		"transactionKey": ch.TransactionID, "sequenceNumber": ch.Sequence, "commitTimestamp": ch.CommitTime.UnixMilli(),
		"commitNumber": ch.CommitTime.UnixNano(), "commitUser": ch.User, "diffFields": []string{}, "nulledFields": []string{},
	}
	payload := map[string]any{}
	var changed, nulled []string
	for _, name := range ch.ChangedFields {
		// Salesforce leaves IsDeleted and SystemModstamp out of change events.
		if name == "IsDeleted" || name == "SystemModstamp" || name == "Id" {
			continue
		}
		changed = append(changed, name)
		v := ch.Fields[name]
		switch x := v.(type) {
		case nil:
			nulled = append(nulled, name)
		case time.Time:
			v = x.UTC().Format("2006-01-02T15:04:05.000Z")
		}
		payload[name] = v
	}
	if changed == nil {
		changed = []string{}
	}
	if nulled != nil {
		header["nulledFields"] = nulled
	}
	header["changedFields"] = changed
	payload["ChangeEventHeader"] = header
	raw, _ := json.Marshal(payload)
	o.bus.Publish([]string{"/data/ChangeEvents", eventChannel(ch.Object)}, "pgforce-sim-"+ch.Object, raw)
}

// DropStreamingClients makes every CometD client reconnect (403::Unknown client).
func (o *Org) DropStreamingClients() { o.bus.DropClients() }

// ForgetEventsBefore drops CDC events older than replayID from the replay window.
func (o *Org) ForgetEventsBefore(replayID int64) { o.bus.ForgetBefore(replayID) }
