// Package webhooks tells relying parties about their sessions and
// subjects as things happen. Events reach the outbox in the same
// transaction as the change they report (the store does that); this
// package manages endpoints and their secrets, and sends what is due:
// signed, retried with exponential backoff and jitter for a bounded time,
// then marked failed where the relying party can see and retry it.
//
// Delivery is at least once: a node claims a delivery with a lease before
// sending it, so nodes never send one twice on purpose, but a node that
// dies between sending and recording the answer leaves the lease to
// expire, and the delivery is sent again with the same event id.
package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"presence"
	"presence/clock"
	"presence/seal"
)

// Store is what webhooks keep.
type Store = presence.WebhookStore

// Sealer seals the signing secrets at rest, as templates are.
type Sealer interface {
	Seal(plaintext []byte, owner string) ([]byte, error)
	Open(sealed []byte, owner string) ([]byte, error)
}

// Config configures endpoints and delivery.
type Config struct {
	Store  Store
	Sealer Sealer
	Clock  clock.Clock
	Log    *slog.Logger
	// NodeID names this node's leases (any unique string).
	NodeID string
	// Timeout bounds one attempt (10 s).
	Timeout time.Duration
	// RetryFor is how long a delivery is retried before it is marked
	// failed (24 h).
	RetryFor time.Duration
	// BackoffMin and BackoffMax bound the wait before a retry (5 s, 1 h):
	// it doubles with every failed attempt, and a random half of it is
	// taken off (jitter), so receivers coming back are not hit by every
	// sender at once.
	BackoffMin, BackoffMax time.Duration
	// Poll is how often due deliveries are looked for (1 s).
	Poll time.Duration
	// Parallel is how many deliveries one node sends at once (4).
	Parallel int
	// PreviousSecretFor is how long a rotated-out secret keeps signing
	// (24 h).
	PreviousSecretFor time.Duration
	// Keep is how long finished deliveries stay visible (7 days).
	Keep time.Duration
	// AllowPrivate lets endpoints resolve to loopback, private and
	// link-local addresses (tests, and a relying party on the same
	// network); off, they are refused when dialled, so an API key cannot
	// make the server call its own neighbours.
	AllowPrivate bool
	// Jitter returns a number in [0,1) (nil: math/rand).
	Jitter func() float64
}

// Service manages endpoints and sends deliveries.
type Service struct {
	cfg    Config
	client *http.Client
}

// New applies defaults and builds the sender's HTTP client.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System()
	}
	if cfg.NodeID == "" {
		cfg.NodeID = "node_" + strings.ToLower(rand.Text())[:10]
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 10*time.Second)
	def(&cfg.RetryFor, 24*time.Hour)
	def(&cfg.BackoffMin, 5*time.Second)
	def(&cfg.BackoffMax, time.Hour)
	def(&cfg.Poll, time.Second)
	def(&cfg.PreviousSecretFor, 24*time.Hour)
	def(&cfg.Keep, 7*24*time.Hour)
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	if cfg.Jitter == nil {
		cfg.Jitter = mathrand.Float64
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	if !cfg.AllowPrivate {
		dialer.Control = refusePrivate
	}
	transport := &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: cfg.Timeout, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}
	client := &http.Client{Transport: transport, Timeout: cfg.Timeout,
		// A redirect is an answer, not a delivery: following it would let
		// a receiver point the server anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Service{cfg: cfg, client: client}
}

// errPrivateAddress refuses a dial to a private address.
var errPrivateAddress = errors.New("the endpoint resolves to a loopback, private or link-local address, which this server does not call (--webhook-allow-private)")

// refusePrivate checks the address actually dialled, after DNS, so a name
// that resolves to an inside address is refused too.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || private(ip) {
		return errPrivateAddress
	}
	return nil
}

func private(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() ||
		ip.IsInterfaceLocalMulticast()
}

