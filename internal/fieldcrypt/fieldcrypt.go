// Package fieldcrypt encrypts individual field values for storage (AES-256-GCM bound
// to their row through associated data) and computes blind indexes (HMAC-SHA256) so
// that encrypted values can still be found by equality.
package fieldcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"

	"github.com/google/uuid"
)

// Encrypter encrypts field values and computes blind indexes.
type Encrypter interface {
	// Encrypt seals plaintext; aad binds the ciphertext to its place (table, organization,
	// record id, field) so that a ciphertext moved elsewhere fails to decrypt.
	Encrypt(plaintext []byte, aad string) ([]byte, error)
	// Decrypt opens a ciphertext made by Encrypt with the same aad, whichever of the
	// configured keys sealed it. Returns ErrDecrypt if it was tampered with or moved.
	Decrypt(ciphertext []byte, aad string) ([]byte, error)
	// BlindIndex returns a keyed hash of a normalised value, scoped to an organization
	// and a field, so equal values in two organizations or two fields give unrelated tokens.
	BlindIndex(org uuid.UUID, field, normalized string) []byte
}

// ErrDecrypt is returned when a ciphertext cannot be opened.
var ErrDecrypt = errors.New("fieldcrypt: ciphertext cannot be decrypted")

const (
	formatVersion = 1
	keyIDLen      = 4
	headerLen     = 1 + keyIDLen
	nonceLen      = 12
)

// AEAD is the AES-256-GCM Encrypter. Safe for concurrent use.
type AEAD struct {
	primaryID uint32
	keys      map[uint32]cipher.AEAD
	hashKey   []byte
	macs      sync.Pool
}

// ParseKey decodes a 64-hex-character (32-byte) key.
func ParseKey(s string) ([]byte, error) {
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != 32 {
		return nil, errors.New("fieldcrypt: a key must be 64 hexadecimal characters (32 bytes)")
	}
	return k, nil
}

// New returns an Encrypter that encrypts with encryptKey, also decrypts values sealed
// with any of previousKeys (key rotation), and computes blind indexes with hashKey.
// All keys are 32 bytes; hashKey must differ from every encryption key.
func New(encryptKey, hashKey []byte, previousKeys ...[]byte) (*AEAD, error) {
	if len(hashKey) != 32 {
		return nil, errors.New("fieldcrypt: the hash key must be 32 bytes")
	}
	e := &AEAD{keys: map[uint32]cipher.AEAD{}, hashKey: append([]byte(nil), hashKey...)}
	e.macs.New = func() any { return hmac.New(sha256.New, e.hashKey) }
	for i, k := range append([][]byte{encryptKey}, previousKeys...) {
		if len(k) != 32 {
			return nil, errors.New("fieldcrypt: an encryption key must be 32 bytes")
		}
		if hmac.Equal(k, hashKey) {
			return nil, errors.New("fieldcrypt: the hash key must differ from the encryption keys")
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("fieldcrypt: %w", err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("fieldcrypt: %w", err)
		}
		id := KeyID(k)
		if _, dup := e.keys[id]; dup {
			continue
		}
		e.keys[id] = gcm
		if i == 0 {
			e.primaryID = id
		}
	}
	return e, nil
}

// KeyID returns the public 32-bit identifier stored with every ciphertext sealed by key.
// It is derived one-way from the key, so it reveals nothing about it.
func KeyID(key []byte) uint32 {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("crm-registry key id"))
	return binary.BigEndian.Uint32(m.Sum(nil))
}

// Encrypt implements Encrypter. Layout: version(1) | key id(4) | nonce(12) | sealed.
func (e *AEAD) Encrypt(plaintext []byte, aad string) ([]byte, error) {
	gcm := e.keys[e.primaryID]
	out := make([]byte, headerLen+nonceLen, headerLen+nonceLen+len(plaintext)+gcm.Overhead())
	out[0] = formatVersion
	binary.BigEndian.PutUint32(out[1:headerLen], e.primaryID)
	nonce := out[headerLen : headerLen+nonceLen]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("fieldcrypt: nonce: %w", err)
	}
	return gcm.Seal(out, nonce, plaintext, []byte(aad)), nil
}

// Decrypt implements Encrypter.
func (e *AEAD) Decrypt(ciphertext []byte, aad string) ([]byte, error) {
	if len(ciphertext) < headerLen+nonceLen || ciphertext[0] != formatVersion {
		return nil, ErrDecrypt
	}
	gcm, ok := e.keys[binary.BigEndian.Uint32(ciphertext[1:headerLen])]
	if !ok {
		return nil, fmt.Errorf("%w: sealed with an unknown key", ErrDecrypt)
	}
	nonce := ciphertext[headerLen : headerLen+nonceLen]
	pt, err := gcm.Open(nil, nonce, ciphertext[headerLen+nonceLen:], []byte(aad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// BlindIndex implements Encrypter: HMAC-SHA256(hashKey, org | len(field) | field | value).
func (e *AEAD) BlindIndex(org uuid.UUID, field, normalized string) []byte {
	m := e.macs.Get().(hash.Hash)
	defer e.macs.Put(m)
	m.Reset()
	m.Write(org[:])
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(field)))
	m.Write(n[:])
	m.Write([]byte(field))
	m.Write([]byte(normalized))
	return m.Sum(nil)
}
