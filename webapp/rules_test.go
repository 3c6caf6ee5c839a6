package webapp_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"presence/clock"
	"presence/webapp"
	"presence/webapp/accountsql"
)

// The app's own rules (registration, login, lockout, attempts bound to
// their browser and used once, face-only login among the app's accounts)
// on a fake Presence: no models, a virtual clock, the app's real store.

type fakePresence struct {
	mu       sync.Mutex
	api      *webapp.FakeAPI
	sessions map[string]string // session id -> the subject it named
	verdict  func(id, subject string) *webapp.Verdict
	deleted  []string // subjects
	n        int
}

type rulesEnv struct {
	url      string
	clock    *clock.Virtual
	accounts *accountsql.DB
	presence *fakePresence
}

func newRulesEnv(t *testing.T) *rulesEnv {
	t.Helper()
	accounts, err := accountsql.Open(context.Background(), filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accounts.Close() })
	p := &fakePresence{sessions: map[string]string{}}
	p.api = &webapp.FakeAPI{
		CreateSession: func(_ context.Context, mode, subject string, _ time.Duration, _ string) (*webapp.CreatedSession, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.n++
			id := "ses_" + string(rune('a'+p.n))
			p.sessions[id] = subject
			return &webapp.CreatedSession{ID: id, ClientToken: "pct_" + id}, nil
		},
		Session: func(_ context.Context, id string) (*webapp.Verdict, error) {
			p.mu.Lock()
			subject, ok := p.sessions[id]
			p.mu.Unlock()
			if !ok {
				return nil, webapp.APIError(404, "not_found")
			}
			v := p.verdict(id, subject)
			v.ID, v.SubjectID = id, subject
			return v, nil
		},
		CreateSubject: func(context.Context, string) error { return nil },
		Enrol: func(context.Context, string, string) (*webapp.Enrolment, error) {
			return &webapp.Enrolment{}, nil
		},
		DeleteSubject: func(_ context.Context, id string) (webapp.Erased, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.deleted = append(p.deleted, id)
			return webapp.Erased{}, nil
		},
	}
	clk := clock.NewVirtual(time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC))
	app, err := webapp.NewWithAPI(webapp.Config{
		APIBase: "http://presence.invalid", APIKey: "pk_app_secret", Store: accounts, Now: clk.Now, Mode: "passive",
		MaxFailures: 2, FailureWindow: 15 * time.Minute, Lockout: 15 * time.Minute,
	}, p.api)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return &rulesEnv{url: srv.URL, clock: clk, accounts: accounts, presence: p}
}

func live(match bool) func(string, string) *webapp.Verdict {
	return func(_, subject string) *webapp.Verdict {
		v := &webapp.Verdict{Status: "succeeded", Decision: "realface"}
		if subject != "" {
			v.Match = &webapp.Match{Similarity: 0.8, Match: match}
		}
		return v
	}
}

// attempt starts and finishes one face check.
func (b *browser) attempt(kind, username string) apiResult {
	b.t.Helper()
	start := b.api("/app/api/start", map[string]string{"kind": kind, "username": username})
	if !start.OK {
		return start
	}
	return b.api("/app/api/attempts/"+start.Attempt+"/finish", nil)
}

