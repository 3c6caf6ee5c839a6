// Package apitest starts the real API for tests: real models, a real
// SQLite file, the capture SDK, on a free port, with an injected clock.
package apitest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"presence"
	"presence/clock"
	"presence/engine"
	"presence/engine/enginetest"
	"presence/httpapi"
	"presence/liveness"
	"presence/modelset"
	"presence/seal"
	"presence/session"
	"presence/sqlstore"
	"presence/subjects"
	"presence/web"
	"presence/webhooks"
)

// Options change the server.
type Options struct {
	RateLimit    int
	MaxBodyBytes int64
	Policy       liveness.Policy
	// Duplicates is the enrolment policy for a face already enrolled
	// under another subject (warn or refuse).
	Duplicates string
	// Extra handlers mounted beside the API and the SDK.
	Extra map[string]http.Handler
	// OperatorToken opens the operator API and console with it.
	OperatorToken string
	// Clock is the server's time: a virtual clock reading now when nil.
	// Browser tests, where a real browser streams in real time, pass a
	// clock.Offset.
	Clock clock.Adjustable
}

// Env is one running server.
type Env struct {
	URL      string
	Key      string // an API key
	Store    *sqlstore.DB
	Clock    clock.Adjustable
	Server   *httpapi.Server
	Sessions *session.Service
	Subjects *subjects.Service
	Sealer   *seal.Sealer
	// Webhooks sends nothing by itself: tests call DeliverDue.
	Webhooks *webhooks.Service
	// Metrics are served on a listener of their own in production; tests
	// read them from here.
	Metrics *httpapi.Metrics
}

// New starts a server; it stops with the test.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	eng := enginetest.Engine(t)
	store, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "presence.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	key, _, _ := seal.NewKey()
	sealer, _ := seal.New(key)
	clk := o.Clock
	if clk == nil {
		clk = clock.NewVirtual(time.Now().UTC())
	}
	metrics := httpapi.NewMetrics(func() float64 { return float64(eng.QueueDepth()) }, float64(eng.Workers()))
	subs := subjects.New(subjects.Config{Store: store, Sealer: sealer, Now: clk.Now, Match: eng.Thresholds().Match, Duplicates: o.Duplicates, TemplateModel: "fr_feature"})
	sessions := session.New(session.Config{Store: store, Engine: eng, Sealer: sealer, Clock: clk, Observer: metrics, Policy: o.Policy, Subjects: subs})
	hooks := webhooks.New(webhooks.Config{Store: store, Sealer: sealer, Clock: clk, AllowPrivate: true, Timeout: 2 * time.Second, BackoffMin: time.Second})
	extra := map[string]http.Handler{"/sdk/": web.SDK(), "/console/": web.Console()}
	for k, v := range o.Extra {
		extra[k] = v
	}
	var models httpapi.ModelSets
	if o.OperatorToken != "" {
		models = modelSets(t, store)
	}
	api := httpapi.New(httpapi.Config{
		Sessions: sessions, Subjects: subs, Store: store, Metrics: metrics, RateLimit: o.RateLimit, MaxBodyBytes: o.MaxBodyBytes,
		EngineReady: func() bool { return true }, Extra: extra, OperatorToken: o.OperatorToken, Operator: store,
		Webhooks: hooks, ModelSets: models,
	})
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		api.CloseStreams(ctx)
		srv.Close()
	})
	text, _, err := sessions.CreateAPIKey(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	return &Env{URL: srv.URL, Key: text, Store: store, Clock: clk, Server: api, Sessions: sessions, Subjects: subs, Sealer: sealer, Webhooks: hooks, Metrics: metrics}
}

// modelSets is a node's model sets for the operator API, on an engine of
// its own (the sessions judge with the shared one): a reload in a test
// swaps that engine only.
func modelSets(t testing.TB, store *sqlstore.DB) httpapi.ModelSets {
	ctx := context.Background()
	load := func(m *presence.Manifest) (*engine.Engine, error) { return enginetest.OpenManifest(t, m, 1) }
	first, err := modelset.Load(ctx, load, modelset.Probe{}, presence.DefaultManifest(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := &modelset.Coordinator{Holder: modelset.NewHolder(first), Store: store, Load: load, Clock: clock.System(), Log: slog.New(slog.DiscardHandler), Node: "test"}
	t.Cleanup(c.Holder.Close)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return modelset.API{C: c, Configured: func() (*presence.Manifest, error) { return presence.DefaultManifest(), nil }}
}
