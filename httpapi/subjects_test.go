package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"presence"
	"presence/clock"
	"presence/httpapi/apitest"
	"presence/presencetest"
	"presence/session"
)

// passed runs a passive session on one photo and returns its id.
func (e *env) passed(t *testing.T, photo string) string {
	t.Helper()
	id, token := e.create(`{"enrolable":true}`)
	if r := e.upload(id, token, e.capture(t, photo)); r.status != 200 {
		t.Fatalf("upload %s: %d %s", photo, r.status, r.raw)
	}
	return id
}

func (e *env) post(path, body string) response {
	return e.do("POST", path, e.key, "application/json", []byte(body))
}

func TestSubjectLifecycle(t *testing.T) {
	e := newEnv(t, options{})
	if r := e.post("/v1/subjects", `{"id":"user-42"}`); r.status != 201 || r.body["id"] != "user-42" || r.body["templates"] != 0.0 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	// Enrol two photos of one person, check a third and a stranger.
	var last string
	for _, photo := range []string{"fr_deepface_pairs/img20.jpg", "fr_deepface_pairs/img21.jpg"} {
		last = e.passed(t, photo)
		r := e.post("/v1/subjects/user-42/enrol", `{"session_id":"`+last+`"}`)
		if r.status != 201 {
			t.Fatalf("enrol %s: %d %s", photo, r.status, r.raw)
		}
	}
	// One session is one template: enrolling it again is refused.
	if r := e.post("/v1/subjects/user-42/enrol", `{"session_id":"`+last+`"}`); r.status != 409 || !strings.Contains(r.raw2(), "already enrolled") {
		t.Fatalf("the same session enrolled twice: %d %s", r.status, r.raw)
	}
	if r := e.get2("/v1/subjects/user-42"); r.body["templates"] != 2.0 {
		t.Fatalf("after enrolment: %s", r.raw)
	}
	e.post("/v1/subjects", `{"id":"user-7"}`)
	e.post("/v1/subjects/user-7/enrol", `{"session_id":"`+e.passed(t, "fr_deepface_pairs/img1.jpg")+`"}`)

	stranger := e.passed(t, "fr_deepface_pairs/img1.jpg")
	v := e.post("/v1/subjects/user-42/verify", `{"session_id":"`+stranger+`"}`)
	if v.status != 200 || v.body["match"] != false || v.body["decision"] != "realface" {
		t.Fatalf("verify a stranger: %d %s", v.status, v.raw)
	}
	// 1:N: the stranger is user-7; top-k lists both, best first.
	idn := e.post("/v1/identify", `{"session_id":"`+stranger+`","top_k":2}`)
	cands, _ := idn.body["candidates"].([]any)
	if idn.status != 200 || len(cands) != 2 {
		t.Fatalf("identify: %d %s", idn.status, idn.raw)
	}
	first := cands[0].(map[string]any)
	if first["subject_id"] != "user-7" || first["match"] != true || cands[1].(map[string]any)["match"] != false {
		t.Fatalf("identify ranking: %s", idn.raw)
	}
	// A session naming the subject gets the match in its verdict.
	id, token := e.create(`{"subject_id":"user-42"}`)
	e.upload(id, token, data(t, "fr_deepface_pairs/img20.jpg"))
	g := e.get(id)
	m, _ := g.body["match"].(map[string]any)
	if g.body["subject_id"] != "user-42" || m["match"] != true {
		t.Fatalf("session with a subject reference: %s", g.raw)
	}

	list := e.get2("/v1/subjects?limit=1")
	if subs := list.body["subjects"].([]any); len(subs) != 1 || list.body["next"] != "user-42" {
		t.Fatalf("page 1: %s", list.raw)
	}
	if page2 := e.get2("/v1/subjects?after=user-42"); len(page2.body["subjects"].([]any)) != 1 {
		t.Fatalf("page 2: %s", page2.raw)
	}

	del := e.do("DELETE", "/v1/subjects/user-42", e.key, "", nil)
	erased, _ := del.body["erased"].(map[string]any)
	// Two templates; three sessions: two enrolment sessions and the one
	// that named user-42; their probe templates too.
	if del.status != 200 || erased["templates"] != 2.0 || erased["sessions"] != 3.0 || erased["probe_templates"] != 3.0 {
		t.Fatalf("erase: %d %s", del.status, del.raw)
	}
	if r := e.get2("/v1/subjects/user-42"); r.status != 404 {
		t.Fatalf("erased subject: %d", r.status)
	}
	if r := e.get(id); r.status != 404 {
		t.Fatalf("a session of the erased subject is still readable: %d", r.status)
	}
	// The erased templates are gone from identification too.
	if idn := e.post("/v1/identify", `{"session_id":"`+e.passed(t, "fr_deepface_pairs/img21.jpg")+`"}`); strings.Contains(idn.raw2(), "user-42") {
		t.Fatalf("identify still finds the erased subject: %s", idn.raw)
	}
}

