package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"presence"
	"presence/engine"
	"presence/session"
)

// checkResult is one image's line of `presence check --json`.
type checkResult struct {
	File string `json:"file"`
	*presence.Analysis
	Match *presence.Match `json:"match,omitempty"`
	// MatchNote says why no match was computed though a reference was given.
	MatchNote string `json:"match_note,omitempty"`
	Error     *struct {
		Code    presence.ErrorCode `json:"code"`
		Message string             `json:"message"`
	} `json:"error,omitempty"`
}

func runCheck(args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := newFlagSet("check", "[--reference REF] [--json] [--landmarks] IMAGE...", stderr)
	cfg.bindFlags(fs)
	reference := fs.String("reference", "", "reference photo to match every image against")
	asJSON := fs.Bool("json", false, "print JSON (one array of results)")
	landmarks := fs.Bool("landmarks", false, "include the 68 face landmarks")
	if err := cfg.load(fs, args, os.Getenv); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError("no image given")
	}
	eng, closeEngine, err := openEngine(cfg)
	if err != nil {
		return err
	}
	defer closeEngine()
	ctx := context.Background()
	opts := engine.Options{Landmarks: *landmarks}

	var ref *presence.Analysis
	if *reference != "" {
		ref, err = analyzeFile(ctx, eng, cfg, *reference, engine.Options{})
		if err != nil {
			return fmt.Errorf("reference %s: %s", *reference, presence.ErrorMessage(err))
		}
	}

	files := fs.Args()
	results := make([]checkResult, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, eng.Workers())
	for i, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = checkOne(ctx, eng, cfg, f, opts, ref)
		}()
	}
	wg.Wait()

	failed := false
	for _, r := range results {
		if r.Error != nil {
			failed = true
			fmt.Fprintf(stderr, "presence check: %s: %s\n", r.File, r.Error.Message)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if r.Error == nil {
				printCheck(stdout, r)
			}
		}
	}
	if failed {
		return errReported
	}
	return nil
}

func checkOne(ctx context.Context, eng *engine.Engine, cfg Config, file string, opts engine.Options, ref *presence.Analysis) checkResult {
	r := checkResult{File: file}
	a, err := analyzeFile(ctx, eng, cfg, file, opts)
	if err != nil {
		r.Error = &struct {
			Code    presence.ErrorCode `json:"code"`
			Message string             `json:"message"`
		}{presence.ErrorCodeOf(err), presence.ErrorMessage(err)}
		return r
	}
	r.Analysis = a
	if ref != nil {
		switch {
		case ref.Face == nil:
			r.MatchNote = "no face in the reference image"
		case a.Face == nil:
			r.MatchNote = "no face in this image"
		default:
			m := presence.NewMatch(a.Face.Embedding, ref.Face.Embedding, eng.Thresholds().Match)
			r.Match = &m
		}
	}
	return r
}

// analyzeFile reads a file within the configured byte limit (checked on
// the file size before reading) and analyses it as the service analyses
// an upload (DCT-scaled decoding where libjpeg-turbo is installed).
func analyzeFile(ctx context.Context, eng *engine.Engine, cfg Config, path string, opts engine.Options) (*presence.Analysis, error) {
	data, err := readLimited(path, cfg.MaxImageBytes)
	if err != nil {
		return nil, err
	}
	jd, _ := jpegDecoder()
	return session.AnalyzeUpload(ctx, eng, jd, cfg.Limits(), data, opts)
}

func readLimited(path string, maxBytes int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, presence.Errorf(presence.ErrNotFound, "no such file")
		case errors.Is(err, fs.ErrPermission):
			return nil, presence.Errorf(presence.ErrForbidden, "permission denied")
		}
		return nil, presence.WrapError(presence.ErrInvalid, err, "cannot open file")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, presence.WrapError(presence.ErrInvalid, err, "cannot read file")
	}
	if st.IsDir() {
		return nil, presence.Errorf(presence.ErrInvalid, "is a directory, not an image")
	}
	if maxBytes > 0 && st.Size() > maxBytes {
		return nil, presence.Errorf(presence.ErrImageTooLarge, "image too large: %d bytes, limit %d", st.Size(), maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, presence.WrapError(presence.ErrInvalid, err, "cannot read file")
	}
	if maxBytes > 0 && int64(len(data)) > maxBytes {
		return nil, presence.Errorf(presence.ErrImageTooLarge, "image too large: more than %d bytes", maxBytes)
	}
	return data, nil
}

func printCheck(w io.Writer, r checkResult) {
	a := r.Analysis
	score := "-"
	if a.Score != nil {
		score = fmt.Sprintf("%.3f", *a.Score)
	}
	fmt.Fprintf(w, "%s: %s  liveness %s  (%s %dx%d, %.0f ms)\n", r.File, strings.ToUpper(string(a.Decision)), score,
		a.Image.Format, a.Image.Width, a.Image.Height, a.Timings.Total)
	for _, rs := range a.Reasons {
		fmt.Fprintf(w, "  %s: %s\n", rs.Code, rs.Message)
	}
	if f := a.Face; f != nil {
		q := f.Quality
		fmt.Fprintf(w, "  face %.0fx%.0f at (%.0f,%.0f), %d in view; yaw %.0f° pitch %.0f° roll %.0f°; brightness %.0f, sharpness %.0f\n",
			f.Box.Width(), f.Box.Height(), f.Box.X1, f.Box.Y1, q.FaceCount, q.Yaw, q.Pitch, q.Roll, q.Brightness, q.Sharpness)
	}
	switch {
	case r.Match != nil:
		verdict := "no match"
		if r.Match.Match {
			verdict = "MATCH"
		}
		fmt.Fprintf(w, "  reference: similarity %.3f (threshold %.2f): %s\n", r.Match.Similarity, r.Match.Threshold, verdict)
	case r.MatchNote != "":
		fmt.Fprintf(w, "  reference: not compared, %s\n", r.MatchNote)
	}
}
