package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"presence/presencetest"
	"presence/sqldb"
	"presence/webapp/accountsql"
)

// node is a running `presence serve` process.
type node struct {
	cmd     *exec.Cmd
	url     string
	metrics string // the metrics listener's URL
	stderr  *bytes.Buffer
	exited  chan struct{} // closed when the process ended; err is then set
	err     error
}

// startNode runs the real binary on a free port and waits until it is
// ready.
func startNode(t *testing.T, env []string, args ...string) *node {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "PRESENCE_CACHE_DIR="+presencetest.CacheDir()), env...)
	stdout, _ := cmd.StdoutPipe()
	n := &node{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = n.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "Metrics:"); ok {
			n.metrics = strings.TrimSuffix(strings.TrimSpace(rest), "/metrics")
		}
		if rest, ok := strings.CutPrefix(lines.Text(), "Presence listening on "); ok {
			n.url = strings.Fields(rest)[0]
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	go func() { n.err = cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
	})
	if n.url == "" {
		cmd.Process.Kill()
		t.Fatalf("presence serve did not start: %s", n.stderr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(n.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return n
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("presence serve not ready: %s", n.stderr)
	return nil
}

func call(t *testing.T, method, url, auth, contentType string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+auth)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func newKeyText(t *testing.T) string {
	t.Helper()
	r := run(t, nil, "templates", "keygen")
	if r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

// TestTwoNodesSharePostgres: the session is created on node A, its frame
// goes to node B, the verdict is read on A. Nodes hold no session state;
// the reference template sealed on A opens on B.
func TestTwoNodesSharePostgres(t *testing.T) {
	db := presencetest.Postgres(t)
	key := "PRESENCE_TEMPLATE_KEY=" + newKeyText(t)
	a := startNode(t, []string{key}, "--db", db)
	b := startNode(t, []string{key}, "--db", db)
	r := run(t, nil, "apikey", "create", "--name", "two-nodes", "--quiet", "--db", db)
	if r.code != 0 {
		t.Fatalf("apikey: %s", r.stderr)
	}
	apiKey := strings.TrimSpace(r.stdout)

	ref := base64.StdEncoding.EncodeToString(presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img20.jpg")))
	status, created := call(t, "POST", a.url+"/v1/sessions", apiKey, "application/json", []byte(`{"reference_image":"`+ref+`"}`))
	if status != 201 {
		t.Fatalf("create on A: %d %v", status, created)
	}
	id, token := created["id"].(string), created["client_token"].(string)
	frame := presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img21.jpg"))
	if status, body := call(t, "POST", b.url+"/v1/sessions/"+id+"/frames", token, "image/jpeg", frame); status != 200 {
		t.Fatalf("frames on B: %d %v", status, body)
	}
	status, got := call(t, "GET", a.url+"/v1/sessions/"+id, apiKey, "", nil)
	match, _ := got["match"].(map[string]any)
	if status != 200 || got["status"] != "succeeded" || got["decision"] != "realface" || match["match"] != true {
		t.Fatalf("verdict on A: %d %v", status, got)
	}
	// The token spent through B is spent for A too.
	if status, body := call(t, "POST", a.url+"/v1/sessions/"+id+"/frames", token, "image/jpeg", frame); status != 409 {
		t.Fatalf("reuse on A: %d %v", status, body)
	}
}

func TestServeRefusesWithoutTemplateKey(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "p.db"))
	cmd.Env = append(os.Environ(), "PRESENCE_CACHE_DIR="+presencetest.CacheDir())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no template key") || !strings.Contains(string(out), "--dev") {
		t.Fatalf("started without a key or said so unclearly: %v %s", err, out)
	}
}

// TestGracefulShutdownFinishesInFlight sends SIGTERM while a five-frame
// check (several hundred ms of analysis) is running: the request still
// gets its answer and the process exits cleanly.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "p.db")
	n := startNode(t, nil, "--dev", "--db", db, "--data-dir", dir)
	r := run(t, nil, "apikey", "create", "--name", "x", "--quiet", "--db", db)
	apiKey := strings.TrimSpace(r.stdout)
	_, created := call(t, "POST", n.url+"/v1/sessions", apiKey, "application/json", []byte(`{}`))
	id, token := created["id"].(string), created["client_token"].(string)

	big := presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img1.jpg"))
	var body bytes.Buffer
	body.WriteString("--b\r\n")
	for i := 0; i < 5; i++ {
		body.WriteString("Content-Disposition: form-data; name=\"frame\"; filename=\"f.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n")
		body.Write(big)
		body.WriteString("\r\n--b")
		if i < 4 {
			body.WriteString("\r\n")
		}
	}
	body.WriteString("--\r\n")
	type result struct {
		status int
		err    error
	}
	got := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", n.url+"/v1/sessions/"+id+"/frames", &body)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		res.Body.Close()
		got <- result{status: res.StatusCode}
	}()
	// Wait until the engine is busy with the frames, then stop.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(metrics(t, n.metrics), `presence_http_requests_total{code="201"`) || busy(t, n.metrics) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the analysis never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	res := <-got
	if res.err != nil || res.status != 200 {
		t.Fatalf("in-flight request during shutdown: %+v", res)
	}
	select {
	case <-n.exited:
		if n.err != nil {
			t.Fatalf("exit: %v\n%s", n.err, n.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("did not exit")
	}
	if !strings.Contains(n.stderr.String(), "stopped") {
		t.Errorf("no clean stop in the log:\n%s", n.stderr)
	}
}

func metrics(t *testing.T, url string) string {
	res, err := http.Get(url + "/metrics")
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// busy reports analyses of frames finished so far (the stage histogram
// count), which becomes non-zero once the five-frame request is in flight.
func busy(t *testing.T, url string) int {
	for _, line := range strings.Split(metrics(t, url), "\n") {
		if strings.HasPrefix(line, `presence_analysis_stage_seconds_count{stage="total"}`) {
			f := strings.Fields(line)
			if len(f) == 2 && f[1] != "0" {
				return 1
			}
		}
	}
	return 0
}

// TestServeWithTheApp: --dev serves the face-login app with an API key it
// creates once and reuses after a restart; without --dev (and --app) there
// is no app.
func TestServeWithTheApp(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--dev", "--data-dir", dir, "--db", filepath.Join(dir, "p.db")}
	a := startNode(t, nil, args...)
	// Metrics are on their own listener, not where devices connect.
	for url, want := range map[string]int{a.url + "/metrics": 404, a.metrics + "/metrics": 200} {
		if res, err := http.Get(url); err != nil || res.StatusCode != want {
			t.Fatalf("GET %s: %v %v, want %d", url, res, err, want)
		} else {
			res.Body.Close()
		}
	}
	res, err := http.Get(a.url + "/app/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "Log in with my face") {
		t.Fatalf("app login page: %d %s", res.StatusCode, page)
	}
	keyFile := filepath.Join(dir, "app-api.key")
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("app key file: %v %v", st, err)
	}
	first, _ := os.ReadFile(keyFile)
	a.cmd.Process.Signal(syscall.SIGTERM)
	<-a.exited

	b := startNode(t, nil, args...)
	again, _ := os.ReadFile(keyFile)
	if string(first) != string(again) {
		t.Fatal("the app made a new key on restart")
	}
	// Its key works: starting a registration reaches the API.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err = c.Get(b.url + "/app/register")
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(res.Body)
	res.Body.Close()
	token := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(string(page))
	if token == nil {
		t.Fatalf("no anti-forgery token: %s", page)
	}
	req, _ := http.NewRequest("POST", b.url+"/app/api/start", strings.NewReader(`{"kind":"register","username":"carol"}`))
	req.Header.Set("X-CSRF-Token", token[1])
	req.Header.Set("Content-Type", "application/json")
	res, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var started map[string]any
	json.NewDecoder(res.Body).Decode(&started)
	res.Body.Close()
	if res.StatusCode != 200 || started["ok"] != true || !strings.HasPrefix(fmt.Sprint(started["client_token"]), "pct_") {
		t.Fatalf("start: %d %v", res.StatusCode, started)
	}
	// The attempt is in the app's own database beside Presence's, and
	// Presence's holds none of the app's tables.
	ctx := context.Background()
	accounts, err := accountsql.Open(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer accounts.Close()
	if att, err := accounts.Attempt(ctx, fmt.Sprint(started["attempt"])); err != nil || att.Username != "carol" {
		t.Fatalf("the app's attempt in app.db: %+v %v", att, err)
	}
	pdb, d, err := sqldb.Open(ctx, filepath.Join(dir, "p.db"), sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	for _, table := range []string{"app_attempts", "legacy_app_attempts", "attempts"} {
		if ok, err := sqldb.TableExists(ctx, pdb, d, table); ok || err != nil {
			t.Errorf("Presence's database holds %s (%v)", table, err)
		}
	}

	plain := startNode(t, []string{"PRESENCE_TEMPLATE_KEY=" + newKeyText(t)}, "--db", filepath.Join(t.TempDir(), "p.db"))
	if res, err := http.Get(plain.url + "/app/"); err != nil || res.StatusCode != 404 {
		t.Fatalf("app served without --dev or --app: %v %v", res.StatusCode, err)
	}
}
