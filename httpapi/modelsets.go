package httpapi

import (
	"context"
	"io"
	"net/http"
	"time"

	"presence"
	"presence/modelset"
)

// ModelSets is what the API asks of the model sets.
type ModelSets interface {
	Status() modelset.Status
	History(ctx context.Context) ([]presence.ModelSetChange, error)
	// Reload installs a manifest (JSON; empty: the configured one again).
	Reload(ctx context.Context, manifest []byte, by string) (*modelset.Change, error)
	Rollback(ctx context.Context, by string) (*modelset.Change, error)
}

func (s *Server) routeModelSets() {
	s.route("/v1/operator/models", map[string]http.HandlerFunc{http.MethodGet: s.withOperator(s.modelSets)})
	s.route("/v1/operator/models/reload", map[string]http.HandlerFunc{http.MethodPost: s.withOperator(s.reloadModels)})
	s.route("/v1/operator/models/rollback", map[string]http.HandlerFunc{http.MethodPost: s.withOperator(s.rollbackModels)})
}

type modelSetChange struct {
	Seq      int64     `json:"seq"`
	SetID    string    `json:"set_id"`
	Previous string    `json:"previous_id,omitempty"`
	Action   string    `json:"action"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

func (s *Server) modelSets(w http.ResponseWriter, r *http.Request) {
	hist, err := s.cfg.ModelSets.History(r.Context())
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	out := []modelSetChange{}
	for _, h := range hist {
		out = append(out, modelSetChange{Seq: h.Seq, SetID: h.SetID, Previous: h.PreviousID, Action: h.Action, By: h.By, At: h.At})
	}
	writeJSON(w, http.StatusOK, map[string]any{"node": s.cfg.ModelSets.Status(), "history": out})
}

// operatorName is who the audit log says made a change: the operator
// credential is one shared secret, so the caller may add a name.
func operatorName(r *http.Request) string {
	if by := r.Header.Get("X-Operator"); by != "" && len(by) <= 100 {
		return "operator " + by
	}
	return "operator"
}

func (s *Server) reloadModels(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeError(w, r, s.cfg.Log, presence.Errorf(presence.ErrInvalid, "the manifest is over 1 MiB or unreadable"))
		return
	}
	ch, err := s.cfg.ModelSets.Reload(r.Context(), body, operatorName(r))
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, ch)
}

func (s *Server) rollbackModels(w http.ResponseWriter, r *http.Request) {
	ch, err := s.cfg.ModelSets.Rollback(r.Context(), operatorName(r))
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, ch)
}
