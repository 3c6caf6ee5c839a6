// Package httpapi serves Presence's JSON API under /v1 (described by the
// OpenAPI document at /v1/openapi.json), with health, readiness and
// Prometheus metrics. Handlers stay thin: they parse, authenticate and
// call the session service; no SQL or model code lives here.
package httpapi

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"presence"
)

// Config wires the API.
type Config struct {
	Sessions Sessions
	// Subjects enables /v1/subjects and /v1/identify.
	Subjects Subjects
	Store    Store
	Log      *slog.Logger
	Metrics  *Metrics
	// RateLimit is the requests a minute one API key may make (0: none).
	RateLimit int
	// MaxBodyBytes bounds every request body.
	MaxBodyBytes int64
	// EngineReady reports whether the models are loaded.
	EngineReady func() bool
	// Overloaded reports a queue of analyses too deep to take more
	// uploads now (503 with Retry-After); nil never refuses.
	Overloaded func() bool
	// Extra mounts more handlers (the capture SDK, the web app) on the
	// same server.
	Extra map[string]http.Handler
	// OperatorToken, when set, opens the operator's API (/v1/operator/)
	// to requests bearing it; Operator reads for it.
	OperatorToken string
	Operator      Operator
	// Webhooks enables /v1/webhooks.
	Webhooks Webhooks
	// ModelSets reports the set in service (in /readyz) and, with the
	// operator credential, changes it (/v1/operator/models).
	ModelSets ModelSets
}

// Server is the HTTP API.
type Server struct {
	cfg      Config
	mux      *http.ServeMux
	routes   map[string][]string
	draining atomic.Bool

	streams     sync.WaitGroup
	streamsCtx  context.Context
	stopStreams context.CancelFunc
}

// New builds the API's routes.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 20 << 20
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), routes: map[string][]string{}}
	s.streamsCtx, s.stopStreams = context.WithCancel(context.Background())
	s.route("/v1/sessions", map[string]http.HandlerFunc{
		http.MethodPost: s.withKey(s.createSession),
	})
	s.route("/v1/sessions/{id}", map[string]http.HandlerFunc{
		http.MethodGet:    s.withKey(s.getSession),
		http.MethodDelete: s.withKey(s.deleteSession),
	})
	s.route("/v1/sessions/{id}/frames", map[string]http.HandlerFunc{
		http.MethodPost: s.submitFrames,
	})
	s.route("/v1/sessions/{id}/stream", map[string]http.HandlerFunc{
		http.MethodGet: s.stream,
	})
	s.route("/v1/key", map[string]http.HandlerFunc{
		http.MethodGet: s.withKey(s.getKey),
	})
	if cfg.OperatorToken != "" && cfg.Operator != nil {
		s.route("/v1/operator/sessions", map[string]http.HandlerFunc{http.MethodGet: s.withOperator(s.listSessions)})
		s.route("/v1/operator/sessions/{id}", map[string]http.HandlerFunc{http.MethodGet: s.withOperator(s.operatorSession)})
		s.route("/v1/operator/audit", map[string]http.HandlerFunc{http.MethodGet: s.withOperator(s.operatorAudit)})
		if cfg.ModelSets != nil {
			s.routeModelSets()
		}
	}
	if cfg.Webhooks != nil {
		s.routeWebhooks()
	}
	if cfg.Subjects != nil {
		s.route("/v1/subjects", map[string]http.HandlerFunc{
			http.MethodPost: s.withKey(s.createSubject),
			http.MethodGet:  s.withKey(s.listSubjects),
		})
		s.route("/v1/subjects/{id}", map[string]http.HandlerFunc{
			http.MethodGet:    s.withKey(s.getSubject),
			http.MethodDelete: s.withKey(s.deleteSubject),
		})
		s.route("/v1/subjects/{id}/enrol", map[string]http.HandlerFunc{http.MethodPost: s.withKey(s.enrol)})
		s.route("/v1/subjects/{id}/verify", map[string]http.HandlerFunc{http.MethodPost: s.withKey(s.verify)})
		s.route("/v1/subjects/{id}/export", map[string]http.HandlerFunc{http.MethodGet: s.withKey(s.exportSubject)})
		s.route("/v1/identify", map[string]http.HandlerFunc{http.MethodPost: s.withKey(s.identify)})
	}
	s.route("/v1/openapi.json", map[string]http.HandlerFunc{http.MethodGet: serveOpenAPI})
	// HEAD too: load balancers and uptime checks use it.
	s.route("/healthz", map[string]http.HandlerFunc{http.MethodGet: s.healthz, http.MethodHead: s.healthz})
	s.route("/readyz", map[string]http.HandlerFunc{http.MethodGet: s.readyz, http.MethodHead: s.readyz})
	for pattern, h := range cfg.Extra {
		s.mux.Handle(pattern, h)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.cfg.Log, presence.Errorf(presence.ErrNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return s
}

// Routes lists the API's paths and methods (the OpenAPI test checks each is
// documented).
func (s *Server) Routes() map[string][]string { return s.routes }

// route registers a path with one handler per method, answering other
// methods with a JSON 405.
func (s *Server) route(path string, methods map[string]http.HandlerFunc) {
	var allowed []string
	for m := range methods {
		allowed = append(allowed, m)
	}
	s.routes[path] = allowed
	s.mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := methods[r.Method]
		if !ok {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			var body errorBody
			body.Error.Code = "method_not_allowed"
			body.Error.Message = r.Method + " is not allowed here"
			writeJSON(w, http.StatusMethodNotAllowed, body)
			return
		}
		h(w, r)
	}))
}

// ServeHTTP adds the request id, body limit, access log and metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 64 {
		b := make([]byte, 8)
		rand.Read(b)
		id = hex.EncodeToString(b)
	}
	w.Header().Set("X-Request-Id", id)
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(rec, r)
	route := r.Pattern
	if route == "" || route == "/" {
		route = "other"
	}
	d := time.Since(start)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.observe(route, r.Method, rec.status, d)
	}
	if route != "/healthz" && route != "/readyz" {
		s.cfg.Log.Info("request", "id", id, "method", r.Method, "route", route, "status", rec.status, "ms", d.Milliseconds())
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (WebSocket
// upgrades hijack it).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Drain makes readiness fail so load balancers stop sending work while the
// server finishes what is in flight.
func (s *Server) Drain() { s.draining.Store(true) }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"models": "ok", "store": "ok", "draining": "no"}
	ready := true
	if s.cfg.EngineReady == nil || !s.cfg.EngineReady() {
		checks["models"], ready = "not loaded", false
	}
	if err := s.cfg.Store.Ping(ctx); err != nil {
		checks["store"], ready = "unreachable", false
		s.cfg.Log.Warn("readiness: store unreachable", "err", err)
	}
	if s.draining.Load() {
		checks["draining"], ready = "yes", false
	}
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	body := map[string]any{"ready": ready, "checks": checks}
	if s.cfg.ModelSets != nil {
		// Which set this node judges with: a node that could not follow
		// a change says so here (and keeps serving its own set).
		body["model_set"] = s.cfg.ModelSets.Status()
	}
	writeJSON(w, status, body)
}

//go:embed openapi.json
var openAPI []byte

// OpenAPI is the API description served at /v1/openapi.json.
func OpenAPI() []byte { return openAPI }

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
