// Package seal encrypts face templates at rest with AES-256-GCM. Each
// sealed value names the key that sealed it, so keys can be rotated: new
// values use the current key, old keys stay readable until every value is
// resealed (`presence templates rotate`).
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"

	"presence"
)

// version is the first byte of every sealed value.
const version = 1

// Key is one AES-256 key with its identifier (the first 8 hex digits of
// its SHA-256, so the id reveals nothing useful and needs no storage).
type Key struct {
	ID     string
	secret []byte
}

// ParseKey reads a key written as base64 (standard or URL alphabet) of
// exactly 32 bytes.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil || len(raw) != 32 {
		return Key{}, errors.New("a template key must be 32 random bytes in base64 (generate one with `presence templates keygen`)")
	}
	sum := sha256.Sum256(raw)
	return Key{ID: hex.EncodeToString(sum[:4]), secret: raw}, nil
}

// NewKey generates a random key and returns it with its base64 text.
func NewKey() (Key, string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Key{}, "", err
	}
	text := base64.StdEncoding.EncodeToString(raw)
	k, err := ParseKey(text)
	return k, text, err
}

// String names the key by its id, never its secret, so a key printed or
// logged by mistake gives nothing away.
func (k Key) String() string { return "key:" + k.ID }

// Sealer seals with its current key and opens with any of its keys.
type Sealer struct {
	current string
	aeads   map[string]cipher.AEAD
}

// New returns a sealer sealing with current; old keys only open.
func New(current Key, old ...Key) (*Sealer, error) {
	s := &Sealer{current: current.ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range append([]Key{current}, old...) {
		if len(k.secret) != 32 {
			return nil, errors.New("seal: invalid key")
		}
		block, err := aes.NewCipher(k.secret)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads[k.ID] = aead
	}
	return s, nil
}

// CurrentKeyID names the key new values are sealed with.
func (s *Sealer) CurrentKeyID() string { return s.current }

// Seal encrypts plaintext bound to owner (e.g. the session or subject id):
// a sealed value copied to another row does not open there.
func (s *Sealer) Seal(plaintext []byte, owner string) ([]byte, error) {
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := []byte{version, byte(len(s.current))}
	out = append(out, s.current...)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, []byte(owner)), nil
}

// ErrUnknownKey means a value was sealed with a key this sealer lacks.
var ErrUnknownKey = errors.New("seal: sealed with a key that is not configured")

// IsSealed tells a sealed value from plain image bytes (JPEG, PNG and
// WebP never start with the seal's version byte).
func IsSealed(data []byte) bool {
	_, err := KeyID(data)
	return err == nil
}

// ImageOwner is what an audit image is sealed to: its session and place.
func ImageOwner(sessionID string, index int) string {
	return fmt.Sprintf("%s/image/%d", sessionID, index)
}

// KeyID names the key a sealed value was sealed with.
func KeyID(sealed []byte) (string, error) {
	if len(sealed) < 2 || sealed[0] != version || len(sealed) < 2+int(sealed[1]) {
		return "", errors.New("seal: not a sealed value")
	}
	return string(sealed[2 : 2+int(sealed[1])]), nil
}

// Open decrypts a value sealed for owner.
func (s *Sealer) Open(sealed []byte, owner string) ([]byte, error) {
	id, err := KeyID(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := s.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w (key %s)", ErrUnknownKey, id)
	}
	rest := sealed[2+len(id):]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("seal: sealed value too short")
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(owner))
	if err != nil {
		return nil, errors.New("seal: sealed value does not open (wrong key, wrong owner or tampered)")
	}
	return plain, nil
}

// SealEmbedding seals a template.
func (s *Sealer) SealEmbedding(e presence.Embedding, owner string) ([]byte, error) {
	buf := make([]byte, 4*len(e))
	for i, v := range e {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	return s.Seal(buf, owner)
}

// OpenEmbedding opens a sealed template.
func (s *Sealer) OpenEmbedding(sealed []byte, owner string) (presence.Embedding, error) {
	buf, err := s.Open(sealed, owner)
	if err != nil {
		return nil, err
	}
	if len(buf)%4 != 0 {
		return nil, errors.New("seal: template of odd length")
	}
	e := make(presence.Embedding, len(buf)/4)
	for i := range e {
		e[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	return e, nil
}
