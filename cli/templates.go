package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"presence/seal"
)

func runTemplates(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "keygen" && args[0] != "rotate") {
		fmt.Fprintln(stderr, "Usage: presence templates keygen   print a new random template key (base64, 32 bytes)")
		fmt.Fprintln(stderr, "       presence templates rotate   reseal every stored template with the current key")
		fmt.Fprintln(stderr, "                                   (PRESENCE_TEMPLATE_KEY_FILE = new key,")
		fmt.Fprintln(stderr, "                                    PRESENCE_OLD_TEMPLATE_KEYS_FILE = the keys it replaces)")
		return usageError("templates needs keygen or rotate")
	}
	if args[0] == "keygen" {
		_, text, err := seal.NewKey()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, text)
		return nil
	}
	cfg := DefaultConfig()
	fs := newFlagSet("templates rotate", "[--db DSN]", stderr)
	fs.String("config", "", "JSON configuration file (env PRESENCE_CONFIG)")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "SQLite file or postgres:// URL (env PRESENCE_DB)")
	fs.BoolVar(&cfg.Dev, "dev", cfg.Dev, "development mode: the current key is the one in the data dir (env PRESENCE_DEV)")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "folder of the development template key (env PRESENCE_DATA_DIR)")
	if err := cfg.load(fs, args[1:], os.Getenv); err != nil {
		return usageError("%v", err)
	}
	ctx := context.Background()
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	sealer, err := openSealer(cfg, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	report, err := seal.Rotate(ctx, store, sealer)
	for _, kind := range seal.Kinds {
		fmt.Fprintf(stdout, "%-9s resealed %d, already current %d, changed meanwhile %d\n",
			kind, report.Resealed[kind], report.Current[kind], report.Changed[kind])
	}
	if err != nil {
		return fmt.Errorf("rotation stopped (run it again once fixed; resealed values stay resealed): %w", err)
	}
	fmt.Fprintf(stdout, "every template is sealed with key %s; the old keys can be removed\n", sealer.CurrentKeyID())
	return nil
}
