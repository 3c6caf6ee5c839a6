package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"presence"
	"presence/subjects"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"presence/bench"
	"presence/clock"
	"presence/engine"
	"presence/httpapi"
	"presence/modelset"
	"presence/seal"
	"presence/session"
	"presence/sqlstore"
	"presence/vision"
)

// benchConfig is one configuration measured by `presence bench`.
type benchConfig struct {
	Label     string `json:"label"`
	Mode      string `json:"mode"` // "pipeline" or "http"
	Workers   int    `json:"workers"`
	Clients   int    `json:"clients"`
	Embedding bool   `json:"embedding"`
	// GoJPEG decodes with Go's image/jpeg at full size instead of
	// libjpeg-turbo scaled in the DCT.
	GoJPEG bool `json:"go_jpeg,omitempty"`
	// Reload, in http mode, swaps the model set in service this often
	// while the configuration's requests run (between the configured set
	// and the same less its last liveness model).
	Reload time.Duration `json:"reload,omitempty"`
}

// benchRow is the result of one configuration on one image.
type benchRow struct {
	Config     benchConfig `json:"config"`
	Image      string      `json:"image"`
	Width      int         `json:"width"`
	Height     int         `json:"height"`
	Megapixels float64     `json:"megapixels"`
	bench.Stats
}

type benchReport struct {
	CPUs      int        `json:"cpus"`
	GoVersion string     `json:"go_version"`
	Runtime   string     `json:"onnxruntime"`
	Rows      []benchRow `json:"rows"`
	// Ratios are B over A per image when two configurations are compared
	// in one run (the machine is noisy: compare within a run only).
	Ratios []benchRatio `json:"ratios,omitempty"`
}

type benchRatio struct {
	Image      string  `json:"image"`
	Throughput float64 `json:"throughput_b_over_a"`
	P50        float64 `json:"p50_b_over_a"`
}

// defaultBenchImages are real face photos of about 0.3, 2.6 and 12.6 MP
// from the dev set.
var defaultBenchImages = []string{
	"pad_silentface_samples/image_T1.jpg",
	"fr_deepface_pairs/img1.jpg",
	"fr_deepface_pairs/img49.jpg",
}

