package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"presence"
	"presence/session"
)

// Operator is what the operator's API reads: sessions across every API
// key, and the audit log. It is the operator's view, behind the operator
// credential, never a relying party's.
type Operator interface {
	ListSessions(ctx context.Context, f presence.SessionFilter) ([]*presence.Session, error)
	SessionAudit(ctx context.Context, sessionID string) ([]presence.AuditRecord, error)
	AuditBetween(ctx context.Context, from, to time.Time, afterID int64, limit int) ([]presence.AuditRecord, error)
}

// withOperator admits requests bearing the operator credential.
func (s *Server) withOperator(h http.HandlerFunc) http.HandlerFunc {
	want := sha256.Sum256([]byte(s.cfg.OperatorToken))
	return func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(bearer(r)))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			writeError(w, r, s.cfg.Log, presence.Errorf(presence.ErrUnauthorized, "the operator API needs the operator credential (not an API key)"))
			return
		}
		h(w, r)
	}
}

type operatorSession struct {
	sessionResponse
	APIKeyID string `json:"api_key_id"`
}

// sessionResponseOf is a listed session, without its images.
func sessionResponseOf(sess *presence.Session) sessionResponse {
	return toResponse(&session.View{Session: sess, Status: sess.Status})
}

type sessionList struct {
	Sessions   []operatorSession `json:"sessions"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// cursor is the last session of a page: its creation time and id.
func encodeCursor(created time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created.UnixMilli(), 10) + ":" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	ms, id, ok := strings.Cut(string(raw), ":")
	n, err2 := strconv.ParseInt(ms, 10, 64)
	if err != nil || !ok || err2 != nil || id == "" {
		return time.Time{}, "", presence.Errorf(presence.ErrInvalid, "cursor: not one this API gave")
	}
	return time.UnixMilli(n).UTC(), id, nil
}

func parseTime(q, name string) (time.Time, error) {
	if q == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, q)
	if err != nil {
		return t, presence.Errorf(presence.ErrInvalid, "%s: an RFC 3339 time such as 2026-12-01T00:00:00Z", name)
	}
	return t, nil
}

// listSessions: GET /v1/operator/sessions?status=&decision=&reason=&key=
// &correlation_id=&from=&to=&limit=&cursor=, newest first.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := presence.SessionFilter{Status: presence.Status(q.Get("status")), Decision: presence.Decision(q.Get("decision")),
		Reason: presence.ReasonCode(q.Get("reason")), APIKeyID: q.Get("key"), CorrelationID: q.Get("correlation_id"), Limit: 50}
	var err error
	if f.From, err = parseTime(q.Get("from"), "from"); err == nil {
		f.To, err = parseTime(q.Get("to"), "to")
	}
	if err == nil && q.Get("limit") != "" {
		if f.Limit, err = strconv.Atoi(q.Get("limit")); err != nil || f.Limit < 1 || f.Limit > 500 {
			err = presence.Errorf(presence.ErrInvalid, "limit: 1-500")
		}
	}
	if err == nil && q.Get("cursor") != "" {
		f.AfterCreated, f.AfterID, err = decodeCursor(q.Get("cursor"))
	}
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	list, err := s.cfg.Operator.ListSessions(r.Context(), f)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	out := sessionList{Sessions: []operatorSession{}}
	for _, sess := range list {
		v := sessionResponseOf(sess)
		out.Sessions = append(out.Sessions, operatorSession{sessionResponse: v, APIKeyID: sess.APIKeyID})
	}
	if len(list) == f.Limit {
		last := list[len(list)-1]
		out.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	writeJSON(w, http.StatusOK, out)
}

// operatorSession: GET /v1/operator/sessions/{id}, the session with its
// audit images (where they were kept) and its audit trail.
func (s *Server) operatorSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, err := s.cfg.Sessions.Get(r.Context(), id)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	trail, err := s.cfg.Operator.SessionAudit(r.Context(), id)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		operatorSession
		Audit []auditEntry `json:"audit"`
	}{operatorSession{toResponse(v), v.APIKeyID}, auditEntries(trail)})
}

type auditEntry struct {
	ID            int64             `json:"id"`
	At            time.Time         `json:"at"`
	Action        string            `json:"action"`
	APIKeyID      string            `json:"api_key_id,omitempty"`
	SessionID     string            `json:"session_id,omitempty"`
	SubjectID     string            `json:"subject_id,omitempty"`
	CorrelationID string            `json:"correlation_id,omitempty"`
	Decision      presence.Decision `json:"decision,omitempty"`
	Score         *float64          `json:"score,omitempty"`
	Detail        rawJSON           `json:"detail,omitempty"`
}

// rawJSON passes stored JSON through (an empty detail as nothing).
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

func auditEntries(recs []presence.AuditRecord) []auditEntry {
	out := []auditEntry{}
	for _, a := range recs {
		out = append(out, auditEntry{ID: a.ID, At: a.At, Action: a.Action, APIKeyID: a.APIKeyID, SessionID: a.SessionID, SubjectID: a.SubjectID,
			CorrelationID: a.CorrelationID, Decision: a.Decision, Score: a.Score, Detail: rawJSON(a.Detail)})
	}
	return out
}

// operatorAudit: GET /v1/operator/audit?from=&to=&after=&limit=, oldest
// first; next_after continues.
func (s *Server) operatorAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err := parseTime(q.Get("from"), "from")
	to := time.Now().Add(time.Hour)
	if err == nil && q.Get("to") != "" {
		to, err = parseTime(q.Get("to"), "to")
	}
	var after int64
	limit := 200
	if err == nil && q.Get("after") != "" {
		if after, err = strconv.ParseInt(q.Get("after"), 10, 64); err != nil {
			err = presence.Errorf(presence.ErrInvalid, "after: an audit record id")
		}
	}
	if err == nil && q.Get("limit") != "" {
		if limit, err = strconv.Atoi(q.Get("limit")); err != nil || limit < 1 || limit > 1000 {
			err = presence.Errorf(presence.ErrInvalid, "limit: 1-1000")
		}
	}
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	recs, err := s.cfg.Operator.AuditBetween(r.Context(), from, to, after, limit)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	out := struct {
		Records   []auditEntry `json:"records"`
		NextAfter int64        `json:"next_after,omitempty"`
	}{Records: auditEntries(recs)}
	if len(recs) == limit {
		out.NextAfter = recs[len(recs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}