func TestAppRulesOnAFakePresence(t *testing.T) {
	e := newRulesEnv(t)
	ctx := context.Background()
	alice := newBrowser(t, e.url)

	e.presence.verdict = live(true)
	if r := alice.attempt("register", "Alice"); !r.OK || r.Redirect != "/app/account" {
		t.Fatalf("register: %d %+v", r.status, r.Screen)
	}
	u, err := e.accounts.UserByName(ctx, "alice")
	if err != nil {
		t.Fatalf("registered user: %v", err)
	}
	if r := newBrowser(t, e.url).api("/app/api/start", map[string]string{"kind": "register", "username": "alice"}); r.status != 409 || screenCode(r) != "username_taken" {
		t.Fatalf("taken name: %d %s", r.status, screenCode(r))
	}

	// A login names alice's subject, and passes only on a live match.
	b := newBrowser(t, e.url)
	start := b.api("/app/api/start", map[string]string{"kind": "login", "username": "alice"})
	if !start.OK || e.presence.sessions[start.SessionID] != u.SubjectID {
		t.Fatalf("login start: %+v (session names %q)", start, e.presence.sessions[start.SessionID])
	}
	// Another browser cannot finish it; the owner can, once.
	if r := newBrowser(t, e.url).api("/app/api/attempts/"+start.Attempt+"/finish", nil); r.status != 404 || screenCode(r) != "expired" {
		t.Fatalf("foreign browser: %d %s", r.status, screenCode(r))
	}
	if r := b.api("/app/api/attempts/"+start.Attempt+"/finish", nil); !r.OK {
		t.Fatalf("login: %d %+v", r.status, r.Screen)
	}
	if r := b.api("/app/api/attempts/"+start.Attempt+"/finish", nil); r.status != 409 || screenCode(r) != "session_used" {
		t.Fatalf("finished twice: %d %s", r.status, screenCode(r))
	}

	// Two failures lock the name for 15 minutes.
	thief := newBrowser(t, e.url)
	e.clock.Advance(time.Minute)
	e.presence.verdict = live(false)
	if r := thief.attempt("login", "alice"); r.OK || screenCode(r) != "no_match" {
		t.Fatalf("other face: %+v", r.Screen)
	}
	e.presence.verdict = func(string, string) *webapp.Verdict {
		return &webapp.Verdict{Status: "succeeded", Decision: "fake", Reasons: []webapp.Reason{{Code: "spoof_suspected"}}}
	}
	e.clock.Advance(time.Minute)
	if r := thief.attempt("login", "alice"); r.OK || screenCode(r) != "spoof" {
		t.Fatalf("spoof: %+v", r.Screen)
	}
	e.presence.verdict = live(true)
	r := alice.api("/app/api/start", map[string]string{"kind": "login", "username": "alice"})
	if r.status != 429 || screenCode(r) != "locked" || r.Screen.RetryAt != e.clock.Now().Add(15*time.Minute).UTC().Format(time.RFC3339) {
		t.Fatalf("locked: %d %+v", r.status, r.Screen)
	}
	e.clock.Advance(15*time.Minute + time.Second)
	if r := alice.attempt("login", "alice"); !r.OK {
		t.Fatalf("after the lockout: %d %+v", r.status, r.Screen)
	}

	// An unknown name is a failure, without a face check.
	if r := b.api("/app/api/start", map[string]string{"kind": "login", "username": "mallory"}); r.status != 404 || screenCode(r) != "unknown_user" {
		t.Fatalf("unknown user: %d %s", r.status, screenCode(r))
	}

	// Face-only login: the best match among the app's own accounts.
	e.presence.api.Identify = func(context.Context, string) ([]webapp.Candidate, error) {
		return []webapp.Candidate{{SubjectID: "not-an-app-subject", Similarity: 0.9, Match: true}, {SubjectID: u.SubjectID, Similarity: 0.7, Match: true}}, nil
	}
	if r := newBrowser(t, e.url).attempt("face_login", ""); !r.OK {
		t.Fatalf("face login: %d %+v", r.status, r.Screen)
	}
	e.presence.api.Identify = func(context.Context, string) ([]webapp.Candidate, error) {
		return []webapp.Candidate{{SubjectID: u.SubjectID, Similarity: 0.3, Match: false}}, nil
	}
	if r := newBrowser(t, e.url).attempt("face_login", ""); r.OK || screenCode(r) != "no_account" {
		t.Fatalf("face login without a match: %+v", r.Screen)
	}

	// A second account for a face already behind one is refused, and its
	// new subject removed from Presence.
	e.presence.api.Enrol = func(_ context.Context, subject, _ string) (*webapp.Enrolment, error) {
		return &webapp.Enrolment{Duplicates: []webapp.Candidate{{SubjectID: u.SubjectID, Similarity: 0.9, Match: true}}}, nil
	}
	if r := newBrowser(t, e.url).attempt("register", "alice2"); r.OK || screenCode(r) != "duplicate_face" || len(e.presence.deleted) != 1 {
		t.Fatalf("duplicate face: %+v, deleted %v", r.Screen, e.presence.deleted)
	}
	hist, err := e.accounts.History(ctx, u.ID, 20)
	if err != nil || len(hist) != 6 {
		t.Fatalf("alice's history: %d entries, %v", len(hist), err)
	}
}

