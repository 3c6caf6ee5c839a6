package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"presence/client"
)

// A relying party registers an endpoint through the API, with the Go
// client, and hears of its sessions and subjects: a verdict, an
// enrolment, an expiry and an erasure, each signed and verified by the
// client's helper, none carrying an image.
func TestWebhooksReportSessionsAndSubjects(t *testing.T) {
	e := newEnv(t, options{})
	ctx := context.Background()
	var mu sync.Mutex
	var got []client.Event
	var secret string
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		ev, err := client.ParseWebhook(r, secret)
		if err != nil {
			t.Errorf("delivery refused: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got = append(got, *ev)
	}))
	defer rp.Close()
	c := client.New(e.url, e.key)
	hook, err := c.CreateWebhook(ctx, rp.URL+"/presence")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	secret = hook.Secret
	mu.Unlock()

	id := e.passed(t, "fr_deepface_pairs/img20.jpg")
	if r := e.post("/v1/subjects", `{"id":"hooked"}`); r.status != 201 {
		t.Fatalf("subject: %d %s", r.status, r.raw)
	}
	if r := e.post("/v1/subjects/hooked/enrol", `{"session_id":"`+id+`"}`); r.status != 201 && r.status != 200 {
		t.Fatalf("enrol: %d %s", r.status, r.raw)
	}
	late, _ := e.create(`{"correlation_id":"never-finished","ttl_seconds":60}`)
	e.clock.Advance(2 * time.Minute)
	if _, _, err := e.Sessions.Sweep(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteSubject(ctx, "hooked"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Webhooks.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	types := map[string]client.Event{}
	for _, ev := range got {
		types[ev.Type] = ev
	}
	if len(got) != 4 || len(types) != 4 {
		t.Fatalf("received %d events: %v", len(got), types)
	}
	var verdict client.SessionEvent
	json.Unmarshal(types["session.succeeded"].Data, &verdict)
	if verdict.SessionID != id || verdict.Decision != "realface" || verdict.Status != "succeeded" {
		t.Fatalf("session.succeeded: %s", types["session.succeeded"].Data)
	}
	var expired client.SessionEvent
	json.Unmarshal(types["session.expired"].Data, &expired)
	if expired.SessionID != late || expired.CorrelationID != "never-finished" || expired.Decision != "" {
		t.Fatalf("session.expired: %s", types["session.expired"].Data)
	}
	var enrolled, erased client.SubjectEvent
	json.Unmarshal(types["subject.enrolled"].Data, &enrolled)
	json.Unmarshal(types["subject.erased"].Data, &erased)
	if enrolled.SubjectID != "hooked" || enrolled.SessionID != id || erased.SubjectID != "hooked" {
		t.Fatalf("subject events: %s %s", types["subject.enrolled"].Data, types["subject.erased"].Data)
	}
	w, err := c.Webhook(ctx, hook.ID)
	if err != nil || w.Deliveries["delivered"] != 4 || w.Secret != "" {
		t.Fatalf("endpoint after delivery: %+v %v", w, err)
	}
	list, err := c.WebhookDeliveries(ctx, hook.ID, "delivered")
	if err != nil || len(list) != 4 || list[0].Attempts != 1 || list[0].LastStatus != 200 {
		t.Fatalf("deliveries %+v %v", list, err)
	}
	if _, err := c.WebhookDeliveries(ctx, hook.ID, "lost"); client.CodeOf(err) != "invalid_request" {
		t.Fatalf("a bad state: %v", err)
	}
}
