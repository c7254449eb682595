package keyring

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpenRoundTripAndContextBinding(t *testing.T) {
	k, err := New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed := k.Seal([]byte("refresh-token-value"), "connection:1:refresh")
	if bytes.Contains(sealed, []byte("refresh-token-value")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := k.Open(sealed, "connection:1:refresh")
	if err != nil || string(got) != "refresh-token-value" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(sealed, "connection:2:refresh"); err == nil {
		t.Fatal("a value sealed for one context must not open in another")
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(sealed, "connection:1:refresh"); err == nil {
		t.Fatal("a value must not open with another key")
	}
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key must be refused")
	}
}

func TestDecodeKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb}, 32)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		if got, err := DecodeKey(" " + enc.EncodeToString(raw) + "\n"); err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("DecodeKey(%v) = %v, %v", enc, got, err)
		}
	}
	if _, err := DecodeKey(base64.StdEncoding.EncodeToString(make([]byte, 31))); err == nil {
		t.Fatal("31 bytes must be refused")
	}
	if _, err := DecodeKey("not base64 at all!"); err == nil {
		t.Fatal("garbage must be refused")
	}
}

func TestLoadOrCreateFileWritesAPrivateKeyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "secret.key")
	k1, created, err := LoadOrCreateFile(path)
	if err != nil || !created || len(k1) != 32 {
		t.Fatalf("first call: %v created=%v len=%d", err, created, len(k1))
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, want 0600", st.Mode().Perm())
	}
	k2, created, err := LoadOrCreateFile(path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second call must load the same key: created=%v err=%v", created, err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateFile(path); err == nil {
		t.Fatal("a corrupt key file must fail clearly, not be replaced")
	}
}
