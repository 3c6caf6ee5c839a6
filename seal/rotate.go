package seal

import (
	"context"
	"fmt"

	"presence"
)

// BlobStore is where sealed values live.
type BlobStore interface {
	SealedBlobs(ctx context.Context, kind, after string, limit int) ([]presence.SealedBlob, error)
	ReplaceSealed(ctx context.Context, b presence.SealedBlob, data []byte) error
}

// Kinds of sealed values in a store. Audit images ("image") stored before
// they were sealed are plain image bytes: Rotate leaves them as they are.
var Kinds = []string{"subject", "reference", "probe", "image", "webhook", "webhook_previous"}

// WebhookOwner is what a webhook endpoint's signing secret is sealed to.
func WebhookOwner(endpointID string) string { return "webhook/" + endpointID }

// RotationReport counts what Rotate did, by kind.
type RotationReport struct {
	Resealed map[string]int `json:"resealed"`
	// Current counts values already sealed with the current key.
	Current map[string]int `json:"current"`
	// Changed counts values that changed while being resealed (deleted
	// or written anew, which uses the current key already).
	Changed map[string]int `json:"changed"`
}

// rotatePage is how many values one read returns.
const rotatePage = 500

// Rotate reseals every value not sealed with the current key. It is safe
// while the service runs: each replacement is conditional on the value
// being unchanged, and a value that does not open (a key missing from
// the sealer) stops the run with its location, changing nothing more.
func Rotate(ctx context.Context, store BlobStore, s *Sealer) (RotationReport, error) {
	r := RotationReport{Resealed: map[string]int{}, Current: map[string]int{}, Changed: map[string]int{}}
	for _, kind := range Kinds {
		after := ""
		for {
			blobs, err := store.SealedBlobs(ctx, kind, after, rotatePage)
			if err != nil {
				return r, err
			}
			for _, b := range blobs {
				after = b.Key
				id, err := KeyID(b.Data)
				if err != nil && kind == "image" {
					continue // stored before images were sealed
				}
				if err != nil {
					return r, fmt.Errorf("%s template %s: %w", kind, b.Key, err)
				}
				if id == s.current {
					r.Current[kind]++
					continue
				}
				plain, err := s.Open(b.Data, b.Owner)
				if err != nil {
					return r, fmt.Errorf("%s template %s: %w", kind, b.Key, err)
				}
				fresh, err := s.Seal(plain, b.Owner)
				if err != nil {
					return r, err
				}
				err = store.ReplaceSealed(ctx, b, fresh)
				switch code := presence.ErrorCodeOf(err); {
				case err == nil:
					r.Resealed[kind]++
				case code == presence.ErrConflict || code == presence.ErrNotFound:
					r.Changed[kind]++
				default:
					return r, err
				}
			}
			if len(blobs) < rotatePage {
				break
			}
		}
	}
	return r, nil
}
