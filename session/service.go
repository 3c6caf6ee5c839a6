// Package session runs liveness sessions: a relying party creates one with
// its API key, the person's device sends frames with the single-use client
// token, the verdict is stored once and read back. It holds no state in
// memory: every step reads and writes the store, so any node can serve any
// step.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"presence"
	"presence/clock"
	"presence/engine"
	"presence/liveness"
	"presence/seal"
	"presence/vision"
)

// Analyzer is the part of the engine sessions use.
type Analyzer interface {
	Analyze(ctx context.Context, img *presence.Image, opts engine.Options) (*presence.Analysis, error)
	Thresholds() engine.Thresholds
	Manifest() *presence.Manifest
}

// Matcher resolves subject references (the subjects service).
type Matcher interface {
	CheckReference(ctx context.Context, subjectID string) error
	MatchSubject(ctx context.Context, subjectID string, probe presence.Embedding) (*presence.Match, error)
}

// Observer receives events for metrics; nil methods are fine.
type Observer interface {
	SessionCreated(mode presence.Mode)
	Verdict(mode presence.Mode, v *presence.Verdict)
	FrameAnalysed(t presence.Timings)
}

// Store is what sessions keep: the sessions themselves and the API keys
// that create them.
type Store interface {
	presence.SessionStore
	CreateAPIKey(ctx context.Context, k *presence.APIKey) error
	APIKey(ctx context.Context, id string) (*presence.APIKey, error)
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

// Config wires a Service.
type Config struct {
	Store  Store
	Engine Analyzer
	// Models, when set, gives the model set in service now and holds it
	// until the returned func is called: a session is judged by the set
	// it started with, whatever is installed meanwhile (hot reload).
	// Without it, Engine judges everything.
	Models func() (Analyzer, func())
	// Shadow, when set, judges a share of sessions with a candidate too
	// (recorded, never shown).
	Shadow *Shadow
	Sealer *seal.Sealer
	// Clock times expiry and streams (the system clock when nil; tests
	// and clip evaluation run on a virtual one).
	Clock    clock.Clock
	Log      *slog.Logger
	Observer Observer
	// DefaultTTL and MaxTTL bound how long a session may wait for its
	// frames.
	DefaultTTL time.Duration
	MaxTTL     time.Duration
	// MaxFrames is the most frames a passive check may send.
	MaxFrames int
	Limits    vision.Limits
	// RequestDecodeBytes bounds the decoded pixels of all the frames of
	// one upload together (they are held until the verdict); Decodes
	// bounds how many images are decoded at once across all requests, so
	// memory stays bounded however many uploads arrive (default 2).
	RequestDecodeBytes int64
	Decodes            int
	// SameFace is the lowest similarity between frames of one person.
	SameFace float64
	// Policy is what active sessions may ask (and how long streamed
	// checks wait for a good view).
	Policy liveness.Policy
	// Guard holds the replay thresholds of streams.
	Guard liveness.GuardRule
	// Light holds the light challenge's thresholds.
	Light liveness.LightRule
	// Retention is the server's session retention (the sweep's), the most
	// a key may keep its sessions and audit images (default 30 days).
	Retention time.Duration
	// FingerprintRetention is how long the fingerprints of judged frames
	// are kept to catch them replayed (0: 30 days), whatever happens to
	// their session; negative keeps none (no replay detection across
	// sessions).
	FingerprintRetention time.Duration
	// PassiveWindow is how much of a stream a passive check judges.
	PassiveWindow liveness.PassiveWindow
	// Subjects resolves sessions that name an enrolled subject.
	Subjects Matcher
	// JPEG decodes JPEG scaled in the DCT (vision/turbojpeg); nil uses
	// Go's decoder at full size.
	JPEG vision.JPEGDecoder
}

// Service runs sessions.
type Service struct {
	cfg Config
	// decodeSlots holds one token per decode running.
	decodeSlots chan struct{}
	// shadowSlot lets one upload at a time be judged in shadow.
	shadowSlot    chan struct{}
	shadowSkipped atomic.Int64
}

// New returns a Service with defaults filled in.
func New(cfg Config) *Service {
	if cfg.Shadow != nil && cfg.Shadow.Name == "" {
		cfg.Shadow.Name = cfg.Shadow.Engine.Manifest().ID()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.DefaultTTL == 0 {
		cfg.DefaultTTL = 5 * time.Minute
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = time.Hour
	}
	if cfg.MaxFrames == 0 {
		cfg.MaxFrames = 5
	}
	if cfg.Limits == (vision.Limits{}) {
		cfg.Limits = vision.DefaultLimits
	}
	if cfg.SameFace == 0 {
		cfg.SameFace = 0.3
	}
	if len(cfg.Policy.Steps) == 0 {
		cfg.Policy = liveness.DefaultPolicy()
	}
	if cfg.Guard == (liveness.GuardRule{}) {
		cfg.Guard = liveness.DefaultGuardRule()
	}
	if cfg.Light == (liveness.LightRule{}) {
		cfg.Light = liveness.DefaultLightRule()
	}
	if cfg.PassiveWindow == (liveness.PassiveWindow{}) {
		cfg.PassiveWindow = liveness.DefaultPassiveWindow()
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	if cfg.FingerprintRetention == 0 {
		cfg.FingerprintRetention = 30 * 24 * time.Hour
	}
	if cfg.RequestDecodeBytes == 0 {
		cfg.RequestDecodeBytes = 256 << 20
	}
	if cfg.Decodes <= 0 {
		cfg.Decodes = 2
	}
	return &Service{cfg: cfg, decodeSlots: make(chan struct{}, cfg.Decodes), shadowSlot: make(chan struct{}, 1)}
}

// decode decodes one image in a decode slot, waiting for one at most as
// long as ctx allows.
func (s *Service) decode(ctx context.Context, data []byte) (*presence.Image, error) {
	d, err := s.firstDecode(ctx, data)
	return d.img, err
}

// Decoding for the models. The detector reads the whole picture at
// 320x240 and the face crops at most 128 px, so a 12-megapixel photo is
// decoded at 1/8 in the DCT (libjpeg-turbo) to find the face, and again
// sharper only when that face is under minFacePixels.
const (
	minDecodeSide = 720
	minFacePixels = 160
)

// decoded is a frame decoded at 1/scale of its size, and how long it took.
type decoded struct {
	img   *presence.Image
	info  vision.Info
	scale int
	ms    float64
}

// decodeAt decodes at 1/denom under the decode slots.
func (s *Service) decodeAt(ctx context.Context, data []byte, denom int) (decoded, error) {
	select {
	case s.decodeSlots <- struct{}{}:
	case <-ctx.Done():
		return decoded{}, presence.WrapError(presence.ErrUnavailable, ctx.Err(), "the server is busy decoding; try again")
	}
	defer func() { <-s.decodeSlots }()
	return decodeScaled(data, s.cfg.Limits, s.cfg.JPEG, denom)
}

func decodeScaled(data []byte, lim vision.Limits, jd vision.JPEGDecoder, denom int) (decoded, error) {
	start := time.Now()
	img, info, err := vision.DecodeScaled(data, lim, jd, denom)
	return decoded{img: img, info: info, scale: max(info.Scale, 1), ms: msSince(start)}, err
}

// firstScale is the DCT scale of a first decode: the smallest at which the
// detector still has its picture.
func firstScale(data []byte, lim vision.Limits, jd vision.JPEGDecoder) int {
	if jd != nil {
		if _, cfg, err := vision.DecodeConfig(data, lim); err == nil {
			return vision.ScaleFor(cfg.Width, cfg.Height, minDecodeSide)
		}
	}
	return 1
}

// firstDecode decodes at the smallest scale the detector needs.
func (s *Service) firstDecode(ctx context.Context, data []byte) (decoded, error) {
	return s.decodeAt(ctx, data, firstScale(data, s.cfg.Limits, s.cfg.JPEG))
}

// pin returns the model set to judge a session with, held until release.
func (s *Service) pin() (eng Analyzer, release func()) {
	if s.cfg.Models != nil {
		return s.cfg.Models()
	}
	return s.cfg.Engine, func() {}
}

// thresholds are the operator's, the same for every model set.
func (s *Service) thresholds() engine.Thresholds {
	eng, release := s.pin()
	defer release()
	return eng.Thresholds()
}

// analyze runs the models on a decoded frame; a face too small for its
// crops at a reduced scale is decoded again, as large as it needs, and
// analysed again. It returns the decode the analysis used.
func (s *Service) analyze(ctx context.Context, eng Analyzer, data []byte, d decoded, opts engine.Options) (*presence.Analysis, decoded, error) {
	return analyzeDecoded(ctx, eng, data, d, opts, func(denom int) (decoded, error) { return s.decodeAt(ctx, data, denom) })
}

func analyzeDecoded(ctx context.Context, eng Analyzer, data []byte, d decoded, opts engine.Options, decodeAt func(int) (decoded, error)) (*presence.Analysis, decoded, error) {
	a, err := eng.Analyze(ctx, d.img, opts)
	if err != nil || d.scale == 1 || a.Face == nil {
		return a, d, err
	}
	side := min(a.Face.Box.Width(), a.Face.Box.Height())
	if side >= minFacePixels {
		return a, d, nil
	}
	denom := d.scale
	for denom > 1 && side*float64(d.scale)/float64(denom) < minFacePixels {
		denom /= 2
	}
	sharper, err := decodeAt(denom)
	if err != nil {
		return nil, d, err
	}
	sharper.ms += d.ms
	again, err := eng.Analyze(ctx, sharper.img, opts)
	return again, sharper, err
}

// AnalyzeUpload decodes and analyses one uploaded picture as a passive
// check does (DCT-scaled through jd when given, sharper again for a small
// face), for tools that measure that path (presence check, presence
// bench). The decode time is in the timings.
func AnalyzeUpload(ctx context.Context, eng Analyzer, jd vision.JPEGDecoder, lim vision.Limits, data []byte, opts engine.Options) (*presence.Analysis, error) {
	d, err := decodeScaled(data, lim, jd, firstScale(data, lim, jd))
	if err != nil {
		return nil, err
	}
	a, d, err := analyzeDecoded(ctx, eng, data, d, opts, func(denom int) (decoded, error) { return decodeScaled(data, lim, jd, denom) })
	if err != nil {
		return nil, err
	}
	a.Timings.Decode = d.ms
	a.Timings.Total += d.ms
	a.Image.Format, a.Image.Orientation = string(d.info.Format), d.info.Orientation
	return a, nil
}

// Now is the service clock.
func (s *Service) Now() time.Time { return s.cfg.Clock.Now() }

// Credential prefixes tell an API key from a client token at a glance, so
// one used in the other's place gets a precise error.
const (
	APIKeyPrefix      = "pk_"
	ClientTokenPrefix = "pct_"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the OS has no entropy: nothing is safe to do
	}
	return prefix + idEncoding.EncodeToString(b)
}

func secretHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// CreateAPIKey makes a key; the returned text is shown once and only its
// hash is stored.
func (s *Service) CreateAPIKey(ctx context.Context, name string) (string, *presence.APIKey, error) {
	return s.CreateAPIKeyWithPolicy(ctx, name, presence.KeyPolicy{})
}

// CreateAPIKeyWithPolicy creates a key with its policy.
func (s *Service) CreateAPIKeyWithPolicy(ctx context.Context, name string, policy presence.KeyPolicy) (string, *presence.APIKey, error) {
	if err := policy.Capture.Validate(); err != nil {
		return "", nil, err
	}
	if err := policy.Notice.Validate(); err != nil {
		return "", nil, err
	}
	if err := policy.Retention.Within(s.cfg.Retention, max(s.cfg.FingerprintRetention, 0)); err != nil {
		return "", nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", nil, presence.Errorf(presence.ErrInvalid, "a key needs a name of 1-100 characters")
	}
	id := randomID("", 10)
	secret := base64.RawURLEncoding.EncodeToString(mustRandom(32))
	k := &presence.APIKey{ID: id, Name: name, Policy: policy, SecretHash: secretHash(secret), CreatedAt: s.cfg.Clock.Now().UTC()}
	if err := s.cfg.Store.CreateAPIKey(ctx, k); err != nil {
		return "", nil, err
	}
	return APIKeyPrefix + id + "_" + secret, k, nil
}

func mustRandom(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return b
}

// AuthenticateAPIKey checks a bearer credential as an API key.
func (s *Service) AuthenticateAPIKey(ctx context.Context, bearer string) (*presence.APIKey, error) {
	if strings.HasPrefix(bearer, ClientTokenPrefix) {
		return nil, presence.Errorf(presence.ErrWrongCredential, "a client token cannot call the relying-party API; use an API key")
	}
	rest, ok := strings.CutPrefix(bearer, APIKeyPrefix)
	id, secret, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || id == "" || secret == "" {
		return nil, presence.Errorf(presence.ErrUnauthorized, "missing or malformed API key")
	}
	k, err := s.cfg.Store.APIKey(ctx, id)
	if presence.ErrorCodeOf(err) == presence.ErrNotFound {
		return nil, presence.Errorf(presence.ErrUnauthorized, "unknown API key")
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(secretHash(secret), k.SecretHash) != 1 {
		return nil, presence.Errorf(presence.ErrUnauthorized, "unknown API key")
	}
	if k.RevokedAt != nil {
		return nil, presence.Errorf(presence.ErrUnauthorized, "this API key was revoked")
	}
	now := s.cfg.Clock.Now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Minute {
		if err := s.cfg.Store.TouchAPIKey(ctx, k.ID, now); err != nil {
			s.cfg.Log.Warn("recording API key use failed", "key", k.ID, "err", err)
		}
	}
	return k, nil
}

// CreateRequest is what a relying party asks for.
type CreateRequest struct {
	Mode           presence.Mode
	ReferenceImage []byte
	SubjectID      string
	AuditImages    int
	TTL            time.Duration
	CorrelationID  string
	// Capture narrows the key's capture policy for this session.
	Capture *presence.CapturePolicy
	// Light asks for the light challenge (docs/active.md).
	Light bool
	// Enrolable keeps the face template of a live face, to enrol, verify
	// or identify the session later.
	Enrolable bool
	// Notice replaces the key's notice for this session.
	Notice *presence.Notice
	// LightPlan, with Light, replaces the colours the server would draw:
	// replaying a recorded session (eval clips) needs the colours it was
	// recorded with. Never set from a relying party's request.
	LightPlan *liveness.LightPlan
}

// Created is a new session with its client token, shown once.
type Created struct {
	Session     *presence.Session
	ClientToken string
}

// Create starts a session. A reference image is analysed now, on the
// relying party's request, and only its sealed template is kept.
func (s *Service) Create(ctx context.Context, key *presence.APIKey, req CreateRequest) (*Created, error) {
	if req.Mode == "" {
		req.Mode = presence.ModePassive
	}
	switch {
	case req.Mode != presence.ModePassive && req.Mode != presence.ModeActive:
		return nil, presence.Errorf(presence.ErrInvalid, "mode must be passive or active")
	case req.AuditImages < 0 || req.AuditImages > 4:
		return nil, presence.Errorf(presence.ErrInvalid, "audit_images must be between 0 and 4")
	case req.TTL < 0 || req.TTL > s.cfg.MaxTTL || (req.TTL > 0 && req.TTL < 10*time.Second):
		return nil, presence.Errorf(presence.ErrInvalid, "ttl_seconds must be between 10 and %d", int(s.cfg.MaxTTL.Seconds()))
	case len(req.CorrelationID) > 200 || strings.ContainsFunc(req.CorrelationID, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return nil, presence.Errorf(presence.ErrInvalid, "correlation_id must be at most 200 printable characters")
	case req.SubjectID != "" && len(req.ReferenceImage) > 0:
		return nil, presence.Errorf(presence.ErrInvalid, "give a reference_image or a subject_id, not both")
	case req.SubjectID != "" && !presence.ValidSubjectID(req.SubjectID):
		return nil, presence.Errorf(presence.ErrInvalid, "malformed subject_id")
	}
	if req.SubjectID != "" {
		if s.cfg.Subjects == nil {
			return nil, presence.Errorf(presence.ErrInvalid, "subject references are not enabled")
		}
		if err := s.cfg.Subjects.CheckReference(ctx, req.SubjectID); err != nil {
			return nil, err
		}
	}
	capture, err := key.Policy.Capture.Within(req.Capture)
	if err != nil {
		return nil, err
	}
	notice := key.Policy.Notice
	if req.Notice != nil {
		notice = req.Notice
	}
	if err := notice.Validate(); err != nil {
		return nil, err
	}
	if notice != nil {
		// The person answers the notice in the capture SDK, before its
		// camera opens: an upload could not show it.
		capture.Frames = presence.FramesStream
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = s.cfg.DefaultTTL
	}
	now := s.cfg.Clock.Now().UTC()
	token := ClientTokenPrefix + base64.RawURLEncoding.EncodeToString(mustRandom(32))
	sess := &presence.Session{
		ID:              randomID("ses_", 15),
		Mode:            req.Mode,
		Status:          presence.StatusCreated,
		CorrelationID:   req.CorrelationID,
		AuditImages:     req.AuditImages,
		APIKeyID:        key.ID,
		ClientTokenHash: secretHash(token),
		SubjectID:       req.SubjectID,
		Capture:         capture,
		Enrolable:       req.Enrolable,
		Notice:          notice,
		// Bounds may have tightened since the key was made: the server's
		// caps still hold.
		Retention: presence.Retention{
			Sessions: min(key.Policy.Retention.Sessions, s.cfg.Retention), AuditImages: min(key.Policy.Retention.AuditImages, s.cfg.Retention),
			Fingerprints: min(key.Policy.Retention.Fingerprints, max(s.cfg.FingerprintRetention, 0)),
		},
		CreatedAt: now,
		ExpiresAt: now.Add(ttl),
	}
	if req.Mode == presence.ModeActive || req.Light {
		plan := liveness.Plan{Nonce: randomID("", 16)}
		if req.Mode == presence.ModeActive {
			if plan, err = liveness.NewPlan(s.cfg.Policy, nil); err != nil {
				return nil, presence.WrapError(presence.ErrInternal, err, "drawing the challenge failed")
			}
		}
		if req.Light {
			// The light challenge lives on the stream: an upload could
			// not show the screen's colours on the face in time.
			sess.Capture.Frames = presence.FramesStream
			light, err := liveness.NewLightPlan(nil)
			if err != nil {
				return nil, presence.WrapError(presence.ErrInternal, err, "drawing the light challenge failed")
			}
			if req.LightPlan != nil {
				if err := req.LightPlan.Validate(); err != nil {
					return nil, presence.WrapError(presence.ErrInvalid, err, "%v", err)
				}
				light = *req.LightPlan
			}
			plan.Light = &light
		}
		if sess.Challenge, err = json.Marshal(plan); err != nil {
			return nil, presence.WrapError(presence.ErrInternal, err, "encoding the challenge failed")
		}
	}
	if len(req.ReferenceImage) > 0 {
		ref, err := s.referenceTemplate(ctx, req.ReferenceImage)
		if err != nil {
			return nil, err
		}
		if sess.ReferenceTemplate, err = s.cfg.Sealer.SealEmbedding(ref, sess.ID); err != nil {
			return nil, presence.WrapError(presence.ErrInternal, err, "sealing the reference failed")
		}
	}
	if err := s.cfg.Store.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	if s.cfg.Observer != nil {
		s.cfg.Observer.SessionCreated(sess.Mode)
	}
	return &Created{Session: sess, ClientToken: token}, nil
}

// referenceTemplate finds the (largest) face of a reference photo, e.g. an
// ID-card portrait, and returns its template.
func (s *Service) referenceTemplate(ctx context.Context, data []byte) (presence.Embedding, error) {
	d, err := s.firstDecode(ctx, data)
	if err != nil {
		return nil, presence.WrapError(presence.ErrorCodeOf(err), err, "reference image: %s", presence.ErrorMessage(err))
	}
	eng, release := s.pin()
	defer release()
	a, _, err := s.analyze(ctx, eng, data, d, engine.Options{})
	if err != nil {
		return nil, err
	}
	if a.Face == nil || len(a.Face.Embedding) == 0 {
		return nil, presence.Errorf(presence.ErrReferenceNoFace, "no face found in the reference image")
	}
	return a.Face.Embedding, nil
}

// View is a session as the relying party reads it.
type View struct {
	*presence.Session
	Status      presence.Status
	AuditImages []presence.AuditImage
}

// Get returns a session with its evidence frames.
func (s *Service) Get(ctx context.Context, id string) (*View, error) {
	sess, err := s.cfg.Store.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &View{Session: sess, Status: sess.EffectiveStatus(s.cfg.Clock.Now())}
	if sess.AuditImages > 0 && sess.Verdict != nil {
		if v.AuditImages, err = s.cfg.Store.AuditImages(ctx, id); err != nil {
			return nil, err
		}
		for i, img := range v.AuditImages {
			if !seal.IsSealed(img.Data) {
				continue // stored before images were sealed
			}
			if v.AuditImages[i].Data, err = s.cfg.Sealer.Open(img.Data, seal.ImageOwner(id, img.Index)); err != nil {
				return nil, presence.WrapError(presence.ErrInternal, err, "an audit image could not be opened")
			}
		}
	}
	return v, nil
}

// sealImages encrypts audit images like templates, each bound to its
// session and place: a face photo is no less personal than its template.
func (s *Service) sealImages(sessionID string, imgs []presence.AuditImage) ([]presence.AuditImage, error) {
	out := make([]presence.AuditImage, len(imgs))
	for i, img := range imgs {
		sealed, err := s.cfg.Sealer.Seal(img.Data, seal.ImageOwner(sessionID, img.Index))
		if err != nil {
			return nil, presence.WrapError(presence.ErrInternal, err, "sealing an audit image failed")
		}
		img.Data = sealed
		out[i] = img
	}
	return out, nil
}

// Delete ends a session and erases its images and reference template; the
// audit log records the erasure.
func (s *Service) Delete(ctx context.Context, key *presence.APIKey, id string) (presence.Erased, error) {
	sess, err := s.cfg.Store.Session(ctx, id)
	if err != nil {
		return presence.Erased{}, err
	}
	return s.cfg.Store.DeleteSession(ctx, id, presence.AuditRecord{
		At: s.cfg.Clock.Now(), Action: presence.AuditSessionDeleted, APIKeyID: key.ID, SessionID: id, CorrelationID: sess.CorrelationID,
	})
}

// Frame is one uploaded picture.
type Frame struct {
	Data []byte
}

// SessionForToken returns the session a client token may use now, with the
// precise reason when it may not: a token of another session, a spent
// token, an expired or finished session, or an API key in its place.
func (s *Service) SessionForToken(ctx context.Context, id, token string) (*presence.Session, error) {
	if strings.HasPrefix(token, APIKeyPrefix) {
		return nil, presence.Errorf(presence.ErrWrongCredential, "an API key cannot send frames; use the session's client token")
	}
	if !strings.HasPrefix(token, ClientTokenPrefix) {
		return nil, presence.Errorf(presence.ErrUnauthorized, "missing or malformed client token")
	}
	hash := secretHash(token)
	sess, err := s.cfg.Store.Session(ctx, id)
	if presence.ErrorCodeOf(err) == presence.ErrNotFound {
		return nil, presence.Errorf(presence.ErrNotFound, "session not found")
	}
	if err != nil {
		return nil, err
	}
	if err := sess.AcceptClient(hash, s.cfg.Clock.Now()); err != nil {
		if presence.ErrorCodeOf(err) == presence.ErrInvalidToken {
			if other, err2 := s.cfg.Store.SessionByTokenHash(ctx, hash); err2 == nil && other.ID != id {
				return nil, presence.Errorf(presence.ErrTokenMismatch, "this client token belongs to another session")
			}
		}
		return nil, err
	}
	return sess, nil
}

// SubmitFrames runs a passive check on one to MaxFrames frames. Every frame
// is decoded before anything is written: a bad frame leaves the session
// and its token untouched. The verdict, the evidence and the audit record
// are then written in one transaction that also spends the token.
func (s *Service) SubmitFrames(ctx context.Context, id, token string, frames []Frame) (*presence.Session, error) {
	sess, err := s.SessionForToken(ctx, id, token)
	if err != nil {
		return nil, err
	}
	if sess.Mode != presence.ModePassive {
		return nil, presence.Errorf(presence.ErrInvalid, "an active session streams its frames over the WebSocket")
	}
	if !sess.Capture.UploadsAllowed() {
		return nil, presence.Errorf(presence.ErrForbidden, "this session accepts frames from the capture SDK's stream only (the relying party's capture policy)")
	}
	if len(frames) == 0 {
		return nil, presence.Errorf(presence.ErrInvalid, "no frame in the request")
	}
	if len(frames) > s.cfg.MaxFrames {
		return nil, presence.Errorf(presence.ErrTooManyFrames, "at most %d frames per session, got %d", s.cfg.MaxFrames, len(frames))
	}
	// The frames' headers say what decoding them all will take, before
	// any is decoded: they are held together until the verdict.
	var need int64
	for i, f := range frames {
		format, cfg, err := vision.DecodeConfig(f.Data, s.cfg.Limits)
		if err != nil {
			return nil, presence.WrapError(presence.ErrorCodeOf(err), err, "frame %d: %s", i+1, presence.ErrorMessage(err))
		}
		need += vision.DecodedBytes(format, cfg)
	}
	if need > s.cfg.RequestDecodeBytes {
		return nil, presence.Errorf(presence.ErrImageTooLarge, "the frames would take %d MB to decode together, limit %d MB; send fewer or smaller frames", need>>20, s.cfg.RequestDecodeBytes>>20)
	}
	decodes := make([]decoded, len(frames))
	images := make([]*presence.Image, len(frames))
	for i, f := range frames {
		d, err := s.firstDecode(ctx, f.Data)
		if err != nil {
			return nil, presence.WrapError(presence.ErrorCodeOf(err), err, "frame %d: %s", i+1, presence.ErrorMessage(err))
		}
		decodes[i], images[i] = d, d.img
	}
	// One model set judges the session, even if another is installed
	// meanwhile.
	eng, release := s.pin()
	defer release()
	now := s.cfg.Clock.Now()
	prints, replayed, err := s.uploadFingerprints(ctx, sess, frames, images)
	if err != nil {
		return nil, err
	}
	var verdict *presence.Verdict
	var probe []byte
	var faces []int
	if replayed {
		verdict = &presence.Verdict{Decision: presence.DecisionFake, Reasons: []presence.Reason{presence.NewReason(presence.ReasonReplayedFrame)},
			Models: eng.Manifest().Versions(), ModelSet: eng.Manifest().ID()}
		prints = nil // the earlier session's fingerprints already hold these frames
	} else if verdict, probe, faces, err = s.judgePassive(ctx, eng, sess, frames, decodes, true); err != nil {
		return nil, err
	}
	verdict.Capture = &presence.CaptureReport{Source: "upload"}
	// Frames of one face only: frames of an empty scene would match the
	// next person's empty scene.
	var keep []presence.FrameHash
	for i, h := range prints {
		if faces[i] == 1 {
			keep = append(keep, h)
		}
	}
	evidence, err := s.sealImages(sess.ID, auditFrames(frames, verdict, sess.AuditImages))
	if err != nil {
		return nil, err
	}
	c := presence.Completion{
		SessionID: sess.ID, Status: presence.StatusSucceeded, Verdict: verdict, At: now, FromStatus: presence.StatusCreated, ProbeTemplate: probe,
		AuditImages:  evidence,
		Audit:        auditRecord(sess, presence.StatusSucceeded, verdict, now),
		Fingerprints: s.keptFingerprints(keep), FingerprintsExpire: s.fingerprintsExpire(sess, now),
	}
	if err := s.cfg.Store.CompleteSession(ctx, c); err != nil {
		return nil, err
	}
	if s.cfg.Observer != nil {
		s.cfg.Observer.Verdict(sess.Mode, verdict)
	}
	s.cfg.Log.Info("verdict", "session", sess.ID, "mode", sess.Mode, "decision", verdict.Decision, "frames", len(frames), "ms", verdict.Timings.Total)
	// A replay is decided by the protocol, not the models: nothing for a
	// candidate model to judge.
	if !replayed && s.cfg.Shadow.sampled(sess.ID) {
		s.shadowUpload(ctx, sess, frames, decodes, verdict)
	}
	sess.Status, sess.Verdict, sess.CompletedAt, sess.TokenUsedAt = presence.StatusSucceeded, verdict, &now, &now
	return sess, nil
}

// keptFingerprints is what the retention lets the store keep.
func (s *Service) keptFingerprints(prints []presence.FrameHash) []presence.FrameHash {
	if s.cfg.FingerprintRetention < 0 {
		return nil
	}
	return prints
}

// fingerprintsExpire is when a session's fingerprints go: the server's
// retention, or its key's when shorter.
func (s *Service) fingerprintsExpire(sess *presence.Session, now time.Time) time.Time {
	keep := s.cfg.FingerprintRetention
	if k := sess.Retention.Fingerprints; k > 0 && k < keep {
		keep = k
	}
	return now.Add(keep)
}

// uploadFingerprints fingerprints uploaded frames and says whether they
// replay an earlier session's: one frame with the same bytes is enough.
// A copy re-encoded or re-photographed is a new picture to the bytes, and
// one similar frame is within a still person's reach, so a single
// re-encoded photo gets through here; keys that must refuse injected
// files allow streams only (docs/active.md).
func (s *Service) uploadFingerprints(ctx context.Context, sess *presence.Session, frames []Frame, images []*presence.Image) ([]presence.FrameHash, bool, error) {
	tally := liveness.NewReplayTally(sess.ID, s.cfg.Guard)
	prints := make([]presence.FrameHash, len(frames))
	for i := range frames {
		sum := vision.PixelDigest(images[i])
		prints[i] = presence.FrameHash{Seq: i + 1, SHA256: sum[:], Perceptual: vision.PerceptualHash(images[i])}
		sightings, err := s.cfg.Store.SeenFrame(ctx, prints[i], s.cfg.Guard.LoopDistance, s.cfg.Clock.Now())
		if err != nil {
			return nil, false, err
		}
		if other, replayed := tally.Add(sightings); replayed {
			s.cfg.Log.Warn("uploaded frames replayed from another session", "session", sess.ID, "other", other)
			return prints, true, nil
		}
	}
	return prints, false, nil
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// judgePassive analyses every frame, fuses them and matches the
// reference; it returns the sealed probe template of a live face and how
// many faces each frame showed.
// A shadow judgement (real false) leaves out metrics, the match and the
// template.
func (s *Service) judgePassive(ctx context.Context, eng Analyzer, sess *presence.Session, frames []Frame, decodes []decoded, real bool) (*presence.Verdict, []byte, []int, error) {
	t := eng.Thresholds()
	// A template is computed only where it is used: to match a reference,
	// to keep the probe of a live face for a later enrolment or
	// verification (the relying party asked: enrolable), and to check that
	// several frames show one face. A single frame of a plain check skips
	// the embedding model, about a third of the pipeline.
	opts := engine.Options{SkipEmbedding: !sess.WantsTemplate() && len(frames) == 1}
	analyses := make([]*presence.Analysis, len(frames))
	faces := make([]int, len(frames))
	v := &presence.Verdict{Models: eng.Manifest().Versions(), ModelSet: eng.Manifest().ID()}
	for i, f := range frames {
		a, d, err := s.analyze(ctx, eng, f.Data, decodes[i], opts)
		if err != nil {
			return nil, nil, nil, err
		}
		a.Timings.Decode = d.ms
		a.Timings.Total += d.ms
		analyses[i], faces[i] = a, len(a.Faces)
		addTimings(&v.Timings, a.Timings)
		if s.cfg.Observer != nil && real {
			s.cfg.Observer.FrameAnalysed(a.Timings)
		}
		v.Frames = append(v.Frames, presence.FrameResult{Decision: a.Decision, Score: a.Score, Reasons: a.Reasons})
	}
	fused := liveness.FusePassive(analyses, liveness.PassiveRule{Liveness: t.Liveness, ConfidentFake: t.ConfidentFake, SameFace: s.cfg.SameFace})
	v.Decision, v.Score, v.Reasons = fused.Decision, fused.Score, fused.Reasons
	if !real {
		return v, nil, faces, nil
	}
	probe, err := s.matchAndProbe(ctx, sess, v, fused.Embedding)
	if err != nil {
		return nil, nil, nil, err
	}
	return v, probe, faces, nil
}

// matchAndProbe adds the face match against the session's reference (a
// photo's template or an enrolled subject) to v, and seals the judged
// face's template when it is live, to be enrolled or verified later.
func (s *Service) matchAndProbe(ctx context.Context, sess *presence.Session, v *presence.Verdict, face presence.Embedding) ([]byte, error) {
	if len(face) == 0 {
		return nil, nil
	}
	switch {
	case sess.ReferenceTemplate != nil:
		ref, err := s.cfg.Sealer.OpenEmbedding(sess.ReferenceTemplate, sess.ID)
		if err != nil {
			return nil, presence.WrapError(presence.ErrInternal, err, "the reference template could not be opened")
		}
		m := presence.NewMatch(face, ref, s.thresholds().Match)
		v.Match = &m
	case sess.SubjectID != "" && s.cfg.Subjects != nil:
		m, err := s.cfg.Subjects.MatchSubject(ctx, sess.SubjectID, face)
		switch code := presence.ErrorCodeOf(err); {
		case err == nil:
			v.Match = m
		case code == presence.ErrNotFound || code == presence.ErrConflict:
			// The subject was erased or emptied meanwhile: the liveness
			// verdict stands, without a match.
			s.cfg.Log.Warn("subject reference gone before the verdict", "session", sess.ID, "subject", sess.SubjectID, "err", err)
		default:
			return nil, err
		}
	}
	if v.Decision != presence.DecisionRealFace || !sess.WantsTemplate() {
		return nil, nil
	}
	probe, err := s.cfg.Sealer.SealEmbedding(face, sess.ID)
	if err != nil {
		return nil, presence.WrapError(presence.ErrInternal, err, "sealing the probe failed")
	}
	return probe, nil
}

func addTimings(sum *presence.Timings, t presence.Timings) {
	sum.Decode += t.Decode
	sum.Queue += t.Queue
	sum.Detect += t.Detect
	sum.Landmarks += t.Landmarks
	sum.Quality += t.Quality
	sum.Liveness += t.Liveness
	sum.Embedding += t.Embedding
	sum.Total += t.Total
}

// auditFrames keeps up to n frames as evidence, judged frames first, as
// uploaded (the original bytes, nothing re-encoded).
func auditFrames(frames []Frame, v *presence.Verdict, n int) []presence.AuditImage {
	if n == 0 {
		return nil
	}
	var order []int
	for i, f := range v.Frames {
		if f.Decision != presence.DecisionInconclusive {
			order = append(order, i)
		}
	}
	for i, f := range v.Frames {
		if f.Decision == presence.DecisionInconclusive {
			order = append(order, i)
		}
	}
	var out []presence.AuditImage
	for _, i := range order {
		if len(out) == n {
			break
		}
		out = append(out, presence.AuditImage{Index: len(out), ContentType: contentType(frames[i].Data), Data: frames[i].Data})
	}
	return out
}

func contentType(data []byte) string {
	switch f, _ := vision.Sniff(data); f {
	case vision.FormatPNG:
		return "image/png"
	case vision.FormatWebP:
		return "image/webp"
	}
	return "image/jpeg"
}

// auditRecord describes a verdict for the audit log: who asked, what was
// decided, with which models; no image, no template.
func auditRecord(sess *presence.Session, status presence.Status, v *presence.Verdict, at time.Time) presence.AuditRecord {
	detail, _ := json.Marshal(struct {
		Reasons []presence.Reason       `json:"reasons"`
		Match   *presence.Match         `json:"match,omitempty"`
		Models  []presence.ModelVersion `json:"models"`
		Frames  int                     `json:"frames"`
		Mode    presence.Mode           `json:"mode"`
	}{v.Reasons, v.Match, v.Models, len(v.Frames), sess.Mode})
	return presence.AuditRecord{
		At: at, Action: presence.AuditVerdict, APIKeyID: sess.APIKeyID, SessionID: sess.ID, SubjectID: sess.SubjectID,
		CorrelationID: sess.CorrelationID, Decision: v.Decision, Score: v.Score, Detail: detail,
		Event: presence.SessionEvent(sess, status, v, at),
	}
}

// Sweep marks expired sessions and purges those older than retention.
func (s *Service) Sweep(ctx context.Context, retention time.Duration) (expired, purged int, err error) {
	now := s.cfg.Clock.Now()
	return s.cfg.Store.ExpireSessions(ctx, now, now.Add(-retention))
}
