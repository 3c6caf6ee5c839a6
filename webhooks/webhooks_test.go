package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"presence"
	"presence/client"
	"presence/clock"
	"presence/presencetest"
	"presence/seal"
	"presence/sqlstore"
	"presence/webhooks"
)

func TestMain(m *testing.M) {
	code := m.Run()
	presencetest.StopPostgres()
	os.Exit(code)
}

var key = &presence.APIKey{ID: "key_rp"}

func open(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	if dsn == "" {
		dsn = filepath.Join(t.TempDir(), "presence.db")
	}
	s, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sealer(t *testing.T) *seal.Sealer {
	k, _, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// raise commits n events of key the way every change does: with its
// audit record.
func raise(t *testing.T, s *sqlstore.DB, at time.Time, n int, prefix string) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("%s_%d", prefix, i)
		rec := presence.AuditRecord{Action: presence.AuditSubjectDeleted, APIKeyID: key.ID, SubjectID: id, At: at,
			Event: presence.SubjectEvent(presence.EventSubjectErased, id, "")}
		if err := s.AppendAudit(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
}

// receiver is a relying party's endpoint: it verifies every delivery with
// the Go client's helper, against the clock the sender signs with, and
// counts what it got.
type receiver struct {
	t      *testing.T
	clock  clock.Clock
	mu     sync.Mutex
	secret string
	// answer decides each request's fate before it is verified: 0 takes
	// it, a status refuses it, -1 hangs past the sender's timeout, -2
	// drops the connection.
	answer   func(n int) int
	requests int
	got      map[string]int // event id -> deliveries accepted
	bad      int
	// last is the last request's body and signature header.
	lastBody   []byte
	lastHeader string
}

func newReceiver(t *testing.T, c clock.Clock) (*receiver, *httptest.Server) {
	r := &receiver{t: t, clock: c, got: map[string]int{}, answer: func(int) int { return 0 }}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.requests++
	rc.lastBody, rc.lastHeader = body, r.Header.Get("Presence-Signature")
	fate := rc.answer(rc.requests)
	secret := rc.secret
	rc.mu.Unlock()
	switch {
	case fate == -1:
		<-r.Context().Done() // the sender gives up first
		return
	case fate == -2:
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
		return
	case fate > 0:
		w.WriteHeader(fate)
		return
	}
	err := client.VerifyWebhook(body, r.Header.Get("Presence-Signature"), secret, rc.clock.Now(), client.DefaultTolerance)
	var e client.Event
	if err == nil {
		err = json.Unmarshal(body, &e)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil || e.ID != r.Header.Get("Presence-Event-Id") {
		rc.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.got[e.ID]++
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) counts() (distinct, duplicates, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, n := range rc.got {
		distinct++
		duplicates += n - 1
	}
	return distinct, duplicates, rc.bad
}

func service(t *testing.T, s presence.WebhookStore, sl *seal.Sealer, c clock.Clock, node string) *webhooks.Service {
	return webhooks.New(webhooks.Config{Store: s, Sealer: sl, Clock: c, NodeID: node, AllowPrivate: true,
		Timeout: 300 * time.Millisecond, BackoffMin: time.Second, BackoffMax: time.Minute, RetryFor: 10 * time.Minute,
		Jitter: func() float64 { return 0.5 }})
}

// A signed delivery verifies with the client's helper; a tampered body,
// another secret and a stale timestamp do not; after a rotation both
// secrets sign until the old one lapses.
func TestSignedDeliveriesVerify(t *testing.T) {
	ctx := context.Background()
	vc := clock.NewVirtual(time.Now())
	store, sl := open(t, ""), sealer(t)
	svc := service(t, store, sl, vc, "node1")
	rc, srv := newReceiver(t, vc)
	ep, err := svc.Create(ctx, key, srv.URL+"/hook", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.Secret, "whsec_") || len(ep.Events) != len(presence.EventTypes) {
		t.Fatalf("created endpoint %+v", ep)
	}
	rc.secret = ep.Secret
	raise(t, store, vc.Now(), 1, "sub_sig")
	if n, err := svc.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("delivered %d: %v", n, err)
	}
	if distinct, _, bad := rc.counts(); distinct != 1 || bad != 0 {
		t.Fatalf("receiver: %d events, %d refused", distinct, bad)
	}
	body, header := rc.lastBody, rc.lastHeader
	now := vc.Now()
	if err := client.VerifyWebhook(body, header, ep.Secret, now, client.DefaultTolerance); err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(body, []byte("sub_sig_0"), []byte("sub_sig_1"), 1)
	for name, err := range map[string]error{
		"tampered body":  client.VerifyWebhook(tampered, header, ep.Secret, now, client.DefaultTolerance),
		"another secret": client.VerifyWebhook(body, header, "whsec_other", now, client.DefaultTolerance),
		"replayed later": client.VerifyWebhook(body, header, ep.Secret, now.Add(6*time.Minute), client.DefaultTolerance),
		"no signature":   client.VerifyWebhook(body, "t=1", ep.Secret, now, client.DefaultTolerance),
	} {
		if err == nil {
			t.Errorf("%s verified", name)
		}
	}
	if !errors.Is(client.VerifyWebhook(body, header, ep.Secret, now.Add(6*time.Minute), client.DefaultTolerance), client.ErrStale) {
		t.Error("a stale delivery is not ErrStale")
	}
	if strings.Contains(string(body), "image") || strings.Contains(string(body), "template") {
		t.Errorf("payload mentions images or templates: %s", body)
	}

	// Rotation: the receiver still on the old secret keeps verifying.
	rotated, err := svc.Rotate(ctx, key, ep.ID)
	if err != nil || rotated.Secret == ep.Secret || rotated.PreviousSecretUntil == nil {
		t.Fatalf("rotation %+v %v", rotated, err)
	}
	raise(t, store, vc.Now(), 1, "sub_rot")
	svc.DeliverDue(ctx)
	if distinct, _, bad := rc.counts(); distinct != 2 || bad != 0 {
		t.Fatalf("after rotation, old secret: %d events, %d refused", distinct, bad)
	}
	for _, secret := range []string{ep.Secret, rotated.Secret} {
		if err := client.VerifyWebhook(rc.lastBody, rc.lastHeader, secret, vc.Now(), client.DefaultTolerance); err != nil {
			t.Errorf("during the overlap: %v", err)
		}
	}
	vc.Advance(25 * time.Hour)
	raise(t, store, vc.Now(), 1, "sub_late")
	svc.DeliverDue(ctx) // refused by the receiver still on the old secret
	if _, _, bad := rc.counts(); bad != 1 {
		t.Fatalf("the lapsed secret still verified (%d refused)", bad)
	}
	if err := client.VerifyWebhook(rc.lastBody, rc.lastHeader, rotated.Secret, vc.Now(), client.DefaultTolerance); err != nil {
		t.Fatal(err)
	}

	// Another key sees none of it.
	other := &presence.APIKey{ID: "key_other"}
	if _, err := svc.Get(ctx, other, ep.ID); presence.ErrorCodeOf(err) != presence.ErrNotFound {
		t.Fatalf("another key read the endpoint: %v", err)
	}
	if list, _ := svc.List(ctx, other); len(list) != 0 {
		t.Fatal("another key lists the endpoint")
	}
}

// A receiver down for a minute (refusing, hanging past the timeout,
// dropping connections) gets every event after it recovers, each once.
func TestReceiverDownForAMinuteGetsEverything(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	vc := clock.NewVirtual(start)
	store, sl := open(t, ""), sealer(t)
	svc := service(t, store, sl, vc, "node1")
	rc, srv := newReceiver(t, vc)
	downUntil := start.Add(time.Minute)
	rc.answer = func(n int) int {
		if vc.Now().Before(downUntil) {
			switch {
			case n <= 2:
				return -1
			case n%3 == 0:
				return -2
			}
			return http.StatusServiceUnavailable
		}
		return 0
	}
	ep, err := svc.Create(ctx, key, srv.URL, []string{presence.EventSubjectErased})
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = ep.Secret
	const events = 50
	for i := range events {
		raise(t, store, vc.Now(), 1, fmt.Sprint("sub_down", i))
		vc.Advance(1200 * time.Millisecond)
		svc.DeliverDue(ctx)
	}
	for vc.Now().Before(start.Add(5 * time.Minute)) {
		vc.Advance(time.Second)
		svc.DeliverDue(ctx)
	}
	distinct, dups, bad := rc.counts()
	counts, err := svc.Get(ctx, key, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events; receiver got %d distinct, %d duplicates, %d refused, %d requests in all; store: %v",
		events, distinct, dups, bad, rc.requests, counts.Deliveries)
	if distinct != events || dups != 0 || bad != 0 || counts.Deliveries[presence.DeliveryDelivered] != events {
		t.Fatalf("not every event arrived once")
	}
	if rc.requests <= events {
		t.Fatalf("%d requests: the outage was never hit", rc.requests)
	}
}

// Retries stop after RetryFor: the delivery is failed and visible with
// its last answer, and a retry asked for sends it.
func TestDeliveriesGiveUpAndCanBeRetried(t *testing.T) {
	ctx := context.Background()
	vc := clock.NewVirtual(time.Now())
	store, sl := open(t, ""), sealer(t)
	svc := service(t, store, sl, vc, "node1")
	rc, srv := newReceiver(t, vc)
	rc.answer = func(int) int { return http.StatusInternalServerError }
	ep, _ := svc.Create(ctx, key, srv.URL, nil)
	rc.secret = ep.Secret
	raise(t, store, vc.Now(), 1, "sub_fail")
	for range 15 * 60 {
		vc.Advance(time.Second)
		svc.DeliverDue(ctx)
	}
	failed, err := svc.Deliveries(ctx, key, ep.ID, presence.DeliveryFailed, 0, 10)
	if err != nil || len(failed) != 1 {
		t.Fatalf("failed deliveries %v %v", failed, err)
	}
	d := failed[0]
	// Backoff 1 s doubling to at most a minute, less a quarter (the
	// test's jitter): waits of 0.75, 1.5, 3 ... 24 s, then 45 s; about 19
	// attempts in 10 minutes (fewer, as the test looks once a second),
	// not 600.
	if d.LastStatus != 500 || !strings.Contains(d.LastError, "500") || d.Attempts < 15 || d.Attempts > 19 {
		t.Fatalf("failed delivery %+v", d)
	}
	t.Logf("gave up after %d attempts", d.Attempts)
	rc.answer = func(int) int { return 0 }
	if err := svc.Retry(ctx, key, ep.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	svc.DeliverDue(ctx)
	if distinct, _, _ := rc.counts(); distinct != 1 {
		t.Fatal("the retried delivery did not arrive")
	}
}

// Several nodes on one PostgreSQL deliver every event once between them.
func TestSeveralNodesDeliverEachEventOnce(t *testing.T) {
	ctx := context.Background()
	vc := clock.NewVirtual(time.Now())
	dsn := presencetest.Postgres(t)
	store, sl := open(t, dsn), sealer(t)
	rc, srv := newReceiver(t, vc)
	ep, err := service(t, store, sl, vc, "setup").Create(ctx, key, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = ep.Secret
	const events = 120
	raise(t, store, vc.Now(), events, "sub_nodes")
	var wg sync.WaitGroup
	for node := range 3 {
		nodeStore := open(t, dsn) // its own connections, as another process
		svc := service(t, nodeStore, sl, vc, fmt.Sprint("node", node))
		wg.Go(func() {
			if _, err := svc.DeliverDue(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	distinct, dups, bad := rc.counts()
	t.Logf("3 nodes, %d events: %d distinct received, %d duplicates", events, distinct, dups)
	if distinct != events || dups != 0 || bad != 0 {
		t.Fatalf("want every event once")
	}
}

// Without AllowPrivate, an endpoint on a private address is refused when
// registered, and refused again when dialled (the name resolved), so an
// API key cannot make the server call its neighbours.
func TestPrivateAddressesRefused(t *testing.T) {
	ctx := context.Background()
	vc := clock.NewVirtual(time.Now())
	store, sl := open(t, ""), sealer(t)
	svc := webhooks.New(webhooks.Config{Store: store, Sealer: sl, Clock: vc, Timeout: time.Second})
	rc, srv := newReceiver(t, vc)
	for _, u := range []string{srv.URL, "http://10.1.2.3/hook", "http://localhost:9/x", "http://[::1]/x", "http://169.254.169.254/latest"} {
		if _, err := svc.Create(ctx, key, u, nil); presence.ErrorCodeOf(err) != presence.ErrInvalid {
			t.Errorf("%s: %v, want invalid", u, err)
		}
	}
	for _, u := range []string{"ftp://rp.example/x", "https://user:pw@rp.example/x", "not a url"} {
		if _, err := svc.Create(ctx, key, u, nil); presence.ErrorCodeOf(err) != presence.ErrInvalid {
			t.Errorf("%s: %v, want invalid", u, err)
		}
	}
	if _, err := svc.Create(ctx, key, "https://rp.example/hook", []string{"session.exploded"}); presence.ErrorCodeOf(err) != presence.ErrInvalid {
		t.Errorf("unknown event: %v", err)
	}
	// Stored directly, as if the address had changed after registration.
	sealed, _ := sl.Seal([]byte("whsec_x"), seal.WebhookOwner("whk_inside"))
	if err := store.CreateWebhook(ctx, &presence.WebhookEndpoint{ID: "whk_inside", APIKeyID: key.ID, URL: srv.URL, Secret: sealed, CreatedAt: vc.Now()}); err != nil {
		t.Fatal(err)
	}
	raise(t, store, vc.Now(), 1, "sub_inside")
	svc.DeliverDue(ctx)
	list, _ := store.Deliveries(ctx, "whk_inside", "", 0, 1)
	if rc.requests != 0 || len(list) != 1 || !strings.Contains(list[0].LastError, "private") {
		t.Fatalf("the private endpoint was called (%d requests) or the refusal not recorded: %+v", rc.requests, list)
	}
}
