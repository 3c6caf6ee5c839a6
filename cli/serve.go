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
	"presence/modelset"
	"presence/seal"
	"presence/session"
	"presence/sqlstore"
	"presence/subjects"
	"presence/web"
	"presence/webapp"
	"presence/webapp/account"
	"presence/webapp/accountsql"
	"presence/webhooks"
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
func newSessionService(cfg Config, store presence.Store, eng session.Analyzer, sealer *seal.Sealer, log *slog.Logger, obs session.Observer, subs session.Matcher, sets *modelset.Holder, shadow *session.Shadow) (*session.Service, error) {
	policy, err := cfg.Active.Policy(cfg.Thresholds)
	if err != nil {
		return nil, err
	}
	jpeg, which := jpegDecoder()
	if log != nil {
		log.Info("JPEG decoder", "decoder", which)
	}
	var pin func() (session.Analyzer, func())
	if sets != nil {
		pin = func() (session.Analyzer, func()) {
			s, release := sets.Pin()
			return s.Engine, release
		}
	}
	return session.New(session.Config{
		Store: store, Engine: eng, Models: pin, Shadow: shadow, Sealer: sealer, Log: log, Observer: obs,
		DefaultTTL: time.Duration(cfg.SessionTTL), MaxTTL: time.Duration(cfg.MaxSessionTTL),
		MaxFrames: cfg.MaxFrames, Limits: cfg.Limits(), Policy: policy, Subjects: subs, JPEG: jpeg,
		FingerprintRetention: fingerprintRetention(cfg), Retention: time.Duration(cfg.Retention),
	}), nil
}

// fingerprintRetention maps the configuration's 0 (keep none) onto the
// service's negative.
func fingerprintRetention(cfg Config) time.Duration {
	if cfg.FingerprintRetention == 0 {
		return -1
	}
	return time.Duration(cfg.FingerprintRetention)
}