// TestScreensSayTheRightThing: only a confident spoof verdict shows the
// spoof screen; a borderline score, a bad view or unsteady frames ask for
// another try without accusing anyone.
func TestScreensSayTheRightThing(t *testing.T) {
	e := newRulesEnv(t)
	for _, c := range []struct {
		decision string
		reasons  []string
		want     string
	}{
		{"fake", []string{"spoof_suspected"}, "spoof"},
		{"fake", []string{"replayed_frame"}, "spoof"},
		{"inconclusive", []string{"liveness_uncertain"}, "poor_capture"},
		{"inconclusive", []string{"too_dark"}, "poor_capture"},
		{"fake", []string{"timing_anomaly"}, "unsteady"},
		{"inconclusive", []string{"session_timeout"}, "expired"},
	} {
		e.presence.verdict = func(string, string) *webapp.Verdict {
			v := &webapp.Verdict{Status: "succeeded", Decision: c.decision}
			for _, r := range c.reasons {
				v.Reasons = append(v.Reasons, webapp.Reason{Code: r, Message: r})
			}
			return v
		}
		r := newBrowser(t, e.url).attempt("register", "user"+c.reasons[0][:4])
		if r.OK || screenCode(r) != c.want || (c.want != "spoof" && strings.Contains(r.Screen.Title+r.Screen.Message, "poof")) {
			t.Errorf("%s %v: screen %q (%+v), want %s", c.decision, c.reasons, screenCode(r), r.Screen, c.want)
		}
	}
}

// TestLockoutsHold: the hardening issue's lockout findings. Attempts
// started together are judged one at a time against the lockout; a
// success does not clear an address's failures; probing for taken
// usernames counts like guessing them; one address cannot start checks
// without limit.
func TestLockoutsHold(t *testing.T) {
	e := newRulesEnv(t)
	e.presence.verdict = live(true)
	if r := newBrowser(t, e.url).attempt("register", "alice"); !r.OK {
		t.Fatalf("register: %+v", r.Screen)
	}
	e.clock.Advance(time.Minute)

	// Fifteen logins started at once, all with another person's face:
	// only as many as the limit (2) are judged.
	e.presence.verdict = live(false)
	var judged atomic.Int32
	inner := e.presence.api.Session
	e.presence.api.Session = func(ctx context.Context, id string) (*webapp.Verdict, error) {
		judged.Add(1)
		return inner(ctx, id)
	}
	type started struct {
		b *browser
		r apiResult
	}
	var all []started
	for range 15 {
		b := newBrowser(t, e.url)
		all = append(all, started{b, b.api("/app/api/start", map[string]string{"kind": "login", "username": "alice"})})
	}
	var wg sync.WaitGroup
	results := make([]apiResult, len(all))
	for i, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.b.api("/app/api/attempts/"+s.r.Attempt+"/finish", nil)
		}()
	}
	wg.Wait()
	locked := 0
	for _, r := range results {
		if screenCode(r) == "locked" {
			locked++
		}
	}
	if n := judged.Load(); n != 2 || locked != 13 {
		t.Fatalf("%d attempts judged, %d refused as locked; want 2 and 13", n, locked)
	}
	e.presence.api.Session = inner

	// A success elsewhere does not clear the address's count.
	e.clock.Advance(16 * time.Minute)
	guesser := newBrowser(t, e.url)
	for i := range 19 {
		if r := guesser.api("/app/api/start", map[string]string{"kind": "login", "username": "nobody" + string(rune('a'+i))}); screenCode(r) != "unknown_user" {
			t.Fatalf("guess %d: %s", i, screenCode(r))
		}
	}
	e.presence.verdict = live(true)
	e.clock.Advance(time.Minute)
	if r := guesser.attempt("register", "guesser"); !r.OK {
		t.Fatalf("the guesser's own account: %+v", r.Screen)
	}
	if r := guesser.api("/app/api/start", map[string]string{"kind": "login", "username": "nobodyz"}); screenCode(r) != "unknown_user" {
		t.Fatalf("20th failure: %s", screenCode(r))
	}
	if r := guesser.api("/app/api/start", map[string]string{"kind": "login", "username": "alice"}); screenCode(r) != "locked" {
		t.Fatalf("after 20 failures and a success, the address is not locked: %s", screenCode(r))
	}

	// Taken usernames cost a failure each, like unknown ones.
	e.clock.Advance(16 * time.Minute)
	prober := newBrowser(t, e.url)
	for i := range 20 {
		if r := prober.api("/app/api/start", map[string]string{"kind": "register", "username": "alice"}); screenCode(r) != "username_taken" {
			t.Fatalf("probe %d: %s", i, screenCode(r))
		}
	}
	if r := prober.api("/app/api/start", map[string]string{"kind": "register", "username": "alice"}); screenCode(r) != "locked" {
		t.Fatalf("21st probe of a taken name: %s", screenCode(r))
	}

	// Starts are limited per address and minute.
	e.clock.Advance(16 * time.Minute)
	starter := newBrowser(t, e.url)
	var last apiResult
	for range 31 {
		last = starter.api("/app/api/start", map[string]string{"kind": "face_login"})
	}
	if last.status != 429 || screenCode(last) != "locked" {
		t.Fatalf("31st start in a minute: %d %s", last.status, screenCode(last))
	}
}
