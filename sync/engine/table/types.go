// Package table implements Heroku Connect's table contract: how a mapped Salesforce object becomes a
// Postgres table (names, column types, system columns, indexes), so that apps written for Heroku
// Connect run unchanged on pgforce's tables.
package table

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/failure"
	"pgforce/sync/triggerlog"
)

// Field is a mapped Salesforce field, reduced to what the table needs.
type Field struct {
	Name      string // Salesforce API name in canonical casing: "Name", or a parent external id "Account__r.External_Id__c"
	Type      string // describe type: id, string, reference, boolean, int, double, currency, date, datetime, ...
	Length    int    // for text types
	Precision int
	Scale     int
	Digits    int
}

// Column returns the Postgres column for a Salesforce field: the lower-case API name, with "Id" as
// sfid (the serial id column is pgforce's own) and a relationship path "A__r.B__c" as "a__r__b__c".
func Column(field string) string {
	if strings.EqualFold(field, "Id") {
		return "sfid"
	}
	return strings.ToLower(strings.ReplaceAll(field, ".", "__"))
}

// Name returns the table name for a Salesforce object: its lower-case API name.
func Name(object string) string { return strings.ToLower(object) }

// UnsupportedTypeError reports a field whose type has no column (compound and binary fields).
type UnsupportedTypeError struct{ Field, Type string }

func (e *UnsupportedTypeError) Error() string {
	switch e.Type {
	case "address", "location":
		return fmt.Sprintf("field %s is a compound %s field; map its component fields instead", e.Field, e.Type)
	case "base64":
		return fmt.Sprintf("field %s holds binary data (base64), which cannot be synced", e.Field)
	}
	return fmt.Sprintf("field %s has type %q, which pgforce cannot map", e.Field, e.Type)
}

// ColumnType returns Heroku Connect's Postgres type for a field.
func ColumnType(f Field) (string, error) {
	switch strings.ToLower(f.Type) {
	case "id", "reference":
		return "varchar(18)", nil
	case "string", "picklist", "multipicklist", "combobox", "email", "phone", "url", "encryptedstring":
		return varchar(f.Length), nil
	case "textarea":
		// Long and rich text areas (32k and more) become text; shorter ones keep their length.
		if f.Length > 10000 || f.Length == 0 {
			return "text", nil
		}
		return varchar(f.Length), nil
	case "anytype", "complexvalue", "json":
		return "text", nil
	case "double", "currency", "percent":
		return "double precision", nil
	case "int":
		return "integer", nil
	case "long":
		return "bigint", nil
	case "boolean":
		return "boolean", nil
	case "date":
		return "date", nil
	case "datetime":
		return "timestamp without time zone", nil
	case "time":
		return "time without time zone", nil
	}
	return "", &UnsupportedTypeError{Field: f.Name, Type: f.Type}
}

func varchar(n int) string {
	if n <= 0 {
		n = 255
	}
	if n > 10485760 {
		return "text" // beyond Postgres's varchar limit: CREATE TABLE would fail
	}
	return fmt.Sprintf("varchar(%d)", n)
}

// MaxIdentifierBytes is Postgres's limit on names (NAMEDATALEN-1); longer names are silently cut.
const MaxIdentifierBytes = 63

// CheckIdentifier reports why name cannot be a Postgres table or column name as it is: empty, longer
// than Postgres keeps (it would be truncated silently, so two fields could share a column or a table
// could end up under another name than pgforce records), a NUL byte or invalid UTF-8 (Postgres text
// cannot hold them). what names the thing for the message ("table", "column").
func CheckIdentifier(what, name string) error {
	switch {
	case name == "":
		return failure.E(failure.Invalid, "the %s name is empty", what)
	case strings.IndexByte(name, 0) >= 0 || !utf8.ValidString(name):
		return failure.E(failure.Invalid, "the %s name %q holds a NUL byte or invalid UTF-8, which Postgres cannot store", what, name)
	case len(name) > MaxIdentifierBytes:
		return failure.E(failure.Invalid, "the %s name %q is %d bytes long; Postgres names are limited to %d bytes", what, name, len(name), MaxIdentifierBytes)
	}
	return nil
}

// Ident quotes an identifier for SQL: hostile names (quotes, spaces, keywords) stay data.
func Ident(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// IndexName builds a Heroku Connect index name ("hc_idx_<table>_<column>", unique ones "hcu_idx_...").
// Names over Postgres's limit are shortened with a hash so two long names never collide.
func IndexName(unique bool, table, column string) string {
	prefix := "hc_idx_"
	if unique {
		prefix = "hcu_idx_"
	}
	return triggerlog.FitName(prefix + table + "_" + column)
}
