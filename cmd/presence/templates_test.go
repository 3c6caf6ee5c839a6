package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"presence/presencetest"
)

// TestTemplateKeyRotation enrols a face under key A, reseals the store to
// key B with `presence templates rotate`, and restarts with key B alone:
// the enrolled face still verifies. Without A the rotation refuses.
func TestTemplateKeyRotation(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "p.db")
	keyA, keyB := newKeyText(t), newKeyText(t)
	fileA, fileB := filepath.Join(dir, "a.key"), filepath.Join(dir, "b.key")
	os.WriteFile(fileA, []byte(keyA+"\n"), 0o600)
	os.WriteFile(fileB, []byte(keyB+"\n"), 0o600)

	r := run(t, nil, "apikey", "create", "--name", "rotation", "--quiet", "--db", db)
	if r.code != 0 {
		t.Fatalf("apikey: %s", r.stderr)
	}
	apiKey := strings.TrimSpace(r.stdout)
	live := presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img20.jpg"))
	same := presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img21.jpg"))

	a := startNode(t, []string{"PRESENCE_TEMPLATE_KEY_FILE=" + fileA}, "--db", db)
	if status, body := call(t, "POST", a.url+"/v1/subjects", apiKey, "application/json", []byte(`{"id":"alice"}`)); status != 201 {
		t.Fatalf("create subject: %d %v", status, body)
	}
	enrolFrom := passiveSession(t, a.url, apiKey, live)
	if status, body := call(t, "POST", a.url+"/v1/subjects/alice/enrol", apiKey, "application/json", []byte(`{"session_id":"`+enrolFrom+`"}`)); status != 201 {
		t.Fatalf("enrol: %d %v", status, body)
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	<-a.exited

	// Key B alone cannot read what A sealed: the run stops and says so.
	r = run(t, []string{"PRESENCE_TEMPLATE_KEY_FILE=" + fileB}, "templates", "rotate", "--db", db)
	if r.code == 0 || !strings.Contains(r.stderr, "not configured") {
		t.Fatalf("rotation without the old key: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, []string{"PRESENCE_TEMPLATE_KEY_FILE=" + fileB, "PRESENCE_OLD_TEMPLATE_KEYS_FILE=" + fileA}, "templates", "rotate", "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, "subject   resealed 1") {
		t.Fatalf("rotation: %d %s %s", r.code, r.stdout, r.stderr)
	}

	b := startNode(t, []string{"PRESENCE_TEMPLATE_KEY_FILE=" + fileB}, "--db", db)
	probe := passiveSession(t, b.url, apiKey, same)
	status, got := call(t, "POST", b.url+"/v1/subjects/alice/verify", apiKey, "application/json", []byte(`{"session_id":"`+probe+`"}`))
	if status != 200 || got["match"] != true {
		t.Fatalf("verify after rotation: %d %v", status, got)
	}
}

// passiveSession runs a one-frame passive check and returns its id.
func passiveSession(t *testing.T, url, apiKey string, frame []byte) string {
	t.Helper()
	status, created := call(t, "POST", url+"/v1/sessions", apiKey, "application/json", []byte(`{"enrolable":true}`))
	if status != 201 {
		t.Fatalf("create session: %d %v", status, created)
	}
	id, token := created["id"].(string), created["client_token"].(string)
	if status, body := call(t, "POST", url+"/v1/sessions/"+id+"/frames", token, "image/jpeg", frame); status != 200 || body["status"] != "succeeded" {
		t.Fatalf("frame: %d %v", status, body)
	}
	return id
}
