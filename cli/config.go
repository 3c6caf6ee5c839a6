package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"presence"
	"presence/engine"
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
	// Workers is the number of frames analysed at once (default: CPUs).
	Workers        int               `json:"workers"`
	MaxImageBytes  int64             `json:"max_image_bytes"`
	MaxImagePixels int64             `json:"max_image_pixels"`
	Thresholds     engine.Thresholds `json:"thresholds"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		CacheDir:       defaultCacheDir(),
		MaxImageBytes:  vision.DefaultLimits.MaxBytes,
		MaxImagePixels: vision.DefaultLimits.MaxPixels,
		Thresholds:     engine.DefaultThresholds(),
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
	return vision.Limits{MaxBytes: c.MaxImageBytes, MaxPixels: c.MaxImagePixels}
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
	return parseInterspersed(fs, args)
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
	workers := int64(c.Workers)
	if err := num("PRESENCE_WORKERS", &workers); err != nil {
		return err
	}
	c.Workers = int(workers)
	if err := num("PRESENCE_MAX_IMAGE_BYTES", &c.MaxImageBytes); err != nil {
		return err
	}
	return num("PRESENCE_MAX_IMAGE_PIXELS", &c.MaxImagePixels)
}
