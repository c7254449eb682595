package sforg

import (
	"strconv"
	"time"
)

// genBlock is one Generate call's records, held compactly: every value is computed from the
// block's field recipes and the record's index, so ten million records take a row header each
// (64 bytes) instead of a kilobyte of boxed values. A record is stored like any other the first
// time it is written (row.own); until then every read path computes the same values.
type genBlock struct {
	prefix   string
	firstSeq uint64 // id sequence number of the first record; ids are consecutive
	rows     []row
	fields   []genField // by field ordinal, kept in step with the object's fields
}

type genKind uint8

const (
	genNull   genKind = iota // no value
	genConst                 // the same for every record: system stamps and users, defaults
	genID                    // the record's id
	genAuto                  // an autonumber
	genRandom                // a deterministic value from the seed and the record's number
)

// genField is how one field's value is computed.
type genField struct {
	kind genKind
	v    any // genConst
	// genAuto: the first record's number and how far apart records' numbers are (an object with
	// two autonumber fields takes two numbers per record, as save does).
	format      string
	first, step int
	spec        genSpec // genRandom
}

// genSpec makes one field's generated values; it copies what it needs of the field's definition,
// so that a field changed later (its length, its picklist) leaves generated values as saved
// values would be left.
type genSpec struct {
	typ      string
	length   int
	picklist []string
	object   string
	prefix   string
	key      uint64 // from the seed and the field's ordinal at generation: fields draw independent values
}

// genSpecs are the recipes of the fields generation fills, by ordinal: every createable field
// except references, the optional parts of compound fields and long text areas.
func genSpecs(def *ObjectDef, seed int64) map[int]genSpec {
	specs := map[int]genSpec{}
	for fi, f := range def.Fields {
		// Optional parts of compound fields (addresses, geolocations) stay empty, as in most imports.
		if !f.Createable || (f.Nillable && f.Compound != "" && f.Compound != "Name") {
			continue
		}
		key := genRand(uint64(seed))
		key = genRand(key.next() ^ uint64(fi))
		s := genSpec{typ: f.Type, length: f.Length, object: def.Name, prefix: def.KeyPrefix, key: key.next()}
		switch {
		case f.ExternalID:
			s.typ = "externalid"
		case f.Type == "reference", f.Type == "textarea" && f.Length > 1000:
			continue
		case f.Type == "picklist" || f.Type == "multipicklist":
			if len(f.Picklist) == 0 {
				continue
			}
			s.picklist = append([]string(nil), f.Picklist...)
		case f.Type == "time", f.Type == "base64", f.Type == "boolean", f.Type == "int", f.Type == "double", f.Type == "currency",
			f.Type == "percent", f.Type == "date", f.Type == "datetime", f.Type == "email":
		case f.Type == "string" || f.Type == "textarea" || f.Type == "phone" || f.Type == "url" || f.Type == "combobox" || f.Type == "encryptedstring":
			s.typ = "string"
		default:
			continue
		}
		specs[fi] = s
	}
	return specs
}

// genRand is splitmix64: a few multiplications per value and no allocation, so that a value can
// be computed again on every read.
type genRand uint64

func (r *genRand) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *genRand) intN(n int) int { return int(r.next() % uint64(n)) }

// value is the field's value on the object's n-th record (1-based).
func (s *genSpec) value(n int) any {
	r := genRand(s.key ^ uint64(n)*0xd1b54a32d192ed03)
	switch s.typ {
	case "externalid":
		return "GEN-" + s.prefix + "-" + strconv.Itoa(n)
	case "picklist", "multipicklist":
		return s.picklist[r.intN(len(s.picklist))]
	case "time":
		return time.Date(1970, 1, 1, r.intN(24), r.intN(4)*15, 0, 0, time.UTC)
	case "base64":
		return []byte("generated " + s.object + " " + strconv.Itoa(n))
	case "boolean":
		return r.intN(2) == 0
	case "int":
		return float64(r.intN(100000))
	case "double", "currency", "percent":
		return float64(r.intN(1000000)) / 100
	case "date":
		return time.Date(2020+r.intN(6), time.Month(1+r.intN(12)), 1+r.intN(28), 0, 0, 0, 0, time.UTC)
	case "datetime":
		return time.Date(2020+r.intN(6), time.Month(1+r.intN(12)), 1+r.intN(28), r.intN(24), r.intN(60), 0, 0, time.UTC)
	case "email":
		return "user" + strconv.Itoa(n-1) + "@example.com"
	}
	company, last := companyWords[r.intN(len(companyWords))], lastNames[r.intN(len(lastNames))]
	var buf [64]byte // on the stack: the string is the one allocation
	b := append(append(append(append(buf[:0], company...), ' '), last...), ' ')
	b = strconv.AppendInt(b, int64(n), 10)
	if s.length > 0 && len(b) > s.length {
		b = b[:s.length]
	}
	return string(b)
}

// value is field fi of the block's i-th record.
func (b *genBlock) value(fi, i int) any {
	if fi >= len(b.fields) {
		return nil
	}
	g := &b.fields[fi]
	switch g.kind {
	case genConst:
		return g.v
	case genID:
		return newID(b.prefix, b.firstSeq+uint64(i))
	case genAuto:
		return autoNumber(g.format, g.first+i*g.step)
	case genRandom:
		return g.spec.value(g.first + i)
	}
	return nil
}

func (b *genBlock) values(i int) []any {
	vals := make([]any, len(b.fields))
	for fi := range b.fields {
		vals[fi] = b.value(fi, i)
	}
	return vals
}

// find returns the block's record with this 18-character id, or nil.
func (b *genBlock) find(id string) *row {
	if len(id) != 18 || id[:3] != b.prefix || id[3] != '0' {
		return nil
	}
	var seq uint64
	for k := 4; k < 15; k++ {
		c := id[k]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'A' && c <= 'Z':
			d = uint64(c-'A') + 10
		case c >= 'a' && c <= 'z':
			d = uint64(c-'a') + 36
		default:
			return nil
		}
		seq = seq*62 + d
	}
	if seq < b.firstSeq || seq-b.firstSeq >= uint64(len(b.rows)) || newID(b.prefix, seq) != id {
		return nil
	}
	return &b.rows[seq-b.firstSeq]
}

// insertField keeps the block in step with a field added to its object: generated records have
// no value for it, as saved records get none.
func (b *genBlock) addField() { b.fields = append(b.fields, genField{}) }

func (b *genBlock) removeField(i int) { b.fields = append(b.fields[:i:i], b.fields[i+1:]...) }

// derives reports whether derive sets fields of def's records (keep in step with derive):
// generated records of such objects are saved one by one, so that derived values stay exact.
func derives(def *ObjectDef) bool {
	if _, f := def.field("Name"); f != nil && !f.Createable && !f.AutoNumber && def.has("LastName") {
		return true
	}
	if def.has("IsClosed") {
		return true
	}
	switch def.Name {
	case "Task", "CampaignMember", "Opportunity", "Attachment", "Contract", "User", "PricebookEntry", "OrderItem":
		return true
	}
	return false
}