// newSubjectService wires enrolment and matching.
func newSubjectService(cfg Config, store presence.Store, sealer *seal.Sealer, log *slog.Logger, m *presence.Manifest) *subjects.Service {
	model := ""
	for _, v := range m.Versions() {
		if v.Role == presence.RoleEmbedding {
			model = v.Name + " (" + v.Version + ")"
		}
	}
	return subjects.New(subjects.Config{
		Store: store, Sealer: sealer, Log: log, Match: cfg.Thresholds.Match, Duplicates: cfg.DuplicateFaces, TemplateModel: model,
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
	host, _ := os.Hostname()
	sets, shadow, closeModels, err := openModelSets(ctx, cfg, store, log, fmt.Sprintf("%s:%d", host, os.Getpid()))
	if err != nil {
		return err
	}
	defer closeModels()
	eng := sets.Holder.Current().Engine // the first set; later ones have as many workers
	current := func() *engine.Engine { return sets.Holder.Current().Engine }

	metrics := httpapi.NewMetrics(func() float64 { return float64(current().QueueDepth()) }, float64(eng.Workers()))
	subs := newSubjectService(cfg, store, sealer, log, eng.Manifest())
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
	sessions, err := newSessionService(cfg, store, eng, sealer, log, metrics, subs, sets.Holder, shadow)
	if err != nil {
		return err
	}
	if shadow != nil {
		log.Info("shadow candidate judging a share of sessions", "candidate", shadow.Name, "share", shadow.Share)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	extra := map[string]http.Handler{"/sdk/": web.SDK()}
	if cfg.OperatorToken != "" {
		if len(cfg.OperatorToken) < 24 {
			return fmt.Errorf("operator token: at least 24 characters (it opens every session's evidence)")
		}
		extra["/console/"] = web.Console()
	}
	hooks := webhooks.New(webhooks.Config{
		Store: store, Sealer: sealer, Log: log,
		Timeout: time.Duration(cfg.Webhooks.Timeout), RetryFor: time.Duration(cfg.Webhooks.RetryFor), BackoffMin: time.Duration(cfg.Webhooks.Backoff),
		AllowPrivate: cfg.Webhooks.AllowPrivate,
	})
	var app *webapp.App
	var appStore *accountsql.DB
	if cfg.AppEnabled() {
		if appStore, err = openAppStore(ctx, cfg, log); err != nil {
			ln.Close()
			return fmt.Errorf("face-login app: %w", err)
		}
		defer appStore.Close()
		if app, err = newApp(ctx, cfg, appStore, sessions, ln.Addr(), log); err != nil {
			ln.Close()
			return fmt.Errorf("face-login app: %w", err)
		}
		extra["/app/"] = app.Handler()
	}
	api := httpapi.New(httpapi.Config{
		Sessions: sessions, Subjects: subs, Store: store, Log: log, Metrics: metrics,
		RateLimit: cfg.RateLimit, MaxBodyBytes: cfg.MaxBodyBytes,
		EngineReady: func() bool { return true },
		// Four frames waiting per worker is about a tenth of a second of
		// work each: beyond that, uploads are asked to come back.
		Overloaded:    func() bool { return current().QueueDepth() > 4*eng.Workers() },
		Extra:         extra,
		OperatorToken: string(cfg.OperatorToken), Operator: store,
		Webhooks:  hooks,
		ModelSets: modelset.API{C: sets, Configured: cfg.LoadManifest},
	})
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Metrics on their own listener: they count verdicts, so a device
	// that could read them would learn its own.
	var metricsSrv *http.Server
	if cfg.MetricsListen != "" && cfg.MetricsListen != "off" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler())
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go metricsSrv.Serve(mln)
		defer metricsSrv.Close()
		fmt.Fprintf(stdout, "Metrics:            http://%s/metrics\n", mln.Addr())
	}
	fmt.Fprintf(stdout, "Presence listening on %s (store: %s, models: %d, workers: %d)\n", url, store.Dialect(), len(eng.Manifest().Models), eng.Workers())
	fmt.Fprintf(stdout, "Create an API key:  bin/presence apikey create --name dev --db %s\n", cfg.DB)
	fmt.Fprintf(stdout, "API description:    %s/v1/openapi.json\n", url)
	if app != nil {
		fmt.Fprintf(stdout, "Face-login app:     %s/app/\n", url)
	}

	var purgeApp func(context.Context, time.Time) (int, error)
	if appStore != nil {
		purgeApp = appStore.PurgeAttempts
	}
	go sweep(ctx, sessions, purgeApp, time.Duration(cfg.Retention), log)
	go hooks.Run(ctx)
	go sets.Run(ctx, time.Duration(cfg.ModelPoll))
	go reloadOnHangup(ctx, sets, cfg, log, host)
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

// sweep expires sessions and applies the retention policy (to sessions
// and, when the face-login app runs, to its attempts) every minute; every
// node may run it, the writes are idempotent.
func sweep(ctx context.Context, s *session.Service, purgeApp func(context.Context, time.Time) (int, error), retention time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if expired, purged, err := s.Sweep(ctx, retention); err != nil && ctx.Err() == nil {
			log.Warn("sweep failed", "err", err)
		} else if expired+purged > 0 {
			log.Info("sweep", "expired", expired, "purged", purged)
		}
		if purgeApp != nil {
			if n, err := purgeApp(ctx, s.Now().Add(-retention)); err != nil && ctx.Err() == nil {
				log.Warn("sweep of app attempts failed", "err", err)
			} else if n > 0 {
				log.Info("sweep", "app_attempts_purged", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// openAppStore opens the face-login app's own store and, on the first
// start after an upgrade, moves the app's records out of Presence's
// database into it.
func openAppStore(ctx context.Context, cfg Config, log *slog.Logger) (*accountsql.DB, error) {
	s, err := accountsql.Open(ctx, cfg.AppDB())
	if err != nil {
		return nil, err
	}
	moved, err := s.MoveLegacy(ctx, cfg.DB)
	if err != nil {
		s.Close()
		return nil, err
	}
	if moved != (accountsql.Moved{}) {
		log.Info("face-login app: moved its records out of Presence's database", "users", moved.Users, "attempts", moved.Attempts, "browser_sessions", moved.BrowserLogins)
	}
	return s, nil
}

// newApp builds the face-login app. It calls this process's API over
// loopback, with its own API key: configured, or created on first start
// and kept in the data folder.
func newApp(ctx context.Context, cfg Config, store account.Store, sessions *session.Service, addr net.Addr, log *slog.Logger) (*webapp.App, error) {
	key := string(cfg.App.APIKey)
	if key == "" {
		path := filepath.Join(cfg.DataDir, "app-api.key")
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			key = strings.TrimSpace(string(data))
		case errors.Is(err, os.ErrNotExist):
			host, _ := os.Hostname()
			text, k, err := sessions.CreateAPIKey(ctx, "face-login app ("+host+")")
			if err != nil {
				return nil, err
			}
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
				return nil, err
			}
			key = text
			log.Info("face-login app: created its API key", "id", k.ID, "file", path)
		default:
			return nil, err
		}
	}
	if _, err := sessions.AuthenticateAPIKey(ctx, key); err != nil {
		return nil, fmt.Errorf("its API key is not valid here (revoked, or from another database? remove %s or set PRESENCE_APP_API_KEY_FILE): %w",
			filepath.Join(cfg.DataDir, "app-api.key"), err)
	}
	issuer := cfg.App.Issuer
	if issuer == "" {
		issuer = "http://" + loopback(addr) + "/app"
	}
	return webapp.New(webapp.Config{
		APIBase: "http://" + loopback(addr), APIKey: key, Store: store, Log: log,
		Mode: cfg.App.Mode, TrustProxy: cfg.App.TrustProxy, Issuer: strings.TrimRight(issuer, "/"),
		HTTP: &http.Client{Timeout: 30 * time.Second},
	})
}

// loopback is addr with an unspecified host (0.0.0.0, ::) replaced by the
// loopback address, for calls to our own listener.
func loopback(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
		if tcp.IP != nil && tcp.IP.To4() == nil {
			ip = net.IPv6loopback
		}
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

var _ session.Analyzer = (*engine.Engine)(nil)
