package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"presence"
)

type subjectResponse struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Templates int       `json:"templates"`
}

func toSubject(s *presence.Subject) subjectResponse {
	return subjectResponse{ID: s.ID, CreatedAt: s.CreatedAt, Templates: s.Templates}
}

func (s *Server) createSubject(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	var req struct {
		ID string `json:"id"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	sub, err := s.cfg.Subjects.Create(r.Context(), key, req.ID)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	w.Header().Set("Location", "/v1/subjects/"+sub.ID)
	writeJSON(w, http.StatusCreated, toSubject(sub))
}

func (s *Server) listSubjects(w http.ResponseWriter, r *http.Request, _ *presence.APIKey) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, r, s.cfg.Log, presence.Errorf(presence.ErrInvalid, "limit must be 1-1000"))
			return
		}
		limit = n
	}
	subs, err := s.cfg.Subjects.List(r.Context(), r.URL.Query().Get("after"), limit)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	out := struct {
		Subjects []subjectResponse `json:"subjects"`
		Next     string            `json:"next,omitempty"`
	}{Subjects: []subjectResponse{}}
	for _, sub := range subs {
		out.Subjects = append(out.Subjects, toSubject(sub))
	}
	if len(subs) == limit {
		out.Next = subs[len(subs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getSubject(w http.ResponseWriter, r *http.Request, _ *presence.APIKey) {
	sub, err := s.cfg.Subjects.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, toSubject(sub))
}

// exportSubject answers a person's request for everything held about
// them (GET /v1/subjects/{id}/export), as one JSON document.
func (s *Server) exportSubject(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	export, err := s.cfg.Subjects.Export(r.Context(), key, r.PathValue("id"))
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="subject-export.json"`)
	writeJSON(w, http.StatusOK, export)
}

func (s *Server) deleteSubject(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	id := r.PathValue("id")
	erased, err := s.cfg.Subjects.Delete(r.Context(), key, id)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "deleted": true, "erased": erased})
}

// sessionRef is the body of enrol and verify: the session to use.
type sessionRef struct {
	SessionID string `json:"session_id"`
}

// identifyRequest adds how many candidates to return (1-50, default 5).
type identifyRequest struct {
	SessionID string `json:"session_id"`
	TopK      *int   `json:"top_k"`
}

func (s *Server) readSessionRef(r *http.Request) (sessionRef, error) {
	var req sessionRef
	if err := decodeJSON(r, &req); err != nil {
		return req, err
	}
	if req.SessionID == "" {
		return req, presence.Errorf(presence.ErrInvalid, "session_id is required")
	}
	return req, nil
}

func (s *Server) readIdentify(r *http.Request) (string, int, error) {
	var req identifyRequest
	if err := decodeJSON(r, &req); err != nil {
		return "", 0, err
	}
	if req.SessionID == "" {
		return "", 0, presence.Errorf(presence.ErrInvalid, "session_id is required")
	}
	topK := 5
	if req.TopK != nil {
		if *req.TopK < 1 || *req.TopK > 50 {
			return "", 0, presence.Errorf(presence.ErrInvalid, "top_k must be between 1 and 50")
		}
		topK = *req.TopK
	}
	return req.SessionID, topK, nil
}

func (s *Server) enrol(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	req, err := s.readSessionRef(r)
	if err == nil {
		var e any
		if e, err = s.cfg.Subjects.Enrol(r.Context(), key, r.PathValue("id"), req.SessionID); err == nil {
			writeJSON(w, http.StatusCreated, e)
			return
		}
	}
	writeError(w, r, s.cfg.Log, err)
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	req, err := s.readSessionRef(r)
	if err == nil {
		var v any
		if v, err = s.cfg.Subjects.Verify(r.Context(), key, r.PathValue("id"), req.SessionID); err == nil {
			writeJSON(w, http.StatusOK, v)
			return
		}
	}
	writeError(w, r, s.cfg.Log, err)
}

func (s *Server) identify(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	sessionID, topK, err := s.readIdentify(r)
	if err == nil {
		var v any
		if v, err = s.cfg.Subjects.Identify(r.Context(), key, sessionID, topK); err == nil {
			writeJSON(w, http.StatusOK, v)
			return
		}
	}
	writeError(w, r, s.cfg.Log, err)
}