func (e *env) get2(path string) response { return e.do("GET", path, e.key, "", nil) }

func TestSubjectBadInput(t *testing.T) {
	e := newEnv(t, options{})
	e.post("/v1/subjects", `{"id":"alice"}`)
	live := e.passed(t, "fr_deepface_pairs/img20.jpg")
	fake := e.passed(t, "pad_celebaspoof/spoof/101.jpg")
	if g := e.get(fake); g.body["decision"] != "fake" {
		t.Fatalf("the print was not judged fake: %s", g.raw)
	}
	expiredID, _ := e.create(`{"ttl_seconds":30}`)
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed subject id", "POST", "/v1/subjects", `{"id":"has space"}`, 400, "invalid_request"},
		{"empty subject id", "POST", "/v1/subjects", `{"id":""}`, 400, "invalid_request"},
		{"overlong subject id", "POST", "/v1/subjects", `{"id":"` + strings.Repeat("a", 129) + `"}`, 400, "invalid_request"},
		{"existing subject", "POST", "/v1/subjects", `{"id":"alice"}`, 409, "conflict"},
		{"unknown subject", "GET", "/v1/subjects/bob", ``, 404, "not_found"},
		{"malformed id in path", "GET", "/v1/subjects/a%20b", ``, 400, "invalid_request"},
		{"enrol unknown subject", "POST", "/v1/subjects/bob/enrol", `{"session_id":"` + live + `"}`, 404, "not_found"},
		{"enrol unknown session", "POST", "/v1/subjects/alice/enrol", `{"session_id":"ses_nope"}`, 404, "not_found"},
		{"enrol without session", "POST", "/v1/subjects/alice/enrol", `{}`, 400, "invalid_request"},
		{"enrol from a fake session", "POST", "/v1/subjects/alice/enrol", `{"session_id":"` + fake + `"}`, 409, "session_not_live"},
		{"enrol from a session without verdict", "POST", "/v1/subjects/alice/enrol", `{"session_id":"` + expiredID + `"}`, 409, "session_not_live"},
		{"verify a fake session", "POST", "/v1/subjects/alice/verify", `{"session_id":"` + fake + `"}`, 409, "session_not_live"},
		{"identify a fake session", "POST", "/v1/identify", `{"session_id":"` + fake + `"}`, 409, "session_not_live"},
		{"session naming an unknown subject", "POST", "/v1/sessions", `{"subject_id":"bob"}`, 404, "not_found"},
		{"session naming a subject without a face", "POST", "/v1/sessions", `{"subject_id":"alice"}`, 409, "conflict"},
		{"session with both references", "POST", "/v1/sessions", `{"subject_id":"alice","reference_image":"AAAA"}`, 400, "invalid_request"},
		{"delete unknown subject", "DELETE", "/v1/subjects/bob", ``, 404, "not_found"},
	} {
		r := e.do(c.method, c.path, e.key, "application/json", []byte(c.body))
		if r.status != c.status || r.code() != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.raw, c.status, c.code)
		}
	}
	e.clock.Advance(time.Minute)
	if r := e.post("/v1/subjects/alice/enrol", `{"session_id":"`+expiredID+`"}`); r.status != 410 || r.code() != "session_expired" {
		t.Errorf("enrol from an expired session: %d %s", r.status, r.raw)
	}
	// Enrolment moves a session to its subject: another subject cannot
	// take it.
	e.post("/v1/subjects", `{"id":"carol"}`)
	if r := e.post("/v1/subjects/alice/enrol", `{"session_id":"`+live+`"}`); r.status != 201 {
		t.Fatal(r.raw2())
	}
	if r := e.post("/v1/subjects/carol/enrol", `{"session_id":"`+live+`"}`); r.status != 409 {
		t.Errorf("a session enrolled twice under two subjects: %d %s", r.status, r.raw)
	}
}

