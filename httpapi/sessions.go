package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"presence"
	"presence/session"
)

type keyContext struct{}

// withKey authenticates the relying party's API key and applies its rate
// limit before h runs.
func (s *Server) withKey(h func(http.ResponseWriter, *http.Request, *presence.APIKey)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, err := s.cfg.Sessions.AuthenticateAPIKey(r.Context(), bearer(r))
		if err != nil {
			writeError(w, r, s.cfg.Log, err)
			return
		}
		if s.cfg.RateLimit > 0 {
			now := s.cfg.Sessions.Now()
			window := now.Truncate(time.Minute)
			n, err := s.cfg.Store.CountRequest(r.Context(), "key:"+key.ID, window)
			if err != nil {
				writeError(w, r, s.cfg.Log, err)
				return
			}
			if n > s.cfg.RateLimit {
				retry := int(math.Ceil(window.Add(time.Minute).Sub(now).Seconds()))
				w.Header().Set("Retry-After", strconv.Itoa(max(1, retry)))
				writeError(w, r, s.cfg.Log, presence.Errorf(presence.ErrRateLimited, "rate limit of %d requests a minute reached; retry in %d s", s.cfg.RateLimit, retry))
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), keyContext{}, key)), key)
	}
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// maxTTLSeconds is far above any allowed TTL and far below an overflow.
const maxTTLSeconds = 1 << 30

// createRequest is the JSON body of POST /v1/sessions.
type createRequest struct {
	Mode           presence.Mode `json:"mode"`
	ReferenceImage string        `json:"reference_image"`
	SubjectID      string        `json:"subject_id"`
	AuditImages    int           `json:"audit_images"`
	TTLSeconds     int           `json:"ttl_seconds"`
	CorrelationID  string        `json:"correlation_id"`
	// Capture narrows the key's capture policy for this session.
	Capture *presence.CapturePolicy `json:"capture"`
	// LightChallenge asks for the light challenge (streams only).
	LightChallenge bool `json:"light_challenge"`
	// Enrolable keeps the live face's template for a later enrolment,
	// verification or identification.
	Enrolable bool `json:"enrolable"`
	// Notice replaces the key's notice, shown before the camera opens.
	Notice *presence.Notice `json:"notice"`
}

type createResponse struct {
	ID            string          `json:"id"`
	ClientToken   string          `json:"client_token"`
	Mode          presence.Mode   `json:"mode"`
	Status        presence.Status `json:"status"`
	ExpiresAt     time.Time       `json:"expires_at"`
	CorrelationID string          `json:"correlation_id,omitempty"`
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	var req createRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	var ref []byte
	if req.ReferenceImage != "" {
		var err error
		if ref, err = base64.StdEncoding.DecodeString(req.ReferenceImage); err != nil {
			writeError(w, r, s.cfg.Log, presence.Errorf(presence.ErrInvalid, "reference_image must be base64"))
			return
		}
	}
	// Clamped before the multiplication, which would overflow into a
	// short TTL; the service then refuses it as too long.
	ttl := time.Duration(min(max(req.TTLSeconds, -1), maxTTLSeconds)) * time.Second
	created, err := s.cfg.Sessions.Create(r.Context(), key, session.CreateRequest{
		Mode: req.Mode, ReferenceImage: ref, SubjectID: req.SubjectID, AuditImages: req.AuditImages,
		TTL: ttl, CorrelationID: req.CorrelationID, Capture: req.Capture, Light: req.LightChallenge, Enrolable: req.Enrolable, Notice: req.Notice,
	})
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	sess := created.Session
	w.Header().Set("Location", "/v1/sessions/"+sess.ID)
	writeJSON(w, http.StatusCreated, createResponse{
		ID: sess.ID, ClientToken: created.ClientToken, Mode: sess.Mode, Status: sess.Status,
		ExpiresAt: sess.ExpiresAt, CorrelationID: sess.CorrelationID,
	})
}