func runBench(args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := newFlagSet("bench", "[--images A,B] [--clients N] [--requests N] [--http] [--compare A B]", stderr)
	cfg.bindFlags(fs)
	images := fs.String("images", "", "comma-separated photos (default: dev-set photos of 0.3, 2.6 and 12.6 MP from ../shared/data)")
	clients := fs.Int("clients", 0, "concurrent clients (default: workers)")
	requests := fs.Int("requests", 40, "measured requests per image and configuration")
	httpMode := fs.Bool("http", false, "measure the full HTTP flow (create session, upload frame, read verdict) instead of the in-process pipeline")
	embedding := fs.Bool("embedding", true, "run the embedding model (a match needs it)")
	compare := fs.Bool("compare", false, "compare two configurations given as arguments, e.g. --compare workers=1 workers=2 (keys: workers, clients, embedding=on|off, mode=pipeline|http, jpeg=go|turbo)")
	asJSON := fs.Bool("json", false, "print JSON")
	identify := fs.Int("identify", 0, "instead: measure 1:N search over this many synthetic templates (e.g. 1000000), with --clients and --requests")
	if err := cfg.load(fs, args, os.Getenv); err != nil {
		return usageError("%v", err)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if *identify > 0 {
		return benchIdentify(stdout, *identify, max(*clients, 1), *requests, *asJSON)
	}
	base := benchConfig{Label: "A", Mode: "pipeline", Workers: cfg.Workers, Clients: *clients, Embedding: *embedding}
	if *httpMode {
		base.Mode = "http"
	}
	configs := []benchConfig{base}
	if *compare {
		if fs.NArg() != 2 {
			return usageError("--compare needs two configurations, e.g. --compare workers=1 workers=2")
		}
		configs = nil
		for i, spec := range fs.Args() {
			c, err := parseBenchConfig(base, spec)
			if err != nil {
				return usageError("%v", err)
			}
			c.Label = string(rune('A'+i)) + " " + spec
			configs = append(configs, c)
		}
	} else if fs.NArg() > 0 {
		return usageError("unexpected arguments %q (configurations need --compare)", fs.Args())
	}
	for i := range configs {
		if configs[i].Clients <= 0 {
			configs[i].Clients = configs[i].Workers
		}
	}
	files, err := benchImages(*images)
	if err != nil {
		return err
	}
	if *images == "" {
		// The 12.6-MP dev photo is a progressive web JPEG; phones write
		// baseline. Both are measured.
		tmp, err := os.MkdirTemp("", "presence-bench-photo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		baseline, err := baselineCopy(files[len(files)-1], tmp)
		if err != nil {
			return err
		}
		files = append(files, baseline)
	}

	ms, err := openModels(cfg)
	if err != nil {
		return err
	}
	defer ms.close()
	engines := map[int]*engine.Engine{}
	defer func() {
		for _, e := range engines {
			e.Close()
		}
	}()
	targets := make([]benchTarget, len(configs))
	for i, c := range configs {
		if engines[c.Workers] == nil {
			e, err := ms.engine(c.Workers, cfg.Thresholds)
			if err != nil {
				return err
			}
			engines[c.Workers] = e
		}
		if targets[i], err = newBenchTarget(c, engines[c.Workers], cfg, ms); err != nil {
			return err
		}
		defer targets[i].close()
	}

	report := benchReport{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Runtime: ms.rt.Version()}
	ctx := context.Background()
	for _, file := range files {
		data, err := readLimited(file, cfg.MaxImageBytes)
		if err != nil {
			return fmt.Errorf("%s: %s", file, err)
		}
		_, info, err := vision.Decode(data, cfg.Limits())
		if err != nil {
			return fmt.Errorf("%s: %s", file, err)
		}
		rows := measureInterleaved(ctx, targets, data, *requests)
		for i := range rows {
			rows[i].Image = filepath.Base(file)
			rows[i].Width, rows[i].Height = info.Width, info.Height
			rows[i].Megapixels = float64(info.Width*info.Height) / 1e6
		}
		report.Rows = append(report.Rows, rows...)
		if len(rows) == 2 && rows[0].Throughput > 0 && rows[0].P50 > 0 {
			report.Ratios = append(report.Ratios, benchRatio{
				Image:      filepath.Base(file),
				Throughput: rows[1].Throughput / rows[0].Throughput,
				P50:        rows[1].P50 / rows[0].P50,
			})
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	printBench(stdout, report)
	for _, t := range targets {
		if t.reloads != nil {
			fmt.Fprintf(stdout, "%s: %s\n", t.config.Label, t.reloads.summary())
		}
	}
	return nil
}

// benchTarget serves one request of a configuration.
type benchTarget struct {
	config  benchConfig
	do      func(ctx context.Context, data []byte) error
	close   func()
	reloads *benchReloads
}

func newBenchTarget(c benchConfig, eng *engine.Engine, cfg Config, ms *models) (benchTarget, error) {
	switch c.Mode {
	case "pipeline":
		opts := engine.Options{SkipEmbedding: !c.Embedding}
		jd, _ := jpegDecoder()
		if c.GoJPEG {
			jd = nil
		}
		return benchTarget{config: c, close: func() {}, do: func(ctx context.Context, data []byte) error {
			_, err := session.AnalyzeUpload(ctx, eng, jd, cfg.Limits(), data, opts)
			return err
		}}, nil
	case "http":
		return newHTTPBenchTarget(c, eng, cfg, ms)
	}
	return benchTarget{}, fmt.Errorf("unknown mode %q", c.Mode)
}

// measureInterleaved runs the configurations in alternating rounds on the
// same image so slow phases of a noisy machine hit both equally.
func measureInterleaved(ctx context.Context, targets []benchTarget, data []byte, requests int) []benchRow {
	const rounds = 4
	per := max(1, requests/rounds)
	samples := make([][]bench.Sample, len(targets))
	for _, t := range targets {
		bench.Measure(ctx, t.config.Clients, t.config.Clients, func(ctx context.Context) error { return t.do(ctx, data) }) // warm-up
	}
	for r := 0; r < rounds; r++ {
		for i, t := range targets {
			samples[i] = append(samples[i], bench.Measure(ctx, t.config.Clients, per, func(ctx context.Context) error { return t.do(ctx, data) }))
		}
	}
	rows := make([]benchRow, len(targets))
	for i, t := range targets {
		rows[i] = benchRow{Config: t.config, Stats: bench.Merge(samples[i]...)}
	}
	return rows
}

func parseBenchConfig(base benchConfig, spec string) (benchConfig, error) {
	c := base
	for _, kv := range splitList(spec) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return c, fmt.Errorf("configuration %q: want key=value", kv)
		}
		switch k {
		case "workers", "clients":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return c, fmt.Errorf("configuration %q: %s must be a positive number", kv, k)
			}
			if k == "workers" {
				c.Workers = n
			} else {
				c.Clients = n
			}
		case "jpeg":
			switch v {
			case "go":
				c.GoJPEG = true
			case "turbo":
				c.GoJPEG = false
			default:
				return c, fmt.Errorf("jpeg=%s: want go or turbo", v)
			}
		case "embedding":
			if v != "on" && v != "off" {
				return c, fmt.Errorf("configuration %q: embedding is on or off", kv)
			}
			c.Embedding = v == "on"
		case "reload":
			d, err := time.ParseDuration(v)
			if err != nil || d < 100*time.Millisecond {
				return c, fmt.Errorf("configuration %q: reload is a duration of at least 100ms", kv)
			}
			c.Reload = d
		case "mode":
			if v != "pipeline" && v != "http" {
				return c, fmt.Errorf("configuration %q: mode is pipeline or http", kv)
			}
			c.Mode = v
		default:
			return c, fmt.Errorf("configuration %q: unknown key %s (workers, clients, embedding, mode, jpeg, reload)", kv, k)
		}
	}
	return c, nil
}

// baselineCopy re-encodes a photo as a baseline JPEG (quality 92, as a
// phone camera writes), in dir.
func baselineCopy(file, dir string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))+"-baseline.jpg")
	w, err := os.Create(out)
	if err != nil {
		return "", err
	}
	if err := jpeg.Encode(w, img, &jpeg.Options{Quality: 92}); err != nil {
		w.Close()
		return "", err
	}
	return out, w.Close()
}

