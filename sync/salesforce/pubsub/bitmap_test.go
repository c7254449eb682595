package pubsub

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

// documentedSchema has 31 fields laid out so that Salesforce's documented example bitmap
// ['0x650004E0','4-0x10','7-0x06'] means something: field 4 is an address, field 7 a person name.
func documentedSchema(t *testing.T) *avro.RecordSchema {
	t.Helper()
	fields := []string{`{"name":"ChangeEventHeader","type":"string"}`}
	for i := 1; i <= 30; i++ {
		switch i {
		case 4:
			fields = append(fields, `{"name":"BillingAddress","type":["null",{"type":"record","name":"Address","fields":[`+
				`{"name":"Street","type":["null","string"]},{"name":"City","type":["null","string"]},{"name":"State","type":["null","string"]},`+
				`{"name":"PostalCode","type":["null","string"]},{"name":"Country","type":["null","string"]}]}],"default":null}`)
		case 7:
			fields = append(fields, `{"name":"Name","type":["null",{"type":"record","name":"PersonName","fields":[`+
				`{"name":"Salutation","type":["null","string"]},{"name":"FirstName","type":["null","string"]},{"name":"LastName","type":["null","string"]}]}],"default":null}`)
		default:
			fields = append(fields, fmt.Sprintf(`{"name":"F%d","type":["null","string"],"default":null}`, i))
		}
	}
	s, err := avro.Parse(`{"type":"record","name":"ContactChangeEvent","namespace":"com.sforce.eventbus","fields":[` + strings.Join(fields, ",") + `]}`)
	if err != nil {
		t.Fatal(err)
	}
	return s.(*avro.RecordSchema)
}

func TestExpandBitmapsReadsSalesforcesDocumentedExample(t *testing.T) {
	s := documentedSchema(t)
	got, err := ExpandBitmaps(s, []string{"0x650004E0", "4-0x10", "7-0x06"})
	if err != nil {
		t.Fatal(err)
	}
	// 0x650004E0: bits 5, 6, 7 (0xE0), 10 (0x04 of the second byte), 24, 26, 29, 30 (0x65).
	want := []string{"F5", "F6", "Name", "F10", "F24", "F26", "F29", "F30", "BillingAddress.Country", "Name.FirstName", "Name.LastName"}
	if !slices.Equal(got, want) {
		t.Fatalf("expanded to %v, want %v", got, want)
	}
}

func TestBitmapsEncodeWhatExpandReads(t *testing.T) {
	s := documentedSchema(t)
	names := []string{"F5", "F6", "Name", "F10", "F24", "F26", "F29", "F30", "BillingAddress.Country", "Name.FirstName", "Name.LastName"}
	got, err := Bitmaps(s, names)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"0x650004E0", "4-0x10", "7-0x06"}; !slices.Equal(got, want) {
		t.Fatalf("encoded %v, want Salesforce's %v", got, want)
	}
	back, err := ExpandBitmaps(s, got)
	if err != nil || !slices.Equal(back, names) {
		t.Fatalf("round trip gave %v, %v", back, err)
	}
}

func TestBitmapsOfNoFieldsIsAnEmptyList(t *testing.T) {
	s := documentedSchema(t)
	got, err := Bitmaps(s, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v; want an empty list", got, err)
	}
	names, err := ExpandBitmaps(s, []string{})
	if err != nil || len(names) != 0 {
		t.Fatalf("got %v, %v", names, err)
	}
}

func TestOnlyNestedFieldsChangedHasNoTopLevelBitmap(t *testing.T) {
	s := documentedSchema(t)
	got, err := Bitmaps(s, []string{"BillingAddress.City"})
	if err != nil || !slices.Equal(got, []string{"4-0x02"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	names, err := ExpandBitmaps(s, got)
	if err != nil || !slices.Equal(names, []string{"BillingAddress.City"}) {
		t.Fatalf("got %v, %v", names, err)
	}
}

func TestMalformedBitmapsAreErrorsNotGuesses(t *testing.T) {
	s := documentedSchema(t)
	for _, bad := range [][]string{
		{"650004E0"},       // no 0x
		{"0xZZ"},           // not hex
		{"0x80000000000"},  // bit 43 of a 31-field record
		{"31-0x01"},        // no field 31
		{"5-0x01"},         // F5 is not compound
		{"4-0x01", "0x01"}, // a top-level bitmap must come first
		{"4-0x40"},         // the address has 5 fields
		{"x-0x01"},         // position is not a number
	} {
		if names, err := ExpandBitmaps(s, bad); err == nil {
			t.Errorf("ExpandBitmaps(%q) = %v, want an error", bad, names)
		}
	}
	if _, err := Bitmaps(s, []string{"Nope"}); err == nil {
		t.Error("encoding an unknown field should fail")
	}
	if _, err := Bitmaps(s, []string{"BillingAddress.Planet"}); err == nil {
		t.Error("encoding an unknown nested field should fail")
	}
}
