package presence

import (
	"context"
	"time"
)

// ShadowVerdict is a decision as one model set and rule made it.
type ShadowVerdict struct {
	Decision Decision `json:"decision"`
	Score    *float64 `json:"score,omitempty"`
	Reasons  []Reason `json:"reasons"`
}

// ShadowResult records what a candidate (a model set, a threshold)
// running in shadow would have decided beside the verdict the session
// got. It never changes the verdict and never reaches the device.
type ShadowResult struct {
	SessionID     string
	APIKeyID      string
	CorrelationID string
	Mode          Mode
	// Candidate names what ran in shadow (its model set id, and its
	// liveness threshold).
	Candidate string
	Real      ShadowVerdict
	Shadow    ShadowVerdict
	// AuditImages is how many evidence frames the session kept.
	AuditImages int
	At          time.Time
}

// ShadowStore keeps shadow results; they go with their session.
type ShadowStore interface {
	RecordShadow(ctx context.Context, r ShadowResult) error
	// ShadowResults lists up to limit results at or after since, oldest
	// first.
	ShadowResults(ctx context.Context, since time.Time, limit int) ([]ShadowResult, error)
}
