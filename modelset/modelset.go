// Package modelset changes the models a running service judges with,
// without a restart: a new set is loaded and checked beside the one in
// service, then swapped in atomically; sessions keep the set they started
// with until their verdict; the set in service is agreed through the
// store, so every node follows a change made on any of them, and every
// change is kept (history, rollback) and audited.
package modelset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"presence"
	"presence/clock"
	"presence/engine"
)

// Set is a loaded model set.
type Set struct {
	ID       string
	Manifest *presence.Manifest
	Engine   *engine.Engine
	// Since is when this node started serving it.
	Since time.Time

	pins    int  // guarded by Holder.mu
	retired bool // swapped out; closed when the last pin goes
}

// Holder holds the set in service. Pin and Swap are safe for concurrent
// use; a swapped-out set is closed when the last session judged by it
// ends, never under one.
type Holder struct {
	mu  sync.Mutex
	cur *Set
}

// NewHolder serves s.
func NewHolder(s *Set) *Holder { return &Holder{cur: s} }

// Current is the set in service.
func (h *Holder) Current() *Set {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur
}

// Pin returns the set in service, held until release is called (once).
func (h *Holder) Pin() (*Set, func()) {
	h.mu.Lock()
	s := h.cur
	s.pins++
	h.mu.Unlock()
	var once sync.Once
	return s, func() { once.Do(func() { h.unpin(s) }) }
}

func (h *Holder) unpin(s *Set) {
	h.mu.Lock()
	s.pins--
	closeIt := s.retired && s.pins == 0
	h.mu.Unlock()
	if closeIt {
		s.Engine.Close()
	}
}

// Swap puts s in service; the old set closes once nothing holds it.
func (h *Holder) Swap(s *Set) (old *Set) {
	h.mu.Lock()
	old, h.cur = h.cur, s
	old.retired = true
	closeIt := old.pins == 0
	h.mu.Unlock()
	if closeIt {
		old.Engine.Close()
	}
	return old
}

// Close closes the set in service (at shutdown, after the last session).
func (h *Holder) Close() {
	h.mu.Lock()
	s := h.cur
	s.retired = true
	closeIt := s.pins == 0
	h.mu.Unlock()
	if closeIt {
		s.Engine.Close()
	}
}

// Loader builds an engine from a manifest: every file checked against
// its SHA-256, every model loaded by every worker and run once.
type Loader func(m *presence.Manifest) (*engine.Engine, error)

// Probe is a frame every new set must judge before it serves: with
// WantFace, it must find exactly one face in it and give finite scores
// in range. Without an image, a synthetic frame checks that the whole
// pipeline runs.
type Probe struct {
	Image    *presence.Image
	WantFace bool
}

// check runs the probe on eng.
func (p Probe) check(ctx context.Context, eng *engine.Engine) error {
	img := p.Image
	if img == nil {
		img = syntheticFrame()
	}
	a, err := eng.Analyze(ctx, img, engine.Options{Landmarks: true})
	if err != nil {
		return fmt.Errorf("the probe frame did not run: %w", err)
	}
	if !p.WantFace {
		return nil
	}
	if len(a.Faces) != 1 || a.Face == nil {
		return fmt.Errorf("the probe frame shows one face; the new set found %d", len(a.Faces))
	}
	if a.Score == nil || math.IsNaN(*a.Score) || *a.Score < 0 || *a.Score > 1 {
		return fmt.Errorf("the new set gave the probe frame no liveness score in [0,1] (reasons %v); use a well-lit frame of one face", a.Reasons)
	}
	for _, s := range a.Face.Liveness {
		if math.IsNaN(s.Score) || s.Score < 0 || s.Score > 1 {
			return fmt.Errorf("model %s scored the probe frame %v, out of [0,1]", s.Model, s.Score)
		}
	}
	var norm float64
	for _, v := range a.Face.Embedding {
		norm += float64(v) * float64(v)
	}
	if len(a.Face.Embedding) > 0 && (math.IsNaN(norm) || norm == 0) {
		return errors.New("the new set's face template of the probe frame is not a usable vector")
	}
	return nil
}

// syntheticFrame is a 640x480 gradient with texture: no face, but every
// stage before detection runs on it.
func syntheticFrame() *presence.Image {
	img := presence.NewImage(640, 480)
	for y := range 480 {
		for x := range 640 {
			i := 3 * (y*640 + x)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2] = uint8(x/3), uint8(y/2), uint8((x*y)%251)
		}
	}
	return img
}

