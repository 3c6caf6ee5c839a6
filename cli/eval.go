package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"presence"
	"presence/engine"
	"presence/eval"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "clips" {
		return runEvalClips(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "fingerprints" {
		return runEvalFingerprints(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "shadow" {
		return runEvalShadow(args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "pad" && args[0] != "verify") {
		fmt.Fprintln(stderr, "Usage: presence eval pad DIR [flags]     liveness (ISO/IEC 30107-3 metrics) on DIR/labels.csv")
		fmt.Fprintln(stderr, "       presence eval verify DIR [flags]  face matching on DIR/pairs.csv")
		fmt.Fprintln(stderr, "       presence eval clips DIR [flags]   videos or SDK recordings (.json) in DIR/labels.csv, replayed into sessions")
		fmt.Fprintln(stderr, "       presence eval fingerprints DIR... false and missed cross-session replays on videos")
		fmt.Fprintln(stderr, "       presence eval shadow --db DSN     a candidate run in shadow (serve --shadow-*) against the verdicts given")
		return usageError("eval needs pad, verify or clips")
	}
	kind := args[0]
	cfg := DefaultConfig()
	fs := newFlagSet("eval "+kind, "DIR [flags]", stderr)
	cfg.bindFlags(fs)
	out := fs.String("out", "", "write PREFIX.json and PREFIX.html (default reports/<kind>-<DIR name>)")
	by := fs.String("by", "", "comma-separated columns of labels.csv to break results down by (verify: pairs whose images share the value)")
	pairs := fs.String("pairs", "", "verify: pair list (default DIR/pairs.csv, else DIR/master.csv)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := cfg.load(fs, args[1:], os.Getenv); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("eval %s needs one DIR", kind)
	}
	dir := fs.Arg(0)
	name := filepath.Base(filepath.Clean(dir))
	if *out == "" {
		*out = filepath.Join("reports", kind+"-"+name)
	}

	// Every input line is read and checked before any model is loaded.
	var samples []eval.Sample
	var pairList []eval.Pair
	var err error
	switch kind {
	case "pad":
		var columns []string
		if samples, columns, err = eval.ReadLabels(dir); err != nil {
			return err
		}
		for _, c := range splitList(*by) {
			if !containsString(columns, c) {
				return usageError("--by %s: labels.csv has no such column (extra columns: %s)", c, strings.Join(columns, ", "))
			}
		}
	case "verify":
		if pairList, err = eval.ReadPairs(dir, pairsFile(dir, *pairs)); err != nil {
			return err
		}
	}
	sliceBy := map[string]map[string]string{}
	if kind == "verify" {
		for _, c := range splitList(*by) {
			if sliceBy[c], err = eval.ReadColumn(dir, c); err != nil {
				return err
			}
		}
	}

	eng, closeEngine, err := openEngine(cfg)
	if err != nil {
		return err
	}
	defer closeEngine()
	// Liveness evaluation does not need templates: skip the embedder.
	opts := engine.Options{SkipEmbedding: kind == "pad"}
	analyze := func(ctx context.Context, path string) (*presence.Analysis, error) {
		return analyzeFile(ctx, eng, cfg, path, opts)
	}
	progress := newProgress(stderr, *quiet)
	ctx := context.Background()
	generated := time.Now().UTC().Format(time.RFC3339)
	var report interface {
		WriteText(io.Writer)
		WriteHTML(io.Writer) error
	}
	switch kind {
	case "pad":
		r := eval.RunPAD(ctx, analyze, samples, eng.Workers(), cfg.Thresholds.Liveness, splitList(*by), progress.update)
		r.Dataset, r.Generated, r.Models = name, generated, eng.Manifest().Versions()
		report = r
	case "verify":
		r := eval.RunVerify(ctx, analyze, pairList, eng.Workers(), cfg.Thresholds.Match, progress.update)
		for _, c := range splitList(*by) {
			r.Slice(c, sliceBy[c])
		}
		r.Dataset, r.Generated, r.Models = name, generated, eng.Manifest().Versions()
		report = r
	}
	progress.done()
	if err := writeReport(*out, report); err != nil {
		return err
	}
	report.WriteText(stdout)
	fmt.Fprintf(stdout, "\nreports: %s.json, %s.html\n", *out, *out)
	return nil
}

// pairsFile is the --pairs flag, else DIR/pairs.csv, else deepface's
// DIR/master.csv.
func pairsFile(dir, flag string) string {
	if flag != "" {
		return flag
	}
	file := filepath.Join(dir, "pairs.csv")
	if _, err := os.Stat(file); err != nil {
		if _, err := os.Stat(filepath.Join(dir, "master.csv")); err == nil {
			return filepath.Join(dir, "master.csv")
		}
	}
	return file
}

func writeReport(prefix string, r interface{ WriteHTML(io.Writer) error }) error {
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".json", append(data, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(prefix + ".html")
	if err != nil {
		return err
	}
	if err := r.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// progress draws a bar on a terminal and stays silent otherwise, so logs
// and CI output stay clean.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok && !quiet {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(done, total int) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := width * done / max(total, 1)
	rate := float64(done) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d  %.1f images/s ", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, total, rate)
}

func (p *progress) done() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}
