package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"presence"
	"presence/engine"
	"presence/liveness"
	"presence/sqldb"
	"presence/vision"
)

// Config is every setting of Presence. It is filled from defaults, then a
// JSON file (--config or PRESENCE_CONFIG), then PRESENCE_* environment
// variables, then flags, and passed explicitly to what needs it.
type Config struct {
	// CacheDir holds ONNX Runtime and the model files (`presence setup`).
	CacheDir string `json:"cache_dir"`
	// Manifest is an optional model manifest replacing the built-in one.
	Manifest string `json:"manifest,omitempty"`
	// ModelProbe is a photo of one face, well lit, that every new model
	// set must judge (one face, scores in range) before it serves; unset,
	// a synthetic frame checks only that the pipeline runs.
	ModelProbe string `json:"model_probe,omitempty"`
	// ModelPoll is how often a node looks for a model set changed by
	// another node.
	ModelPoll Duration `json:"model_poll"`
	// Workers is the number of frames analysed at once (default: CPUs).
	Workers        int               `json:"workers"`
	MaxImageBytes  int64             `json:"max_image_bytes"`
	MaxImagePixels int64             `json:"max_image_pixels"`
	Thresholds     engine.Thresholds `json:"thresholds"`

	// Server settings (`presence serve`, `presence apikey`).
	Listen string `json:"listen"`
	// MetricsListen serves Prometheus metrics on a listener of their own
	// (default loopback only): the counts move with each device's verdict,
	// so they must not be readable where devices connect. "off" disables.
	MetricsListen string `json:"metrics_listen"`
	// DB is a SQLite file path (default) or a postgres:// URL.
	DB string `json:"db"`
	// Dev allows a generated template key kept in DataDir; never for
	// production.
	Dev     bool   `json:"dev"`
	DataDir string `json:"data_dir"`
	// TemplateKey encrypts face templates (32 bytes, base64); prefer
	// PRESENCE_TEMPLATE_KEY_FILE. OldTemplateKeys still decrypt during a
	// rotation.
	TemplateKey     Secret   `json:"template_key,omitempty"`
	OldTemplateKeys []Secret `json:"old_template_keys,omitempty"`
	// OperatorToken opens the operator API (/v1/operator/) and console
	// (/console/) to whoever bears it; unset, both are off. Prefer
	// PRESENCE_OPERATOR_TOKEN_FILE.
	OperatorToken Secret   `json:"operator_token,omitempty"`
	SessionTTL    Duration `json:"session_ttl"`
	MaxSessionTTL Duration `json:"max_session_ttl"`
	MaxFrames     int      `json:"max_frames"`
	MaxBodyBytes  int64    `json:"max_body_bytes"`
	// RateLimit is requests a minute per API key, shared by all nodes.
	RateLimit int `json:"rate_limit"`
	// Retention is how long finished sessions and their audit images are
	// kept; the audit log (no images) is kept.
	Retention Duration `json:"retention"`
	// FingerprintRetention is how long the replay fingerprints of judged
	// frames are kept (hashes, no image), whatever happens to their
	// sessions; 0 keeps none, which turns off replay detection across
	// sessions.
	FingerprintRetention Duration `json:"fingerprint_retention"`
	ShutdownTimeout      Duration `json:"shutdown_timeout"`
	// Active is what active sessions may ask for.
	Active ActiveConfig `json:"active"`
	// DuplicateFaces is what enrolling a face already enrolled under
	// another subject does: warn (enrol, report) or refuse.
	DuplicateFaces string `json:"duplicate_faces"`
	// Webhooks is how events are sent to relying parties.
	Webhooks WebhookConfig `json:"webhooks"`
	// Shadow runs a candidate beside the models in service.
	Shadow ShadowConfig `json:"shadow"`
	// App is the face-login web app at /app/.
	App       AppConfig `json:"app"`
	LogFormat string    `json:"log_format"`
	LogLevel  string    `json:"log_level"`
}

