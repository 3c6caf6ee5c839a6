package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"presence"
	"presence/engine"
	"presence/httpapi"
	"presence/seal"
	"presence/session"
	"presence/sqlstore"
	"presence/subjects"
	"presence/web"
)

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the configured database, applying migrations.
func openStore(ctx context.Context, cfg Config) (*sqlstore.DB, error) {
	return sqlstore.Open(ctx, cfg.DB)
}

// openSealer builds the template sealer. Outside development mode a key
// must be configured; in development mode one is generated once and kept
// in the data folder (mode 0600) so restarts can read their templates.
func openSealer(cfg Config, log *slog.Logger) (*seal.Sealer, error) {
	text := string(cfg.TemplateKey)
	if text == "" {
		if !cfg.Dev {
			return nil, errors.New("no template key: set PRESENCE_TEMPLATE_KEY_FILE (or PRESENCE_TEMPLATE_KEY, or template_key in the config file) to 32 random bytes in base64 (`presence templates keygen` makes one), or run with --dev for a local trial")
		}
		path := filepath.Join(cfg.DataDir, "template.key")
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			text = strings.TrimSpace(string(data))
		case errors.Is(err, os.ErrNotExist):
			_, generated, err := seal.NewKey()
			if err != nil {
				return nil, err
			}
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, []byte(generated+"\n"), 0o600); err != nil {
				return nil, err
			}
			text = generated
			log.Warn("development mode: generated a template key; configure PRESENCE_TEMPLATE_KEY_FILE for production", "file", path)
		default:
			return nil, err
		}
	}
	current, err := seal.ParseKey(text)
	if err != nil {
		return nil, fmt.Errorf("template key: %w", err)
	}
	var old []seal.Key
	for i, o := range cfg.OldTemplateKeys {
		k, err := seal.ParseKey(string(o))
		if err != nil {
			return nil, fmt.Errorf("old template key %d: %w", i+1, err)
		}
		old = append(old, k)
	}
	return seal.New(current, old...)
}

// newSessionService wires the session service.
func newSessionService(cfg Config, store presence.Store, eng session.Analyzer, sealer *seal.Sealer, log *slog.Logger, obs session.Observer, subs session.Matcher) (*session.Service, error) {
	policy, err := cfg.Active.Policy(cfg.Thresholds)
	if err != nil {
		return nil, err
	}
	return session.New(session.Config{
		Store: store, Engine: eng, Sealer: sealer, Log: log, Observer: obs,
		DefaultTTL: time.Duration(cfg.SessionTTL), MaxTTL: time.Duration(cfg.MaxSessionTTL),
		MaxFrames: cfg.MaxFrames, Limits: cfg.Limits(), Policy: policy, Subjects: subs,
	}), nil
}

// newSubjectService wires enrolment and matching.
func newSubjectService(cfg Config, store presence.Store, sealer *seal.Sealer, log *slog.Logger) *subjects.Service {
	return subjects.New(subjects.Config{
		Store: store, Sealer: sealer, Log: log, Match: cfg.Thresholds.Match, Duplicates: cfg.DuplicateFaces,
	})
}

func runServe(args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := newFlagSet("serve", "[--listen ADDR] [--db DSN] [--dev]", stderr)
	cfg.bindFlags(fs)
	cfg.bindServerFlags(fs)
	if err := cfg.load(fs, args, os.Getenv); err != nil {
		return usageError("%v", err)
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	sealer, err := openSealer(cfg, log)
	if err != nil {
		return err
	}
	eng, closeEngine, err := openEngine(cfg)
	if err != nil {
		return err
	}
	defer closeEngine()

	metrics := httpapi.NewMetrics(func() float64 { return float64(eng.QueueDepth()) }, float64(eng.Workers()))
	subs := newSubjectService(cfg, store, sealer, log)
	// Load the 1:N index now rather than on the first identification
	// (about 1.7 s per 100k templates); searches wait for it meanwhile.
	go func() {
		start := time.Now()
		if err := subs.Index().Sync(ctx); err != nil {
			log.Error("loading the subject index failed; it is retried on the next search", "err", err)
			return
		}
		log.Info("subject index loaded", "templates", subs.Index().Len(), "ms", time.Since(start).Milliseconds())
	}()
	sessions, err := newSessionService(cfg, store, eng, sealer, log, metrics, subs)
	if err != nil {
		return err
	}
	api := httpapi.New(httpapi.Config{
		Sessions: sessions, Subjects: subs, Store: store, Log: log, Metrics: metrics,
		RateLimit: cfg.RateLimit, MaxBodyBytes: cfg.MaxBodyBytes,
		EngineReady: func() bool { return true },
		Extra:       map[string]http.Handler{"/sdk/": web.SDK()},
	})
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "Presence listening on %s (store: %s, models: %d, workers: %d)\n", url, store.Dialect(), len(eng.Manifest().Models), eng.Workers())
	fmt.Fprintf(stdout, "Create an API key:  bin/presence apikey create --name dev --db %s\n", cfg.DB)
	fmt.Fprintf(stdout, "API description:    %s/v1/openapi.json\n", url)

	go sweep(ctx, sessions, time.Duration(cfg.Retention), log)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	// Graceful shutdown: stop being ready, stop accepting, let analyses in
	// flight finish, then release models and store (deferred above).
	log.Info("shutting down: finishing requests in flight")
	api.Drain()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout))
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	api.CloseStreams(shutdownCtx)
	log.Info("stopped")
	return nil
}

// sweep expires sessions and applies the retention policy every minute;
// every node may run it, the writes are idempotent.
func sweep(ctx context.Context, s *session.Service, retention time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if expired, purged, err := s.Sweep(ctx, retention); err != nil && ctx.Err() == nil {
			log.Warn("sweep failed", "err", err)
		} else if expired+purged > 0 {
			log.Info("sweep", "expired", expired, "purged", purged)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var _ session.Analyzer = (*engine.Engine)(nil)
