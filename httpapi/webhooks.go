package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"presence"
	"presence/webhooks"
)

// Webhooks is what the API asks of the webhook service.
type Webhooks interface {
	Create(ctx context.Context, key *presence.APIKey, url string, events []string) (*webhooks.Endpoint, error)
	List(ctx context.Context, key *presence.APIKey) ([]*webhooks.Endpoint, error)
	Get(ctx context.Context, key *presence.APIKey, id string) (*webhooks.Endpoint, error)
	Delete(ctx context.Context, key *presence.APIKey, id string) error
	Rotate(ctx context.Context, key *presence.APIKey, id string) (*webhooks.Endpoint, error)
	Deliveries(ctx context.Context, key *presence.APIKey, id, state string, beforeID int64, limit int) ([]presence.Delivery, error)
	Retry(ctx context.Context, key *presence.APIKey, id string, deliveryID int64) error
}

var _ Webhooks = (*webhooks.Service)(nil)

func (s *Server) routeWebhooks() {
	s.route("/v1/webhooks", map[string]http.HandlerFunc{
		http.MethodPost: s.withKey(s.createWebhook),
		http.MethodGet:  s.withKey(s.listWebhooks),
	})
	s.route("/v1/webhooks/{id}", map[string]http.HandlerFunc{
		http.MethodGet:    s.withKey(s.getWebhook),
		http.MethodDelete: s.withKey(s.deleteWebhook),
	})
	s.route("/v1/webhooks/{id}/rotate", map[string]http.HandlerFunc{http.MethodPost: s.withKey(s.rotateWebhook)})
	s.route("/v1/webhooks/{id}/deliveries", map[string]http.HandlerFunc{http.MethodGet: s.withKey(s.webhookDeliveries)})
	s.route("/v1/webhooks/{id}/deliveries/{delivery}/retry", map[string]http.HandlerFunc{http.MethodPost: s.withKey(s.retryDelivery)})
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	var req struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	e, err := s.cfg.Webhooks.Create(r.Context(), key, req.URL, req.Events)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	w.Header().Set("Location", "/v1/webhooks/"+e.ID)
	writeJSON(w, http.StatusCreated, e)
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	all, err := s.cfg.Webhooks.List(r.Context(), key)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": all})
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	e, err := s.cfg.Webhooks.Get(r.Context(), key, r.PathValue("id"))
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	id := r.PathValue("id")
	if err := s.cfg.Webhooks.Delete(r.Context(), key, id); err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "deleted": true})
}

func (s *Server) rotateWebhook(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	e, err := s.cfg.Webhooks.Rotate(r.Context(), key, r.PathValue("id"))
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// deliveryResponse is a delivery as the API shows it.
type deliveryResponse struct {
	ID            int64           `json:"id"`
	EventID       string          `json:"event_id"`
	EventType     string          `json:"event_type"`
	State         string          `json:"state"`
	Attempts      int             `json:"attempts"`
	LastStatus    int             `json:"last_status,omitempty"`
	LastError     string          `json:"last_error,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	NextAttemptAt *time.Time      `json:"next_attempt_at,omitempty"`
	FinishedAt    *time.Time      `json:"finished_at,omitempty"`
	Payload       json.RawMessage `json:"payload"`
}

func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	q := r.URL.Query()
	limit, before, err := 100, int64(0), error(nil)
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 500 {
			writeError(w, r, s.cfg.Log, presence.Errorf(presence.ErrInvalid, "limit must be 1-500"))
			return
		}
	}
	if v := q.Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			writeError(w, r, s.cfg.Log, presence.Errorf(presence.ErrInvalid, "before must be a delivery id"))
			return
		}
	}
	list, err := s.cfg.Webhooks.Deliveries(r.Context(), key, r.PathValue("id"), q.Get("state"), before, limit)
	if err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	out := struct {
		Deliveries []deliveryResponse `json:"deliveries"`
		Next       string             `json:"next,omitempty"`
	}{Deliveries: []deliveryResponse{}}
	for _, d := range list {
		dr := deliveryResponse{ID: d.ID, EventID: d.EventID, EventType: d.EventType, State: d.State, Attempts: d.Attempts, LastStatus: d.LastStatus,
			LastError: d.LastError, CreatedAt: d.CreatedAt, FinishedAt: d.FinishedAt, Payload: d.Payload}
		if d.State == presence.DeliveryPending {
			next := d.NextAttemptAt
			dr.NextAttemptAt = &next
		}
		out.Deliveries = append(out.Deliveries, dr)
	}
	if len(list) == limit {
		out.Next = strconv.FormatInt(list[len(list)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request, key *presence.APIKey) {
	id, err := strconv.ParseInt(r.PathValue("delivery"), 10, 64)
	if err != nil {
		writeError(w, r, s.cfg.Log, presence.Errorf(presence.ErrNotFound, "delivery not found"))
		return
	}
	if err := s.cfg.Webhooks.Retry(r.Context(), key, r.PathValue("id"), id); err != nil {
		writeError(w, r, s.cfg.Log, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "state": presence.DeliveryPending})
}