// ActiveConfig is the operator's policy for active sessions.
type ActiveConfig struct {
	// Steps the server may choose from: blink, turn_left, turn_right,
	// look_up, move_closer, open_mouth.
	Steps       []string `json:"steps"`
	MinSteps    int      `json:"min_steps"`
	MaxSteps    int      `json:"max_steps"`
	StepTimeout Duration `json:"step_timeout"`
}

// Policy turns the configuration into a validated liveness policy.
func (a ActiveConfig) Policy(t engine.Thresholds) (liveness.Policy, error) {
	p := liveness.DefaultPolicy()
	if len(a.Steps) > 0 {
		p.Steps = nil
		for _, s := range a.Steps {
			p.Steps = append(p.Steps, liveness.StepKind(s))
		}
	}
	if a.MinSteps > 0 {
		p.MinSteps = a.MinSteps
	}
	if a.MaxSteps > 0 {
		p.MaxSteps = a.MaxSteps
	}
	if a.StepTimeout > 0 {
		p.StepTimeout = time.Duration(a.StepTimeout)
	}
	p.Liveness, p.ConfidentFake = t.Liveness, t.ConfidentFake
	return p, p.Validate()
}

// Secret is a configuration value that never appears in logs or dumps.
type Secret string

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// LogValue redacts the secret in structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON redacts the secret in configuration dumps.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads the secret from a configuration file.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Secret(v)
	return nil
}

// Duration is a time.Duration written as "5m", "720h" in files and flags.
type Duration time.Duration

// MarshalJSON writes "5m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "5m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return d.Set(v)
}

// String implements flag.Value.
func (d *Duration) String() string { return time.Duration(*d).String() }

// Set implements flag.Value.
func (d *Duration) Set(v string) error {
	p, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a duration like 90s, 5m or 720h", v)
	}
	*d = Duration(p)
	return nil
}

// AppConfig sets up the face-login app.
type AppConfig struct {
	// Enabled serves the app; unset, it follows development mode (a demo
	// app that lets anyone enrol a face is opt-in in production).
	Enabled *bool `json:"enabled,omitempty"`
	// APIKey is the app's own Presence API key; unset, one is created on
	// first start and kept in DataDir/app-api.key.
	APIKey Secret `json:"api_key,omitempty"`
	// TrustProxy takes client addresses (for lockouts) from
	// X-Forwarded-For; only behind a proxy that overwrites it.
	TrustProxy bool `json:"trust_proxy,omitempty"`
	// Mode is the liveness check of registrations and logins: active
	// (default) or passive.
	Mode string `json:"mode,omitempty"`
	// DB is the app's own database, apart from Presence's: a SQLite file
	// or a postgres:// URL. Unset: app.db beside Presence's SQLite file,
	// or, with PostgreSQL, Presence's database in schema presence_app.
	DB string `json:"db,omitempty"`
	// Issuer is the app's external URL ending in /app, its OpenID
	// Provider's issuer (default: http://LISTEN/app; set the https
	// address people use).
	Issuer string `json:"issuer,omitempty"`
}

// AppDB is the DSN of the face-login app's own store.
func (c Config) AppDB() string {
	if c.App.DB != "" {
		return c.App.DB
	}
	if sqldb.DialectOf(c.DB) == sqldb.Postgres {
		return c.DB
	}
	return filepath.Join(filepath.Dir(c.DB), "app.db")
}

// AppEnabled says whether `presence serve` serves the app.
func (c Config) AppEnabled() bool {
	if c.App.Enabled != nil {
		return *c.App.Enabled
	}
	return c.Dev
}

// optionalBool is a boolean flag that remembers being set.
type optionalBool struct{ p **bool }

