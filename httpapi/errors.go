package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"presence"
)

// statusOf maps every error code to its HTTP status: one table, so a code
// always gets the same status.
var statusOf = map[presence.ErrorCode]int{
	presence.ErrInvalid:           http.StatusBadRequest,
	presence.ErrTooManyFrames:     http.StatusBadRequest,
	presence.ErrEmptyInput:        http.StatusUnprocessableEntity,
	presence.ErrUnsupportedFormat: http.StatusUnprocessableEntity,
	presence.ErrCorruptImage:      http.StatusUnprocessableEntity,
	presence.ErrReferenceNoFace:   http.StatusUnprocessableEntity,
	presence.ErrImageTooLarge:     http.StatusRequestEntityTooLarge,
	presence.ErrPayloadTooLarge:   http.StatusRequestEntityTooLarge,
	presence.ErrUnsupportedMedia:  http.StatusUnsupportedMediaType,
	presence.ErrUnauthorized:      http.StatusUnauthorized,
	presence.ErrInvalidToken:      http.StatusUnauthorized,
	presence.ErrWrongCredential:   http.StatusForbidden,
	presence.ErrTokenMismatch:     http.StatusForbidden,
	presence.ErrForbidden:         http.StatusForbidden,
	presence.ErrNotFound:          http.StatusNotFound,
	presence.ErrConflict:          http.StatusConflict,
	presence.ErrTokenUsed:         http.StatusConflict,
	presence.ErrSessionFinished:   http.StatusConflict,
	presence.ErrSessionExpired:    http.StatusGone,
	presence.ErrSessionNotLive:    http.StatusConflict,
	presence.ErrDuplicateFace:     http.StatusConflict,
	presence.ErrRateLimited:       http.StatusTooManyRequests,
	presence.ErrUnavailable:       http.StatusServiceUnavailable,
	presence.ErrInternal:          http.StatusInternalServerError,
}

// errorBody is the one error shape of the API.
type errorBody struct {
	Error struct {
		Code    presence.ErrorCode `json:"code"`
		Message string             `json:"message"`
		Details any                `json:"details,omitempty"`
	} `json:"error"`
}

// writeError sends err as {"error":{"code","message"}}. The client gets the
// safe message; internal details go to the log only.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := presence.ErrorCodeOf(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = presence.ErrorMessage(err)
	var e *presence.Error
	if errors.As(err, &e) && status < 500 {
		body.Error.Details = e.Details
	}
	if status >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	} else if cause := errors.Unwrap(err); cause != nil {
		log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
