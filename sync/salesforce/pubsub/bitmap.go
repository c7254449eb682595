package pubsub

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// Change events over the Pub/Sub API name their changed, nulled and diff fields with bitmaps instead
// of field names (Salesforce's "Event Deserialization Considerations"): a list of strings whose first
// element is a hexadecimal bitmap of the event schema's top-level fields ("0x650004E0": bit n set =
// the field at position n of the Avro record changed, bit 0 being the lowest bit of the last hex
// digit), followed by one "P-0xHH" element per compound field (an address, say) whose nested fields
// changed, P being the compound's position and the bitmap indexing its nested record's fields. The
// first element may be absent when only nested fields changed.

// ExpandBitmaps turns a bitmap list into field names, nested ones as "Compound.Field" (the npm and
// Python clients' form). An empty list is no fields.
func ExpandBitmaps(schema *avro.RecordSchema, bitmaps []string) ([]string, error) {
	var names []string
	fields := schema.Fields()
	for i, bm := range bitmaps {
		if pos, nested, ok := strings.Cut(bm, "-"); ok {
			p, err := strconv.Atoi(pos)
			if err != nil || p < 0 || p >= len(fields) {
				return nil, fmt.Errorf("bitmap %q names field %s, and the schema has %d fields", bm, pos, len(fields))
			}
			rec := recordOf(fields[p].Type())
			if rec == nil {
				return nil, fmt.Errorf("bitmap %q: field %s (%s) is not a compound field", bm, fields[p].Name(), fields[p].Type().Type())
			}
			sub, err := namesFromBitmap(rec.Fields(), nested)
			if err != nil {
				return nil, fmt.Errorf("bitmap %q: %w", bm, err)
			}
			for _, s := range sub {
				names = append(names, fields[p].Name()+"."+s)
			}
			continue
		}
		if i != 0 {
			return nil, fmt.Errorf("bitmap %q: only the first element may be a top-level bitmap", bm)
		}
		top, err := namesFromBitmap(fields, bm)
		if err != nil {
			return nil, fmt.Errorf("bitmap %q: %w", bm, err)
		}
		names = append(names, top...)
	}
	return names, nil
}

// Bitmaps is the inverse of ExpandBitmaps: the bitmap list naming the fields (top-level names, or
// "Compound.Field" for nested ones). A name the schema does not have is an error.
func Bitmaps(schema *avro.RecordSchema, names []string) ([]string, error) {
	fields := schema.Fields()
	index := make(map[string]int, len(fields))
	for i, f := range fields {
		index[f.Name()] = i
	}
	var top []int
	nested := map[int][]int{}
	var order []int
	for _, n := range names {
		parent, child, isNested := strings.Cut(n, ".")
		p, ok := index[parent]
		if !ok {
			return nil, fmt.Errorf("field %q is not in schema %s", n, schema.FullName())
		}
		if !isNested {
			top = append(top, p)
			continue
		}
		rec := recordOf(fields[p].Type())
		if rec == nil {
			return nil, fmt.Errorf("field %q: %s is not a compound field", n, parent)
		}
		c := -1
		for i, f := range rec.Fields() {
			if f.Name() == child {
				c = i
			}
		}
		if c < 0 {
			return nil, fmt.Errorf("field %q is not in schema %s", n, schema.FullName())
		}
		if _, seen := nested[p]; !seen {
			order = append(order, p)
		}
		nested[p] = append(nested[p], c)
	}
	out := []string{}
	if len(top) > 0 {
		out = append(out, bitmap(top))
	}
	for _, p := range order {
		out = append(out, strconv.Itoa(p)+"-"+bitmap(nested[p]))
	}
	return out, nil
}

// bitmap encodes positions as Salesforce does: "0x" and upper-case hex digits, whole bytes (the npm
// client reads upper-case digits only).
func bitmap(positions []int) string {
	var b big.Int
	for _, p := range positions {
		b.SetBit(&b, p, 1)
	}
	raw := b.Bytes()
	if len(raw) == 0 {
		raw = []byte{0}
	}
	return fmt.Sprintf("0x%X", raw)
}

var errNotHex = errors.New("not a 0x-prefixed hexadecimal bitmap")

func namesFromBitmap(fields []*avro.Field, bm string) ([]string, error) {
	hex, ok := strings.CutPrefix(bm, "0x")
	if !ok || hex == "" {
		return nil, errNotHex
	}
	var b big.Int
	if _, ok := b.SetString(hex, 16); !ok {
		return nil, errNotHex
	}
	var names []string
	for i := range b.BitLen() {
		if b.Bit(i) == 0 {
			continue
		}
		if i >= len(fields) {
			return nil, fmt.Errorf("bit %d is set, and the record has %d fields", i, len(fields))
		}
		names = append(names, fields[i].Name())
	}
	return names, nil
}

// recordOf returns the record inside an optional (["null", record]) or plain record type.
func recordOf(s avro.Schema) *avro.RecordSchema {
	switch t := s.(type) {
	case *avro.RecordSchema:
		return t
	case *avro.RefSchema:
		return recordOf(t.Schema())
	case *avro.UnionSchema:
		for _, u := range t.Types() {
			if r := recordOf(u); r != nil {
				return r
			}
		}
	}
	return nil
}