func (o optionalBool) IsBoolFlag() bool { return true }
func (o optionalBool) String() string {
	if o.p == nil || *o.p == nil {
		return ""
	}
	return strconv.FormatBool(**o.p)
}
func (o optionalBool) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	*o.p = &b
	return nil
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		CacheDir:             defaultCacheDir(),
		MaxImageBytes:        vision.DefaultLimits.MaxBytes,
		MaxImagePixels:       vision.DefaultLimits.MaxPixels,
		Thresholds:           engine.DefaultThresholds(),
		Listen:               "127.0.0.1:8080",
		MetricsListen:        "127.0.0.1:9464",
		DB:                   filepath.Join("data", "presence.db"),
		DataDir:              "data",
		SessionTTL:           Duration(5 * time.Minute),
		MaxSessionTTL:        Duration(time.Hour),
		MaxFrames:            5,
		MaxBodyBytes:         20 << 20,
		RateLimit:            600,
		Retention:            Duration(30 * 24 * time.Hour),
		FingerprintRetention: Duration(30 * 24 * time.Hour),
		ShutdownTimeout:      Duration(30 * time.Second),
		ModelPoll:            Duration(5 * time.Second),
		Webhooks:             WebhookConfig{Timeout: Duration(10 * time.Second), RetryFor: Duration(24 * time.Hour), Backoff: Duration(5 * time.Second)},
		LogFormat:            "text",
		DuplicateFaces:       "warn",
		LogLevel:             "info",
	}
}

// defaultCacheDir is ./.cache when it exists (running from a checkout), else
// .cache beside the directory holding the executable (bin/presence).
func defaultCacheDir() string {
	if st, err := os.Stat(".cache"); err == nil && st.IsDir() {
		return ".cache"
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Join(filepath.Dir(filepath.Dir(exe)), ".cache")
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir
		}
	}
	return ".cache"
}

// Limits are the image limits of the configuration.
func (c Config) Limits() vision.Limits {
	return vision.Limits{MaxBytes: c.MaxImageBytes, MaxPixels: c.MaxImagePixels, MaxDecodedBytes: vision.DefaultLimits.MaxDecodedBytes}
}

// LoadManifest returns the configured manifest or the built-in one.
func (c Config) LoadManifest() (*presence.Manifest, error) {
	if c.Manifest == "" {
		return presence.DefaultManifest(), nil
	}
	data, err := os.ReadFile(c.Manifest)
	if err != nil {
		return nil, err
	}
	return presence.ParseManifest(data)
}

// bindFlags registers the flags shared by every command that runs models.
func (c *Config) bindFlags(fs *flag.FlagSet) {
	fs.String("config", "", "JSON configuration file (env PRESENCE_CONFIG)")
	fs.StringVar(&c.CacheDir, "cache", c.CacheDir, "folder with ONNX Runtime and the models (env PRESENCE_CACHE_DIR)")
	fs.StringVar(&c.Manifest, "manifest", c.Manifest, "model manifest replacing the built-in one (env PRESENCE_MANIFEST)")
	fs.StringVar(&c.ModelProbe, "model-probe", c.ModelProbe, "photo of one face every new model set must judge before it serves (env PRESENCE_MODEL_PROBE)")
	fs.IntVar(&c.Workers, "workers", c.Workers, "frames analysed at once, 0 = one per CPU (env PRESENCE_WORKERS)")
	fs.Int64Var(&c.MaxImageBytes, "max-image-bytes", c.MaxImageBytes, "largest accepted image file (env PRESENCE_MAX_IMAGE_BYTES)")
	fs.Int64Var(&c.MaxImagePixels, "max-image-pixels", c.MaxImagePixels, "largest accepted image in pixels (env PRESENCE_MAX_IMAGE_PIXELS)")
	fs.Float64Var(&c.Thresholds.Liveness, "liveness-threshold", c.Thresholds.Liveness, "fused liveness score needed for realface")
	fs.Float64Var(&c.Thresholds.Match, "match-threshold", c.Thresholds.Match, "cosine similarity needed for a face match")
}