// benchImages resolves --images, or finds the default dev-set photos next
// to the checkout.
func benchImages(flag string) ([]string, error) {
	if flag != "" {
		return splitList(flag), nil
	}
	var roots []string
	roots = append(roots, filepath.Join("..", "shared", "data"))
	if exe, err := os.Executable(); err == nil {
		roots = append(roots, filepath.Join(filepath.Dir(filepath.Dir(exe)), "..", "shared", "data"))
	}
	for _, root := range roots {
		var files []string
		for _, rel := range defaultBenchImages {
			if _, err := os.Stat(filepath.Join(root, rel)); err == nil {
				files = append(files, filepath.Join(root, rel))
			}
		}
		if len(files) == len(defaultBenchImages) {
			return files, nil
		}
	}
	return nil, usageError("the default photos are in ../shared/data, which is not here: pass --images")
}

func printBench(w io.Writer, r benchReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "config\tmode\timage\tMP\tworkers\tclients\trequests\terrors\tp50 ms\tp95 ms\tp99 ms\tper second\t\n")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t\n", row.Config.Label, row.Config.Mode, row.Image, row.Megapixels,
			row.Config.Workers, row.Config.Clients, row.Requests, row.Errors, row.P50, row.P95, row.P99, row.Throughput)
	}
	tw.Flush()
	for _, row := range r.Rows {
		if row.FirstError != "" {
			fmt.Fprintf(w, "%s on %s: %d errors, first: %s\n", row.Config.Label, row.Image, row.Errors, row.FirstError)
		}
	}
	for _, ratio := range r.Ratios {
		fmt.Fprintf(w, "%s: B/A throughput x%.2f, p50 x%.2f\n", ratio.Image, ratio.Throughput, ratio.P50)
	}
	fmt.Fprintf(w, "(%d CPUs, %s, ONNX Runtime %s; compare numbers within one run)\n", r.CPUs, r.GoVersion, r.Runtime)
}

