package presence

import (
	"errors"
	"fmt"
)

// ErrorCode is a stable machine code for a failure. The HTTP layer maps each
// code to a status in one table; the CLI prints the message.
type ErrorCode string

// Error codes shared by every layer.
const (
	ErrEmptyInput        ErrorCode = "empty_input"
	ErrUnsupportedFormat ErrorCode = "unsupported_format"
	ErrImageTooLarge     ErrorCode = "image_too_large"
	ErrCorruptImage      ErrorCode = "corrupt_image"
	ErrInvalid           ErrorCode = "invalid_request"
	ErrNotFound          ErrorCode = "not_found"
	ErrConflict          ErrorCode = "conflict"
	ErrUnauthorized      ErrorCode = "unauthorized"
	ErrForbidden         ErrorCode = "forbidden"
	ErrInternal          ErrorCode = "internal"
	ErrUnavailable       ErrorCode = "unavailable"

	// Session and credential errors of the capture flow.
	ErrInvalidToken     ErrorCode = "invalid_token"
	ErrTokenUsed        ErrorCode = "token_used"
	ErrTokenMismatch    ErrorCode = "token_session_mismatch"
	ErrWrongCredential  ErrorCode = "wrong_credential"
	ErrSessionExpired   ErrorCode = "session_expired"
	ErrSessionFinished  ErrorCode = "session_finished"
	ErrRateLimited      ErrorCode = "rate_limited"
	ErrPayloadTooLarge  ErrorCode = "payload_too_large"
	ErrTooManyFrames    ErrorCode = "too_many_frames"
	ErrReferenceNoFace  ErrorCode = "reference_no_face"
	ErrUnsupportedMedia ErrorCode = "unsupported_media_type"

	// Subjects.
	ErrSessionNotLive ErrorCode = "session_not_live"
	ErrDuplicateFace  ErrorCode = "duplicate_face"
)

// Error is a failure with a code and a message that is safe to show to the
// caller. Err keeps the underlying cause for logs only.
type Error struct {
	Code    ErrorCode
	Message string
	// Details are machine-readable facts for the caller (JSON-encoded
	// under "details"), e.g. the other subjects of a duplicate face.
	Details any
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError builds an *Error that keeps cause for the log.
func WrapError(code ErrorCode, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// ErrorCodeOf returns the code of err, or ErrInternal when err carries none.
func ErrorCodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrInternal
}

// ErrorMessage returns the safe message of err; internal errors get a
// generic sentence so details never leak to a client.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