func TestDuplicateFaces(t *testing.T) {
	for _, policy := range []string{"warn", "refuse"} {
		t.Run(policy, func(t *testing.T) {
			e := newEnvWith(t, apitest.Options{Duplicates: policy})
			e.post("/v1/subjects", `{"id":"first-account"}`)
			e.post("/v1/subjects", `{"id":"second-account"}`)
			if r := e.post("/v1/subjects/first-account/enrol", `{"session_id":"`+e.passed(t, "fr_deepface_pairs/img20.jpg")+`"}`); r.status != 201 {
				t.Fatal(r.raw2())
			}
			// The same person, another photo, another account.
			r := e.post("/v1/subjects/second-account/enrol", `{"session_id":"`+e.passed(t, "fr_deepface_pairs/img21.jpg")+`"}`)
			switch policy {
			case "warn":
				dups, _ := r.body["duplicates"].([]any)
				if r.status != 201 || len(dups) != 1 || dups[0].(map[string]any)["subject_id"] != "first-account" {
					t.Fatalf("warn: %d %s", r.status, r.raw)
				}
			case "refuse":
				details, _ := r.body["error"].(map[string]any)["details"].(map[string]any)
				dups, _ := details["duplicates"].([]any)
				if r.status != 409 || r.code() != "duplicate_face" || len(dups) != 1 || dups[0].(map[string]any)["subject_id"] != "first-account" {
					t.Fatalf("refuse: %d %s", r.status, r.raw)
				}
				if s, _ := e.store.Subject(context.Background(), "second-account"); s.Templates != 0 {
					t.Fatal("a refused enrolment stored a template")
				}
			}
			// A different person is no duplicate.
			r = e.post("/v1/subjects/second-account/enrol", `{"session_id":"`+e.passed(t, "fr_deepface_pairs/img1.jpg")+`"}`)
			if r.status != 201 || len(r.body["duplicates"].([]any)) != 0 {
				t.Fatalf("a stranger flagged: %d %s", r.status, r.raw)
			}
			recs, _ := e.store.ListAudit(context.Background(), 0, 100)
			enrolled := 0
			for _, rec := range recs {
				if rec.Action == presence.AuditEnrolled {
					enrolled++
				}
			}
			want := map[string]int{"warn": 3, "refuse": 2}[policy]
			if enrolled != want {
				t.Fatalf("%d enrolment audit records, want %d", enrolled, want)
			}
		})
	}
}

func newEnvWith(t *testing.T, o apitest.Options) *env {
	t.Helper()
	e := apitest.New(t, o)
	return &env{Env: e, t: t, url: e.URL, key: e.Key, store: e.Store, clock: e.Clock, server: e.Server}
}

// TestPlainSessionsKeepNoTemplate: a check that names no reference and is
// not enrolable skips the face-template model and keeps no template, so
// it cannot be enrolled (a clear error says how to ask for it).
func TestPlainSessionsKeepNoTemplate(t *testing.T) {
	e := newEnv(t, options{})
	id, token := e.create(`{}`)
	if r := e.upload(id, token, e.capture(t, "fr_deepface_pairs/img20.jpg")); r.status != 200 {
		t.Fatal(r.raw2())
	}
	g := e.get(id)
	timings, _ := g.body["timings"].(map[string]any)
	if g.body["decision"] != "realface" || timings["embedding_ms"] != 0.0 {
		t.Fatalf("plain check: %s", g.raw)
	}
	e.post("/v1/subjects", `{"id":"user-1"}`)
	r := e.post("/v1/subjects/user-1/enrol", `{"session_id":"`+id+`"}`)
	if r.status != 409 || !strings.Contains(r.raw2(), `enrolable`) {
		t.Fatalf("enrolling a plain session: %d %s", r.status, r.raw)
	}
	if sess, _ := e.store.Session(context.Background(), id); sess.ProbeTemplate != nil {
		t.Fatal("a plain session kept a template")
	}
}

