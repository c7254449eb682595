// Package sforg is a simulated Salesforce org served over real HTTP: OAuth, REST, SOQL, Composite,
// Bulk API 2.0 and a control API for tests and demos. It behaves like Salesforce on the wire, so that
// pgforce's client, third-party clients and the sync engine cannot tell it from a real org for
// everything pgforce uses. It is pgforce's embedded default and the test bed of every engine test.
package sforg

import (
	"fmt"
	"strings"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID builds an 18-character Salesforce id from a 3-character key prefix and a sequence number:
// the 15 case-sensitive characters plus Salesforce's 3-character case checksum.
func newID(prefix string, seq uint64) string {
	var b [12]byte
	for i := 11; i >= 0; i-- {
		b[i] = base62[seq%62]
		seq /= 62
	}
	// Salesforce ids carry a pod/instance digit after the prefix; keep "0" and "0000" like real ones.
	id15 := prefix + "0" + string(b[1:])
	return id15 + checksum(id15)
}

// checksum computes the 3-character suffix that makes a 15-character id case-insensitively unique.
func checksum(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	out := make([]byte, 3)
	for block := 0; block < 3; block++ {
		v := 0
		for i := 0; i < 5; i++ {
			c := id15[block*5+i]
			if c >= 'A' && c <= 'Z' {
				v |= 1 << i
			}
		}
		out[block] = alphabet[v]
	}
	return string(out)
}

// normalizeID returns the 18-character form of a 15- or 18-character id, or "" if malformed.
func normalizeID(id string) string {
	switch len(id) {
	case 15:
		if !validIDChars(id) {
			return ""
		}
		return id + checksum(id)
	case 18:
		if !validIDChars(id) || checksum(id[:15]) != strings.ToUpper(id[15:]) {
			return ""
		}
		return id[:15] + checksum(id[:15])
	}
	return ""
}

func validIDChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	return true
}

// keyPrefixes of the standard objects (the first three characters of their ids).
var keyPrefixes = map[string]string{
	"Account": "001", "Contact": "003", "Opportunity": "006", "Lead": "00Q", "Case": "500", "Task": "00T", "Event": "00U",
	"User": "005", "Profile": "00e", "Campaign": "701", "CampaignMember": "00v", "Product2": "01t", "Pricebook2": "01s",
	"PricebookEntry": "01u", "Order": "801", "OrderItem": "802", "Contract": "800", "Asset": "02i", "Attachment": "00P",
	"UserPermissionAccess": "0Hs",
}

func customPrefix(n int) string { return fmt.Sprintf("a0%c", base62[10+n%52]) }