// Load builds and checks a set from a manifest, beside the one in
// service (cur, nil at start): the runtime and the face-template model
// cannot change in a running service (the runtime is loaded once per
// process; templates made by another model do not compare with the
// enrolled ones), so a manifest that changes them is refused.
func Load(ctx context.Context, load Loader, probe Probe, m *presence.Manifest, cur *Set, now time.Time) (*Set, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if cur != nil {
		if m.Runtime != cur.Manifest.Runtime {
			return nil, errors.New("the new manifest changes ONNX Runtime, which needs a restart")
		}
		if a, b := embeddingOf(cur.Manifest), embeddingOf(m); a != b {
			return nil, fmt.Errorf("the new manifest changes the face-template model (%s to %s): enrolled templates would not compare; that needs re-enrolment, not a reload", a, b)
		}
	}
	eng, err := load(m)
	if err != nil {
		return nil, err
	}
	if err := probe.check(ctx, eng); err != nil {
		eng.Close()
		return nil, err
	}
	return &Set{ID: m.ID(), Manifest: m, Engine: eng, Since: now}, nil
}

func embeddingOf(m *presence.Manifest) string {
	for _, s := range m.ByRole(presence.RoleEmbedding) {
		return s.Name + "@" + s.SHA256[:12]
	}
	return "none"
}