// newHTTPBenchTarget measures the full HTTP flow on an in-process server
// with a throw-away SQLite store: create a session with the API key, upload
// the frame with the client token, read the verdict.
func newHTTPBenchTarget(c benchConfig, eng *engine.Engine, cfg Config, ms *models) (benchTarget, error) {
	dir, err := os.MkdirTemp("", "presence-bench-")
	if err != nil {
		return benchTarget{}, err
	}
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		os.RemoveAll(dir)
		return benchTarget{}, err
	}
	key, _, _ := seal.NewKey()
	sealer, _ := seal.New(key)
	// One photo sent over and over is a replay to a server that keeps
	// fingerprints: the bench server keeps none, so every request is
	// judged (the lookup still runs).
	cfg.FingerprintRetention = 0
	var reloads *benchReloads
	var holder *modelset.Holder
	if c.Reload > 0 {
		if reloads, err = newBenchReloads(ctx, c, cfg, ms, store); err != nil {
			store.Close()
			os.RemoveAll(dir)
			return benchTarget{}, err
		}
		holder = reloads.c.Holder
	}
	sessions, err := newSessionService(cfg, store, eng, sealer, nil, nil, nil, holder, nil)
	if err != nil {
		store.Close()
		os.RemoveAll(dir)
		return benchTarget{}, err
	}
	apiKey, _, err := sessions.CreateAPIKey(ctx, "bench")
	if err != nil {
		store.Close()
		os.RemoveAll(dir)
		return benchTarget{}, err
	}
	api := httpapi.New(httpapi.Config{Sessions: sessions, Store: store, MaxBodyBytes: cfg.MaxBodyBytes, EngineReady: func() bool { return true }})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		os.RemoveAll(dir)
		return benchTarget{}, err
	}
	srv := &http.Server{Handler: api}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	flow := func(ctx context.Context, data []byte) error {
		var created struct {
			ID          string `json:"id"`
			ClientToken string `json:"client_token"`
		}
		if err := benchCall(ctx, client, "POST", base+"/v1/sessions", apiKey, "application/json", []byte(`{"mode":"passive"}`), 201, &created); err != nil {
			return err
		}
		if err := benchCall(ctx, client, "POST", base+"/v1/sessions/"+created.ID+"/frames", created.ClientToken, "image/jpeg", data, 200, nil); err != nil {
			return err
		}
		var verdict struct {
			Decision string `json:"decision"`
		}
		if err := benchCall(ctx, client, "GET", base+"/v1/sessions/"+created.ID, apiKey, "", nil, 200, &verdict); err != nil {
			return err
		}
		if verdict.Decision == "" {
			return fmt.Errorf("session %s has no decision", created.ID)
		}
		return nil
	}
	t := benchTarget{config: c, do: flow, close: func() {
		srv.Close()
		store.Close()
		os.RemoveAll(dir)
	}}
	if reloads != nil {
		t.do = reloads.wrap(flow)
		t.reloads = reloads
		t.close = func() {
			reloads.stop()
			srv.Close()
			reloads.c.Holder.Close()
			store.Close()
			os.RemoveAll(dir)
		}
	}
	return t, nil
}