// TestSubjectExport: everything held about a subject with every kind of
// record (templates, an enrolled session, a session that named the
// subject with audit images kept, a verification, an identification,
// replay fingerprints), as one document; templates are described, never
// given as numbers; the images are the bytes uploaded. After erasure the
// export is 404 and writes nothing.
func TestSubjectExport(t *testing.T) {
	e := newEnv(t, options{})
	e.post("/v1/subjects", `{"id":"erin"}`)
	enrolled := e.passed(t, "fr_deepface_pairs/img20.jpg")
	if r := e.post("/v1/subjects/erin/enrol", `{"session_id":"`+enrolled+`"}`); r.status != 201 {
		t.Fatal(r.raw2())
	}
	named, token := e.create(`{"subject_id":"erin","audit_images":1,"correlation_id":"login-7"}`)
	photo := e.capture(t, "fr_deepface_pairs/img21.jpg")
	if r := e.upload(named, token, photo); r.status != 200 {
		t.Fatal(r.raw2())
	}
	if r := e.post("/v1/subjects/erin/verify", `{"session_id":"`+named+`"}`); r.status != 200 {
		t.Fatal(r.raw2())
	}
	if r := e.post("/v1/identify", `{"session_id":"`+e.passed(t, "fr_deepface_pairs/img20.jpg")+`"}`); r.status != 200 {
		t.Fatal(r.raw2())
	}
	// A session that showed a notice and named erin, answered and streamed.
	noticed, ntoken := e.create(`{"subject_id":"erin","notice":{"version":"n1","texts":{"en":{"controller":"Example","purpose":"presence","kept":"30 days"}}}}`)
	var frames []session.RecordedFrame
	for i, f := range presencetest.Frames(t, "video_live/blink_talking_1face_720p.mp4", 10, 640)[10:40] {
		frames = append(frames, session.RecordedFrame{At: time.Duration(i) * 100 * time.Millisecond, Data: presencetest.ReadFile(t, f)})
	}
	e.Sessions.Stream(context.Background(), noticed, &session.Playback{Clock: e.Clock.(*clock.Virtual), Token: ntoken, Frames: frames, Answer: map[string]any{"type": "consent", "agree": true, "language": "en"}})
	r := e.do("GET", "/v1/subjects/erin/export", e.key, "", nil)
	if r.status != 200 {
		t.Fatalf("export: %d %s", r.status, r.raw)
	}
	var ex struct {
		Subject   struct{ ID string }
		Templates []map[string]any
		Sessions  []struct {
			ID, Decision      string
			Match             *struct{ Match bool }
			AuditImages       []struct{ Data []byte } `json:"audit_images"`
			CorrelationIDJSON string                  `json:"correlation_id"`
		}
		Audit    []struct{ Action, SessionID string }
		Consents []struct {
			SessionID     string `json:"session_id"`
			NoticeVersion string `json:"notice_version"`
			Agreed        bool
		}
		FrameFingerprints int `json:"frame_fingerprints"`
	}
	if err := json.Unmarshal(r.raw, &ex); err != nil {
		t.Fatal(err)
	}
	if ex.Subject.ID != "erin" || len(ex.Templates) != 1 || ex.Templates[0]["model"] == "" || ex.Templates[0]["enrolled_from_session"] != enrolled {
		t.Fatalf("subject and templates: %s", r.raw)
	}
	if regexp.MustCompile(`\[(-?[0-9.e+-]+,){63,}`).Match(r.raw) {
		t.Fatalf("the export carries template values: %s", r.raw)
	}
	sessions := map[string]int{}
	for i, s := range ex.Sessions {
		sessions[s.ID] = i
	}
	i, ok := sessions[named]
	if _, ok2 := sessions[enrolled]; !ok || !ok2 || len(ex.Sessions[i].AuditImages) != 1 || !bytes.Equal(ex.Sessions[i].AuditImages[0].Data, photo) ||
		ex.Sessions[i].Match == nil || ex.Sessions[i].CorrelationIDJSON != "login-7" {
		t.Fatalf("sessions: %s", r.raw)
	}
	actions := map[string]bool{}
	for _, a := range ex.Audit {
		actions[a.Action] = true
	}
	for _, want := range []string{"verdict", "enrolled", "verified"} {
		if !actions[want] {
			t.Errorf("the audit lacks %s: %v", want, actions)
		}
	}
	if ex.FrameFingerprints < 2 || len(ex.Consents) != 1 || ex.Consents[0].SessionID != noticed || ex.Consents[0].NoticeVersion != "n1" || !ex.Consents[0].Agreed || !actions["consent_given"] {
		t.Errorf("fingerprints %d, consents %+v, audit %v", ex.FrameFingerprints, ex.Consents, actions)
	}
	// Erased: not found, and asking writes nothing.
	if d := e.do("DELETE", "/v1/subjects/erin", e.key, "", nil); d.status != 200 {
		t.Fatal(d.raw2())
	}
	before, _ := e.store.ListAudit(context.Background(), 0, 1000)
	if r := e.do("GET", "/v1/subjects/erin/export", e.key, "", nil); r.status != 404 {
		t.Fatalf("export after erasure: %d %s", r.status, r.raw)
	}
	if after, _ := e.store.ListAudit(context.Background(), 0, 1000); len(after) != len(before) {
		t.Fatal("a refused export wrote to the audit log")
	}
}

