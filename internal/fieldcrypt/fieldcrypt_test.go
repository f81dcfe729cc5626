package fieldcrypt_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/lerianstudio/crm-registry/internal/fieldcrypt"
)

func randomKey(tb testing.TB) []byte {
	tb.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		tb.Fatal(err)
	}
	return k
}

func mustNew(tb testing.TB, encryptKey, hashKey []byte, previous ...[]byte) *fieldcrypt.AEAD {
	tb.Helper()
	e, err := fieldcrypt.New(encryptKey, hashKey, previous...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return e
}

func mustEncrypt(tb testing.TB, e fieldcrypt.Encrypter, plaintext, aad string) []byte {
	tb.Helper()
	ct, err := e.Encrypt([]byte(plaintext), aad)
	if err != nil {
		tb.Fatalf("Encrypt: %v", err)
	}
	return ct
}

const aad = "holders:0190d7a4-0000-7000-8000-000000000001:0190d7a4-0000-7000-8000-000000000002"

func TestAEAD_RoundTrip(t *testing.T) {
	e := mustNew(t, randomKey(t), randomKey(t))
	for _, tt := range []struct{ name, plaintext string }{
		{"Empty", ""},
		{"ASCII", "Maria da Silva"},
		{"Unicode", "João Conceição 数字 🙂"},
		{"JSON", `{"name":"Maria","document":"123.456.789-09"}`},
		{"Long", strings.Repeat("x", 1<<16)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ct := mustEncrypt(t, e, tt.plaintext, aad)
			if tt.plaintext != "" && bytes.Contains(ct, []byte(tt.plaintext)) {
				t.Fatal("ciphertext contains the plaintext")
			}
			pt, err := e.Decrypt(ct, aad)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if string(pt) != tt.plaintext {
				t.Fatalf("Decrypt = %q, want %q", pt, tt.plaintext)
			}
		})
	}
}

func TestAEAD_Decrypt_AADMismatch(t *testing.T) {
	e := mustNew(t, randomKey(t), randomKey(t))
	ct := mustEncrypt(t, e, "123.456.789-09", "holders:org-a:id-1")
	for _, other := range []string{"holders:org-a:id-2", "holders:org-b:id-1", "aliases:org-a:id-1", "", "holders:org-a:id-1 "} {
		if _, err := e.Decrypt(ct, other); !errors.Is(err, fieldcrypt.ErrDecrypt) {
			t.Errorf("Decrypt with aad %q: err = %v, want ErrDecrypt", other, err)
		}
	}
}

func TestAEAD_Decrypt_Tampered(t *testing.T) {
	e := mustNew(t, randomKey(t), randomKey(t))
	ct := mustEncrypt(t, e, "Maria da Silva", aad)
	// Flip one bit in every position: version, key id, nonce, sealed text and tag.
	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x01
		if _, err := e.Decrypt(bad, aad); !errors.Is(err, fieldcrypt.ErrDecrypt) {
			t.Fatalf("byte %d flipped: err = %v, want ErrDecrypt", i, err)
		}
	}
	for _, tt := range []struct {
		name string
		ct   []byte
	}{
		{"Nil", nil},
		{"HeaderOnly", ct[:5]},
		{"NoTag", ct[:5+12]},
		{"Truncated", ct[:len(ct)-1]},
		{"Extended", append(bytes.Clone(ct), 0)},
	} {
		if _, err := e.Decrypt(tt.ct, aad); !errors.Is(err, fieldcrypt.ErrDecrypt) {
			t.Errorf("%s: err = %v, want ErrDecrypt", tt.name, err)
		}
	}
}

func TestAEAD_Encrypt_RandomNonce(t *testing.T) {
	e := mustNew(t, randomKey(t), randomKey(t))
	a := mustEncrypt(t, e, "12345678909", aad)
	b := mustEncrypt(t, e, "12345678909", aad)
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions of the same plaintext are equal")
	}
	// Layout: version(1) | key id(4) | nonce(12) | sealed.
	if bytes.Equal(a[5:17], b[5:17]) {
		t.Fatal("two encryptions share a nonce")
	}
}

