package presence

import (
	"context"
	"regexp"
	"time"
)

// Subject is an enrolled person, named by the relying party's own id.
type Subject struct {
	ID        string
	CreatedAt time.Time
	// Templates is how many face templates are enrolled.
	Templates int
}

// subjectID is the relying party's own id: letters, digits and . _ : @ -,
// 1 to 128 characters, so it is safe in URLs and logs.
var subjectID = regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,128}$`)

// ValidSubjectID reports whether id is an acceptable subject id.
func ValidSubjectID(id string) bool { return subjectID.MatchString(id) }

// Template is one sealed face template of a subject.
type Template struct {
	// Seq orders templates by insertion; indexes sync on it.
	Seq       int64
	SubjectID string
	// Sealed is the AES-256-GCM sealed embedding, bound to SubjectID.
	Sealed    []byte
	SessionID string
	CreatedAt time.Time
}

// SealedBlob is any sealed template in the store, for key rotation.
type SealedBlob struct {
	// Kind is "subject", "reference" or "probe".
	Kind string
	// Key locates the row: a template seq or a session id.
	Key string
	// Owner is what the value is bound to (subject or session id).
	Owner string
	Data  []byte
}

// Audit actions of subjects.
const (
	AuditEnrolled       = "enrolled"
	AuditSubjectDeleted = "subject_deleted"
	// Consent answers to a notice.
	AuditConsentGiven    = "consent_given"
	AuditConsentDeclined = "consent_declined"
	// AuditSubjectExported: everything about a subject was handed out.
	AuditSubjectExported = "subject_exported"
	AuditVerified        = "verified"
	AuditIdentified      = "identified"
)

// SubjectStore keeps subjects and their templates.
type SubjectStore interface {
	CreateSubject(ctx context.Context, s *Subject) error
	Subject(ctx context.Context, id string) (*Subject, error)
	ListSubjects(ctx context.Context, after string, limit int) ([]*Subject, error)
	// AddTemplate enrols a template if the subject has fewer than max,
	// and appends rec.
	AddTemplate(ctx context.Context, t *Template, max int, rec AuditRecord) error
	SubjectTemplates(ctx context.Context, subjectID string) ([]Template, error)
	// TemplatesSince and DeletionsSince let a search index catch up.
	TemplatesSince(ctx context.Context, afterSeq int64, limit int) ([]Template, error)
	DeletionsSince(ctx context.Context, afterSeq int64) (templateSeqs []int64, last int64, err error)
	// DeleteSubject erases the subject, its templates, and the sessions
	// that named it (with their images and templates), and appends rec.
	DeleteSubject(ctx context.Context, id string, rec AuditRecord) (Erased, error)
	// RecordMatch appends a match's audit record and links the session to
	// subjectID (when set and the session names no subject) in one
	// transaction.
	RecordMatch(ctx context.Context, r AuditRecord, subjectID string) error
	// SealedBlobs and ReplaceSealed walk and reseal every sealed value.
	SealedBlobs(ctx context.Context, kind, after string, limit int) ([]SealedBlob, error)
	ReplaceSealed(ctx context.Context, b SealedBlob, data []byte) error
}
