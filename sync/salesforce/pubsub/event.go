package pubsub

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hamba/avro/v2"
)

// Event is one event received on a subscription, decoded with its schema.
type Event struct {
	Topic    string
	ReplayID []byte
	ID       string // the event's UUID
	SchemaID string
	// SchemaChanged: this event's schema differs from the previous event's on the subscription
	// (fields were added to or removed from the object).
	SchemaChanged bool
	// Payload holds the record's fields; optional values are unwrapped to nil or the value, compound
	// fields are nested maps.
	Payload map[string]any
	// Change is the decoded ChangeEventHeader of a Change Data Capture event (nil for other events).
	Change *ChangeEvent
	// Err is set instead of Payload and Change when the event could not be decoded (a payload that
	// does not match its schema, a schema that cannot be fetched): the event's replay id is still
	// valid, so a subscriber can record the failure, catch up some other way and carry on.
	Err error
}

// ChangeEvent is a change event's header, with the bitmap fields turned back into field names.
type ChangeEvent struct {
	EntityName      string
	RecordIDs       []string
	ChangeType      string // CREATE, UPDATE, DELETE, UNDELETE, GAP_*, GAP_OVERFLOW
	ChangeOrigin    string
	TransactionKey  string
	SequenceNumber  int
	CommitTimestamp time.Time
	CommitNumber    int64
	CommitUser      string
	ChangedFields   []string
	NulledFields    []string
	DiffFields      []string
}

// ReplayIDOf encodes a numeric replay id as Salesforce's Pub/Sub API carries it: 8 bytes, big-endian
// (what the npm client's encodeReplayId does).
func ReplayIDOf(n int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(n))
}

// ReplayNumber decodes an 8-byte replay id; false for any other length.
func ReplayNumber(id []byte) (int64, bool) {
	if len(id) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(id)), true
}

// decode turns an Avro payload into an event's Payload and Change.
func decode(schema *avro.RecordSchema, payload []byte) (map[string]any, *ChangeEvent, error) {
	// avro.Unmarshal takes running out of bytes for the end of the record: a truncated payload
	// would decode as nulls. Reading ourselves keeps that an error.
	var raw map[string]any
	r := avro.NewReader(nil, 0).Reset(payload)
	r.ReadVal(schema, &raw)
	if r.Error != nil {
		err := r.Error
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("the payload ends early (%d bytes): %w", len(payload), io.ErrUnexpectedEOF)
		}
		return nil, nil, fmt.Errorf("decode the Avro payload with schema %s: %w", schema.FullName(), err)
	}
	unwrap(schema, raw)
	h, ok := raw["ChangeEventHeader"].(map[string]any)
	if !ok {
		return raw, nil, nil
	}
	ce, err := changeHeader(schema, h)
	if err != nil {
		return nil, nil, err
	}
	return raw, ce, nil
}

// unwrap replaces the {"full.Name": value} maps Avro decoding gives for a union holding a named type
// with the value itself, recursively through records.
func unwrap(schema *avro.RecordSchema, rec map[string]any) {
	for _, f := range schema.Fields() {
		v, ok := rec[f.Name()]
		if !ok || v == nil {
			continue
		}
		if u, isUnion := f.Type().(*avro.UnionSchema); isUnion {
			if m, ok := v.(map[string]any); ok && len(m) == 1 {
				for name, inner := range m {
					if _, pos := u.Types().Get(name); pos >= 0 {
						v = inner
					}
				}
			}
		}
		if sub := recordOf(f.Type()); sub != nil {
			if m, ok := v.(map[string]any); ok {
				unwrap(sub, m)
			}
		}
		rec[f.Name()] = v
	}
}

func changeHeader(schema *avro.RecordSchema, h map[string]any) (*ChangeEvent, error) {
	ce := &ChangeEvent{
		EntityName: str(h["entityName"]), RecordIDs: strs(h["recordIds"]), ChangeType: str(h["changeType"]),
		ChangeOrigin: str(h["changeOrigin"]), TransactionKey: str(h["transactionKey"]), CommitUser: str(h["commitUser"]),
		SequenceNumber: int(num(h["sequenceNumber"])), CommitNumber: num(h["commitNumber"]),
		CommitTimestamp: time.UnixMilli(num(h["commitTimestamp"])).UTC(),
	}
	var err error
	for _, f := range []struct {
		name string
		into *[]string
	}{{"changedFields", &ce.ChangedFields}, {"nulledFields", &ce.NulledFields}, {"diffFields", &ce.DiffFields}} {
		if *f.into, err = ExpandBitmaps(schema, strs(h[f.name])); err != nil {
			return nil, fmt.Errorf("ChangeEventHeader.%s: %w", f.name, err)
		}
	}
	return ce, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	xs, _ := v.([]any)
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func num(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case int64:
		return n
	}
	return 0
}
