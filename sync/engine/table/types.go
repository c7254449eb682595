// Package table implements Heroku Connect's table contract: how a mapped Salesforce object becomes a
// Postgres table (names, column types, system columns, indexes), so that apps written for Heroku
// Connect run unchanged on pgforce's tables.
package table

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

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
	return fmt.Sprintf("varchar(%d)", n)
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
