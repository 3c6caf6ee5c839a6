package presence

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhook event types: what a relying party can subscribe an endpoint to.
const (
	EventSessionSucceeded = "session.succeeded" // a verdict was reached
	EventSessionFailed    = "session.failed"    // ended without a verdict
	EventSessionExpired   = "session.expired"   // never finished in time
	EventSessionDeclined  = "session.declined"  // the person declined the notice
	EventSubjectEnrolled  = "subject.enrolled"
	EventSubjectErased    = "subject.erased"
)

// EventTypes lists every event type, in the order the docs give them.
var EventTypes = []string{EventSessionSucceeded, EventSessionFailed, EventSessionExpired, EventSessionDeclined, EventSubjectEnrolled, EventSubjectErased}

// Event is a change a relying party's webhooks hear about. It is written
// to the outbox in the same transaction as the change (with the change's
// audit record), so a committed change always gets its deliveries. Data
// never holds a face image or template.
type Event struct {
	Type string
	Data json.RawMessage
}

// SessionEventData is what a session event says: the verdict's outcome,
// not its frames, images or templates.
type SessionEventData struct {
	SessionID     string     `json:"session_id"`
	Mode          Mode       `json:"mode"`
	Status        Status     `json:"status"`
	CorrelationID string     `json:"correlation_id"`
	SubjectID     string     `json:"subject_id,omitempty"`
	Decision      Decision   `json:"decision,omitempty"`
	Score         *float64   `json:"score,omitempty"`
	Reasons       []Reason   `json:"reasons"`
	Match         *Match     `json:"match,omitempty"`
	CompletedAt   *time.Time `json:"completed_at,omitempty"`
}

// SessionEvent is the event of a session reaching status at time at
// (v is nil when there is no verdict).
func SessionEvent(sess *Session, status Status, v *Verdict, at time.Time) *Event {
	d := SessionEventData{SessionID: sess.ID, Mode: sess.Mode, Status: status, CorrelationID: sess.CorrelationID, SubjectID: sess.SubjectID, Reasons: []Reason{}}
	if v != nil {
		d.Decision, d.Score, d.Match = v.Decision, v.Score, v.Match
		if v.Reasons != nil {
			d.Reasons = v.Reasons
		}
	}
	at = at.UTC()
	d.CompletedAt = &at
	typ := EventSessionSucceeded
	switch status {
	case StatusFailed:
		typ = EventSessionFailed
	case StatusExpired:
		typ = EventSessionExpired
	case StatusDeclined:
		typ = EventSessionDeclined
	}
	raw, _ := json.Marshal(d)
	return &Event{Type: typ, Data: raw}
}

// SubjectEvent is the event of a subject enrolled (from sessionID) or
// erased.
func SubjectEvent(typ, subjectID, sessionID string) *Event {
	raw, _ := json.Marshal(struct {
		SubjectID string `json:"subject_id"`
		SessionID string `json:"session_id,omitempty"`
	}{subjectID, sessionID})
	return &Event{Type: typ, Data: raw}
}

// WebhookEndpoint is where a relying party's key wants its events sent.
type WebhookEndpoint struct {
	ID       string
	APIKeyID string
	URL      string
	// Events the endpoint hears; empty means every type.
	Events []string
	// Secret signs deliveries (sealed at rest); PreviousSecret also signs
	// them until PreviousUntil, so a receiver can switch without losing
	// a delivery.
	Secret         []byte
	PreviousSecret []byte
	PreviousUntil  time.Time
	CreatedAt      time.Time
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID            int64
	EventID       string
	EndpointID    string
	APIKeyID      string
	EventType     string
	Payload       []byte
	CreatedAt     time.Time
	State         string
	Attempts      int
	NextAttemptAt time.Time
	GiveUpAt      time.Time
	LastStatus    int
	LastError     string
	FinishedAt    *time.Time
}

// DeliveryOutcome is what one attempt to send a claimed delivery ended
// with: State is delivered, failed (given up) or pending again at
// NextAttemptAt.
type DeliveryOutcome struct {
	State         string
	NextAttemptAt time.Time
	LastStatus    int
	LastError     string
	At            time.Time
}

// ClaimedDelivery is a delivery a node holds the lease of, with where it
// goes and the sealed secrets that sign it.
type ClaimedDelivery struct {
	Delivery
	URL            string
	Secret         []byte
	PreviousSecret []byte
	PreviousUntil  time.Time
}

// WebhookStore keeps endpoints and the outbox of deliveries.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, e *WebhookEndpoint) error
	Webhook(ctx context.Context, id string) (*WebhookEndpoint, error)
	ListWebhooks(ctx context.Context, apiKeyID string) ([]*WebhookEndpoint, error)
	// RotateWebhookSecret makes secret current and keeps the old one
	// signing until previousUntil.
	RotateWebhookSecret(ctx context.Context, id string, secret []byte, previousUntil time.Time) error
	// DeleteWebhook removes an endpoint and its pending deliveries.
	DeleteWebhook(ctx context.Context, id string) error
	// Deliveries lists an endpoint's deliveries newest first, in state
	// when given, with ids below beforeID when it is positive.
	Deliveries(ctx context.Context, endpointID, state string, beforeID int64, limit int) ([]Delivery, error)
	// DeliveryCounts counts an endpoint's deliveries by state.
	DeliveryCounts(ctx context.Context, endpointID string) (map[string]int, error)
	// RetryDelivery makes a failed delivery pending again, due at now,
	// giving up at giveUpAt.
	RetryDelivery(ctx context.Context, endpointID string, id int64, now, giveUpAt time.Time) error
	// ClaimDeliveries leases up to limit due deliveries to owner until
	// leaseUntil; a delivery leased by another node is not due.
	ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]ClaimedDelivery, error)
	// FinishAttempt records an attempt's outcome if owner still holds
	// the lease.
	FinishAttempt(ctx context.Context, id int64, owner string, o DeliveryOutcome) error
	// PurgeDeliveries deletes deliveries finished before before.
	PurgeDeliveries(ctx context.Context, before time.Time) (int, error)
}

// ValidateWebhook checks an endpoint's URL and events as a relying party
// gave them.
func ValidateWebhook(rawURL string, events []string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(rawURL) > 500 || u.User != nil {
		return Errorf(ErrInvalid, "url must be an http(s) address of at most 500 characters, without credentials")
	}
	for _, e := range events {
		if !slices.Contains(EventTypes, e) {
			return Errorf(ErrInvalid, "unknown event %q: one of %s", e, strings.Join(EventTypes, ", "))
		}
	}
	return nil
}