// Endpoint is an endpoint as the API shows it, with its counts of
// deliveries by state; Secret is set only when it was just made.
type Endpoint struct {
	ID         string         `json:"id"`
	URL        string         `json:"url"`
	Events     []string       `json:"events"`
	CreatedAt  time.Time      `json:"created_at"`
	Secret     string         `json:"secret,omitempty"`
	Deliveries map[string]int `json:"deliveries,omitempty"`
	// PreviousSecretUntil: a rotated-out secret still signs until then.
	PreviousSecretUntil *time.Time `json:"previous_secret_until,omitempty"`
}

func (s *Service) view(e *presence.WebhookEndpoint) *Endpoint {
	v := &Endpoint{ID: e.ID, URL: e.URL, Events: e.Events, CreatedAt: e.CreatedAt}
	if v.Events == nil {
		v.Events = presence.EventTypes
	}
	if e.PreviousSecret != nil && s.cfg.Clock.Now().Before(e.PreviousUntil) {
		until := e.PreviousUntil
		v.PreviousSecretUntil = &until
	}
	return v
}

// newSecret makes a signing secret; it is shown once, stored sealed.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

// MaxEndpoints is how many endpoints one key may have.
const MaxEndpoints = 10

// Create registers an endpoint for key; the answer carries its secret,
// the only time it is shown.
func (s *Service) Create(ctx context.Context, key *presence.APIKey, rawURL string, events []string) (*Endpoint, error) {
	if err := presence.ValidateWebhook(rawURL, events); err != nil {
		return nil, err
	}
	if !s.cfg.AllowPrivate {
		u, _ := url.Parse(rawURL)
		if ip := net.ParseIP(strings.Trim(u.Hostname(), "[]")); ip != nil && private(ip) || u.Hostname() == "localhost" {
			return nil, presence.Errorf(presence.ErrInvalid, "url: %v", errPrivateAddress)
		}
	}
	existing, err := s.cfg.Store.ListWebhooks(ctx, key.ID)
	if err != nil {
		return nil, err
	}
	if len(existing) >= MaxEndpoints {
		return nil, presence.Errorf(presence.ErrInvalid, "a key may have at most %d webhook endpoints", MaxEndpoints)
	}
	e := &presence.WebhookEndpoint{ID: "whk_" + strings.ToLower(rand.Text())[:20], APIKeyID: key.ID, URL: rawURL, Events: dedupe(events), CreatedAt: s.cfg.Clock.Now().UTC()}
	secret := newSecret()
	if e.Secret, err = s.cfg.Sealer.Seal([]byte(secret), owner(e.ID)); err != nil {
		return nil, presence.WrapError(presence.ErrInternal, err, "sealing the webhook secret")
	}
	if err := s.cfg.Store.CreateWebhook(ctx, e); err != nil {
		return nil, err
	}
	v := s.view(e)
	v.Secret = secret
	return v, nil
}

var owner = seal.WebhookOwner