// decodeJSON reads a JSON body strictly: unknown fields and trailing data
// are errors that name the problem.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return presence.Errorf(presence.ErrUnsupportedMedia, "send application/json, not %s", mt)
		}
	}
	raw, err := io.ReadAll(r.Body) // bounded by the server's body limit
	if err != nil {
		return bodyError(err)
	}
	// JSON null decodes into a zero request without error: a body that
	// says nothing must not start anything.
	if string(bytes.TrimSpace(raw)) == "null" {
		return presence.Errorf(presence.ErrInvalid, "the body must be a JSON object, not null")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if dec.More() {
		return presence.Errorf(presence.ErrInvalid, "the body holds more than one JSON value")
	}
	return nil
}

// jsonKind names a Go type the way the API's documentation does, so an
// error never shows the server's type names.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a JSON object"
}

func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return presence.Errorf(presence.ErrPayloadTooLarge, "request body larger than %d bytes", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return presence.Errorf(presence.ErrInvalid, "empty body: a JSON object is needed")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return presence.Errorf(presence.ErrInvalid, "malformed JSON: the body ends too early")
	case errors.As(err, &syntax):
		return presence.Errorf(presence.ErrInvalid, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return presence.Errorf(presence.ErrInvalid, "the body must be a JSON object")
	case errors.As(err, &typeErr):
		return presence.Errorf(presence.ErrInvalid, "field %s must be %s", typeErr.Field, jsonKind(typeErr.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return presence.Errorf(presence.ErrInvalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return presence.WrapError(presence.ErrInvalid, err, "unreadable JSON body")
}

// sessionResponse is a session as the relying party reads it.
type sessionResponse struct {
	ID            string                  `json:"id"`
	Mode          presence.Mode           `json:"mode"`
	Status        presence.Status         `json:"status"`
	CorrelationID string                  `json:"correlation_id,omitempty"`
	CreatedAt     time.Time               `json:"created_at"`
	ExpiresAt     time.Time               `json:"expires_at"`
	CompletedAt   *time.Time              `json:"completed_at,omitempty"`
	Decision      presence.Decision       `json:"decision,omitempty"`
	Score         *float64                `json:"score,omitempty"`
	Reasons       []presence.Reason       `json:"reasons"`
	SubjectID     string                  `json:"subject_id,omitempty"`
	Match         *presence.Match         `json:"match,omitempty"`
	Frames        []presence.FrameResult  `json:"frames,omitempty"`
	AuditImages   []auditImage            `json:"audit_images,omitempty"`
	Models        []presence.ModelVersion `json:"models,omitempty"`
	// ModelSet names the model set that judged every frame.
	ModelSet  string                  `json:"model_set,omitempty"`
	Timings   *presence.Timings       `json:"timings,omitempty"`
	Challenge json.RawMessage         `json:"challenge,omitempty"`
	Capture   *presence.CaptureReport `json:"capture,omitempty"`
	// Consent is the person's answer to the notice, when one was shown.
	Consent *presence.Consent `json:"consent,omitempty"`
}

type auditImage struct {
	Index       int    `json:"index"`
	ContentType string `json:"content_type"`
	Data        string `json:"data"`
}

func toResponse(v *session.View) sessionResponse {
	out := sessionResponse{
		ID: v.ID, Mode: v.Mode, Status: v.Status, CorrelationID: v.CorrelationID, SubjectID: v.SubjectID,
		CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt, CompletedAt: v.CompletedAt, Reasons: []presence.Reason{},
		Consent: v.Session.Consent,
	}
	if vd := v.Verdict; vd != nil {
		out.Decision, out.Score, out.Reasons, out.Match = vd.Decision, vd.Score, vd.Reasons, vd.Match
		out.Frames, out.Models, out.ModelSet, out.Timings = vd.Frames, vd.Models, vd.ModelSet, &vd.Timings
		if len(vd.Challenge) > 0 {
			out.Challenge = vd.Challenge
		}
		out.Capture = vd.Capture
	}
	for _, img := range v.AuditImages {
		out.AuditImages = append(out.AuditImages, auditImage{Index: img.Index, ContentType: img.ContentType, Data: base64.StdEncoding.EncodeToString(img.Data)})
	}
	return out
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, _ *presence.APIKey) {
	v, err := s.cfg.Sessions.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, toResponse(v))
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	id := r.PathValue("id")
	erased, err := s.cfg.Sessions.Delete(r.Context(), key, id)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "deleted": true, "erased": erased})
}

// framesResponse is all the device learns: the session ended, and when
// the frames were too poor to judge, what to do better. Never the decision
// or the score: the device must not become an oracle for attacks.
type framesResponse struct {
	ID       string            `json:"id"`
	Status   presence.Status   `json:"status"`
	Guidance []presence.Reason `json:"guidance"`
}

func (s *Server) submitFrames(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	token := bearer(r)
	// Credentials are checked before the body is read.
	if _, err := s.cfg.Sessions.SessionForToken(r.Context(), id, token); err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	// A deep queue is answered before the body is read: the token stays
	// valid and the device retries, rather than frames piling up in memory.
	if s.cfg.Overloaded != nil && s.cfg.Overloaded() {
		w.Header().Set("Retry-After", "2")
		writeError(w, r, s.cfg.Log, presence.Errorf(presence.ErrUnavailable, "the server is busy; retry in 2 s"))
		return
	}
	frames, err := s.readFrames(r)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	sess, err := s.cfg.Sessions.SubmitFrames(r.Context(), id, token, frames)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	resp := framesResponse{ID: sess.ID, Status: sess.Status, Guidance: []presence.Reason{}}
	if sess.Verdict != nil && sess.Verdict.Decision == presence.DecisionInconclusive {
		resp.Guidance = sess.Verdict.Reasons
	}
	writeJSON(w, http.StatusOK, resp)
}

// maxFramesRead reads one frame past the limit so the service can say how
// many were sent.
const maxFramesRead = 16

// readFrames accepts one raw image body (image/jpeg, image/png,
// image/webp) or a multipart form whose file parts are frames.
// uploadError names what is wrong with an upload's body in the upload's
// own terms (it is no JSON).
func uploadError(err error) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return presence.Errorf(presence.ErrPayloadTooLarge, "request body larger than %d bytes", tooBig.Limit)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return presence.Errorf(presence.ErrInvalid, "the upload ends too early: the multipart body is cut off")
	}
	return presence.WrapError(presence.ErrInvalid, err, "malformed multipart body: put each frame in a part named frame")
}