// load fills c from the config file and environment, then parses args with
// fs (flags bound to c win).
func (c *Config) load(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	path := getenv("PRESENCE_CONFIG")
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasValue {
			path = value
		} else if i+1 < len(args) {
			path = args[i+1]
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(c); err != nil {
			return fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := c.loadEnv(getenv); err != nil {
		return err
	}
	// Flags were bound with the defaults; re-register values now that file
	// and env are applied, by resetting each flag's default to the current
	// field value before parsing.
	fs.VisitAll(func(f *flag.Flag) {
		f.DefValue = f.Value.String()
	})
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	// Zero used to purge every finished session at the next sweep (and
	// keep the app's attempts for ever): a retention is a period, and a
	// relying party needs time to read its verdicts.
	if time.Duration(c.FingerprintRetention) < 0 {
		return fmt.Errorf("fingerprint retention %s: must not be negative", time.Duration(c.FingerprintRetention))
	}
	if time.Duration(c.Retention) < time.Hour {
		return fmt.Errorf("retention %s: must be at least 1h (sessions, audit images and the app's attempts are kept that long)", time.Duration(c.Retention))
	}
	if c.Shadow.Share < 0 || c.Shadow.Share > 1 || c.Shadow.Liveness < 0 || c.Shadow.Liveness >= 1 {
		return fmt.Errorf("shadow: share in [0,1], liveness threshold in [0,1)")
	}
	if time.Duration(c.ModelPoll) < 100*time.Millisecond {
		return fmt.Errorf("model poll %s: at least 100ms", time.Duration(c.ModelPoll))
	}
	w := c.Webhooks
	if time.Duration(w.Timeout) < 100*time.Millisecond || time.Duration(w.Backoff) < 100*time.Millisecond || time.Duration(w.RetryFor) < time.Duration(w.Backoff) {
		return fmt.Errorf("webhooks: timeout and backoff at least 100ms, retry-for at least the backoff")
	}
	return nil
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments (`presence eval pad DIR --quiet`); "--" ends flag parsing.
// fs.Args() then holds the positional arguments in order.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// fs.Parse consumed a "--" if it stopped on one: everything after
		// it is positional.
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

func (c *Config) loadEnv(getenv func(string) string) error {
	str := func(key string, dst *string) {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
	num := func(key string, dst *int64) error {
		if v := getenv(key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("env %s: %q is not a number", key, v)
			}
			*dst = n
		}
		return nil
	}
	str("PRESENCE_CACHE_DIR", &c.CacheDir)
	str("PRESENCE_MANIFEST", &c.Manifest)
	str("PRESENCE_MODEL_PROBE", &c.ModelProbe)
	str("PRESENCE_LISTEN", &c.Listen)
	str("PRESENCE_METRICS_LISTEN", &c.MetricsListen)
	// A PostgreSQL URL may hold a password: PRESENCE_DB_FILE reads it
	// from a secret file, as the other secrets.
	if err := secret(getenv, "PRESENCE_DB", func(v string) { c.DB = v }); err != nil {
		return err
	}
	str("PRESENCE_DATA_DIR", &c.DataDir)
	str("PRESENCE_LOG_FORMAT", &c.LogFormat)
	str("PRESENCE_LOG_LEVEL", &c.LogLevel)
	if err := secret(getenv, "PRESENCE_TEMPLATE_KEY", func(v string) { c.TemplateKey = Secret(v) }); err != nil {
		return err
	}
	if err := secret(getenv, "PRESENCE_OPERATOR_TOKEN", func(v string) { c.OperatorToken = Secret(v) }); err != nil {
		return err
	}
	if err := secret(getenv, "PRESENCE_OLD_TEMPLATE_KEYS", func(v string) {
		c.OldTemplateKeys = nil
		for _, k := range splitList(v) {
			c.OldTemplateKeys = append(c.OldTemplateKeys, Secret(k))
		}
	}); err != nil {
		return err
	}
	workers := int64(c.Workers)
	if err := num("PRESENCE_WORKERS", &workers); err != nil {
		return err
	}
	c.Workers = int(workers)
	if err := num("PRESENCE_MAX_IMAGE_BYTES", &c.MaxImageBytes); err != nil {
		return err
	}
	if err := num("PRESENCE_MAX_IMAGE_PIXELS", &c.MaxImagePixels); err != nil {
		return err
	}
	rate := int64(c.RateLimit)
	if err := num("PRESENCE_RATE_LIMIT", &rate); err != nil {
		return err
	}
	c.RateLimit = int(rate)
	if v := getenv("PRESENCE_RETENTION"); v != "" {
		if err := c.Retention.Set(v); err != nil {
			return fmt.Errorf("env PRESENCE_RETENTION: %w", err)
		}
	}
	if v := getenv("PRESENCE_FINGERPRINT_RETENTION"); v != "" {
		if err := c.FingerprintRetention.Set(v); err != nil {
			return fmt.Errorf("env PRESENCE_FINGERPRINT_RETENTION: %w", err)
		}
	}
	if v := getenv("PRESENCE_WEBHOOK_ALLOW_PRIVATE"); v != "" {
		c.Webhooks.AllowPrivate = v == "1" || v == "true"
	}
	if v := getenv("PRESENCE_DEV"); v != "" {
		c.Dev = v == "1" || v == "true"
	}
	if v := getenv("PRESENCE_APP"); v != "" {
		b := v == "1" || v == "true"
		c.App.Enabled = &b
	}
	str("PRESENCE_APP_DB", &c.App.DB)
	str("PRESENCE_APP_ISSUER", &c.App.Issuer)
	if err := secret(getenv, "PRESENCE_APP_API_KEY", func(v string) { c.App.APIKey = Secret(v) }); err != nil {
		return err
	}
	return nil
}

// ShadowConfig is a candidate judging a share of sessions in shadow: its
// decisions are recorded beside the real ones (`presence eval shadow`)
// and never change a verdict.
type ShadowConfig struct {
	// Share of sessions, 0-1 (0: off).
	Share float64 `json:"share"`
	// Manifest is the candidate model set (empty: the set in service).
	Manifest string `json:"manifest,omitempty"`
	// Liveness is the candidate's liveness threshold (0: the one in
	// service).
	Liveness float64 `json:"liveness,omitempty"`
}

// WebhookConfig is how webhook deliveries are sent and retried.
type WebhookConfig struct {
	// Timeout bounds one attempt.
	Timeout Duration `json:"timeout"`
	// RetryFor is how long a delivery is retried before it is marked
	// failed; Backoff is the first wait, doubling to at most an hour.
	RetryFor Duration `json:"retry_for"`
	Backoff  Duration `json:"backoff"`
	// AllowPrivate lets endpoints be loopback or private addresses.
	AllowPrivate bool `json:"allow_private"`
}

// secret reads NAME, or the file named by NAME_FILE (the usual way to pass
// secrets to containers), trimming the trailing newline.
func secret(getenv func(string) string, name string, set func(string)) error {
	if path := getenv(name + "_FILE"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("env %s_FILE: %w", name, err)
		}
		set(strings.TrimSpace(string(data)))
		return nil
	}
	if v := getenv(name); v != "" {
		set(v)
	}
	return nil
}

// bindServerFlags registers the flags of the server commands.
func (c *Config) bindServerFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to serve on (env PRESENCE_LISTEN)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", c.MetricsListen, "address of the Prometheus /metrics listener, apart from the API; off to disable (env PRESENCE_METRICS_LISTEN)")
	fs.StringVar(&c.DB, "db", c.DB, "SQLite file, or postgres://user@host/db to share state between nodes (env PRESENCE_DB)")
	fs.BoolVar(&c.Dev, "dev", c.Dev, "development mode: generate a template key in the data dir if none is configured (env PRESENCE_DEV)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "folder for the development template key (env PRESENCE_DATA_DIR)")
	fs.Var(&c.SessionTTL, "session-ttl", "default session lifetime")
	fs.Var(&c.Retention, "retention", "how long finished sessions and audit images are kept (env PRESENCE_RETENTION)")
	fs.Var(&c.FingerprintRetention, "fingerprint-retention", "how long replay fingerprints of judged frames are kept, 0 = none: no replay detection across sessions (env PRESENCE_FINGERPRINT_RETENTION)")
	fs.Float64Var(&c.Shadow.Share, "shadow-share", c.Shadow.Share, "share of sessions (0-1) a candidate also judges in shadow, recorded for `presence eval shadow`, never shown")
	fs.StringVar(&c.Shadow.Manifest, "shadow-manifest", c.Shadow.Manifest, "the candidate's model manifest (default: the models in service)")
	fs.Float64Var(&c.Shadow.Liveness, "shadow-liveness-threshold", c.Shadow.Liveness, "the candidate's liveness threshold (default: the one in service)")
	fs.Var(&c.ModelPoll, "model-poll", "how often to look for a model set changed on another node")
	fs.Var(&c.Webhooks.Timeout, "webhook-timeout", "how long one webhook delivery attempt may take")
	fs.Var(&c.Webhooks.RetryFor, "webhook-retry-for", "how long a webhook delivery is retried before it is marked failed")
	fs.Var(&c.Webhooks.Backoff, "webhook-backoff", "first wait before retrying a webhook delivery; it doubles, to at most an hour, less a random share")
	fs.BoolVar(&c.Webhooks.AllowPrivate, "webhook-allow-private", c.Webhooks.AllowPrivate, "let webhook endpoints be loopback or private addresses (env PRESENCE_WEBHOOK_ALLOW_PRIVATE)")
	fs.IntVar(&c.RateLimit, "rate-limit", c.RateLimit, "requests a minute per API key, 0 = none (env PRESENCE_RATE_LIMIT)")
	fs.IntVar(&c.MaxFrames, "max-frames", c.MaxFrames, "most frames of one passive check")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body")
	fs.Func("active-steps", "steps active sessions may ask, comma-separated (default: all of blink,turn_left,turn_right,look_up,move_closer,open_mouth)", func(v string) error {
		c.Active.Steps = splitList(v)
		return nil
	})
	fs.IntVar(&c.Active.MinSteps, "active-min-steps", c.Active.MinSteps, "fewest steps of an active session (default 2)")
	fs.IntVar(&c.Active.MaxSteps, "active-max-steps", c.Active.MaxSteps, "most steps of an active session (default 4)")
	fs.Var(&c.Active.StepTimeout, "active-step-timeout", "time for each step (default 8s)")
	fs.Func("duplicate-faces", "enrolling a face already enrolled under another subject: warn (enrol and report) or refuse", func(v string) error {
		if v != "warn" && v != "refuse" {
			return fmt.Errorf("want warn or refuse")
		}
		c.DuplicateFaces = v
		return nil
	})
	fs.Var(optionalBool{&c.App.Enabled}, "app", "serve the face-login app at /app/ (default: on with --dev, else off; env PRESENCE_APP)")
	fs.StringVar(&c.App.DB, "app-db", c.App.DB, "face-login app's own database: SQLite file or postgres:// URL (default: app.db beside --db, or --db's PostgreSQL in schema presence_app; env PRESENCE_APP_DB)")
	fs.StringVar(&c.App.Issuer, "app-issuer", c.App.Issuer, "face-login app: its external URL ending in /app, the issuer of its OpenID Provider (default http://LISTEN/app; env PRESENCE_APP_ISSUER)")
	fs.BoolVar(&c.App.TrustProxy, "app-trust-proxy", c.App.TrustProxy, "face-login app: take client addresses from X-Forwarded-For")
	fs.Func("app-mode", "face-login app: liveness check of registrations and logins, active (default) or passive", func(v string) error {
		if v != "active" && v != "passive" {
			return fmt.Errorf("want active or passive")
		}
		c.App.Mode = v
		return nil
	})
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json (env PRESENCE_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (env PRESENCE_LOG_LEVEL)")
}
