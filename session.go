package presence

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"strings"
	"time"
)

// Mode is the kind of liveness check a session runs.
type Mode string

// Session modes: passive (one look at the camera, one or a few frames) and
// active (server-chosen challenges over a live stream).
const (
	ModePassive Mode = "passive"
	ModeActive  Mode = "active"
)

// Status is where a session is in its life. It describes the session, not
// the person: a session that reached a verdict is succeeded whatever the
// decision; failed means it ended without a verdict.
type Status string

// Session statuses.
const (
	StatusCreated    Status = "created"
	StatusInProgress Status = "in_progress"
	StatusSucceeded  Status = "succeeded"
	StatusFailed     Status = "failed"
	StatusExpired    Status = "expired"
	// StatusDeclined: the person declined the relying party's notice; no
	// frame was taken.
	StatusDeclined Status = "declined"
)

// Session is one liveness check, from creation by a relying party to its
// verdict.
type Session struct {
	ID            string
	Mode          Mode
	Status        Status
	CorrelationID string
	// AuditImages is how many frames to keep as evidence (0-4).
	AuditImages int
	// APIKeyID is the key that created the session.
	APIKeyID string
	// ClientTokenHash is the SHA-256 of the single-use client token.
	ClientTokenHash []byte
	TokenUsedAt     *time.Time
	// ReferenceTemplate is the sealed (encrypted) face template of the
	// reference image, when one was given.
	ReferenceTemplate []byte
	// SubjectID names an enrolled subject as the reference instead.
	SubjectID string
	// ProbeTemplate is the sealed template of the face judged in the
	// session, kept to enrol or verify it later.
	ProbeTemplate []byte
	// Challenge is the active-mode plan (steps and nonce), JSON, fixed at
	// creation.
	Challenge []byte
	// Capture says how the session's frames may arrive, fixed at
	// creation from its key's policy and the request.
	Capture CapturePolicy
	// Enrolable: the relying party asked to keep the face template, to
	// enrol, verify or identify the session later. Templates are computed
	// only when they can be used.
	Enrolable bool
	// Retention is what the key chose, fixed at creation (zero: the
	// server's settings).
	Retention Retention
	// Notice is shown to the person before the camera opens; Consent is
	// their answer (nil until given).
	Notice      *Notice
	Consent     *Consent
	CreatedAt   time.Time
	ExpiresAt   time.Time
	CompletedAt *time.Time
	Verdict     *Verdict
}

// WantsTemplate says whether the session's face template has a use: a
// reference to match, or a later enrolment, verification or
// identification the relying party asked for.
func (s *Session) WantsTemplate() bool {
	return s.Enrolable || s.ReferenceTemplate != nil || s.SubjectID != ""
}

// EffectiveStatus is the status at time now: an unfinished session past
// its expiry is expired even before a sweeper has written so.
func (s *Session) EffectiveStatus(now time.Time) Status {
	if (s.Status == StatusCreated || s.Status == StatusInProgress) && !now.Before(s.ExpiresAt) {
		return StatusExpired
	}
	return s.Status
}

// AcceptClient checks that a client presenting a token with SHA-256
// tokenHash may start this session at now, and says precisely why not.
func (s *Session) AcceptClient(tokenHash []byte, now time.Time) error {
	if subtle.ConstantTimeCompare(tokenHash, s.ClientTokenHash) != 1 {
		return Errorf(ErrInvalidToken, "the client token is not valid for this session")
	}
	if s.TokenUsedAt != nil {
		return Errorf(ErrTokenUsed, "the client token was already used; start a new session")
	}
	switch s.EffectiveStatus(now) {
	case StatusExpired:
		return Errorf(ErrSessionExpired, "the session has expired; start a new session")
	case StatusCreated:
		return nil
	}
	return Errorf(ErrSessionFinished, "the session has already ended; start a new session")
}

// FrameResult is what one analysed frame contributed to a verdict.
type FrameResult struct {
	Decision Decision `json:"decision"`
	Score    *float64 `json:"score"`
	Reasons  []Reason `json:"reasons"`
}

// Verdict is the outcome of a session.
type Verdict struct {
	Decision Decision       `json:"decision"`
	Score    *float64       `json:"score"`
	Reasons  []Reason       `json:"reasons"`
	Match    *Match         `json:"match,omitempty"`
	Frames   []FrameResult  `json:"frames"`
	Models   []ModelVersion `json:"models"`
	// ModelSet is the id of the model set that judged every frame of the
	// session (Manifest.ID).
	ModelSet string  `json:"model_set,omitempty"`
	Timings  Timings `json:"timings"`
	// Challenge is the active-mode transcript (steps, outcome), JSON.
	Challenge []byte `json:"challenge,omitempty"`
	// Capture is how the frames arrived.
	Capture *CaptureReport `json:"capture,omitempty"`
	// Consent is the person's agreement to the notice shown before the
	// camera opened, when the relying party set one.
	Consent *Consent `json:"consent,omitempty"`
}

