package webapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// client calls the Presence API with the app's API key, over HTTP, as any
// relying party's backend does. It knows only the public API.
type client struct {
	base string
	key  string
	http *http.Client
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Details struct {
		Duplicates []candidate `json:"duplicates"`
	} `json:"details"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("presence API: %d %s: %s", e.Status, e.Code, e.Message)
}

// codeOf is the API error code of err, or "" for other failures.
func codeOf(err error) string {
	if e, ok := err.(*apiError); ok {
		return e.Code
	}
	return ""
}

func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("presence API unreachable: %w", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("presence API: reading %s %s: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		var e struct {
			Error apiError `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
			return fmt.Errorf("presence API: %s %s: status %d", method, path, res.StatusCode)
		}
		e.Error.Status = res.StatusCode
		return &e.Error
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("presence API: %s %s: %w", method, path, err)
	}
	return nil
}

type createdSession struct {
	ID          string    `json:"id"`
	ClientToken string    `json:"client_token"`
	ExpiresAt   time.Time `json:"expires_at"`
}

type reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type match struct {
	Similarity float64 `json:"similarity"`
	Match      bool    `json:"match"`
}

type verdict struct {
	ID        string   `json:"id"`
	Status    string   `json:"status"`
	Decision  string   `json:"decision"`
	Reasons   []reason `json:"reasons"`
	SubjectID string   `json:"subject_id"`
	Match     *match   `json:"match"`
}

type candidate struct {
	SubjectID  string  `json:"subject_id"`
	Similarity float64 `json:"similarity"`
	Match      bool    `json:"match"`
}

func (c *client) createSession(ctx context.Context, mode, subjectID string, ttl time.Duration, correlation string) (*createdSession, error) {
	// Registration enrols the face and face-only login identifies it:
	// both need the template kept.
	in := map[string]any{"mode": mode, "ttl_seconds": int(ttl / time.Second), "correlation_id": correlation, "enrolable": true}
	if subjectID != "" {
		in["subject_id"] = subjectID
	}
	var out createdSession
	return &out, c.do(ctx, http.MethodPost, "/v1/sessions", in, &out)
}

func (c *client) session(ctx context.Context, id string) (*verdict, error) {
	var out verdict
	return &out, c.do(ctx, http.MethodGet, "/v1/sessions/"+url.PathEscape(id), nil, &out)
}

func (c *client) deleteSession(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/sessions/"+url.PathEscape(id), nil, nil)
}

func (c *client) createSubject(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/v1/subjects", map[string]string{"id": id}, nil)
}

type enrolment struct {
	Duplicates []candidate `json:"duplicates"`
}

func (c *client) enrol(ctx context.Context, subjectID, sessionID string) (*enrolment, error) {
	var out enrolment
	return &out, c.do(ctx, http.MethodPost, "/v1/subjects/"+url.PathEscape(subjectID)+"/enrol", map[string]string{"session_id": sessionID}, &out)
}

func (c *client) identify(ctx context.Context, sessionID string) ([]candidate, error) {
	var out struct {
		Candidates []candidate `json:"candidates"`
	}
	return out.Candidates, c.do(ctx, http.MethodPost, "/v1/identify", map[string]any{"session_id": sessionID, "top_k": 5}, &out)
}

func (c *client) deleteSubject(ctx context.Context, id string) error {
	_, err := c.deleteSubjectCounts(ctx, id)
	return err
}

type erased struct {
	Templates int `json:"templates"`
	Sessions  int `json:"sessions"`
}

func (c *client) deleteSubjectCounts(ctx context.Context, id string) (erased, error) {
	var out struct {
		Erased erased `json:"erased"`
	}
	err := c.do(ctx, http.MethodDelete, "/v1/subjects/"+url.PathEscape(id), nil, &out)
	return out.Erased, err
}
