package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook is an endpoint registered for the key; Secret is set only in
// the answers of CreateWebhook and RotateWebhookSecret, the only times
// it is shown.
type Webhook struct {
	ID                  string         `json:"id"`
	URL                 string         `json:"url"`
	Events              []string       `json:"events"`
	CreatedAt           time.Time      `json:"created_at"`
	Secret              string         `json:"secret,omitempty"`
	Deliveries          map[string]int `json:"deliveries,omitempty"`
	PreviousSecretUntil *time.Time     `json:"previous_secret_until,omitempty"`
}

// Delivery is one event's journey to an endpoint.
type Delivery struct {
	ID            int64           `json:"id"`
	EventID       string          `json:"event_id"`
	EventType     string          `json:"event_type"`
	State         string          `json:"state"` // pending, delivered, failed
	Attempts      int             `json:"attempts"`
	LastStatus    int             `json:"last_status,omitempty"`
	LastError     string          `json:"last_error,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	NextAttemptAt *time.Time      `json:"next_attempt_at,omitempty"`
	FinishedAt    *time.Time      `json:"finished_at,omitempty"`
	Payload       json.RawMessage `json:"payload"`
}

// CreateWebhook registers url for events (none: every event); keep the
// answer's Secret to verify deliveries.
func (c *Client) CreateWebhook(ctx context.Context, url string, events ...string) (*Webhook, error) {
	var out Webhook
	err := c.json(ctx, http.MethodPost, "/v1/webhooks", map[string]any{"url": url, "events": events}, &out)
	return &out, err
}

// Webhooks lists the key's endpoints.
func (c *Client) Webhooks(ctx context.Context) ([]Webhook, error) {
	var out struct {
		Webhooks []Webhook `json:"webhooks"`
	}
	err := c.json(ctx, http.MethodGet, "/v1/webhooks", nil, &out)
	return out.Webhooks, err
}

// Webhook returns one endpoint with its counts of deliveries by state.
func (c *Client) Webhook(ctx context.Context, id string) (*Webhook, error) {
	var out Webhook
	err := c.json(ctx, http.MethodGet, "/v1/webhooks/"+esc(id), nil, &out)
	return &out, err
}

// DeleteWebhook removes an endpoint; its pending deliveries go with it.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.json(ctx, http.MethodDelete, "/v1/webhooks/"+esc(id), nil, nil)
}

// RotateWebhookSecret gives an endpoint a new secret (in the answer); the
// old one keeps signing beside it until PreviousSecretUntil.
func (c *Client) RotateWebhookSecret(ctx context.Context, id string) (*Webhook, error) {
	var out Webhook
	err := c.json(ctx, http.MethodPost, "/v1/webhooks/"+esc(id)+"/rotate", nil, &out)
	return &out, err
}

// WebhookDeliveries lists an endpoint's deliveries newest first, in state
// ("" for all).
func (c *Client) WebhookDeliveries(ctx context.Context, id, state string) ([]Delivery, error) {
	var out struct {
		Deliveries []Delivery `json:"deliveries"`
	}
	err := c.json(ctx, http.MethodGet, "/v1/webhooks/"+esc(id)+"/deliveries?state="+url.QueryEscape(state), nil, &out)
	return out.Deliveries, err
}

// RetryDelivery sends a failed delivery again.
func (c *Client) RetryDelivery(ctx context.Context, webhookID string, deliveryID int64) error {
	return c.json(ctx, http.MethodPost, "/v1/webhooks/"+esc(webhookID)+"/deliveries/"+strconv.FormatInt(deliveryID, 10)+"/retry", nil, nil)
}

// Event is a webhook delivery's body.
type Event struct {
	ID        string          `json:"id"` // the same on every retry: deduplicate on it
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// SessionEvent is the Data of session.* events.
type SessionEvent struct {
	SessionID     string     `json:"session_id"`
	Mode          string     `json:"mode"`
	Status        string     `json:"status"`
	CorrelationID string     `json:"correlation_id"`
	SubjectID     string     `json:"subject_id"`
	Decision      string     `json:"decision"`
	Score         *float64   `json:"score"`
	Reasons       []Reason   `json:"reasons"`
	Match         *Match     `json:"match"`
	CompletedAt   *time.Time `json:"completed_at"`
}

// SubjectEvent is the Data of subject.* events.
type SubjectEvent struct {
	SubjectID string `json:"subject_id"`
	SessionID string `json:"session_id"`
}

// Errors of VerifyWebhook.
var (
	ErrBadSignature = errors.New("presence webhook: no signature matches")
	ErrStale        = errors.New("presence webhook: timestamp outside the tolerance")
)

// DefaultTolerance is how far a delivery's timestamp may be from the
// receiver's clock: wider lets a captured delivery be replayed longer,
// narrower refuses honest ones from a skewed clock.
const DefaultTolerance = 5 * time.Minute

// VerifyWebhook checks the Presence-Signature header of a delivery against
// secret, and that its timestamp is within tolerance of now. It returns
// ErrBadSignature, ErrStale, or an error about a malformed header.
func VerifyWebhook(body []byte, header, secret string, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("presence webhook: malformed signature header %q", header)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	ok := false
	for _, sig := range sigs {
		ok = hmac.Equal(sig, want) || ok
	}
	if !ok {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}

// maxEvent bounds the body ParseWebhook reads.
const maxEvent = 1 << 20

// ParseWebhook reads and verifies a delivery from the receiving handler's
// request, and decodes it. A receiver should answer 2xx quickly (work
// later), and treat an event id it has seen as done: deliveries are at
// least once.
func ParseWebhook(r *http.Request, secret string) (*Event, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxEvent+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxEvent {
		return nil, errors.New("presence webhook: body over 1 MiB")
	}
	if err := VerifyWebhook(body, r.Header.Get("Presence-Signature"), secret, time.Now(), DefaultTolerance); err != nil {
		return nil, err
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("presence webhook: %w", err)
	}
	return &e, nil
}
