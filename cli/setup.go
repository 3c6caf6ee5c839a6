package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
)

func runSetup(args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := newFlagSet("setup", "[--cache DIR]", stderr)
	cfg.bindFlags(fs)
	if err := cfg.load(fs, args, os.Getenv); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	return ensureModels(context.Background(), cfg, log)
}