// AuditImage is a frame kept as evidence because the session asked for it.
type AuditImage struct {
	SessionID   string
	Index       int
	ContentType string
	Data        []byte
	CreatedAt   time.Time
}

// How frames may reach a session.
const (
	// FramesStream: only over the capture SDK's WebSocket stream.
	FramesStream = "stream"
	// FramesAny: uploads too (passive checks; active checks always
	// stream).
	FramesAny = "any"
)

// CapturePolicy is what a relying party accepts as a capture. Signals the
// device reports about its camera raise the cost of an attack and prove
// nothing: a modified client reports what it likes (docs/active.md).
type CapturePolicy struct {
	// Frames is FramesStream or FramesAny (empty: any).
	Frames string `json:"frames,omitempty"`
	// RefuseVirtualCameras ends a stream whose device reports a known
	// virtual camera as fake, injection_suspected.
	RefuseVirtualCameras bool `json:"refuse_virtual_cameras,omitempty"`
}

// UploadsAllowed says whether frames may be uploaded.
func (p CapturePolicy) UploadsAllowed() bool { return p.Frames != FramesStream }

// Validate checks the policy's values.
func (p CapturePolicy) Validate() error {
	if p.Frames != "" && p.Frames != FramesStream && p.Frames != FramesAny {
		return Errorf(ErrInvalid, "capture.frames must be %q or %q", FramesStream, FramesAny)
	}
	return nil
}

// Within returns req applied on top of p, refusing anything wider than p:
// a session may ask for less than its key allows, never more.
func (p CapturePolicy) Within(req *CapturePolicy) (CapturePolicy, error) {
	if req == nil {
		return p, nil
	}
	if err := req.Validate(); err != nil {
		return p, err
	}
	out := p
	switch {
	case req.Frames == FramesAny && !p.UploadsAllowed():
		return p, Errorf(ErrForbidden, "this API key accepts frames from the capture SDK's stream only; capture.frames %q is not allowed", FramesAny)
	case req.Frames != "":
		out.Frames = req.Frames
	}
	if !req.RefuseVirtualCameras && p.RefuseVirtualCameras {
		// Omitting it keeps the key's: only an explicit false could
		// widen, and JSON cannot tell the two apart here.
		return out, nil
	}
	out.RefuseVirtualCameras = out.RefuseVirtualCameras || req.RefuseVirtualCameras
	return out, nil
}

// CaptureReport is what the verdict records of how frames arrived: the
// source, what the device said about its camera (Reported false when it
// said nothing), and what the server measured.
type CaptureReport struct {
	Source     string  `json:"source"` // "stream" or "upload"
	Reported   bool    `json:"device_reported"`
	Label      string  `json:"label,omitempty"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FrameRate  float64 `json:"frame_rate,omitempty"`
	FacingMode string  `json:"facing_mode,omitempty"`
	// VirtualCamera names the known virtual camera the label matched.
	VirtualCamera string `json:"virtual_camera,omitempty"`
	// MeasuredFrameIntervalMS is the median time between the capture
	// times of consecutive frames, as stamped by the device.
	MeasuredFrameIntervalMS float64 `json:"measured_frame_interval_ms,omitempty"`
}

// KeyPolicy is what an API key allows and asks of its sessions.
type KeyPolicy struct {
	Capture CapturePolicy `json:"capture"`
	// Notice is shown before every capture of the key's sessions (a
	// session may bring its own).
	Notice *Notice `json:"notice,omitempty"`
	// Retention shortens how long the key's sessions and what derives from
	// them are kept, within the operator's bounds.
	Retention Retention `json:"retention"`
}

// Retention is how long a relying party keeps its sessions' data after a
// session ends (zero: the server's setting, which is also the most a key
// may ask).
type Retention struct {
	Sessions     time.Duration `json:"sessions"`
	AuditImages  time.Duration `json:"audit_images"`
	Fingerprints time.Duration `json:"fingerprints"`
}

// MarshalJSON writes durations as Go duration strings ("720h0m0s").
func (r Retention) MarshalJSON() ([]byte, error) {
	str := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	return json.Marshal(struct {
		Sessions     string `json:"sessions,omitempty"`
		AuditImages  string `json:"audit_images,omitempty"`
		Fingerprints string `json:"fingerprints,omitempty"`
	}{str(r.Sessions), str(r.AuditImages), str(r.Fingerprints)})
}

// UnmarshalJSON reads durations as Go duration strings.
func (r *Retention) UnmarshalJSON(data []byte) error {
	var raw struct {
		Sessions     string `json:"sessions"`
		AuditImages  string `json:"audit_images"`
		Fingerprints string `json:"fingerprints"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	for _, f := range []struct {
		in  string
		out *time.Duration
	}{{raw.Sessions, &r.Sessions}, {raw.AuditImages, &r.AuditImages}, {raw.Fingerprints, &r.Fingerprints}} {
		if f.in == "" {
			*f.out = 0
			continue
		}
		d, err := time.ParseDuration(f.in)
		if err != nil || d < 0 {
			return Errorf(ErrInvalid, "retention %q: a duration such as 720h", f.in)
		}
		*f.out = d
	}
	return nil
}

