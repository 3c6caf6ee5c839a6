package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"presence"
	"presence/clock"
	"presence/httpapi"
	"presence/httpapi/apitest"
	"presence/presencetest"
	"presence/sqlstore"
)

// env is a real server on port 0: real models, a real SQLite file.
type env struct {
	*apitest.Env
	t      *testing.T
	url    string
	key    string
	store  *sqlstore.DB
	clock  clock.Adjustable
	server *httpapi.Server
	// check, when set, sees every request and its answer (the OpenAPI
	// test validates them against the document).
	check func(req *http.Request, status int, header http.Header, body []byte)
	// captures numbers the recaptures of test photos: a photo shown in
	// several sessions is a new capture each time, as from a camera (the
	// same pixels again are a replay).
	captures int
}

// capture is photo as a fresh camera capture.
func (e *env) capture(t *testing.T, photo string) []byte {
	e.captures++
	return presencetest.Recapture(t, data(t, photo), e.captures)
}

type options = apitest.Options

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	e := apitest.New(t, o)
	return &env{Env: e, t: t, url: e.URL, key: e.Key, store: e.Store, clock: e.Clock, server: e.Server}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r response) code() string {
	if e, ok := r.body["error"].(map[string]any); ok {
		return fmt.Sprint(e["code"])
	}
	return ""
}

func (e *env) do(method, path, auth, contentType string, body []byte) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	json.Unmarshal(raw, &out.body)
	if e.check != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		e.check(req, res.StatusCode, res.Header, raw)
	}
	return out
}

func (e *env) create(body string) (id, token string) {
	e.t.Helper()
	r := e.do("POST", "/v1/sessions", e.key, "application/json", []byte(body))
	if r.status != http.StatusCreated {
		e.t.Fatalf("create: %d %s", r.status, r.raw)
	}
	return r.body["id"].(string), r.body["client_token"].(string)
}

func (e *env) upload(id, token string, frames ...[]byte) response {
	e.t.Helper()
	if len(frames) == 1 {
		return e.do("POST", "/v1/sessions/"+id+"/frames", token, "image/jpeg", frames[0])
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i, f := range frames {
		w, _ := mw.CreateFormFile("frame", fmt.Sprintf("f%d.jpg", i))
		w.Write(f)
	}
	mw.Close()
	return e.do("POST", "/v1/sessions/"+id+"/frames", token, mw.FormDataContentType(), buf.Bytes())
}

func (e *env) get(id string) response {
	e.t.Helper()
	return e.do("GET", "/v1/sessions/"+id, e.key, "", nil)
}

func data(t *testing.T, rel string) []byte {
	t.Helper()
	return presencetest.ReadFile(t, presencetest.DataFile(t, rel))
}

func TestVerdicts(t *testing.T) {
	e := newEnv(t, options{})
	for _, c := range []struct {
		file string
		want presence.Decision
	}{
		{"pad_silentface_samples/image_T1.jpg", presence.DecisionRealFace},
		// A paper print with its edge visible: the default model is sure
		// it is a print (0.003), the Silent-Face pair calls it live; the
		// fused 0.41 is no pass and no confident spoof.
		{"pad_celebaspoof/spoof/1.jpg", presence.DecisionInconclusive},
		{"pad_celebaspoof/spoof/101.jpg", presence.DecisionFake}, // paper print held by hand
		{"pad_silentface_samples/image_F2.jpg", presence.DecisionFake},
	} {
		id, token := e.create(`{"mode":"passive","correlation_id":"c-1"}`)
		up := e.upload(id, token, data(t, c.file))
		if up.status != 200 || up.body["status"] != "succeeded" {
			t.Fatalf("%s: upload %d %s", c.file, up.status, up.raw)
		}
		// The device learns nothing about the decision.
		if _, leaked := up.body["decision"]; leaked || bytes.Contains(up.raw, []byte("score")) {
			t.Errorf("%s: the device response leaks the verdict: %s", c.file, up.raw)
		}
		g := e.get(id)
		if g.status != 200 || g.body["decision"] != string(c.want) || g.body["status"] != "succeeded" {
			t.Errorf("%s: got %v %v, want %s", c.file, g.body["status"], g.body["decision"], c.want)
		}
		if g.body["correlation_id"] != "c-1" || g.body["models"] == nil || g.body["timings"] == nil {
			t.Errorf("%s: incomplete session: %s", c.file, g.raw)
		}
	}
}

func TestTokenRules(t *testing.T) {
	e := newEnv(t, options{})
	live := data(t, "pad_silentface_samples/image_T1.jpg")
	id, token := e.create(`{}`)
	other, _ := e.create(`{}`)

	for _, c := range []struct {
		name   string
		r      response
		status int
		code   string
	}{
		{"API key used as client token", e.upload(id, e.key, live), 403, "wrong_credential"},
		{"client token used as API key", e.do("GET", "/v1/sessions/"+id, token, "", nil), 403, "wrong_credential"},
		{"no credential", e.do("POST", "/v1/sessions", "", "application/json", []byte(`{}`)), 401, "unauthorized"},
		{"unknown API key", e.do("GET", "/v1/sessions/"+id, "pk_abcdefghij_notthesecret", "", nil), 401, "unauthorized"},
		{"token of another session", e.upload(other, token, live), 403, "token_session_mismatch"},
		{"garbage token", e.upload(id, "pct_garbage", live), 401, "invalid_token"},
		{"unknown session", e.upload("ses_nope", token, live), 404, "not_found"},
	} {
		if c.r.status != c.status || c.r.code() != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, c.r.status, c.r.raw, c.status, c.code)
		}
	}
	if r := e.upload(id, token, live); r.status != 200 {
		t.Fatalf("first use: %d %s", r.status, r.raw)
	}
	if r := e.upload(id, token, live); r.status != 409 || r.code() != "token_used" {
		t.Fatalf("second use: %d %s", r.status, r.raw)
	}
}