func dedupe(events []string) []string {
	var out []string
	for _, e := range events {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// endpoint returns key's endpoint id; another key's is not found.
func (s *Service) endpoint(ctx context.Context, key *presence.APIKey, id string) (*presence.WebhookEndpoint, error) {
	e, err := s.cfg.Store.Webhook(ctx, id)
	if err == nil && e.APIKeyID != key.ID {
		err = presence.Errorf(presence.ErrNotFound, "webhook not found")
	}
	return e, err
}

// List returns key's endpoints.
func (s *Service) List(ctx context.Context, key *presence.APIKey) ([]*Endpoint, error) {
	all, err := s.cfg.Store.ListWebhooks(ctx, key.ID)
	if err != nil {
		return nil, err
	}
	out := []*Endpoint{}
	for _, e := range all {
		out = append(out, s.view(e))
	}
	return out, nil
}

// Get returns one of key's endpoints with its delivery counts.
func (s *Service) Get(ctx context.Context, key *presence.APIKey, id string) (*Endpoint, error) {
	e, err := s.endpoint(ctx, key, id)
	if err != nil {
		return nil, err
	}
	v := s.view(e)
	if v.Deliveries, err = s.cfg.Store.DeliveryCounts(ctx, id); err != nil {
		return nil, err
	}
	return v, nil
}

// Delete removes one of key's endpoints and what it had still to receive.
func (s *Service) Delete(ctx context.Context, key *presence.APIKey, id string) error {
	if _, err := s.endpoint(ctx, key, id); err != nil {
		return err
	}
	return s.cfg.Store.DeleteWebhook(ctx, id)
}

// Rotate gives an endpoint a new secret (returned, shown once); the old
// one keeps signing beside it for PreviousSecretFor, so the receiver can
// switch without refusing a delivery.
func (s *Service) Rotate(ctx context.Context, key *presence.APIKey, id string) (*Endpoint, error) {
	e, err := s.endpoint(ctx, key, id)
	if err != nil {
		return nil, err
	}
	secret := newSecret()
	sealed, err := s.cfg.Sealer.Seal([]byte(secret), owner(id))
	if err != nil {
		return nil, presence.WrapError(presence.ErrInternal, err, "sealing the webhook secret")
	}
	until := s.cfg.Clock.Now().UTC().Add(s.cfg.PreviousSecretFor)
	if err := s.cfg.Store.RotateWebhookSecret(ctx, id, sealed, until); err != nil {
		return nil, err
	}
	e.PreviousSecret, e.PreviousUntil = e.Secret, until
	v := s.view(e)
	v.Secret = secret
	return v, nil
}

// Deliveries lists an endpoint's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, key *presence.APIKey, id, state string, beforeID int64, limit int) ([]presence.Delivery, error) {
	if state != "" && state != presence.DeliveryPending && state != presence.DeliveryDelivered && state != presence.DeliveryFailed {
		return nil, presence.Errorf(presence.ErrInvalid, "state must be pending, delivered or failed")
	}
	if _, err := s.endpoint(ctx, key, id); err != nil {
		return nil, err
	}
	return s.cfg.Store.Deliveries(ctx, id, state, beforeID, limit)
}

// Retry sends a failed delivery again, with a fresh retry window.
func (s *Service) Retry(ctx context.Context, key *presence.APIKey, id string, deliveryID int64) error {
	if _, err := s.endpoint(ctx, key, id); err != nil {
		return err
	}
	now := s.cfg.Clock.Now()
	return s.cfg.Store.RetryDelivery(ctx, id, deliveryID, now, now.Add(s.cfg.RetryFor))
}

// Run sends due deliveries until ctx ends, and purges finished ones
// older than Keep once an hour.
func (s *Service) Run(ctx context.Context) {
	tick := s.cfg.Clock.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	var lastPurge time.Time
	for {
		if _, err := s.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("webhooks: reading due deliveries failed", "err", err)
		}
		if now := s.cfg.Clock.Now(); now.Sub(lastPurge) >= time.Hour {
			lastPurge = now
			if n, err := s.cfg.Store.PurgeDeliveries(ctx, now.Add(-s.cfg.Keep)); err != nil && ctx.Err() == nil {
				s.cfg.Log.Warn("webhooks: purging deliveries failed", "err", err)
			} else if n > 0 {
				s.cfg.Log.Info("webhooks: finished deliveries purged", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
	}
}

// DeliverDue claims what is due, Parallel at a time, sends it and records
// each outcome, until nothing is due; it returns how many it attempted.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	attempted := 0
	for ctx.Err() == nil {
		now := s.cfg.Clock.Now()
		// The lease outlasts the attempt's timeout with room to record it.
		claimed, err := s.cfg.Store.ClaimDeliveries(ctx, s.cfg.NodeID, now, now.Add(2*s.cfg.Timeout+5*time.Second), s.cfg.Parallel)
		if err != nil {
			return attempted, err
		}
		if len(claimed) == 0 {
			return attempted, nil
		}
		var wg sync.WaitGroup
		for _, c := range claimed {
			wg.Go(func() { s.attempt(ctx, c) })
		}
		wg.Wait()
		attempted += len(claimed)
	}
	return attempted, ctx.Err()
}

// attempt sends one claimed delivery and records what happened.
func (s *Service) attempt(ctx context.Context, c presence.ClaimedDelivery) {
	status, err := s.send(ctx, c)
	at := s.cfg.Clock.Now()
	o := presence.DeliveryOutcome{State: presence.DeliveryDelivered, LastStatus: status, At: at, NextAttemptAt: at}
	if err != nil {
		o.LastError = err.Error()
		o.State, o.NextAttemptAt = presence.DeliveryPending, at.Add(s.backoff(c.Attempts+1))
		giveUp := c.GiveUpAt
		if giveUp.IsZero() {
			giveUp = c.CreatedAt.Add(s.cfg.RetryFor)
		}
		if !o.NextAttemptAt.Before(giveUp) {
			o.State = presence.DeliveryFailed
			s.cfg.Log.Warn("webhook delivery failed for good", "delivery", c.ID, "event", c.EventID, "endpoint", c.EndpointID, "attempts", c.Attempts+1, "err", err)
		}
	}
	if ctx.Err() != nil && err != nil {
		return // shutting down: the lease expires and the attempt counts for nothing
	}
	if err := s.cfg.Store.FinishAttempt(context.WithoutCancel(ctx), c.ID, s.cfg.NodeID, o); err != nil {
		s.cfg.Log.Warn("webhook attempt not recorded; it will be sent again", "delivery", c.ID, "err", err)
	}
}

// backoff is the wait after the n-th failed attempt: BackoffMin doubled
// n-1 times, at most BackoffMax, less a random share of up to half.
func (s *Service) backoff(n int) time.Duration {
	d := float64(s.cfg.BackoffMin) * math.Pow(2, float64(min(n-1, 40)))
	d = min(d, float64(s.cfg.BackoffMax))
	return time.Duration(d * (1 - s.cfg.Jitter()/2))
}

// send posts one delivery; a 2xx answer is delivered, anything else an
// error that says what came back.
func (s *Service) send(ctx context.Context, c presence.ClaimedDelivery) (int, error) {
	secrets, err := s.secrets(c)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, strings.NewReader(string(c.Payload)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Presence-Webhooks/1")
	req.Header.Set("Presence-Event-Id", c.EventID)
	req.Header.Set("Presence-Event-Type", c.EventType)
	req.Header.Set("Presence-Delivery-Attempt", strconv.Itoa(c.Attempts+1))
	req.Header.Set(SignatureHeader, Sign(c.Payload, s.cfg.Clock.Now(), secrets...))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the endpoint answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// secrets opens the secrets that sign c: the current one, and the
// rotated-out one while it lasts.
func (s *Service) secrets(c presence.ClaimedDelivery) ([]string, error) {
	cur, err := s.cfg.Sealer.Open(c.Secret, owner(c.EndpointID))
	if err != nil {
		return nil, fmt.Errorf("the endpoint's secret does not open: %w", err)
	}
	out := []string{string(cur)}
	if c.PreviousSecret != nil && s.cfg.Clock.Now().Before(c.PreviousUntil) {
		if prev, err := s.cfg.Sealer.Open(c.PreviousSecret, owner(c.EndpointID)); err == nil {
			out = append(out, string(prev))
		}
	}
	return out, nil
}

// SignatureHeader carries a delivery's signatures.
const SignatureHeader = "Presence-Signature"

// Sign makes the signature header of body sent at t: the Unix time, and
// one v1 signature per secret, each the hex HMAC-SHA256, keyed with the
// secret's text, of the time, a full stop and the body.
func Sign(body []byte, t time.Time, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	parts := []string{"t=" + ts}
	for _, secret := range secrets {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "."))
		mac.Write(body)
		parts = append(parts, "v1="+hex.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(parts, ",")
}
