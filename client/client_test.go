package client_test

import (
	"context"
	"testing"

	"presence/client"
	"presence/httpapi/apitest"
	"presence/presencetest"
)

// TestAgainstTheServer drives a real server (real models, SQLite) through
// the client: a check, its verdict, enrolment, verification,
// identification, typed errors, erasure.
func TestAgainstTheServer(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	c := client.New(e.URL+"/", e.Key)
	ctx := context.Background()
	photo := func(name string, n int) []byte {
		return presencetest.Recapture(t, presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/"+name)), n)
	}
	check := func(name string, n int) string {
		t.Helper()
		s, err := c.CreateSession(ctx, client.SessionRequest{CorrelationID: "order-1", Enrolable: true})
		if err != nil {
			t.Fatal(err)
		}
		status, _, err := c.UploadFrames(ctx, s.ID, s.ClientToken, photo(name, n))
		if err != nil || status != "succeeded" {
			t.Fatalf("upload: %s %v", status, err)
		}
		// The token works once: a typed error says so.
		if _, _, err := c.UploadFrames(ctx, s.ID, s.ClientToken, photo(name, n)); client.CodeOf(err) != "token_used" {
			t.Fatalf("second upload: %v", err)
		}
		return s.ID
	}
	first := check("img20.jpg", 1)
	v, err := c.Session(ctx, first)
	if err != nil || v.Decision != "realface" || v.CorrelationID != "order-1" || v.Score == nil {
		t.Fatalf("verdict: %+v %v", v, err)
	}
	if _, err := c.CreateSubject(ctx, "user-9"); err != nil {
		t.Fatal(err)
	}
	if en, err := c.Enrol(ctx, "user-9", first); err != nil || en.Templates != 1 {
		t.Fatalf("enrol: %+v %v", en, err)
	}
	second := check("img21.jpg", 2)
	if m, err := c.Verify(ctx, "user-9", second); err != nil || !m.Match || m.Decision != "realface" {
		t.Fatalf("verify: %+v %v", m, err)
	}
	if cands, err := c.Identify(ctx, second, 3); err != nil || len(cands) == 0 || cands[0].SubjectID != "user-9" {
		t.Fatalf("identify: %+v %v", cands, err)
	}
	if raw, err := c.ExportSubject(ctx, "user-9"); err != nil || len(raw) == 0 {
		t.Fatalf("export: %v", err)
	}
	if erased, err := c.DeleteSubject(ctx, "user-9"); err != nil || erased.Templates != 1 {
		t.Fatalf("erase: %+v %v", erased, err)
	}
	if _, err := c.Subject(ctx, "user-9"); client.CodeOf(err) != "not_found" {
		t.Fatalf("after erasure: %v", err)
	}
	if _, err := client.New(e.URL, "pk_wrong_key").Session(ctx, first); client.CodeOf(err) == "" {
		t.Fatalf("a wrong key: %v", err)
	}
}
