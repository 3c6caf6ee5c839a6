package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"presence"
)

const endpointColumns = `id, api_key_id, url, events, secret, previous_secret, previous_until, created_at`

func scanEndpoint(row scanner) (*presence.WebhookEndpoint, error) {
	var e presence.WebhookEndpoint
	var events string
	var until, created int64
	if err := row.Scan(&e.ID, &e.APIKeyID, &e.URL, &events, &e.Secret, &e.PreviousSecret, &until, &created); err != nil {
		return nil, err
	}
	e.Events = parseEvents(events)
	if until > 0 {
		e.PreviousUntil = fromMillis(until)
	}
	e.CreatedAt = fromMillis(created)
	return &e, nil
}

// storedEvents writes a subscription so that one LIKE finds it: every
// type between commas, or "*" for all.
func storedEvents(events []string) string {
	if len(events) == 0 {
		return "*"
	}
	return "," + strings.Join(events, ",") + ","
}

func parseEvents(s string) []string {
	if s == "*" {
		return nil
	}
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' })
}

// CreateWebhook stores an endpoint (its secret already sealed).
func (s *DB) CreateWebhook(ctx context.Context, e *presence.WebhookEndpoint) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO webhook_endpoints (id, api_key_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		e.ID, e.APIKeyID, e.URL, storedEvents(e.Events), e.Secret, millis(e.CreatedAt))
	return translate(err, "webhook")
}

// Webhook returns an endpoint by id.
func (s *DB) Webhook(ctx context.Context, id string) (*presence.WebhookEndpoint, error) {
	e, err := scanEndpoint(s.db.QueryRowContext(ctx, s.q(`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = ?`), id))
	return e, translate(err, "webhook")
}

// ListWebhooks returns a key's endpoints, oldest first.
func (s *DB) ListWebhooks(ctx context.Context, apiKeyID string) ([]*presence.WebhookEndpoint, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE api_key_id = ? ORDER BY created_at, id`), apiKeyID)
	if err != nil {
		return nil, translate(err, "webhooks")
	}
	defer rows.Close()
	var out []*presence.WebhookEndpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, translate(err, "webhooks")
		}
		out = append(out, e)
	}
	return out, translate(rows.Err(), "webhooks")
}

// RotateWebhookSecret makes secret current; the old one keeps signing
// until previousUntil.
func (s *DB) RotateWebhookSecret(ctx context.Context, id string, secret []byte, previousUntil time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_endpoints SET previous_secret = secret, previous_until = ?, secret = ? WHERE id = ?`),
		millis(previousUntil), secret, id)
	return oneRow(res, err, "webhook")
}

// DeleteWebhook removes an endpoint with its deliveries.
func (s *DB) DeleteWebhook(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM webhook_endpoints WHERE id = ?`), id)
		if err := oneRow(res, err, "webhook"); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM webhook_deliveries WHERE endpoint_id = ?`), id)
		return translate(err, "webhook deliveries")
	})
}

// oneRow turns a write that changed no row into not found.
func oneRow(res sql.Result, err error, what string) error {
	if err != nil {
		return translate(err, what)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return presence.Errorf(presence.ErrNotFound, "%s not found", what)
	}
	return nil
}

const deliveryColumns = `d.id, d.event_id, d.endpoint_id, d.api_key_id, d.event_type, d.payload, d.created_at, d.state, d.attempts,
	d.next_attempt_at, d.give_up_at, d.last_status, d.last_error, d.finished_at`

func scanDelivery(row scanner, extra ...any) (presence.Delivery, error) {
	var d presence.Delivery
	var payload string
	var created, next, giveUp int64
	var finished sql.NullInt64
	err := row.Scan(append([]any{&d.ID, &d.EventID, &d.EndpointID, &d.APIKeyID, &d.EventType, &payload, &created, &d.State, &d.Attempts,
		&next, &giveUp, &d.LastStatus, &d.LastError, &finished}, extra...)...)
	d.Payload, d.CreatedAt, d.NextAttemptAt, d.FinishedAt = []byte(payload), fromMillis(created), fromMillis(next), optTime(finished)
	if giveUp > 0 {
		d.GiveUpAt = fromMillis(giveUp)
	}
	return d, err
}

// Deliveries lists an endpoint's deliveries, newest first.
func (s *DB) Deliveries(ctx context.Context, endpointID, state string, beforeID int64, limit int) ([]presence.Delivery, error) {
	query := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries d WHERE d.endpoint_id = ?`
	args := []any{endpointID}
	if state != "" {
		query += ` AND d.state = ?`
		args = append(args, state)
	}
	if beforeID > 0 {
		query += ` AND d.id < ?`
		args = append(args, beforeID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY d.id DESC LIMIT ?`), append(args, max(1, min(limit, 500)))...)
	if err != nil {
		return nil, translate(err, "webhook deliveries")
	}
	defer rows.Close()
	var out []presence.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, translate(err, "webhook deliveries")
		}
		out = append(out, d)
	}
	return out, translate(rows.Err(), "webhook deliveries")
}