func (s *Server) readFrames(r *http.Request) ([]session.Frame, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, presence.Errorf(presence.ErrUnsupportedMedia, "send image/jpeg, image/png, image/webp or multipart/form-data")
	}
	switch {
	case strings.HasPrefix(mt, "image/"):
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, uploadError(err)
		}
		return []session.Frame{{Data: data}}, nil
	case mt == "multipart/form-data":
		mr := multipart.NewReader(r.Body, params["boundary"])
		var frames []session.Frame
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return frames, nil
			}
			if err != nil {
				return nil, uploadError(err)
			}
			if part.FormName() != "frame" {
				part.Close()
				continue
			}
			if len(frames) == maxFramesRead {
				return nil, presence.Errorf(presence.ErrTooManyFrames, "too many frames in one request")
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return nil, uploadError(err)
			}
			frames = append(frames, session.Frame{Data: data})
		}
	}
	return nil, presence.Errorf(presence.ErrUnsupportedMedia, "send image/jpeg, image/png, image/webp or multipart/form-data, not %s", mt)
}

// keyResponse is the calling API key as its relying party reads it: what
// its sessions may do and how long their data is kept.
type keyResponse struct {
	ID        string             `json:"id"`
	Name      string             `json:"name"`
	CreatedAt time.Time          `json:"created_at"`
	Policy    presence.KeyPolicy `json:"policy"`
}

// getKey answers GET /v1/key with the caller's own key and its policy.
func (s *Server) getKey(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	writeJSON(w, http.StatusOK, keyResponse{ID: key.ID, Name: key.Name, CreatedAt: key.CreatedAt, Policy: key.Policy})
}