func TestAEAD_KeyID(t *testing.T) {
	key := randomKey(t)
	e := mustNew(t, key, randomKey(t))
	ct := mustEncrypt(t, e, "value", aad)
	if ct[0] != 1 {
		t.Errorf("format version = %d, want 1", ct[0])
	}
	if got, want := binary.BigEndian.Uint32(ct[1:5]), fieldcrypt.KeyID(key); got != want {
		t.Errorf("stored key id = %#x, want KeyID(key) = %#x", got, want)
	}
	if fieldcrypt.KeyID(key) != fieldcrypt.KeyID(bytes.Clone(key)) {
		t.Error("KeyID is not deterministic")
	}
	if fieldcrypt.KeyID(key) == fieldcrypt.KeyID(randomKey(t)) {
		t.Error("two random keys have the same id")
	}
}

func TestAEAD_KeyRotation(t *testing.T) {
	oldKey, newKey, hashKey := randomKey(t), randomKey(t), randomKey(t)
	before := mustNew(t, oldKey, hashKey)
	ct := mustEncrypt(t, before, "Maria da Silva", aad)

	rotated := mustNew(t, newKey, hashKey, oldKey)
	pt, err := rotated.Decrypt(ct, aad)
	if err != nil {
		t.Fatalf("Decrypt of an old-key value with the old key as previous key: %v", err)
	}
	if string(pt) != "Maria da Silva" {
		t.Fatalf("Decrypt = %q", pt)
	}

	// New values are sealed with the new key...
	fresh := mustEncrypt(t, rotated, "Maria da Silva", aad)
	if got := binary.BigEndian.Uint32(fresh[1:5]); got != fieldcrypt.KeyID(newKey) {
		t.Fatalf("rotated encrypter seals with key id %#x, want the new key's %#x", got, fieldcrypt.KeyID(newKey))
	}
	// ...which the old encrypter cannot open.
	if _, err := before.Decrypt(fresh, aad); !errors.Is(err, fieldcrypt.ErrDecrypt) {
		t.Fatalf("old encrypter on a new-key value: err = %v, want ErrDecrypt", err)
	}

	// Once the old key is dropped, old values no longer open.
	withoutOld := mustNew(t, newKey, hashKey)
	if _, err := withoutOld.Decrypt(ct, aad); !errors.Is(err, fieldcrypt.ErrDecrypt) {
		t.Fatalf("encrypter without the old key: err = %v, want ErrDecrypt", err)
	}

	// The blind index depends only on the hash key, so rotation keeps lookups working.
	org := uuid.New()
	if !bytes.Equal(before.BlindIndex(org, "holder.document", "1"), rotated.BlindIndex(org, "holder.document", "1")) {
		t.Fatal("rotating the encryption key changed the blind index")
	}
}

func TestAEAD_KeyRotation_PreviousKeyEqualToPrimary(t *testing.T) {
	key, hashKey := randomKey(t), randomKey(t)
	e := mustNew(t, key, hashKey, key)
	ct := mustEncrypt(t, e, "v", aad)
	if got := binary.BigEndian.Uint32(ct[1:5]); got != fieldcrypt.KeyID(key) {
		t.Fatalf("key id = %#x, want %#x", got, fieldcrypt.KeyID(key))
	}
	if pt, err := e.Decrypt(ct, aad); err != nil || string(pt) != "v" {
		t.Fatalf("Decrypt = %q, %v", pt, err)
	}
}

func TestAEAD_BlindIndex(t *testing.T) {
	hashKey := randomKey(t)
	e := mustNew(t, randomKey(t), hashKey)
	orgA, orgB := uuid.New(), uuid.New()

	a := e.BlindIndex(orgA, "holder.document", "12345678909")
	if len(a) != 32 {
		t.Fatalf("len = %d, want 32 (HMAC-SHA256)", len(a))
	}
	if !bytes.Equal(a, e.BlindIndex(orgA, "holder.document", "12345678909")) {
		t.Fatal("BlindIndex is not deterministic")
	}
	// Another encrypter with the same hash key (and another encryption key) agrees.
	if !bytes.Equal(a, mustNew(t, randomKey(t), hashKey).BlindIndex(orgA, "holder.document", "12345678909")) {
		t.Fatal("BlindIndex depends on something other than the hash key")
	}

	different := map[string][]byte{
		"OtherOrg":      e.BlindIndex(orgB, "holder.document", "12345678909"),
		"OtherField":    e.BlindIndex(orgA, "alias.document", "12345678909"),
		"OtherValue":    e.BlindIndex(orgA, "holder.document", "12345678908"),
		"OtherHashKey":  mustNew(t, randomKey(t), randomKey(t)).BlindIndex(orgA, "holder.document", "12345678909"),
		"FieldBoundary": e.BlindIndex(orgA, "holder.document1", "2345678909"),
	}
	for name, b := range different {
		if bytes.Equal(a, b) {
			t.Errorf("%s: blind index equals the original", name)
		}
	}
	// The plaintext value does not show in the token.
	if bytes.Contains(a, []byte("12345678909")) || strings.Contains(hex.EncodeToString(a), "12345678909") {
		t.Error("blind index contains the value")
	}
}

