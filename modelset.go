package presence

import (
	"context"
	"time"
)

// Actions that change the model set in service.
const (
	ModelSetStart    = "start"    // a node started with a set no operator had changed
	ModelSetReload   = "reload"   // an operator installed a set
	ModelSetRollback = "rollback" // an operator went back to the set before
)

// AuditModelSetChanged is the audit action of every change of model set.
const AuditModelSetChanged = "model_set_changed"

// ModelSetChange is one change of the model set every node serves: the
// store keeps them all, in order; the newest is the set in service.
type ModelSetChange struct {
	Seq   int64
	SetID string
	// Manifest is the set's manifest, JSON: every node loads the same.
	Manifest []byte
	Action   string
	// By says who asked (an operator's name, "sighup@host", "cli@host").
	By string
	At time.Time
	// PreviousSeq is the change this one replaced (0 for the first);
	// two changes of the same one cannot both be written.
	PreviousSeq int64
	PreviousID  string
}

// ModelSetStore keeps the history of model sets.
type ModelSetStore interface {
	// ActiveModelSet is the newest change (ErrNotFound when none).
	ActiveModelSet(ctx context.Context) (*ModelSetChange, error)
	// ChangeModelSet appends c if c.PreviousSeq is still the newest
	// change (ErrConflict otherwise), with rec in the same transaction.
	ChangeModelSet(ctx context.Context, c *ModelSetChange, rec AuditRecord) error
	// ModelSetHistory lists changes newest first.
	ModelSetHistory(ctx context.Context, limit int) ([]ModelSetChange, error)
}