func TestRevokedKey(t *testing.T) {
	e := newEnv(t, options{})
	id, _ := e.create(`{}`)
	keys, _ := e.store.ListAPIKeys(context.Background())
	e.store.RevokeAPIKey(context.Background(), keys[0].ID, time.Now())
	if r := e.get(id); r.status != 401 || !strings.Contains(r.raw2(), "revoked") {
		t.Fatalf("revoked key: %d %s", r.status, r.raw)
	}
}

func (r response) raw2() string { return string(r.raw) }

func TestExpiry(t *testing.T) {
	e := newEnv(t, options{})
	id, token := e.create(`{"ttl_seconds": 60}`)
	e.clock.Advance(61 * time.Second)
	if r := e.upload(id, token, data(t, "pad_silentface_samples/image_T1.jpg")); r.status != 410 || r.code() != "session_expired" {
		t.Fatalf("upload after expiry: %d %s", r.status, r.raw)
	}
	if g := e.get(id); g.body["status"] != "expired" || g.body["decision"] != nil {
		t.Fatalf("expired session reads %s", g.raw)
	}
}

// TestFailedRequestsLeaveNothingHalfWritten sends bad requests, then a good
// one with the same token: the bad ones neither spent the token nor wrote
// a verdict, image or audit record.
func TestFailedRequestsLeaveNothingHalfWritten(t *testing.T) {
	e := newEnv(t, options{MaxBodyBytes: 1 << 20})
	live := data(t, "pad_silentface_samples/image_T1.jpg")
	id, token := e.create(`{"audit_images": 2}`)
	audit := func() int {
		recs, _ := e.store.ListAudit(context.Background(), 0, 100)
		return len(recs)
	}
	before := audit()
	big := bytes.Repeat([]byte{0xFF}, 2<<20)
	for _, c := range []struct {
		name   string
		r      response
		status int
		code   string
	}{
		{"oversized body", e.do("POST", "/v1/sessions/"+id+"/frames", token, "image/jpeg", big), 413, "payload_too_large"},
		{"non-image frame", e.do("POST", "/v1/sessions/"+id+"/frames", token, "image/jpeg", []byte("GIF89a not really")), 422, "unsupported_format"},
		{"truncated frame", e.upload(id, token, live[:len(live)/3]), 422, "corrupt_image"},
		{"empty frame", e.do("POST", "/v1/sessions/"+id+"/frames", token, "image/png", nil), 422, "empty_input"},
		{"second frame bad", e.upload(id, token, live, []byte("text")), 422, "unsupported_format"},
		{"too many frames", e.upload(id, token, live, live, live, live, live, live), 400, "too_many_frames"},
		{"wrong content type", e.do("POST", "/v1/sessions/"+id+"/frames", token, "text/plain", live), 415, "unsupported_media_type"},
	} {
		if c.r.status != c.status || c.r.code() != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, c.r.status, c.r.raw, c.status, c.code)
		}
	}
	if g := e.get(id); g.body["status"] != "created" || g.body["decision"] != nil {
		t.Fatalf("after failed requests the session reads %s", g.raw)
	}
	if audit() != before {
		t.Fatal("a failed request appended an audit record")
	}
	if imgs, _ := e.store.AuditImages(context.Background(), id); len(imgs) != 0 {
		t.Fatal("a failed request stored images")
	}
	if r := e.upload(id, token, live); r.status != 200 {
		t.Fatalf("the token was spent by a failed request: %d %s", r.status, r.raw)
	}
}

