package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"presence"
	"presence/clock"
	"presence/httpapi"
	"presence/session"
	"presence/subjects"
)

// The HTTP layer's own rules, on fakes: no models, no database.

type rulesEnv struct {
	t        *testing.T
	url      string
	sessions *fakeSessions
	store    *fakeStore
	clock    *clock.Virtual
	ready    bool
}

func newRulesEnv(t *testing.T, cfg httpapi.Config) *rulesEnv {
	t.Helper()
	e := &rulesEnv{t: t, clock: clock.NewVirtual(time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)), ready: true}
	e.sessions = &fakeSessions{
		now: e.clock.Now,
		authenticate: func(_ context.Context, bearer string) (*presence.APIKey, error) {
			if bearer != "pk_good_secret" {
				return nil, presence.Errorf(presence.ErrUnauthorized, "unknown API key")
			}
			return &presence.APIKey{ID: "good"}, nil
		},
	}
	e.store = &fakeStore{}
	cfg.Sessions, cfg.Store = e.sessions, e.store
	cfg.EngineReady = func() bool { return e.ready }
	srv := httptest.NewServer(httpapi.New(cfg))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *rulesEnv) do(method, path, auth string, body []byte) response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	json.Unmarshal(raw, &out.body)
	return out
}

func createdSession(req session.CreateRequest) *session.Created {
	return &session.Created{ClientToken: "pct_x", Session: &presence.Session{ID: "ses_1", Mode: req.Mode, Status: presence.StatusCreated, CorrelationID: req.CorrelationID}}
}

func TestAuthenticationAndRateLimitRules(t *testing.T) {
	e := newRulesEnv(t, httpapi.Config{RateLimit: 3})
	var mu sync.Mutex
	counts := map[string]int{}
	e.store.countRequest = func(_ context.Context, key string, window time.Time) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		counts[key+window.String()]++
		return counts[key+window.String()], nil
	}
	e.sessions.create = func(_ context.Context, _ *presence.APIKey, req session.CreateRequest) (*session.Created, error) {
		return createdSession(req), nil
	}
	if r := e.do("POST", "/v1/sessions", "", []byte(`{}`)); r.status != 401 || r.code() != "unauthorized" {
		t.Fatalf("no key: %d %s", r.status, r.raw)
	}
	for i := range 3 {
		if r := e.do("POST", "/v1/sessions", "pk_good_secret", []byte(`{}`)); r.status != 201 {
			t.Fatalf("request %d: %d %s", i+1, r.status, r.raw)
		}
	}
	r := e.do("POST", "/v1/sessions", "pk_good_secret", []byte(`{}`))
	// 30 s into the minute: the window ends in 30 s.
	if r.status != 429 || r.code() != "rate_limited" || r.header.Get("Retry-After") != "30" {
		t.Fatalf("over the limit: %d %q %s", r.status, r.header.Get("Retry-After"), r.raw)
	}
	e.clock.Advance(30 * time.Second)
	if r := e.do("POST", "/v1/sessions", "pk_good_secret", []byte(`{}`)); r.status != 201 {
		t.Fatalf("next window: %d %s", r.status, r.raw)
	}
	// A store that cannot count is an error, not a free pass.
	e.store.countRequest = func(context.Context, string, time.Time) (int, error) {
		return 0, presence.WrapError(presence.ErrInternal, errors.New("disk gone"), "storage error")
	}
	if r := e.do("POST", "/v1/sessions", "pk_good_secret", []byte(`{}`)); r.status != 500 || strings.Contains(r.raw2(), "disk gone") {
		t.Fatalf("failing rate-limit store: %d %s", r.status, r.raw)
	}
}

