package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"presence"
)

func endpoint(id, key string, events ...string) *presence.WebhookEndpoint {
	return &presence.WebhookEndpoint{ID: id, APIKeyID: key, URL: "https://rp.example/hook", Events: events, Secret: []byte("sealed-" + id), CreatedAt: t0}
}

// The outbox is written with the change: a completion, an expiry, a
// subject's erasure each leave one delivery per subscribed endpoint of
// their key, and nothing when the change itself fails.
func TestWebhookOutboxIsWrittenWithTheChange(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		for _, e := range []*presence.WebhookEndpoint{
			endpoint("whk_all", "key1"),
			endpoint("whk_done", "key1", presence.EventSessionSucceeded),
			endpoint("whk_expired", "key1", presence.EventSessionExpired),
			endpoint("whk_other", "key2"),
		} {
			if err := s.CreateWebhook(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		counts := func(id string) map[string]int {
			c, err := s.DeliveryCounts(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		// A verdict: the all-events and succeeded endpoints hear it.
		sess := newSession("ses_hook1")
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		c := completion(sess.ID, presence.StatusCreated, t0.Add(time.Second))
		c.Audit.Event = presence.SessionEvent(sess, presence.StatusSucceeded, c.Verdict, c.At)
		if err := s.CompleteSession(ctx, c); err != nil {
			t.Fatal(err)
		}
		// The same completion again fails (the session ended): no event.
		if err := s.CompleteSession(ctx, c); err == nil {
			t.Fatal("a second completion was accepted")
		}
		if got := counts("whk_all")[presence.DeliveryPending]; got != 1 {
			t.Fatalf("all-events endpoint: %d pending, want 1", got)
		}
		if got := counts("whk_done")[presence.DeliveryPending]; got != 1 {
			t.Fatalf("succeeded endpoint: %d pending, want 1", got)
		}
		if got := counts("whk_expired")[presence.DeliveryPending] + counts("whk_other")[presence.DeliveryPending]; got != 0 {
			t.Fatalf("%d deliveries to endpoints not subscribed, want 0", got)
		}
		list, err := s.Deliveries(ctx, "whk_all", "", 0, 10)
		if err != nil || len(list) != 1 {
			t.Fatalf("deliveries: %v %v", list, err)
		}
		var body struct {
			ID   string                    `json:"id"`
			Type string                    `json:"type"`
			Data presence.SessionEventData `json:"data"`
		}
		if err := json.Unmarshal(list[0].Payload, &body); err != nil {
			t.Fatal(err)
		}
		if body.Type != presence.EventSessionSucceeded || body.Data.SessionID != sess.ID || body.Data.Decision != presence.DecisionRealFace || body.ID != list[0].EventID {
			t.Fatalf("payload %s", list[0].Payload)
		}
		// One event, one id, whatever the number of endpoints.
		other, _ := s.Deliveries(ctx, "whk_done", "", 0, 10)
		if other[0].EventID != list[0].EventID {
			t.Fatal("one event got two ids")
		}

		// Expiry, in the sweep's transaction.
		late := newSession("ses_hook2")
		if err := s.CreateSession(ctx, late); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ExpireSessions(ctx, t0.Add(time.Hour), t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		expired, _ := s.Deliveries(ctx, "whk_expired", "", 0, 10)
		if len(expired) != 1 || expired[0].EventType != presence.EventSessionExpired {
			t.Fatalf("expiry deliveries %+v", expired)
		}
		// A second sweep raises nothing new.
		s.ExpireSessions(ctx, t0.Add(2*time.Hour), t0.Add(-time.Hour))
		if got := counts("whk_expired")[presence.DeliveryPending]; got != 1 {
			t.Fatalf("%d expiry deliveries after two sweeps, want 1", got)
		}

		// An erasure raised through the audit record.
		rec := presence.AuditRecord{Action: presence.AuditSubjectDeleted, APIKeyID: "key1", SubjectID: "sub_x", At: t0,
			Event: presence.SubjectEvent(presence.EventSubjectErased, "sub_x", "")}
		if err := s.AppendAudit(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if got := counts("whk_all")[presence.DeliveryPending]; got != 3 {
			t.Fatalf("all-events endpoint: %d pending, want 3 (verdict, expiry, erasure)", got)
		}
	})
}

// Several nodes claiming at once each get different deliveries, and a
// delivery whose lease lapsed (its node died) is claimed again.
func TestDeliveryClaimsAreExclusive(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		if err := s.CreateWebhook(ctx, endpoint("whk_a", "key1")); err != nil {
			t.Fatal(err)
		}
		const events = 60
		for i := range events {
			rec := presence.AuditRecord{Action: presence.AuditSubjectDeleted, APIKeyID: "key1", SubjectID: fmt.Sprint("sub_", i), At: t0,
				Event: presence.SubjectEvent(presence.EventSubjectErased, fmt.Sprint("sub_", i), "")}
			if err := s.AppendAudit(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		now := t0.Add(time.Second)
		var mu sync.Mutex
		owners := map[int64]string{}
		var wg sync.WaitGroup
		for node := range 4 {
			wg.Go(func() {
				for {
					got, err := s.ClaimDeliveries(ctx, fmt.Sprint("node", node), now, now.Add(time.Minute), 5)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, c := range got {
						if prev, ok := owners[c.ID]; ok {
							t.Errorf("delivery %d claimed by %s and node%d", c.ID, prev, node)
						}
						owners[c.ID] = fmt.Sprint("node", node)
						if c.URL != "https://rp.example/hook" || string(c.Secret) != "sealed-whk_a" {
							t.Errorf("claimed delivery lacks its endpoint: %+v", c)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(owners) != events {
			t.Fatalf("%d deliveries claimed, want %d", len(owners), events)
		}
		// Node 0 records its outcomes; the others die holding leases.
		done := 0
		for id, owner := range owners {
			if owner != "node0" {
				continue
			}
			if err := s.FinishAttempt(ctx, id, "node0", presence.DeliveryOutcome{State: presence.DeliveryDelivered, LastStatus: 204, At: now, NextAttemptAt: now}); err != nil {
				t.Fatal(err)
			}
			// A node that lost the lease cannot record.
			if err := s.FinishAttempt(ctx, id, "node1", presence.DeliveryOutcome{State: presence.DeliveryFailed, At: now}); code(err) != presence.ErrConflict {
				t.Fatalf("recording without the lease: %v", err)
			}
			done++
		}
		if again, _ := s.ClaimDeliveries(ctx, "node9", now.Add(30*time.Second), now.Add(2*time.Minute), 100); len(again) != 0 {
			t.Fatalf("%d leased deliveries claimed before their lease lapsed", len(again))
		}
		again, err := s.ClaimDeliveries(ctx, "node9", now.Add(61*time.Second), now.Add(2*time.Minute), 100)
		if err != nil || len(again) != events-done {
			t.Fatalf("after the leases lapsed: %d claimed (%v), want %d", len(again), err, events-done)
		}
		// A failed delivery can be sent again, and purged once finished.
		id := again[0].ID
		if err := s.FinishAttempt(ctx, id, "node9", presence.DeliveryOutcome{State: presence.DeliveryFailed, LastStatus: 500, LastError: "answered 500", At: now}); err != nil {
			t.Fatal(err)
		}
		failed, _ := s.Deliveries(ctx, "whk_a", presence.DeliveryFailed, 0, 10)
		if len(failed) != 1 || failed[0].LastError != "answered 500" || failed[0].Attempts != 1 || failed[0].FinishedAt == nil {
			t.Fatalf("failed deliveries %+v", failed)
		}
		if err := s.RetryDelivery(ctx, "whk_a", id, now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.RetryDelivery(ctx, "whk_a", id, now, now.Add(time.Hour)); code(err) != presence.ErrNotFound {
			t.Fatalf("retrying a pending delivery: %v", err)
		}
		if n, err := s.PurgeDeliveries(ctx, now.Add(time.Second)); err != nil || n != done {
			t.Fatalf("purged %d (%v), want %d", n, err, done)
		}
		// Deleting the endpoint takes its deliveries.
		if err := s.DeleteWebhook(ctx, "whk_a"); err != nil {
			t.Fatal(err)
		}
		if left, _ := s.Deliveries(ctx, "whk_a", "", 0, 500); len(left) != 0 {
			t.Fatalf("%d deliveries outlived their endpoint", len(left))
		}
		if err := s.DeleteWebhook(ctx, "whk_a"); code(err) != presence.ErrNotFound {
			t.Fatalf("deleting twice: %v", err)
		}
	})
}

func TestWebhookSecretRotation(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		if err := s.CreateWebhook(ctx, endpoint("whk_r", "key1", presence.EventSubjectEnrolled, presence.EventSubjectErased)); err != nil {
			t.Fatal(err)
		}
		if err := s.RotateWebhookSecret(ctx, "whk_r", []byte("sealed-new"), t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		e, err := s.Webhook(ctx, "whk_r")
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Secret) != "sealed-new" || string(e.PreviousSecret) != "sealed-whk_r" || !e.PreviousUntil.Equal(t0.Add(time.Hour)) || len(e.Events) != 2 {
			t.Fatalf("rotated endpoint %+v", e)
		}
		blobs, err := s.SealedBlobs(ctx, "webhook_previous", "", 10)
		if err != nil || len(blobs) != 1 || blobs[0].Owner != "webhook/whk_r" {
			t.Fatalf("sealed previous secrets %+v %v", blobs, err)
		}
		if err := s.RotateWebhookSecret(ctx, "whk_none", []byte("x"), t0); code(err) != presence.ErrNotFound {
			t.Fatalf("rotating a missing endpoint: %v", err)
		}
	})
}

// Shadow results go with their session: deleted with it, or with its
// subject, and never written for a session that is gone.
func TestShadowResultsGoWithTheirSession(t *testing.T) {
	eachStore(t, func(t *testing.T, s *DB) {
		ctx := context.Background()
		for _, id := range []string{"ses_sh1", "ses_sh2"} {
			if err := s.CreateSession(ctx, newSession(id)); err != nil {
				t.Fatal(err)
			}
			r := presence.ShadowResult{SessionID: id, Candidate: "ms_x", Mode: presence.ModePassive, At: t0,
				Real: presence.ShadowVerdict{Decision: presence.DecisionRealFace, Reasons: []presence.Reason{}}, Shadow: presence.ShadowVerdict{Decision: presence.DecisionFake}}
			if err := s.RecordShadow(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RecordShadow(ctx, presence.ShadowResult{SessionID: "ses_gone", At: t0}); err != nil {
			t.Fatal(err)
		}
		got, err := s.ShadowResults(ctx, t0, 10)
		if err != nil || len(got) != 2 || got[0].Shadow.Decision != presence.DecisionFake {
			t.Fatalf("results %+v %v", got, err)
		}
		if _, err := s.DeleteSession(ctx, "ses_sh1", presence.AuditRecord{Action: presence.AuditSessionDeleted, SessionID: "ses_sh1"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ShadowResults(ctx, t0, 10); len(got) != 1 || got[0].SessionID != "ses_sh2" {
			t.Fatalf("after deleting a session: %+v", got)
		}
	})
}
