package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"presence/client"
	"presence/presencetest"
)

// TestWebhooksSurviveKill9: verdicts are committed while the receiver
// holds every delivery unanswered; the server is killed with SIGKILL with
// deliveries sent but unacknowledged and others never sent; a new process
// on the same database delivers every event once the receiver answers.
func TestWebhooksSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "p.db")
	keyFile := filepath.Join(dir, "t.key")
	os.WriteFile(keyFile, []byte(newKeyText(t)+"\n"), 0o600)
	env := []string{"PRESENCE_TEMPLATE_KEY_FILE=" + keyFile}
	args := []string{"--db", db, "--webhook-allow-private", "--webhook-backoff", "200ms", "--webhook-timeout", "2s"}

	var mu sync.Mutex
	held := map[string]bool{}    // events read while the receiver did not answer
	accepted := map[string]int{} // events answered 2xx
	answering := false
	release := make(chan struct{})
	var secret string
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s, ok := secret, answering
		mu.Unlock()
		ev, err := client.ParseWebhook(r, s)
		if err != nil {
			t.Errorf("delivery refused: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if !ok {
			mu.Lock()
			held[ev.ID] = true
			mu.Unlock()
			select { // no answer: the sender times out or dies waiting
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		mu.Lock()
		accepted[ev.ID]++
		mu.Unlock()
	}))
	defer rp.Close()
	defer close(release)

	a := startNode(t, env, args...)
	r := run(t, nil, "apikey", "create", "--name", "hooks", "--quiet", "--db", db)
	if r.code != 0 {
		t.Fatalf("apikey: %s", r.stderr)
	}
	c := client.New(a.url, strings.TrimSpace(r.stdout))
	hook, err := c.CreateWebhook(context.Background(), rp.URL, "session.succeeded")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	secret = hook.Secret
	mu.Unlock()

	photo := presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img20.jpg"))
	const sessions = 10
	want := map[string]bool{}
	for i := range sessions {
		want[passiveSession(t, a.url, strings.TrimSpace(r.stdout), presencetest.Recapture(t, photo, i+1))] = true
	}
	// Let the node send some deliveries into the silent receiver.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(held)
		mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.cmd.Process.Kill()
	<-a.exited
	mu.Lock()
	heldBeforeKill := len(held)
	answering = true
	mu.Unlock()

	b := startNode(t, env, args...)
	c = client.New(b.url, strings.TrimSpace(r.stdout))
	deadline = time.Now().Add(60 * time.Second)
	var counts map[string]int
	for time.Now().Before(deadline) {
		w, err := c.Webhook(context.Background(), hook.ID)
		if err != nil {
			t.Fatal(err)
		}
		if counts = w.Deliveries; counts["delivered"] == sessions {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	got := map[string]bool{}
	duplicates := 0
	for id, n := range accepted {
		got[id] = true
		duplicates += n - 1
	}
	redelivered := 0
	for id := range held {
		if got[id] {
			redelivered++
		}
	}
	t.Logf("%d verdicts committed; before the kill %d deliveries were read and left unanswered; after the restart %d events accepted (%d of the unanswered ones sent again, %d duplicate acceptances); store: %v",
		sessions, heldBeforeKill, len(got), redelivered, duplicates, counts)
	if heldBeforeKill == 0 {
		t.Fatal("the kill came before any delivery was attempted")
	}
	if len(got) != sessions || counts["delivered"] != sessions || duplicates != 0 {
		t.Fatalf("events lost or accepted twice")
	}
	// Every session's verdict arrived, by its id.
	list, err := c.WebhookDeliveries(context.Background(), hook.ID, "delivered")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		var ev struct {
			Data client.SessionEvent `json:"data"`
		}
		json.Unmarshal(d.Payload, &ev)
		delete(want, ev.Data.SessionID)
	}
	if len(want) != 0 {
		t.Fatalf("sessions without a delivered event: %v", want)
	}
}
