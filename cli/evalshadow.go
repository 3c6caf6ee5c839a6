package cli

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"time"

	"presence/eval"
)

// runEvalShadow is `presence eval shadow`: what a candidate running in
// shadow (`presence serve --shadow-manifest/--shadow-liveness-threshold
// --shadow-share`) would have decided, against the verdicts the sessions
// got, and both sides' error rates on the sessions whose truth is known.
func runEvalShadow(args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := newFlagSet("eval shadow", "--db DSN [--labels CSV] [--since 168h] [--json]", stderr)
	cfg.bindFlags(fs)
	cfg.bindServerFlags(fs)
	labels := fs.String("labels", "", "CSV of correlation_id,label (live or spoof): the truth of labelled sessions")
	since := fs.Duration("since", 7*24*time.Hour, "results of the sessions judged this recently")
	asJSON := fs.Bool("json", false, "print JSON (every difference)")
	if err := cfg.load(fs, args, os.Getenv); err != nil {
		return usageError("%v", err)
	}
	var truth map[string]bool
	if *labels != "" {
		f, err := os.Open(*labels)
		if err != nil {
			return err
		}
		truth, err = eval.ReadShadowLabels(*labels, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	ctx := context.Background()
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	results, err := store.ShadowResults(ctx, time.Now().Add(-*since), 1_000_000)
	if err != nil {
		return err
	}
	summary := eval.SummarizeShadow(results, truth)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(summary)
	}
	summary.WriteText(stdout)
	return nil
}
