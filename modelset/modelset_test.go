package modelset_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"presence"
	"presence/clock"
	"presence/engine"
	"presence/engine/enginetest"
	"presence/modelset"
	"presence/presencetest"
	"presence/seal"
	"presence/session"
	"presence/sqlstore"
	"presence/vision"
)

func TestMain(m *testing.M) {
	code := m.Run()
	presencetest.StopPostgres()
	os.Exit(code)
}

func loader(t *testing.T) modelset.Loader {
	return func(m *presence.Manifest) (*engine.Engine, error) { return enginetest.OpenManifest(t, m, 2) }
}

// withoutModel is the default manifest less one model: another set whose
// files are all present.
func withoutModel(name string) *presence.Manifest {
	m := presence.DefaultManifest()
	m.Models = slices.DeleteFunc(m.Models, func(s presence.ModelSpec) bool { return s.Name == name })
	return m
}

func probe(t *testing.T) modelset.Probe {
	img, _, err := vision.Decode(presencetest.ReadFile(t, presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg")), vision.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	return modelset.Probe{Image: img, WantFace: true}
}

func open(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	if dsn == "" {
		dsn = filepath.Join(t.TempDir(), "p.db")
	}
	s, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// coordinator starts a node on store with the default set.
func coordinator(t *testing.T, store presence.ModelSetStore, node string) *modelset.Coordinator {
	t.Helper()
	ctx := context.Background()
	first, err := modelset.Load(ctx, loader(t), probe(t), presence.DefaultManifest(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := &modelset.Coordinator{Holder: modelset.NewHolder(first), Store: store, Load: loader(t), Probe: probe(t),
		Clock: clock.System(), Log: slog.New(slog.DiscardHandler), Node: node}
	t.Cleanup(c.Holder.Close)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// A manifest that cannot serve is refused with its reason, and the set in
// service keeps serving; the history and the audit log hold only the
// changes made.
func TestBadManifestsAreRefused(t *testing.T) {
	ctx := context.Background()
	store := open(t, "")
	c := coordinator(t, store, "n1")
	before := c.Holder.Current()
	missing := presence.DefaultManifest()
	missing.Models[1].File = "no-such-model.onnx"
	badHash := presence.DefaultManifest()
	badHash.Models[1].SHA256 = strings.Repeat("ab", 32)
	badShape := presence.DefaultManifest()
	badShape.Models[0].Inputs[0].Shape = []int64{1, 3, 17, 23}
	swapped := presence.DefaultManifest()
	for i, s := range swapped.Models {
		if s.Role == presence.RoleLiveness {
			// The landmark model's file behind a liveness model's tensors.
			swapped.Models[i].File, swapped.Models[i].SHA256 = swapped.Models[1].File, swapped.Models[1].SHA256
			break
		}
	}
	newEmbedding := presence.DefaultManifest()
	for i, s := range newEmbedding.Models {
		if s.Role == presence.RoleEmbedding {
			newEmbedding.Models[i].Version += "-other"
			newEmbedding.Models[i].SHA256 = strings.Repeat("cd", 32)
		}
	}
	newRuntime := presence.DefaultManifest()
	newRuntime.Runtime.Version = "9.9.9"
	for name, m := range map[string]*presence.Manifest{
		"missing file": missing, "bad hash": badHash, "wrong tensor shape": badShape,
		"wrong model behind a role": swapped, "new template model": newEmbedding, "new runtime": newRuntime,
	} {
		_, err := c.Reload(ctx, m, "test")
		if err == nil {
			t.Errorf("%s: reloaded", name)
			continue
		}
		t.Logf("%s: %v", name, err)
		if !strings.Contains(err.Error(), before.ID+" stays in service") {
			t.Errorf("%s: the refusal does not say the set in service stays: %v", name, err)
		}
	}
	if c.Holder.Current() != before || before.Engine.Closed() {
		t.Fatal("a refused reload changed the set in service")
	}
	if _, err := before.Engine.Analyze(ctx, probe(t).Image, engine.Options{}); err != nil {
		t.Fatalf("the set in service stopped serving: %v", err)
	}
	hist, _ := store.ModelSetHistory(ctx, 10)
	if len(hist) != 1 || hist[0].Action != presence.ModelSetStart {
		t.Fatalf("history after refusals: %+v", hist)
	}
}

// A set that loads but misjudges the probe frame does not serve.
func TestProbeFrameMustBeJudged(t *testing.T) {
	ctx := context.Background()
	c := coordinator(t, open(t, ""), "n1")
	blank := presence.NewImage(640, 480)
	for i := range blank.Pix {
		blank.Pix[i] = 128
	}
	c.Probe = modelset.Probe{Image: blank, WantFace: true}
	_, err := c.Reload(ctx, withoutModel("silentface_v1se"), "test")
	if err == nil || !strings.Contains(err.Error(), "found 0") {
		t.Fatalf("a set that found no face in the probe frame: %v", err)
	}
	// Without a probe photo, the synthetic frame only checks the pipeline
	// runs: the same set is accepted.
	c.Probe = modelset.Probe{}
	if _, err := c.Reload(ctx, withoutModel("silentface_v1se"), "test"); err != nil {
		t.Fatal(err)
	}
}

// Reload, then rollback: each change is recorded with who made it and
// from which set, audited, and followed by another node.
func TestReloadRollbackAndAnotherNodeFollows(t *testing.T) {
	ctx := context.Background()
	dsn := presencetest.Postgres(t)
	a := coordinator(t, open(t, dsn), "node-a")
	b := coordinator(t, open(t, dsn), "node-b")
	setA := a.Holder.Current().ID
	next := withoutModel("silentface_v1se")
	ch, err := a.Reload(ctx, next, "operator alice")
	if err != nil {
		t.Fatal(err)
	}
	if ch.From != setA || ch.To != next.ID() || ch.To == setA {
		t.Fatalf("change %+v", ch)
	}
	t.Logf("reload: load and check %.0f ms, record %.1f ms, swap %.1f ms", ch.LoadMS, ch.RecordMS, ch.SwapMS)
	if _, err := a.Reload(ctx, next, "operator alice"); presence.ErrorCodeOf(err) != presence.ErrConflict {
		t.Fatalf("reloading the set in service: %v", err)
	}
	// Node B follows on its next sync.
	if b.Holder.Current().ID != setA {
		t.Fatal("node b changed before it synced")
	}
	if err := b.Sync(ctx); err != nil || b.Holder.Current().ID != next.ID() {
		t.Fatalf("node b did not follow: %v", err)
	}
	if st := b.Status(); st.ID != next.ID() || st.Wanted != "" {
		t.Fatalf("node b status %+v", st)
	}
	back, err := b.Rollback(ctx, "operator bob")
	if err != nil || back.To != setA || back.Action != presence.ModelSetRollback {
		t.Fatalf("rollback %+v %v", back, err)
	}
	a.Sync(ctx)
	if a.Holder.Current().ID != setA {
		t.Fatal("node a did not follow the rollback")
	}
	hist, _ := a.Store.ModelSetHistory(ctx, 10)
	var got []string
	for _, h := range hist {
		got = append(got, fmt.Sprintf("%s %s<-%s by %s", h.Action, h.SetID, h.PreviousID, h.By))
	}
	want := []string{
		fmt.Sprintf("rollback %s<-%s by operator bob", setA, next.ID()),
		fmt.Sprintf("reload %s<-%s by operator alice", next.ID(), setA),
		fmt.Sprintf("start %s<- by node node-a", setA),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("history\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	audit, _ := open(t, dsn).ListAudit(ctx, 0, 100)
	changes := 0
	for _, r := range audit {
		if r.Action == presence.AuditModelSetChanged {
			changes++
		}
	}
	if changes != 3 {
		t.Fatalf("%d audit records of model set changes, want 3", changes)
	}
	// A node that cannot load the set in service keeps its own and says why.
	broken := presence.DefaultManifest()
	broken.Models[0].Version = "x" // another id, same files
	if _, err := a.Reload(ctx, broken, "operator alice"); err != nil {
		t.Fatal(err)
	}
	c := &modelset.Coordinator{Holder: modelset.NewHolder(b.Holder.Current()), Store: b.Store, Clock: clock.System(), Log: slog.New(slog.DiscardHandler),
		Load: func(*presence.Manifest) (*engine.Engine, error) {
			return nil, fmt.Errorf("model files missing on this node")
		}}
	if err := c.Sync(ctx); err == nil {
		t.Fatal("a node without the files followed")
	}
	if st := c.Status(); st.ID != setA || st.Wanted != broken.ID() || !strings.Contains(st.Error, "missing") {
		t.Fatalf("status of the node left behind: %+v", st)
	}
}

// A node restarted with another configuration keeps the set an operator
// chose; one no operator chose gives way to the configuration.
func TestStartKeepsTheOperatorsChoice(t *testing.T) {
	ctx := context.Background()
	store := open(t, "")
	a := coordinator(t, store, "a")
	chosen := withoutModel("silentface_v1se")
	if _, err := a.Reload(ctx, chosen, "operator"); err != nil {
		t.Fatal(err)
	}
	b := coordinator(t, store, "b") // configured with the default set
	if b.Holder.Current().ID != chosen.ID() {
		t.Fatalf("restart replaced the operator's set with the configured one")
	}
	store2 := open(t, "")
	coordinator(t, store2, "c")
	hist, _ := store2.ModelSetHistory(ctx, 5)
	if len(hist) != 1 || hist[0].SetID != presence.DefaultManifest().ID() {
		t.Fatalf("first start: %+v", hist)
	}
}

// Under concurrent sessions, reloading between two sets every few hundred
// milliseconds (with a bad manifest refused in between) fails no request,
// and every verdict names one set and lists that set's models.
func TestReloadUnderLoad(t *testing.T) {
	ctx := context.Background()
	store := open(t, "")
	c := coordinator(t, store, "n1")
	k, _, _ := seal.NewKey()
	sealer, _ := seal.New(k)
	svc := session.New(session.Config{Store: store, Engine: c.Holder.Current().Engine, Sealer: sealer, Clock: clock.System(),
		Models: func() (session.Analyzer, func()) {
			s, release := c.Holder.Pin()
			return s.Engine, release
		}})
	sets := map[string][]presence.ModelVersion{
		presence.DefaultManifest().ID():      presence.DefaultManifest().Versions(),
		withoutModel("silentface_v1se").ID(): withoutModel("silentface_v1se").Versions(),
	}
	photo := presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img20.jpg"))
	var captures atomic.Int64
	frame := func() []byte { return presencetest.Recapture(t, photo, int(captures.Add(1))) }
	stop := make(chan struct{})
	var reloads, refused atomic.Int64
	var loadMS []float64
	var wg sync.WaitGroup
	wg.Go(func() {
		bad := presence.DefaultManifest()
		bad.Models[1].SHA256 = strings.Repeat("ab", 32)
		next := []*presence.Manifest{withoutModel("silentface_v1se"), presence.DefaultManifest()}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			ch, err := c.Reload(ctx, next[i%2], "test")
			if err != nil {
				t.Errorf("reload: %v", err)
				return
			}
			loadMS = append(loadMS, ch.LoadMS)
			reloads.Add(1)
			if _, err := c.Reload(ctx, bad, "test"); err != nil {
				refused.Add(1)
			}
		}
	})
	var mu sync.Mutex
	perSet := map[string]int{}
	var failures []string
	for range 3 {
		wg.Go(func() {
			for range 12 {
				created, err := svc.Create(ctx, &presence.APIKey{ID: "k"}, session.CreateRequest{Mode: presence.ModePassive})
				if err == nil {
					var sess *presence.Session
					sess, err = svc.SubmitFrames(ctx, created.Session.ID, created.ClientToken, []session.Frame{{Data: frame()}, {Data: frame()}})
					if err == nil {
						v := sess.Verdict
						mu.Lock()
						perSet[v.ModelSet]++
						if want, ok := sets[v.ModelSet]; !ok || !slices.Equal(want, v.Models) || len(v.Frames) != 2 {
							failures = append(failures, fmt.Sprintf("verdict names set %q with models %v", v.ModelSet, v.Models))
						}
						mu.Unlock()
						continue
					}
				}
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
			}
		})
	}
	for {
		mu.Lock()
		n := 0
		for _, c := range perSet {
			n += c
		}
		n += len(failures)
		mu.Unlock()
		if n == 36 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	sort.Float64s(loadMS)
	t.Logf("36 two-frame sessions in 3 clients; %d reloads, %d bad manifests refused; sessions per set %v; load and check p50 %.0f ms",
		reloads.Load(), refused.Load(), perSet, loadMS[len(loadMS)/2])
	if len(failures) > 0 {
		t.Fatalf("%d failed: %v", len(failures), failures)
	}
	if len(perSet) != 2 || reloads.Load() < 2 || refused.Load() != reloads.Load() {
		t.Fatalf("the load did not span reloads of both sets")
	}
}

// A stream keeps the set it started with when another is swapped in
// between its frames; the old set closes when that stream ends, and the
// next stream uses the new one.
func TestStreamKeepsItsSet(t *testing.T) {
	ctx := context.Background()
	store := open(t, "")
	first, err := modelset.Load(ctx, loader(t), probe(t), presence.DefaultManifest(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	holder := modelset.NewHolder(first)
	defer holder.Close()
	second, err := modelset.Load(ctx, loader(t), probe(t), withoutModel("silentface_v1se"), first, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var swapped atomic.Bool
	k, _, _ := seal.NewKey()
	sealer, _ := seal.New(k)
	clk := clock.NewVirtual(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	svc := session.New(session.Config{Store: store, Engine: first.Engine, Sealer: sealer, Clock: clk,
		Models: func() (session.Analyzer, func()) {
			s, release := holder.Pin()
			return swapAfter{Engine: s.Engine, n: new(atomic.Int64), swap: func() {
				if swapped.CompareAndSwap(false, true) {
					holder.Swap(second)
				}
			}}, release
		}})
	frames := presencetest.Frames(t, "video_live/blink_talking_1face_720p.mp4", 10, 640)
	var recorded []session.RecordedFrame
	for i, f := range frames[:40] {
		recorded = append(recorded, session.RecordedFrame{At: time.Duration(i) * 100 * time.Millisecond, Data: presencetest.ReadFile(t, f)})
	}
	play := func() *presence.Session {
		created, err := svc.Create(ctx, &presence.APIKey{ID: "k"}, session.CreateRequest{Mode: presence.ModePassive})
		if err != nil {
			t.Fatal(err)
		}
		svc.Stream(ctx, created.Session.ID, &session.Playback{Clock: clk, Token: created.ClientToken, Frames: recorded})
		sess, err := store.Session(ctx, created.Session.ID)
		if err != nil || sess.Verdict == nil {
			t.Fatalf("stream: %v %+v", err, sess)
		}
		return sess
	}
	sess := play()
	if !swapped.Load() {
		t.Fatal("no swap happened during the stream")
	}
	if sess.Verdict.ModelSet != first.ID || sess.Verdict.Decision == "" {
		t.Fatalf("the stream's verdict names %s (decision %s), want the set it started with %s", sess.Verdict.ModelSet, sess.Verdict.Decision, first.ID)
	}
	if !first.Engine.Closed() {
		t.Fatal("the swapped-out set is still open after its last stream")
	}
	recorded = recorded[1:] // other frames: the same ones would be a replay
	if next := play(); next.Verdict.ModelSet != second.ID {
		t.Fatalf("the next stream used %s, want %s", next.Verdict.ModelSet, second.ID)
	}
}

// swapAfter swaps the set in service after the stream's third analysis.
type swapAfter struct {
	*engine.Engine
	n    *atomic.Int64
	swap func()
}

func (s swapAfter) Analyze(ctx context.Context, img *presence.Image, opts engine.Options) (*presence.Analysis, error) {
	a, err := s.Engine.Analyze(ctx, img, opts)
	if s.n.Add(1) == 3 {
		s.swap()
	}
	return a, err
}