func TestCreateRequestParsing(t *testing.T) {
	e := newRulesEnv(t, httpapi.Config{})
	var got session.CreateRequest
	e.sessions.create = func(_ context.Context, _ *presence.APIKey, req session.CreateRequest) (*session.Created, error) {
		got = req
		return createdSession(req), nil
	}
	r := e.do("POST", "/v1/sessions", "pk_good_secret", []byte(`{"mode":"active","ttl_seconds":60,"audit_images":2,"correlation_id":"c-1","reference_image":"aGk="}`))
	if r.status != 201 || r.header.Get("Location") != "/v1/sessions/ses_1" || r.body["client_token"] != "pct_x" {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	if got.Mode != presence.ModeActive || got.TTL != time.Minute || got.AuditImages != 2 || got.CorrelationID != "c-1" || string(got.ReferenceImage) != "hi" {
		t.Fatalf("passed on: %+v", got)
	}
	for body, want := range map[string]string{
		`{"colour": "red"}`:        "unknown field",
		`{"audit_images": "two"}`:  "audit_images",
		`{"mode":`:                 "malformed JSON",
		``:                         "empty body",
		`{} {}`:                    "more than one",
		`{"reference_image":"!!"}`: "base64",
	} {
		r := e.do("POST", "/v1/sessions", "pk_good_secret", []byte(body))
		if r.status != 400 || r.code() != "invalid_request" || !strings.Contains(r.raw2(), want) {
			t.Errorf("%q: %d %s, want 400 mentioning %q", body, r.status, r.raw, want)
		}
	}
	if r := e.do("GET", "/v1/nothing", "pk_good_secret", nil); r.status != 404 || r.code() != "not_found" {
		t.Errorf("unknown route: %d %s", r.status, r.raw)
	}
	if r := e.do("PUT", "/v1/sessions", "pk_good_secret", nil); r.status != 405 || r.code() != "method_not_allowed" || r.header.Get("Allow") == "" {
		t.Errorf("wrong method: %d %s", r.status, r.raw)
	}
	// Subjects are off unless a subjects service is wired.
	if r := e.do("GET", "/v1/subjects", "pk_good_secret", nil); r.status != 404 {
		t.Errorf("subjects without a service: %d %s", r.status, r.raw)
	}
}

func TestReadiness(t *testing.T) {
	e := newRulesEnv(t, httpapi.Config{})
	if r := e.do("GET", "/readyz", "", nil); r.status != 200 || r.body["ready"] != true {
		t.Fatalf("ready: %d %s", r.status, r.raw)
	}
	e.store.ping = func(context.Context) error { return errors.New("connection refused") }
	if r := e.do("GET", "/readyz", "", nil); r.status != 503 || !strings.Contains(r.raw2(), "unreachable") {
		t.Fatalf("store down: %d %s", r.status, r.raw)
	}
	e.store.ping, e.ready = nil, false
	if r := e.do("GET", "/readyz", "", nil); r.status != 503 || !strings.Contains(r.raw2(), "not loaded") {
		t.Fatalf("models not loaded: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("health: %d %s", r.status, r.raw)
	}
}

// TestWebSocketAdapter checks the stream plumbing: text and binary
// messages reach the session service in order, its JSON reaches the
// device, and the close code says whether the session ended well.
func TestWebSocketAdapter(t *testing.T) {
	e := newRulesEnv(t, httpapi.Config{MaxBodyBytes: 1 << 16})
	frame := session.FrameMessage(1, 0, "n", []byte("jpeg bytes"))
	e.sessions.stream = func(ctx context.Context, id string, conn session.StreamConn) error {
		if isBinary, msg, err := conn.Read(ctx); err != nil || isBinary || !strings.Contains(string(msg), "hello") {
			return errors.New("no hello")
		}
		conn.WriteJSON(ctx, map[string]string{"type": "ready", "session": id})
		if isBinary, msg, err := conn.Read(ctx); err != nil || !isBinary || !bytes.Equal(msg, frame) {
			return errors.New("frame garbled")
		}
		conn.WriteJSON(ctx, map[string]string{"type": "done"})
		if id == "ses_bad" {
			return errors.New("refused")
		}
		return nil
	}
	for id, wantClose := range map[string]websocket.StatusCode{"ses_ok": websocket.StatusNormalClosure, "ses_bad": websocket.StatusPolicyViolation} {
		ctx := context.Background()
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/v1/sessions/"+id+"/stream", nil)
		if err != nil {
			t.Fatal(err)
		}
		wsjson.Write(ctx, c, map[string]string{"type": "hello", "token": "pct_x"})
		var m map[string]string
		if err := wsjson.Read(ctx, c, &m); err != nil || m["type"] != "ready" || m["session"] != id {
			t.Fatalf("%s ready: %v %v", id, m, err)
		}
		c.Write(ctx, websocket.MessageBinary, frame)
		if err := wsjson.Read(ctx, c, &m); err != nil || m["type"] != "done" {
			t.Fatalf("%s done: %v %v", id, m, err)
		}
		_, _, err = c.Read(ctx)
		if got := websocket.CloseStatus(err); got != wantClose {
			t.Errorf("%s closed with %v (%v), want %v", id, got, err, wantClose)
		}
		c.CloseNow()
	}

	// A message over the body limit closes the stream.
	e.sessions.stream = func(ctx context.Context, id string, conn session.StreamConn) error {
		_, _, err := conn.Read(ctx)
		return err
	}
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/v1/sessions/ses_big/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.Write(ctx, websocket.MessageText, bytes.Repeat([]byte("x"), 1<<17))
	_, _, err = c.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig && got != websocket.StatusPolicyViolation {
		t.Errorf("oversized message: closed with %v (%v)", got, err)
	}
}

func TestSubjectRoutes(t *testing.T) {
	subs := &fakeSubjects{}
	e := newRulesEnv(t, httpapi.Config{Subjects: subs})
	const key = "pk_good_secret"
	created := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	subs.create = func(_ context.Context, _ *presence.APIKey, id string) (*presence.Subject, error) {
		if id == "taken" {
			return nil, presence.Errorf(presence.ErrConflict, "subject taken already exists")
		}
		return &presence.Subject{ID: id, CreatedAt: created}, nil
	}
	if r := e.do("POST", "/v1/subjects", key, []byte(`{"id":"alice"}`)); r.status != 201 || r.header.Get("Location") != "/v1/subjects/alice" || r.body["id"] != "alice" {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/v1/subjects", key, []byte(`{"id":"taken"}`)); r.status != 409 || r.code() != "conflict" {
		t.Fatalf("conflict: %d %s", r.status, r.raw)
	}

	// Listing: the limit is checked here, and a full page names the next.
	subs.list = func(_ context.Context, after string, limit int) ([]*presence.Subject, error) {
		var out []*presence.Subject
		for i := range limit {
			out = append(out, &presence.Subject{ID: after + strconv.Itoa(i)})
		}
		return out, nil
	}
	if r := e.do("GET", "/v1/subjects?limit=2&after=a", key, nil); r.status != 200 || r.body["next"] != "a1" || len(r.body["subjects"].([]any)) != 2 {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	for _, bad := range []string{"0", "1001", "x"} {
		if r := e.do("GET", "/v1/subjects?limit="+bad, key, nil); r.status != 400 || !strings.Contains(r.raw2(), "limit") {
			t.Errorf("limit %s: %d %s", bad, r.status, r.raw)
		}
	}

	// Enrol, verify and identify need a session_id and pass it on.
	var gotSession, gotSubject string
	var gotTopK int
	subs.enrol = func(_ context.Context, _ *presence.APIKey, subjectID, sessionID string) (*subjects.Enrolment, error) {
		gotSubject, gotSession = subjectID, sessionID
		return &subjects.Enrolment{}, nil
	}
	subs.verify = func(_ context.Context, _ *presence.APIKey, subjectID, sessionID string) (*subjects.Verification, error) {
		return nil, presence.Errorf(presence.ErrNotFound, "subject %s not found", subjectID)
	}
	subs.identify = func(_ context.Context, _ *presence.APIKey, sessionID string, topK int) (*subjects.Identification, error) {
		gotSession, gotTopK = sessionID, topK
		return &subjects.Identification{}, nil
	}
	if r := e.do("POST", "/v1/subjects/alice/enrol", key, []byte(`{"session_id":"ses_9"}`)); r.status != 201 || gotSubject != "alice" || gotSession != "ses_9" {
		t.Fatalf("enrol: %d %s (%s %s)", r.status, r.raw, gotSubject, gotSession)
	}
	if r := e.do("POST", "/v1/subjects/alice/enrol", key, []byte(`{}`)); r.status != 400 || !strings.Contains(r.raw2(), "session_id") {
		t.Fatalf("enrol without a session: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/v1/subjects/nobody/verify", key, []byte(`{"session_id":"ses_9"}`)); r.status != 404 || r.code() != "not_found" {
		t.Fatalf("verify an unknown subject: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/v1/identify", key, []byte(`{"session_id":"ses_8","top_k":3}`)); r.status != 200 || gotSession != "ses_8" || gotTopK != 3 {
		t.Fatalf("identify: %d %s (%s %d)", r.status, r.raw, gotSession, gotTopK)
	}
	subs.delete = func(_ context.Context, _ *presence.APIKey, id string) (presence.Erased, error) {
		return presence.Erased{Templates: 2}, nil
	}
	if r := e.do("DELETE", "/v1/subjects/alice", key, nil); r.status != 200 || r.body["deleted"] != true || !strings.Contains(r.raw2(), `"templates":2`) {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r := e.do("DELETE", "/v1/subjects/alice", "", nil); r.status != 401 {
		t.Fatalf("delete without a key: %d %s", r.status, r.raw)
	}
}

// TestValidationFindings: the hardening issue's bad-input findings, each
// refused with a specific error (they were accepted, or answered with Go
// type names).
func TestValidationFindings(t *testing.T) {
	subs := &fakeSubjects{}
	e := newRulesEnv(t, httpapi.Config{Subjects: subs})
	const key = "pk_good_secret"
	var got session.CreateRequest
	e.sessions.create = func(_ context.Context, _ *presence.APIKey, req session.CreateRequest) (*session.Created, error) {
		got = req
		return createdSession(req), nil
	}
	// A TTL too big for a duration must not wrap around into a short one.
	if r := e.do("POST", "/v1/sessions", key, []byte(`{"ttl_seconds": 18446744084}`)); r.status == 201 && got.TTL < time.Hour {
		t.Errorf("huge ttl became %v", got.TTL)
	}
	if r := e.do("POST", "/v1/sessions", key, []byte(`{"ttl_seconds": 9223372037}`)); r.status == 201 && got.TTL < time.Hour {
		t.Errorf("overflowing ttl became %v", got.TTL)
	}
	for body, want := range map[string]string{
		`null`:                   "not null",
		`[1]`:                    "must be a JSON object",
		`{"audit_images":"x"}`:   "audit_images must be a whole number",
		`{"mode": 3}`:            "mode must be a string",
		`{"reference_image":{}}`: "reference_image must be a string",
	} {
		r := e.do("POST", "/v1/sessions", key, []byte(body))
		if r.status != 400 || !strings.Contains(r.raw2(), want) || strings.Contains(r.raw2(), "httpapi.") || strings.Contains(r.raw2(), "presence.") {
			t.Errorf("%s: %d %s, want 400 saying %q", body, r.status, r.raw, want)
		}
	}
	var topK int
	subs.identify = func(_ context.Context, _ *presence.APIKey, _ string, k int) (*subjects.Identification, error) {
		topK = k
		return &subjects.Identification{}, nil
	}
	for _, bad := range []string{`-1`, `0`, `51`, `1e12`, `"5"`} {
		r := e.do("POST", "/v1/identify", key, []byte(`{"session_id":"ses_1","top_k":`+bad+`}`))
		if r.status != 400 || !strings.Contains(r.raw2(), "top_k") {
			t.Errorf("top_k %s: %d %s", bad, r.status, r.raw)
		}
	}
	if r := e.do("POST", "/v1/identify", key, []byte(`{"session_id":"ses_1"}`)); r.status != 200 || topK != 5 {
		t.Errorf("default top_k: %d %d", r.status, topK)
	}
	if r := e.do("POST", "/v1/identify", key, []byte(`{"session_id":"ses_1","top_k":50}`)); r.status != 200 || topK != 50 {
		t.Errorf("top_k 50: %d %d", r.status, topK)
	}
	// Enrol takes no top_k.
	subs.enrol = func(context.Context, *presence.APIKey, string, string) (*subjects.Enrolment, error) {
		return &subjects.Enrolment{}, nil
	}
	if r := e.do("POST", "/v1/subjects/alice/enrol", key, []byte(`{"session_id":"ses_1","top_k":3}`)); r.status != 400 || !strings.Contains(r.raw2(), "unknown field") {
		t.Errorf("enrol with top_k: %d %s", r.status, r.raw)
	}
	// Load balancers probe with HEAD.
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := e.do("HEAD", path, "", nil); r.status != 200 {
			t.Errorf("HEAD %s: %d", path, r.status)
		}
	}
}

// TestPreAuthenticationMessageLimit: before the hello's token is accepted
// a peer may send only small messages (30 peers sending 19 MiB hellos
// took the server from 0.25 to 1.29 GB); after it, frames up to the body
// limit.
func TestPreAuthenticationMessageLimit(t *testing.T) {
	e := newRulesEnv(t, httpapi.Config{MaxBodyBytes: 1 << 20})
	frame := session.FrameMessage(1, 0, "n", bytes.Repeat([]byte{7}, 200<<10))
	e.sessions.stream = func(ctx context.Context, id string, conn session.StreamConn) error {
		if _, _, err := conn.Read(ctx); err != nil {
			return err
		}
		conn.(session.AuthenticatedConn).Authenticated() // the token was good
		conn.WriteJSON(ctx, map[string]string{"type": "ready"})
		_, msg, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		return conn.WriteJSON(ctx, map[string]int{"got": len(msg)})
	}
	dial := func() *websocket.Conn {
		c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(e.url, "http")+"/v1/sessions/ses_1/stream", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	ctx := context.Background()
	// A 200 KiB hello is refused before anything reads it as JSON.
	c := dial()
	c.Write(ctx, websocket.MessageText, append([]byte(`{"type":"hello","token":"`), bytes.Repeat([]byte("x"), 200<<10)...))
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversized hello: %v", err)
	}
	// After the hello, a 200 KiB frame is fine.
	c = dial()
	wsjson.Write(ctx, c, map[string]string{"type": "hello", "token": "pct_x"})
	var m map[string]any
	if err := wsjson.Read(ctx, c, &m); err != nil || m["type"] != "ready" {
		t.Fatalf("ready: %v %v", m, err)
	}
	c.Write(ctx, websocket.MessageBinary, frame)
	if err := wsjson.Read(ctx, c, &m); err != nil || m["got"] != float64(len(frame)) {
		t.Fatalf("frame after authentication: %v %v", m, err)
	}
}

// TestUploadErrorsSpeakOfUploads: a broken multipart upload is named as
// one, not as malformed JSON.
func TestUploadErrorsSpeakOfUploads(t *testing.T) {
	e := newRulesEnv(t, httpapi.Config{})
	e.sessions.sessionForToken = func(context.Context, string, string) (*presence.Session, error) {
		return &presence.Session{ID: "ses_1", Mode: presence.ModePassive, Status: presence.StatusCreated}, nil
	}
	for name, body := range map[string]string{
		"cut off":     "--b\r\nContent-Disposition: form-data; name=\"frame\"\r\n\r\nabc",
		"no boundary": "garbage",
	} {
		req, _ := http.NewRequest("POST", e.url+"/v1/sessions/ses_1/frames", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer pct_x")
		req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || strings.Contains(string(raw), "JSON") || !strings.Contains(string(raw), "multipart") {
			t.Errorf("%s: %d %s", name, res.StatusCode, raw)
		}
	}
}

// TestOverloadedUploadsAreAskedToComeBack: with the analysis queue deep,
// an upload is refused with 503 and Retry-After before its body is read.
func TestOverloadedUploadsAreAskedToComeBack(t *testing.T) {
	busy := true
	e := newRulesEnv(t, httpapi.Config{Overloaded: func() bool { return busy }})
	e.sessions.sessionForToken = func(context.Context, string, string) (*presence.Session, error) {
		return &presence.Session{ID: "ses_1", Mode: presence.ModePassive, Status: presence.StatusCreated}, nil
	}
	submitted := false
	e.sessions.submitFrames = func(context.Context, string, string, []session.Frame) (*presence.Session, error) {
		submitted = true
		return &presence.Session{ID: "ses_1", Status: presence.StatusSucceeded}, nil
	}
	upload := func() *http.Response {
		req, _ := http.NewRequest("POST", e.url+"/v1/sessions/ses_1/frames", strings.NewReader("jpeg"))
		req.Header.Set("Authorization", "Bearer pct_x")
		req.Header.Set("Content-Type", "image/jpeg")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := upload(); res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || submitted {
		t.Fatalf("busy: %d %q submitted=%v", res.StatusCode, res.Header.Get("Retry-After"), submitted)
	}
	busy = false
	if res := upload(); res.StatusCode != 200 || !submitted {
		t.Fatalf("not busy: %d submitted=%v", res.StatusCode, submitted)
	}
}