func benchCall(ctx context.Context, client *http.Client, method, url, auth, contentType string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+auth)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// benchIdentify measures the 1:N index's search (the int8 scan; the exact
// re-rank of its candidates reads them from the store) over n synthetic
// templates, and the memory a template takes.
func benchIdentify(w io.Writer, n, clients, requests int, asJSON bool) error {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := subjects.NewIndex(nil, nil)
	subjects.FillSynthetic(x, n, 5)
	runtime.GC()
	runtime.ReadMemStats(&after)
	probe := make(presence.Embedding, 512)
	for i := range probe {
		probe[i] = float32(i%7) - 3
	}
	probe.Normalize()
	stats := bench.Run(context.Background(), clients, requests, func(context.Context) error {
		if len(x.Search(probe, 21, "")) == 0 {
			return fmt.Errorf("no candidate")
		}
		return nil
	})
	perTemplate := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"templates": n, "clients": clients, "bytes_per_template": perTemplate, "stats": stats})
	}
	fmt.Fprintf(w, "1:N search over %d synthetic templates, %d clients, %d requests: p50 %.1f ms, p95 %.1f ms, %.1f searches/s; %.0f bytes a template (%d CPUs)\n",
		n, clients, requests, stats.P50, stats.P95, stats.Throughput, perTemplate, runtime.NumCPU())
	return nil
}

// benchReloads swaps the model set of an HTTP bench target every
// Reload while that target's requests are in flight (not while another
// configuration is measured), and counts what it did.
type benchReloads struct {
	c        *modelset.Coordinator
	every    time.Duration
	inflight atomic.Int64
	done     chan struct{}
	finished chan struct{}

	mu       sync.Mutex
	loadMS   []float64
	swapMS   []float64
	failures []string
}

func newBenchReloads(ctx context.Context, c benchConfig, cfg Config, ms *models, store presence.ModelSetStore) (*benchReloads, error) {
	load := ms.loader(c.Workers, cfg.Thresholds)
	first, err := modelset.Load(ctx, load, modelset.Probe{}, ms.manifest, nil, time.Now())
	if err != nil {
		return nil, err
	}
	co := &modelset.Coordinator{Holder: modelset.NewHolder(first), Store: store, Load: load, Clock: clock.System(), Log: slog.New(slog.DiscardHandler), Node: "bench"}
	if err := co.Start(ctx); err != nil {
		co.Holder.Close()
		return nil, err
	}
	// The second set: the configured one less its last liveness model.
	other := *ms.manifest
	last := -1
	for i, spec := range other.Models {
		if spec.Role == presence.RoleLiveness {
			last = i
		}
	}
	if len(ms.manifest.ByRole(presence.RoleLiveness)) < 2 {
		co.Holder.Close()
		return nil, fmt.Errorf("reload: the manifest needs two liveness models to make a second set from")
	}
	other.Models = slices.Delete(slices.Clone(other.Models), last, last+1)
	r := &benchReloads{c: co, every: c.Reload, done: make(chan struct{}), finished: make(chan struct{})}
	go r.run([]*presence.Manifest{&other, ms.manifest})
	return r, nil
}

func (r *benchReloads) run(sets []*presence.Manifest) {
	defer close(r.finished)
	last := time.Now()
	for i := 0; ; {
		select {
		case <-r.done:
			return
		case <-time.After(20 * time.Millisecond):
		}
		if r.inflight.Load() == 0 || time.Since(last) < r.every {
			continue
		}
		ch, err := r.c.Reload(context.Background(), sets[i%2], "bench")
		last = time.Now()
		i++
		r.mu.Lock()
		if err != nil {
			r.failures = append(r.failures, err.Error())
		} else {
			r.loadMS = append(r.loadMS, ch.LoadMS)
			r.swapMS = append(r.swapMS, ch.SwapMS)
		}
		r.mu.Unlock()
	}
}

func (r *benchReloads) wrap(flow func(context.Context, []byte) error) func(context.Context, []byte) error {
	return func(ctx context.Context, data []byte) error {
		r.inflight.Add(1)
		defer r.inflight.Add(-1)
		return flow(ctx, data)
	}
}

func (r *benchReloads) stop() {
	close(r.done)
	<-r.finished
}

// summary is one line about the reloads made.
func (r *benchReloads) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	median := func(v []float64) float64 {
		if len(v) == 0 {
			return 0
		}
		s := slices.Clone(v)
		slices.Sort(s)
		return s[len(s)/2]
	}
	return fmt.Sprintf("%d model set reloads during its requests (load and check p50 %.0f ms, swap p50 %.1f ms), %d failed", len(r.loadMS), median(r.loadMS), median(r.swapMS), len(r.failures))
}
