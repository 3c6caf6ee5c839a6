package seal

import (
	"bytes"
	"errors"
	"testing"

	"presence"
)

func TestSealOpen(t *testing.T) {
	k, text, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseKey(text)
	if err != nil || again.ID != k.ID {
		t.Fatalf("parse: %v %v", again, err)
	}
	s, _ := New(k)
	e := presence.Embedding{0.6, -0.8, 0}
	sealed, err := s.SealEmbedding(e, "ses_1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte{0x9a, 0x99, 0x19, 0x3f}) { // 0.6 as float32
		t.Fatal("template visible in the sealed bytes")
	}
	back, err := s.OpenEmbedding(sealed, "ses_1")
	if err != nil || len(back) != 3 || back[0] != 0.6 || back[1] != -0.8 {
		t.Fatalf("%v %v", back, err)
	}
	// Bound to its owner: moving it to another row fails.
	if _, err := s.OpenEmbedding(sealed, "ses_2"); err == nil {
		t.Fatal("opened for another owner")
	}
	// Tampering is detected.
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open(sealed, "ses_1"); err == nil {
		t.Fatal("tampered value opened")
	}
}

func TestRotation(t *testing.T) {
	old, _, _ := NewKey()
	cur, _, _ := NewKey()
	before, _ := New(old)
	sealed, _ := before.Seal([]byte("template"), "sub_1")
	rotating, _ := New(cur, old)
	plain, err := rotating.Open(sealed, "sub_1")
	if err != nil || string(plain) != "template" {
		t.Fatalf("old value during rotation: %v", err)
	}
	resealed, _ := rotating.Seal(plain, "sub_1")
	if id, _ := KeyID(resealed); id != cur.ID {
		t.Fatalf("resealed with %s", id)
	}
	after, _ := New(cur)
	if _, err := after.Open(sealed, "sub_1"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old value after the old key is dropped: %v", err)
	}
	if _, err := after.Open(resealed, "sub_1"); err != nil {
		t.Fatal(err)
	}
}

func TestBadKeysAndValues(t *testing.T) {
	for _, s := range []string{"", "short", "bm90IDMyIGJ5dGVz"} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
	k, _, _ := NewKey()
	s, _ := New(k)
	for _, v := range [][]byte{nil, {1}, {1, 200}, {2, 0}, {1, 0}} {
		if _, err := s.Open(v, "x"); err == nil {
			t.Errorf("opened %v", v)
		}
	}
}

func FuzzOpen(f *testing.F) {
	k, _, _ := NewKey()
	s, _ := New(k)
	sealed, _ := s.Seal([]byte("x"), "o")
	f.Add(sealed)
	f.Fuzz(func(t *testing.T, data []byte) {
		s.Open(data, "o") // must not panic
		KeyID(data)
	})
}