func TestAEAD_ConcurrentUse(t *testing.T) {
	e := mustNew(t, randomKey(t), randomKey(t))
	org := uuid.New()
	want := e.BlindIndex(org, "f", "v")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for range 100 {
				if !bytes.Equal(e.BlindIndex(org, "f", "v"), want) {
					errs <- errors.New("BlindIndex differs under concurrency")
					return
				}
				ct, err := e.Encrypt([]byte("v"), aad)
				if err != nil {
					errs <- err
					return
				}
				if pt, err := e.Decrypt(ct, aad); err != nil || string(pt) != "v" {
					errs <- errors.New("round trip failed under concurrency")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestNew_RejectsBadKeys(t *testing.T) {
	k1, k2, k3 := randomKey(t), randomKey(t), randomKey(t)
	tests := []struct {
		name     string
		enc      []byte
		hash     []byte
		previous [][]byte
	}{
		{"EncryptKeyNil", nil, k2, nil},
		{"EncryptKeyShort", k1[:31], k2, nil},
		{"EncryptKeyAES128", k1[:16], k2, nil},
		{"EncryptKeyLong", append(bytes.Clone(k1), 0), k2, nil},
		{"HashKeyNil", k1, nil, nil},
		{"HashKeyShort", k1, k2[:31], nil},
		{"HashKeyLong", k1, append(bytes.Clone(k2), 0), nil},
		{"HashKeyEqualsEncryptKey", k1, bytes.Clone(k1), nil},
		{"PreviousKeyShort", k1, k2, [][]byte{k3[:16]}},
		{"HashKeyEqualsPreviousKey", k1, k2, [][]byte{k3, bytes.Clone(k2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := fieldcrypt.New(tt.enc, tt.hash, tt.previous...)
			if err == nil {
				t.Fatalf("New succeeded (%v), want an error", e)
			}
		})
	}
	if _, err := fieldcrypt.New(k1, k2, k3); err != nil {
		t.Fatalf("New with valid keys: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	valid := strings.Repeat("0a", 32)
	k, err := fieldcrypt.ParseKey(valid)
	if err != nil {
		t.Fatalf("ParseKey(valid) = %v", err)
	}
	if len(k) != 32 || k[0] != 0x0a {
		t.Fatalf("ParseKey = %x", k)
	}
	if _, err := fieldcrypt.ParseKey(strings.ToUpper(valid)); err != nil {
		t.Fatalf("ParseKey(upper case) = %v", err)
	}
	for _, s := range []string{"", valid[:62], valid + "0a", strings.Repeat("zz", 32), valid[:63]} {
		if _, err := fieldcrypt.ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) succeeded", s)
		}
	}
}

func BenchmarkAEAD_EncryptDecrypt(b *testing.B) {
	e := mustNew(b, randomKey(b), randomKey(b))
	plaintext := []byte(`{"name":"Maria da Silva Conceição","document":"123.456.789-09",` +
		`"addresses":{"primary":{"line1":"Rua das Flores, 123","line2":"Apto 45","zipCode":"01234-567",` +
		`"city":"São Paulo","state":"SP","country":"BR"}},"contact":{"primaryEmail":"maria@example.com",` +
		`"mobilePhone":"+55 11 91234-5678"},"naturalPerson":{"birthDate":"1990-05-17","motherName":"Ana"}}`)
	b.SetBytes(int64(len(plaintext)))
	b.ReportAllocs()
	for b.Loop() {
		ct, err := e.Encrypt(plaintext, aad)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Decrypt(ct, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAEAD_BlindIndex(b *testing.B) {
	e := mustNew(b, randomKey(b), randomKey(b))
	org := uuid.New()
	b.ReportAllocs()
	for b.Loop() {
		e.BlindIndex(org, "holder.document", "12345678909")
	}
}