// Within checks r against the operator's bounds (sessions and images at
// most maxSessions and at least an hour; fingerprints at most
// maxFingerprints).
func (r Retention) Within(maxSessions, maxFingerprints time.Duration) error {
	for _, c := range []struct {
		name string
		d    time.Duration
	}{{"sessions", r.Sessions}, {"audit_images", r.AuditImages}} {
		if c.d != 0 && (c.d < time.Hour || c.d > maxSessions) {
			return Errorf(ErrInvalid, "retention.%s %s: between 1h and the server's %s", c.name, c.d, maxSessions)
		}
	}
	if r.Fingerprints > maxFingerprints {
		return Errorf(ErrInvalid, "retention.fingerprints %s: at most the server's %s", r.Fingerprints, maxFingerprints)
	}
	return nil
}

// Notice tells a person, before the camera opens, who is asking, what is
// checked, what is kept and for how long, in the languages the relying
// party provides.
type Notice struct {
	// Version is the relying party's label for this text; the consent
	// record names it.
	Version   string                `json:"version"`
	PolicyURL string                `json:"policy_url,omitempty"`
	Texts     map[string]NoticeText `json:"texts"` // by language tag: "en", "fr"
}

// NoticeText is a notice in one language.
type NoticeText struct {
	Controller string `json:"controller"` // who is asking
	Purpose    string `json:"purpose"`    // what is checked
	Kept       string `json:"kept"`       // what is kept, and for how long
}

// Validate checks a notice's sizes and link.
func (n *Notice) Validate() error {
	if n == nil {
		return nil
	}
	if n.Version == "" || len(n.Version) > 64 {
		return Errorf(ErrInvalid, "notice.version must be 1-64 characters")
	}
	if len(n.Texts) == 0 || len(n.Texts) > 20 {
		return Errorf(ErrInvalid, "notice.texts needs 1-20 languages")
	}
	for lang, t := range n.Texts {
		if lang == "" || len(lang) > 16 || t.Controller == "" || t.Purpose == "" || t.Kept == "" || len(t.Controller)+len(t.Purpose)+len(t.Kept) > 4000 {
			return Errorf(ErrInvalid, "notice.texts[%q] needs controller, purpose and kept, 4,000 characters at most", lang)
		}
	}
	if n.PolicyURL != "" && (len(n.PolicyURL) > 500 || !(strings.HasPrefix(n.PolicyURL, "https://") || strings.HasPrefix(n.PolicyURL, "http://"))) {
		return Errorf(ErrInvalid, "notice.policy_url must be an http(s) link of at most 500 characters")
	}
	return nil
}

// Consent is a person's answer to a notice.
type Consent struct {
	NoticeVersion string    `json:"notice_version"`
	Language      string    `json:"language,omitempty"`
	Agreed        bool      `json:"agreed"`
	At            time.Time `json:"at"`
}