// TestReadOwnKey: a relying party reads its key's policy (capture,
// notice, retention) with the key itself; a client token cannot.
func TestReadOwnKey(t *testing.T) {
	e := newEnv(t, options{})
	r := e.do("GET", "/v1/key", e.key, "", nil)
	policy, _ := r.body["policy"].(map[string]any)
	if r.status != 200 || r.body["id"] == nil || policy == nil || policy["capture"] == nil || policy["retention"] == nil {
		t.Fatalf("GET /v1/key: %d %s", r.status, r.raw)
	}
	_, token := e.create(`{}`)
	if r := e.do("GET", "/v1/key", token, "", nil); r.status == 200 {
		t.Fatalf("a client token read the key: %s", r.raw)
	}
}

// TestOperatorAPI: behind the operator credential only, sessions of every
// key page newest first and filter; one session comes with its audit
// trail; the audit log reads by time.
func TestOperatorAPI(t *testing.T) {
	const operator = "op-credential-0123456789abcdef"
	e := newEnv(t, options{OperatorToken: operator})
	var ids []string
	for i := range 5 {
		id, token := e.create(`{"correlation_id":"op-` + strconv.Itoa(i) + `"}`)
		if i%2 == 0 {
			e.upload(id, token, e.capture(t, "fr_deepface_pairs/img20.jpg"))
		}
		ids = append(ids, id)
		e.clock.Advance(time.Second)
	}
	for _, cred := range []string{"", e.key, "op-credential-wrong"} {
		if r := e.do("GET", "/v1/operator/sessions", cred, "", nil); r.status != 401 {
			t.Fatalf("credential %q: %d", cred, r.status)
		}
	}
	var seen []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		r := e.do("GET", "/v1/operator/sessions?limit=2&cursor="+cursor, operator, "", nil)
		if r.status != 200 {
			t.Fatalf("list: %d %s", r.status, r.raw)
		}
		for _, s := range r.body["sessions"].([]any) {
			seen = append(seen, s.(map[string]any)["id"].(string))
		}
		next, _ := r.body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 5 || seen[0] != ids[4] || seen[4] != ids[0] {
		t.Fatalf("pages: %v, created %v", seen, ids)
	}
	if r := e.do("GET", "/v1/operator/sessions?status=succeeded&correlation_id=op-2", operator, "", nil); len(r.body["sessions"].([]any)) != 1 {
		t.Fatalf("filtered: %s", r.raw)
	}
	if r := e.do("GET", "/v1/operator/sessions?cursor=bogus", operator, "", nil); r.status != 400 {
		t.Fatalf("bad cursor: %d", r.status)
	}
	r := e.do("GET", "/v1/operator/sessions/"+ids[0], operator, "", nil)
	audit, _ := r.body["audit"].([]any)
	if r.status != 200 || len(audit) == 0 || r.body["api_key_id"] == nil {
		t.Fatalf("one session: %d %s", r.status, r.raw)
	}
	if r := e.do("GET", "/v1/operator/audit?from=2000-01-01T00:00:00Z", operator, "", nil); r.status != 200 || len(r.body["records"].([]any)) < 3 {
		t.Fatalf("audit: %d %s", r.status, r.raw)
	}
}