// DeliveryCounts counts an endpoint's deliveries by state.
func (s *DB) DeliveryCounts(ctx context.Context, endpointID string) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT state, COUNT(*) FROM webhook_deliveries WHERE endpoint_id = ? GROUP BY state`), endpointID)
	if err != nil {
		return nil, translate(err, "webhook deliveries")
	}
	defer rows.Close()
	out := map[string]int{presence.DeliveryPending: 0, presence.DeliveryDelivered: 0, presence.DeliveryFailed: 0}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, translate(err, "webhook deliveries")
		}
		out[state] = n
	}
	return out, translate(rows.Err(), "webhook deliveries")
}

// RetryDelivery makes a failed delivery pending again.
func (s *DB) RetryDelivery(ctx context.Context, endpointID string, id int64, now, giveUpAt time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET state = ?, next_attempt_at = ?, give_up_at = ?, finished_at = NULL
		WHERE id = ? AND endpoint_id = ? AND state = ?`),
		presence.DeliveryPending, millis(now), millis(giveUpAt), id, endpointID, presence.DeliveryFailed)
	return oneRow(res, err, "failed delivery")
}

// ClaimDeliveries leases due deliveries: each claim is a conditional
// write, so of several nodes reading the same due row only one gets it.
func (s *DB) ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]presence.ClaimedDelivery, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id FROM webhook_deliveries WHERE state = ? AND next_attempt_at <= ? AND lease_until <= ?
		ORDER BY next_attempt_at, id LIMIT ?`), presence.DeliveryPending, millis(now), millis(now), limit)
	if err != nil {
		return nil, translate(err, "webhook deliveries")
	}
	var due []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, translate(err, "webhook deliveries")
		}
		due = append(due, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, translate(err, "webhook deliveries")
	}
	var out []presence.ClaimedDelivery
	for _, id := range due {
		res, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ? WHERE id = ? AND state = ? AND lease_until <= ?`),
			owner, millis(leaseUntil), id, presence.DeliveryPending, millis(now))
		if err != nil {
			return out, translate(err, "webhook delivery")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue // another node has it
		}
		var c presence.ClaimedDelivery
		var until int64
		c.Delivery, err = scanDelivery(s.db.QueryRowContext(ctx, s.q(`SELECT `+deliveryColumns+`, e.url, e.secret, e.previous_secret, e.previous_until
			FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ? AND d.lease_owner = ?`), id, owner),
			&c.URL, &c.Secret, &c.PreviousSecret, &until)
		if err == sql.ErrNoRows {
			continue // the endpoint was deleted meanwhile
		}
		if err != nil {
			return out, translate(err, "webhook delivery")
		}
		if until > 0 {
			c.PreviousUntil = fromMillis(until)
		}
		out = append(out, c)
	}
	return out, nil
}

// FinishAttempt records an attempt if owner still holds the lease, and
// releases it.
func (s *DB) FinishAttempt(ctx context.Context, id int64, owner string, o presence.DeliveryOutcome) error {
	var finished any
	if o.State != presence.DeliveryPending {
		finished = millis(o.At)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?, last_status = ?,
		last_error = ?, finished_at = ?, lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ?`),
		o.State, millis(o.NextAttemptAt), o.LastStatus, truncate(o.LastError, 500), finished, id, owner)
	if err != nil {
		return translate(err, "webhook delivery")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return presence.Errorf(presence.ErrConflict, "the delivery's lease was lost")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// PurgeDeliveries deletes deliveries that finished before before.
func (s *DB) PurgeDeliveries(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM webhook_deliveries WHERE state <> ? AND finished_at < ?`), presence.DeliveryPending, millis(before))
	if err != nil {
		return 0, translate(err, "webhook deliveries")
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// raiseEvent writes an event's deliveries, one per endpoint of the key
// subscribed to its type, in the caller's transaction.
func (s *DB) raiseEvent(ctx context.Context, e execer, apiKeyID string, ev *presence.Event, at time.Time) error {
	id := "evt_" + strings.ToLower(rand.Text())
	body, err := json.Marshal(struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		CreatedAt time.Time       `json:"created_at"`
		Data      json.RawMessage `json:"data"`
	}{id, ev.Type, at.UTC().Truncate(time.Millisecond), ev.Data})
	if err != nil {
		return presence.WrapError(presence.ErrInternal, err, "encoding a webhook event")
	}
	_, err = e.ExecContext(ctx, s.q(`INSERT INTO webhook_deliveries (event_id, endpoint_id, api_key_id, event_type, payload, created_at, state, next_attempt_at, give_up_at)
		SELECT ?, id, api_key_id, ?, ?, ?, ?, ?, 0 FROM webhook_endpoints WHERE api_key_id = ? AND (events = '*' OR events LIKE ?)`),
		id, ev.Type, string(body), millis(at), presence.DeliveryPending, millis(at), apiKeyID, "%,"+ev.Type+",%")
	return translate(err, "webhook event")
}