// APIKey authenticates a relying party's backend. Only the SHA-256 of its
// secret is stored.
type APIKey struct {
	ID         string
	Name       string
	Policy     KeyPolicy
	SecretHash []byte
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// AuditRecord is one line of the append-only audit log: who asked, when,
// what was decided, with which models. It never holds images or templates.
type AuditRecord struct {
	ID            int64
	At            time.Time
	Action        string
	APIKeyID      string
	SessionID     string
	SubjectID     string
	CorrelationID string
	Decision      Decision
	Score         *float64
	// Detail is JSON: reasons, match, model versions.
	Detail []byte
	// Event, when set, is raised to the key's webhooks in the same
	// transaction as the record; it is not part of the log.
	Event *Event
}

// Audit actions.
const (
	AuditVerdict        = "verdict"
	AuditSessionDeleted = "session_deleted"
	AuditSessionCreated = "session_created"
)

// Completion is everything written when a session reaches its end, in one
// transaction: the verdict, the evidence frames and the audit record.
type Completion struct {
	SessionID   string
	Status      Status
	Verdict     *Verdict
	AuditImages []AuditImage
	Audit       AuditRecord
	At          time.Time
	// FromStatus is the status the session must still have; the write
	// fails with a conflict otherwise (two nodes finishing one session).
	FromStatus Status
	// Fingerprints of the judged frames that showed one face, whatever
	// the verdict, kept until FingerprintsExpire to catch the frames
	// replayed in a later session; they outlive the session.
	Fingerprints       []FrameHash
	FingerprintsExpire time.Time
	// ProbeTemplate is the sealed template of the judged face.
	ProbeTemplate []byte
}

// FrameHash identifies a frame: the SHA-256 of its decoded pixels
// (vision.PixelDigest) and its 256-bit perceptual hash.
type FrameHash struct {
	Seq        int
	SHA256     []byte
	Perceptual [4]uint64
}

// Erased reports what a deletion removed.
type Erased struct {
	Session           bool `json:"session"`
	AuditImages       int  `json:"audit_images"`
	ReferenceTemplate bool `json:"reference_template"`
	Templates         int  `json:"templates,omitempty"`
	Sessions          int  `json:"sessions,omitempty"`
	ProbeTemplates    int  `json:"probe_templates,omitempty"`
	// FrameFingerprints counts the replay fingerprints of the subject's
	// sessions (a session's own deletion keeps them: see SeenFrame).
	FrameFingerprints int `json:"frame_fingerprints,omitempty"`
}

// Sighting is a fingerprinted frame of an earlier session like one being
// judged.
type Sighting struct {
	SessionID string
	Seq       int
	// Perceptual is the earlier frame's perceptual hash.
	Perceptual [4]uint64
	// Exact: the same pixels, not only a picture within the distance.
	Exact bool
}

// SessionStore keeps sessions; every method is atomic, so any node can
// serve any step.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	Session(ctx context.Context, id string) (*Session, error)
	// SessionByTokenHash finds the session a client token belongs to.
	SessionByTokenHash(ctx context.Context, hash []byte) (*Session, error)
	// StartSession consumes the client token: it moves a created,
	// unexpired session with an unused token to in_progress.
	StartSession(ctx context.Context, id string, tokenHash []byte, now time.Time) error
	// CompleteSession writes a verdict, its audit images and audit record
	// together, if the session is still in c.FromStatus and unexpired
	// (for created sessions, the token is consumed in the same write).
	CompleteSession(ctx context.Context, c Completion) error
	AuditImages(ctx context.Context, sessionID string) ([]AuditImage, error)
	// DeleteSession erases a session and its images, and appends rec.
	DeleteSession(ctx context.Context, id string, rec AuditRecord) (Erased, error)
	// SeenFrame lists the unexpired fingerprints of earlier sessions with
	// the same pixels or a perceptual hash within maxDistance (at most 1)
	// bits, same pixels first. Fingerprints
	// outlive their sessions: deleting a session keeps them, erasing its
	// subject or their expiry removes them.
	SeenFrame(ctx context.Context, h FrameHash, maxDistance int, now time.Time) ([]Sighting, error)
	// RecordConsent stores a person's answer to a started session's notice
	// (a decline also ends the session, declined) and appends rec.
	RecordConsent(ctx context.Context, id string, c Consent, rec AuditRecord) error
	// ExpireSessions marks unfinished sessions past their expiry expired,
	// deletes sessions finished before purgeBefore and fingerprints
	// expired at now; it returns how many sessions of each.
	ExpireSessions(ctx context.Context, now, purgeBefore time.Time) (expired, purged int, err error)
}

// KeyStore keeps API keys.
type KeyStore interface {
	CreateAPIKey(ctx context.Context, k *APIKey) error
	APIKey(ctx context.Context, id string) (*APIKey, error)
	ListAPIKeys(ctx context.Context) ([]*APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	SetAPIKeyPolicy(ctx context.Context, id string, p KeyPolicy) error
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

// AuditLog is the append-only record of decisions.
type AuditLog interface {
	AppendAudit(ctx context.Context, r AuditRecord) error
	ListAudit(ctx context.Context, afterID int64, limit int) ([]AuditRecord, error)
}

// RateLimiter counts requests per key in fixed windows shared by every
// node.
type RateLimiter interface {
	// CountRequest adds one request of key to the window starting at
	// window and returns the window's count.
	CountRequest(ctx context.Context, key string, window time.Time) (int, error)
}

// Store is all persistent state; SQLite and PostgreSQL implement it.
type Store interface {
	SessionStore
	SubjectStore
	KeyStore
	AuditLog
	RateLimiter
	WebhookStore
	ModelSetStore
	ShadowStore
	Ping(ctx context.Context) error
	Close() error
}

// SessionFilter selects sessions for the operator's list; empty fields
// select all.
type SessionFilter struct {
	Status        Status
	Decision      Decision
	Reason        ReasonCode
	APIKeyID      string
	CorrelationID string
	From, To      time.Time // created at or after From, before To
	// After is the last session of the previous page (its creation time
	// and id): pages are read newest first.
	AfterCreated time.Time
	AfterID      string
	Limit        int
}