// Status is what a node says of its model set (in /readyz and the
// operator's API).
type Status struct {
	ID       string                  `json:"id"`
	Since    time.Time               `json:"since"`
	Versions []presence.ModelVersion `json:"versions"`
	// Wanted is the set the store has in service when this node could not
	// load it (Error says why); it serves ID meanwhile.
	Wanted string `json:"wanted,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Coordinator keeps a node's set in step with the store's.
type Coordinator struct {
	Holder *Holder
	Store  presence.ModelSetStore
	Load   Loader
	Probe  Probe
	Clock  clock.Clock
	Log    *slog.Logger
	// Node names this node in logs and records.
	Node string

	mu      sync.Mutex // one change at a time on this node
	wanted  string
	lastErr string
}

// Status of this node.
func (c *Coordinator) Status() Status {
	s := c.Holder.Current()
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{ID: s.ID, Since: s.Since, Versions: s.Manifest.Versions(), Wanted: c.wanted, Error: c.lastErr}
}

// Start settles the set at start: the store's when an operator chose it
// (a reload or a rollback is kept across restarts), otherwise the one
// this node was started with, recorded as the set in service.
func (c *Coordinator) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.Holder.Current()
	active, err := c.Store.ActiveModelSet(ctx)
	switch {
	case presence.ErrorCodeOf(err) == presence.ErrNotFound:
		return c.record(ctx, cur, presence.ModelSetStart, "node "+c.Node, nil)
	case err != nil:
		return err
	case active.SetID == cur.ID:
		return nil
	case active.Action == presence.ModelSetStart:
		// No operator chose the stored set: the configuration wins.
		return c.record(ctx, cur, presence.ModelSetStart, "node "+c.Node, active)
	}
	c.Log.Info("model set: the store's, chosen by an operator, replaces the configured one", "set", active.SetID, "configured", cur.ID, "by", active.By)
	return c.follow(ctx, active)
}

// follow loads the store's set and swaps it in; on failure this node
// keeps its set and says why (Status).
func (c *Coordinator) follow(ctx context.Context, active *presence.ModelSetChange) error {
	m, err := presence.ParseManifest(active.Manifest)
	var s *Set
	if err == nil {
		s, err = Load(ctx, c.Load, c.Probe, m, c.Holder.Current(), c.Clock.Now())
	}
	if err != nil {
		if c.wanted != active.SetID || c.lastErr != err.Error() {
			c.Log.Error("model set: cannot load the set in service; this node keeps its own", "wanted", active.SetID, "err", err)
		}
		c.wanted, c.lastErr = active.SetID, err.Error()
		return err
	}
	old := c.Holder.Swap(s)
	c.wanted, c.lastErr = "", ""
	c.Log.Info("model set changed", "from", old.ID, "to", s.ID, "by", active.By, "action", active.Action)
	return nil
}

// Sync follows the store's set if it changed (another node's reload).
func (c *Coordinator) Sync(ctx context.Context) error {
	active, err := c.Store.ActiveModelSet(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if active.SetID == c.Holder.Current().ID {
		c.wanted, c.lastErr = "", ""
		return nil
	}
	return c.follow(ctx, active)
}

// Run syncs every interval until ctx ends.
func (c *Coordinator) Run(ctx context.Context, every time.Duration) {
	tick := c.Clock.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
			if err := c.Sync(ctx); err != nil && ctx.Err() == nil && presence.ErrorCodeOf(err) != presence.ErrNotFound {
				c.Log.Debug("model set sync", "err", err)
			}
		}
	}
}

// Change is the outcome of a reload or rollback.
type Change struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Action string `json:"action"`
	// LoadMS is how long loading and checking the new set took, beside
	// the set in service; RecordMS writing it to the store; SwapMS the
	// swap, with closing the old set when no session holds it.
	LoadMS   float64 `json:"load_ms"`
	RecordMS float64 `json:"record_ms"`
	SwapMS   float64 `json:"swap_ms"`
}

// Reload loads m beside the set in service, checks it, records it in the
// store as the set in service and swaps it in. On any failure the set in
// service is untouched and the error says why.
func (c *Coordinator) Reload(ctx context.Context, m *presence.Manifest, by string) (*Change, error) {
	return c.change(ctx, m, presence.ModelSetReload, by)
}

// Rollback goes back to the set in service before the current one.
func (c *Coordinator) Rollback(ctx context.Context, by string) (*Change, error) {
	active, err := c.Store.ActiveModelSet(ctx)
	if err != nil {
		return nil, err
	}
	if active.PreviousSeq == 0 {
		return nil, presence.Errorf(presence.ErrConflict, "no earlier model set to go back to")
	}
	hist, err := c.Store.ModelSetHistory(ctx, 1000)
	if err != nil {
		return nil, err
	}
	for _, h := range hist {
		if h.Seq == active.PreviousSeq {
			m, err := presence.ParseManifest(h.Manifest)
			if err != nil {
				return nil, presence.WrapError(presence.ErrInternal, err, "the earlier set's stored manifest")
			}
			return c.change(ctx, m, presence.ModelSetRollback, by)
		}
	}
	return nil, presence.Errorf(presence.ErrNotFound, "the earlier model set is not in the history")
}

func (c *Coordinator) change(ctx context.Context, m *presence.Manifest, action, by string) (*Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.Holder.Current()
	active, err := c.Store.ActiveModelSet(ctx)
	if err != nil {
		return nil, err
	}
	if m.ID() == active.SetID && active.SetID == cur.ID {
		return nil, presence.Errorf(presence.ErrConflict, "model set %s is already in service", cur.ID)
	}
	start := time.Now()
	s, err := Load(ctx, c.Load, c.Probe, m, cur, c.Clock.Now())
	if err != nil {
		return nil, presence.WrapError(presence.ErrInvalid, err, "model set refused; %s stays in service", cur.ID)
	}
	loaded := time.Now()
	if err := c.record(ctx, s, action, by, active); err != nil {
		s.Engine.Close()
		return nil, err
	}
	recorded := time.Now()
	c.Holder.Swap(s)
	c.wanted, c.lastErr = "", ""
	ch := &Change{From: cur.ID, To: s.ID, Action: action, LoadMS: ms(loaded.Sub(start)), RecordMS: ms(recorded.Sub(loaded)), SwapMS: ms(time.Since(recorded))}
	c.Log.Info("model set changed", "from", ch.From, "to", ch.To, "action", action, "by", by, "load_ms", ch.LoadMS)
	return ch, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// record writes s as the set in service, replacing prev, with its audit
// record.
func (c *Coordinator) record(ctx context.Context, s *Set, action, by string, prev *presence.ModelSetChange) error {
	raw, err := json.Marshal(s.Manifest)
	if err != nil {
		return err
	}
	ch := &presence.ModelSetChange{SetID: s.ID, Manifest: raw, Action: action, By: by, At: c.Clock.Now().UTC()}
	from := ""
	if prev != nil {
		ch.PreviousSeq, from = prev.Seq, prev.SetID
	}
	detail, _ := json.Marshal(map[string]any{"from": from, "to": s.ID, "action": action, "by": by, "models": s.Manifest.Versions()})
	rec := presence.AuditRecord{At: ch.At, Action: presence.AuditModelSetChanged, Detail: detail}
	return c.Store.ChangeModelSet(ctx, ch, rec)
}

// API is the operator API's view of a node's model sets.
type API struct {
	C *Coordinator
	// Configured reads the node's configured manifest again.
	Configured func() (*presence.Manifest, error)
}

// Status of the node.
func (a API) Status() Status { return a.C.Status() }

// History of the set in service, newest first.
func (a API) History(ctx context.Context) ([]presence.ModelSetChange, error) {
	return a.C.Store.ModelSetHistory(ctx, 100)
}

// Reload installs manifest (JSON), or the configured manifest again when
// it is empty.
func (a API) Reload(ctx context.Context, manifest []byte, by string) (*Change, error) {
	var m *presence.Manifest
	var err error
	if len(manifest) == 0 {
		m, err = a.Configured()
	} else {
		m, err = presence.ParseManifest(manifest)
	}
	if err != nil {
		return nil, presence.WrapError(presence.ErrInvalid, err, "manifest")
	}
	return a.C.Reload(ctx, m, by)
}

// Rollback goes back to the set before.
func (a API) Rollback(ctx context.Context, by string) (*Change, error) { return a.C.Rollback(ctx, by) }
