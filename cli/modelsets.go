package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"presence"
	"presence/clock"
	"presence/engine"
	"presence/modelcache"
	"presence/modelset"
	"presence/session"
	"presence/vision"
)

// loader builds engines for new model sets on the runtime already open.
func (ms *models) loader(workers int, t engine.Thresholds) modelset.Loader {
	return func(m *presence.Manifest) (*engine.Engine, error) {
		if err := modelcache.Verify(m, ms.dir); err != nil {
			return nil, fmt.Errorf("%w (run `presence setup --manifest FILE` on this node first)", err)
		}
		next := &models{rt: ms.rt, manifest: m, dir: ms.dir}
		return next.engine(workers, t)
	}
}

// probe reads the configured probe photo.
func probe(cfg Config) (modelset.Probe, error) {
	if cfg.ModelProbe == "" {
		return modelset.Probe{}, nil
	}
	data, err := os.ReadFile(cfg.ModelProbe)
	if err != nil {
		return modelset.Probe{}, fmt.Errorf("model probe: %w", err)
	}
	img, _, err := vision.Decode(data, cfg.Limits())
	if err != nil {
		return modelset.Probe{}, fmt.Errorf("model probe %s: %w", cfg.ModelProbe, err)
	}
	return modelset.Probe{Image: img, WantFace: true}, nil
}

// openModelSets opens the runtime and the configured set, and agrees
// with the store on the set in service.
func openModelSets(ctx context.Context, cfg Config, store presence.Store, log *slog.Logger, node string) (*modelset.Coordinator, *session.Shadow, func(), error) {
	ms, err := openModels(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := probe(cfg)
	if err != nil {
		ms.close()
		return nil, nil, nil, err
	}
	load := ms.loader(cfg.Workers, cfg.Thresholds)
	first, err := modelset.Load(ctx, load, p, ms.manifest, nil, clock.System().Now())
	if err != nil {
		ms.close()
		return nil, nil, nil, err
	}
	shadow, err := openShadow(ctx, cfg, ms, p, store)
	if err != nil {
		first.Engine.Close()
		ms.close()
		return nil, nil, nil, err
	}
	holder := modelset.NewHolder(first)
	c := &modelset.Coordinator{Holder: holder, Store: store, Load: load, Probe: p, Clock: clock.System(), Log: log, Node: node}
	if err := c.Start(ctx); err != nil {
		// The configured set serves; the operator reads why in the log
		// and in /readyz.
		log.Error("model set: could not agree with the store at start", "err", err)
	}
	return c, shadow, func() {
		holder.Close()
		if shadow != nil {
			shadow.Engine.(*engine.Engine).Close()
		}
		ms.close()
	}, nil
}

// openShadow loads the candidate of --shadow-*, checked like any set.
func openShadow(ctx context.Context, cfg Config, ms *models, p modelset.Probe, store presence.ShadowStore) (*session.Shadow, error) {
	sc := cfg.Shadow
	if sc.Share <= 0 {
		return nil, nil
	}
	m := ms.manifest
	if sc.Manifest != "" {
		data, err := os.ReadFile(sc.Manifest)
		if err != nil {
			return nil, fmt.Errorf("shadow manifest: %w", err)
		}
		if m, err = presence.ParseManifest(data); err != nil {
			return nil, fmt.Errorf("shadow manifest: %w", err)
		}
	}
	t := cfg.Thresholds
	if sc.Liveness > 0 {
		t.Liveness = sc.Liveness
	}
	s, err := modelset.Load(ctx, ms.loader(cfg.Workers, t), p, m, nil, clock.System().Now())
	if err != nil {
		return nil, fmt.Errorf("shadow candidate: %w", err)
	}
	if m.Runtime != ms.manifest.Runtime {
		s.Engine.Close()
		return nil, fmt.Errorf("shadow candidate: it needs another ONNX Runtime than the one in service")
	}
	name := fmt.Sprintf("%s liveness %.3g", s.ID, t.Liveness)
	return &session.Shadow{Name: name, Engine: s.Engine, Share: sc.Share, Store: store}, nil
}

// runModelChange is `presence models reload|rollback|history`: it changes
// the set in service through the store, after loading and checking the
// new set here; every node follows within its poll interval.
func runModelChange(cmd string, args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := newFlagSet("models "+cmd, "--db DSN", stderr)
	cfg.bindFlags(fs)
	cfg.bindServerFlags(fs)
	by := fs.String("by", "", "who makes the change, for the audit log (default: cli@HOST)")
	if err := cfg.load(fs, args, os.Getenv); err != nil {
		return usageError("%v", err)
	}
	if *by == "" {
		host, _ := os.Hostname()
		*by = "cli@" + host
	}
	ctx := context.Background()
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if cmd == "history" {
		hist, err := store.ModelSetHistory(ctx, 50)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tAT\tACTION\tSET\tFROM\tBY")
		for _, h := range hist {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", h.Seq, h.At.Format("2006-01-02 15:04:05"), h.Action, h.SetID, h.PreviousID, h.By)
		}
		return tw.Flush()
	}
	active, err := store.ActiveModelSet(ctx)
	if err != nil {
		return fmt.Errorf("no model set recorded yet: start `presence serve` once: %w", err)
	}
	serving, err := presence.ParseManifest(active.Manifest)
	if err != nil {
		return err
	}
	// Check here, one worker, on the set in service's runtime.
	cfg.Workers = 1
	ms, err := openModels(cfg)
	if err != nil {
		return err
	}
	defer ms.close()
	p, err := probe(cfg)
	if err != nil {
		return err
	}
	load := ms.loader(1, cfg.Thresholds)
	cur, err := modelset.Load(ctx, load, modelset.Probe{}, serving, nil, clock.System().Now())
	if err != nil {
		return fmt.Errorf("the set in service (%s) does not load here: %w", active.SetID, err)
	}
	c := &modelset.Coordinator{Holder: modelset.NewHolder(cur), Store: store, Load: load, Probe: p, Clock: clock.System(), Log: slog.New(slog.DiscardHandler), Node: *by}
	defer c.Holder.Close()
	var ch *modelset.Change
	if cmd == "rollback" {
		ch, err = c.Rollback(ctx, *by)
	} else {
		var m *presence.Manifest
		if m, err = cfg.LoadManifest(); err == nil {
			ch, err = c.Reload(ctx, m, *by)
		}
	}
	if err != nil {
		return err
	}
	out, _ := json.Marshal(ch)
	fmt.Fprintf(stdout, "%s\nmodel set %s -> %s (%s); nodes follow within --model-poll\n", out, ch.From, ch.To, ch.Action)
	return nil
}

// reloadOnHangup reloads the configured manifest on SIGHUP (edit the
// file given to --manifest, then `kill -HUP`).
func reloadOnHangup(ctx context.Context, c *modelset.Coordinator, cfg Config, log *slog.Logger, host string) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		m, err := cfg.LoadManifest()
		if err == nil {
			_, err = c.Reload(ctx, m, "sighup@"+host)
		}
		if err != nil {
			log.Error("model set reload (SIGHUP) refused; the set in service stays", "err", err)
		}
	}
}
