package cli

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "presence.json")
	os.WriteFile(file, []byte(`{"workers": 3, "cache_dir": "/from/file", "thresholds": {"liveness": 0.9}}`), 0o644)
	env := map[string]string{"PRESENCE_CACHE_DIR": "/from/env", "PRESENCE_WORKERS": "5"}
	getenv := func(k string) string { return env[k] }

	cfg := DefaultConfig()
	fs := newFlagSet("t", "", io.Discard)
	cfg.bindFlags(fs)
	if err := cfg.load(fs, []string{"--config", file, "--workers", "7"}, getenv); err != nil {
		t.Fatal(err)
	}
	// file < env < flags; untouched defaults survive.
	if cfg.CacheDir != "/from/env" || cfg.Workers != 7 || cfg.Thresholds.Liveness != 0.9 {
		t.Errorf("got cache %q workers %d liveness %v", cfg.CacheDir, cfg.Workers, cfg.Thresholds.Liveness)
	}
	if cfg.Thresholds.MinFaceSize != DefaultConfig().Thresholds.MinFaceSize {
		t.Error("a threshold absent from the file lost its default")
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"wokers": 3}`), 0o644)
	for name, c := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"unknown key":  {[]string{"--config", bad}, nil},
		"missing file": {[]string{"--config", filepath.Join(dir, "absent.json")}, nil},
		"bad env":      {nil, map[string]string{"PRESENCE_WORKERS": "many"}},
		"bad flag":     {[]string{"--workers", "x"}, nil},
		// Zero purged every finished session at once (hardening issue).
		"zero retention":  {nil, map[string]string{"PRESENCE_RETENTION": "0s"}},
		"short retention": {nil, map[string]string{"PRESENCE_RETENTION": "30m"}},
	} {
		cfg := DefaultConfig()
		fs := newFlagSet("t", "", io.Discard)
		cfg.bindFlags(fs)
		if err := cfg.load(fs, c.args, func(k string) string { return c.env[k] }); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFlagsAnywhere(t *testing.T) {
	cfg := DefaultConfig()
	fs := newFlagSet("t", "", io.Discard)
	cfg.bindFlags(fs)
	quiet := fs.Bool("quiet", false, "")
	if err := cfg.load(fs, []string{"a.jpg", "--quiet", "b.jpg", "--workers=3", "--", "--c.jpg"}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	got := fs.Args()
	if !*quiet || cfg.Workers != 3 || len(got) != 3 || got[0] != "a.jpg" || got[1] != "b.jpg" || got[2] != "--c.jpg" {
		t.Errorf("quiet %v workers %d args %q", *quiet, cfg.Workers, got)
	}
}

func TestActivePolicyConfig(t *testing.T) {
	cfg := DefaultConfig()
	fs := newFlagSet("t", "", io.Discard)
	cfg.bindServerFlags(fs)
	if err := cfg.load(fs, []string{"--active-steps", "blink,turn_left", "--active-min-steps", "2", "--active-max-steps", "3", "--active-step-timeout", "6s"}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Active.Policy(cfg.Thresholds)
	if err != nil || len(p.Steps) != 2 || p.MinSteps != 2 || p.MaxSteps != 3 || p.StepTimeout.Seconds() != 6 {
		t.Fatalf("%+v %v", p, err)
	}
	cfg.Active.Steps = []string{"somersault"}
	if _, err := cfg.Active.Policy(cfg.Thresholds); err == nil {
		t.Fatal("unknown step accepted")
	}
}

// Container setups pass the database URL (it holds a password) and the
// webhook settings by environment.
func TestContainerEnvironment(t *testing.T) {
	dsnFile := filepath.Join(t.TempDir(), "db")
	os.WriteFile(dsnFile, []byte("postgres://presence:s3cret@postgres/presence\n"), 0o600)
	env := map[string]string{"PRESENCE_DB_FILE": dsnFile, "PRESENCE_WEBHOOK_ALLOW_PRIVATE": "true"}
	cfg := DefaultConfig()
	fs := newFlagSet("t", "", io.Discard)
	cfg.bindFlags(fs)
	cfg.bindServerFlags(fs)
	if err := cfg.load(fs, nil, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if cfg.DB != "postgres://presence:s3cret@postgres/presence" || !cfg.Webhooks.AllowPrivate {
		t.Fatalf("db %q, webhooks %+v", cfg.DB, cfg.Webhooks)
	}
	env = map[string]string{"PRESENCE_DB_FILE": filepath.Join(t.TempDir(), "absent")}
	cfg = DefaultConfig()
	fs = newFlagSet("t", "", io.Discard)
	cfg.bindFlags(fs)
	if err := cfg.load(fs, nil, func(k string) string { return env[k] }); err == nil {
		t.Fatal("a missing PRESENCE_DB_FILE was ignored")
	}
	cfg = DefaultConfig()
	fs = newFlagSet("t", "", io.Discard)
	cfg.bindFlags(fs)
	cfg.bindServerFlags(fs)
	if err := cfg.load(fs, []string{"--webhook-backoff", "10ms"}, func(string) string { return "" }); err == nil {
		t.Fatal("a 10ms webhook backoff was accepted")
	}
}