func TestMultiFrameFusionAndAuditImages(t *testing.T) {
	e := newEnv(t, options{})
	live := data(t, "pad_silentface_samples/image_T1.jpg")
	// F2 replays the same woman on a screen; img1 is someone else.
	screen := data(t, "pad_silentface_samples/image_F2.jpg")
	someoneElse := data(t, "fr_deepface_pairs/img1.jpg")
	id, token := e.create(`{}`)
	e.upload(id, token, live, live, someoneElse)
	g := e.get(id)
	if g.body["decision"] != "inconclusive" || !strings.Contains(string(g.raw), "face_changed") {
		t.Fatalf("another person in one frame: %s", g.raw)
	}
	// One live frame among replays of the same face: the replays decide.
	id, token = e.create(`{}`)
	e.upload(id, token, screen, live, screen)
	if g = e.get(id); g.body["decision"] != "fake" {
		t.Fatalf("one lucky frame decided: %s", g.raw)
	}
	// Two good frames, evidence kept as uploaded (a new capture: the
	// sessions above saw live).
	live = e.capture(t, "pad_silentface_samples/image_T1.jpg")
	id, token = e.create(`{"audit_images": 2}`)
	if r := e.upload(id, token, live, live, live); r.status != 200 {
		t.Fatal(r.raw2())
	}
	g = e.get(id)
	imgs, _ := g.body["audit_images"].([]any)
	if g.body["decision"] != "realface" || len(imgs) != 2 || len(g.body["frames"].([]any)) != 3 {
		t.Fatalf("%v frames, %d images: %s", g.body["frames"], len(imgs), g.raw)
	}
	first := imgs[0].(map[string]any)
	if raw, _ := base64.StdEncoding.DecodeString(first["data"].(string)); !bytes.Equal(raw, live) || first["content_type"] != "image/jpeg" {
		t.Fatal("audit image differs from the upload")
	}
	del := e.do("DELETE", "/v1/sessions/"+id, e.key, "", nil)
	erased, _ := del.body["erased"].(map[string]any)
	if del.status != 200 || erased["audit_images"] != 2.0 || erased["session"] != true {
		t.Fatalf("delete: %s", del.raw)
	}
	if r := e.get(id); r.status != 404 {
		t.Fatalf("deleted session: %d", r.status)
	}
	if imgs, _ := e.store.AuditImages(context.Background(), id); len(imgs) != 0 {
		t.Fatal("images survived")
	}
	recs, _ := e.store.ListAudit(context.Background(), 0, 100)
	var actions []string
	for _, r := range recs {
		if r.SessionID == id {
			actions = append(actions, r.Action)
		}
		if bytes.Contains(r.Detail, live[:64]) {
			t.Fatal("image bytes in the audit log")
		}
	}
	if strings.Join(actions, ",") != "verdict,session_deleted" {
		t.Fatalf("audit actions %v", actions)
	}
}

func TestReferenceMatch(t *testing.T) {
	e := newEnv(t, options{})
	ref := base64.StdEncoding.EncodeToString(data(t, "fr_deepface_pairs/img20.jpg"))
	for _, c := range []struct {
		file  string
		match bool
	}{{"fr_deepface_pairs/img21.jpg", true}, {"fr_deepface_pairs/img1.jpg", false}} {
		id, token := e.create(`{"reference_image":"` + ref + `"}`)
		e.upload(id, token, data(t, c.file))
		m, ok := e.get(id).body["match"].(map[string]any)
		if !ok || m["match"] != c.match {
			t.Errorf("%s: match %v, want %v", c.file, m, c.match)
		}
	}
	// The shirt at the bottom of the live sample has no face.
	bad := e.do("POST", "/v1/sessions", e.key, "application/json", []byte(`{"reference_image":"`+base64.StdEncoding.EncodeToString([]byte("not an image"))+`"}`))
	if bad.status != 422 || bad.code() != "unsupported_format" {
		t.Errorf("unreadable reference: %d %s", bad.status, bad.raw)
	}
}

func TestRequestValidation(t *testing.T) {
	e := newEnv(t, options{})
	for body, want := range map[string]string{
		`{"mode":"sideways"}`:      "mode",
		`{"audit_images": 9}`:      "audit_images",
		`{"ttl_seconds": 999999}`:  "ttl_seconds",
		`{"colour": "red"}`:        "unknown field",
		`{"audit_images": "two"}`:  "audit_images",
		`{"mode":`:                 "malformed JSON",
		``:                         "empty body",
		`{} {}`:                    "more than one",
		`{"reference_image":"!!"}`: "base64",
	} {
		r := e.do("POST", "/v1/sessions", e.key, "application/json", []byte(body))
		if r.status != 400 || r.code() != "invalid_request" || !strings.Contains(r.raw2(), want) {
			t.Errorf("%q: %d %s, want 400 mentioning %q", body, r.status, r.raw, want)
		}
	}
	if r := e.do("GET", "/v1/nothing", e.key, "", nil); r.status != 404 || r.code() != "not_found" {
		t.Errorf("unknown route: %d %s", r.status, r.raw)
	}
	if r := e.do("PUT", "/v1/sessions", e.key, "", nil); r.status != 405 || r.code() != "method_not_allowed" || r.header.Get("Allow") == "" {
		t.Errorf("wrong method: %d %s", r.status, r.raw)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, options{RateLimit: 3})
	for i := 0; i < 3; i++ {
		if r := e.do("POST", "/v1/sessions", e.key, "application/json", []byte(`{}`)); r.status != 201 {
			t.Fatalf("request %d: %d", i+1, r.status)
		}
	}
	r := e.do("POST", "/v1/sessions", e.key, "application/json", []byte(`{}`))
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if r.status != 429 || r.code() != "rate_limited" || err != nil || retry < 1 || retry > 60 {
		t.Fatalf("over the limit: %d %q %s", r.status, r.header.Get("Retry-After"), r.raw)
	}
	e.clock.Advance(time.Minute)
	if r := e.do("POST", "/v1/sessions", e.key, "application/json", []byte(`{}`)); r.status != 201 {
		t.Fatalf("next window: %d", r.status)
	}
}

func TestConcurrentUploadsSpendTheTokenOnce(t *testing.T) {
	e := newEnv(t, options{})
	live := data(t, "pad_silentface_samples/image_T1.jpg")
	id, token := e.create(`{}`)
	var wg sync.WaitGroup
	statuses := make(chan int, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- e.upload(id, token, live).status
		}()
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for s := range statuses {
		if s == 200 {
			ok++
		} else if s != 409 {
			t.Errorf("status %d", s)
		}
	}
	recs, _ := e.store.ListAudit(context.Background(), 0, 100)
	if ok != 1 || len(recs) != 1 {
		t.Fatalf("%d uploads succeeded, %d audit records", ok, len(recs))
	}
}

func TestOperations(t *testing.T) {
	e := newEnv(t, options{})
	id, token := e.create(`{}`)
	e.upload(id, token, data(t, "pad_silentface_samples/image_T1.jpg"))
	// Verdict counts are not on the API's listener: a device could read
	// its own verdict there (hardening issue, finding 1).
	if r := e.do("GET", "/metrics", "", "", nil); r.status != 404 {
		t.Errorf("metrics on the public listener: %d", r.status)
	}
	rec := httptest.NewRecorder()
	e.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	m := response{status: rec.Code, raw: rec.Body.Bytes()}
	for _, want := range []string{
		`presence_decisions_total{decision="realface",mode="passive"} 1`,
		`presence_sessions_created_total{mode="passive"} 1`,
		`presence_analysis_stage_seconds_count{stage="detect"} 1`,
		`presence_engine_queue_depth 0`,
		`presence_http_requests_total{code="201",method="POST",route="/v1/sessions"} 1`,
	} {
		if !strings.Contains(m.raw2(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if r := e.do("GET", "/healthz", "", "", nil); r.status != 200 {
		t.Error("healthz")
	}
	if r := e.do("GET", "/readyz", "", "", nil); r.status != 200 || r.body["ready"] != true {
		t.Errorf("readyz %s", r.raw)
	}
	e.server.Drain()
	if r := e.do("GET", "/readyz", "", "", nil); r.status != 503 {
		t.Errorf("readyz while draining: %d", r.status)
	}
	if r := e.do("GET", "/v1/sessions/"+id, e.key, "", nil); r.header.Get("X-Request-Id") == "" {
		t.Error("no request id")
	}
}

// TestOpenAPIDocumentsEveryRoute keeps the served description and the
// router in step.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	e := newEnv(t, options{OperatorToken: "op-credential-0123456789abcdef"}) // every route on
	r := e.do("GET", "/v1/openapi.json", "", "", nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.raw, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI document: %v", err)
	}
	for path, methods := range e.server.Routes() {
		documented, ok := doc.Paths[path]
		if !ok {
			t.Errorf("route %s is not documented", path)
			continue
		}
		for _, m := range methods {
			if _, ok := documented[strings.ToLower(m)]; !ok {
				t.Errorf("%s %s is not documented", m, path)
			}
		}
	}
	for path, ops := range doc.Paths {
		methods, ok := e.server.Routes()[path]
		if !ok {
			t.Errorf("documented path %s has no route", path)
		}
		for op := range ops {
			if op == "parameters" {
				continue
			}
			found := false
			for _, m := range methods {
				found = found || strings.EqualFold(m, op)
			}
			if !found {
				t.Errorf("documented %s %s has no handler", op, path)
			}
		}
	}
}
