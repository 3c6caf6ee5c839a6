package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"presence"
	"presence/presencetest"
)

// readyModelSet reads the model set a node says it runs.
func readyModelSet(t *testing.T, url string) (id, wanted string) {
	t.Helper()
	res, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		ModelSet struct {
			ID     string `json:"id"`
			Wanted string `json:"wanted"`
		} `json:"model_set"`
	}
	json.NewDecoder(res.Body).Decode(&body)
	return body.ModelSet.ID, body.ModelSet.Wanted
}

func waitForSet(t *testing.T, want string, nodes ...*node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range nodes {
		for {
			if id, _ := readyModelSet(t, n.url); id == want {
				break
			}
			if time.Now().After(deadline) {
				id, wanted := readyModelSet(t, n.url)
				t.Fatalf("node %s runs %s (wanted %q), want %s: %s", n.url, id, wanted, want, n.stderr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestModelReloadAcrossNodes: two processes on one PostgreSQL; the CLI
// reloads the set on the store and both nodes follow; the operator API on
// one node refuses a bad manifest (both keep serving) and rolls back,
// and both follow; the history says who did what.
func TestModelReloadAcrossNodes(t *testing.T) {
	db := presencetest.Postgres(t)
	dir := t.TempDir()
	token := strings.Repeat("operator-", 4)
	env := []string{"PRESENCE_TEMPLATE_KEY=" + newKeyText(t), "PRESENCE_OPERATOR_TOKEN=" + token}
	probe := presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg")
	args := []string{"--db", db, "--model-poll", "200ms", "--model-probe", probe}
	a := startNode(t, env, args...)
	b := startNode(t, env, args...)
	first := presence.DefaultManifest()
	waitForSet(t, first.ID(), a, b)

	next := presence.DefaultManifest()
	next.Models = slices.DeleteFunc(next.Models, func(s presence.ModelSpec) bool { return s.Name == "silentface_v1se" })
	raw, _ := json.Marshal(next)
	file := filepath.Join(dir, "next.json")
	os.WriteFile(file, raw, 0o600)
	r := run(t, nil, "models", "reload", "--manifest", file, "--db", db, "--model-probe", probe, "--by", "test operator")
	if r.code != 0 || !strings.Contains(r.stdout, next.ID()) {
		t.Fatalf("models reload: %d %s %s", r.code, r.stdout, r.stderr)
	}
	waitForSet(t, next.ID(), a, b)

	// A session on the new set names it.
	photo := presencetest.ReadFile(t, presencetest.DataFile(t, "fr_deepface_pairs/img20.jpg"))
	k := run(t, nil, "apikey", "create", "--name", "models", "--quiet", "--db", db)
	id := passiveSession(t, a.url, strings.TrimSpace(k.stdout), photo)
	if _, got := call(t, "GET", b.url+"/v1/sessions/"+id, strings.TrimSpace(k.stdout), "", nil); got["model_set"] != next.ID() {
		t.Fatalf("the verdict names model set %v, want %s", got["model_set"], next.ID())
	}

	broken := *next
	broken.Models = slices.Clone(next.Models)
	broken.Models[0].SHA256 = strings.Repeat("0", 64)
	bad, _ := json.Marshal(&broken)
	status, body := call(t, "POST", b.url+"/v1/operator/models/reload", token, "application/json", bad)
	if status != 400 || !strings.Contains(body["error"].(map[string]any)["message"].(string), "stays in service") {
		t.Fatalf("bad manifest: %d %v", status, body)
	}
	status, body = call(t, "POST", b.url+"/v1/operator/models/rollback", token, "", nil)
	if status != 200 || body["to"] != first.ID() {
		t.Fatalf("rollback: %d %v", status, body)
	}
	waitForSet(t, first.ID(), a, b)
	status, body = call(t, "GET", a.url+"/v1/operator/models", token, "", nil)
	hist, _ := body["history"].([]any)
	if status != 200 || len(hist) != 3 {
		t.Fatalf("history: %d %v", status, body)
	}
	var actions []string
	for _, h := range hist {
		m := h.(map[string]any)
		actions = append(actions, m["action"].(string)+" by "+m["by"].(string))
	}
	if !strings.HasPrefix(actions[0], "rollback by operator") || actions[1] != "reload by test operator" || !strings.HasPrefix(actions[2], "start by node") {
		t.Fatalf("history %v", actions)
	}
	r = run(t, nil, "models", "history", "--db", db)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 4 {
		t.Fatalf("models history: %s %s", r.stdout, r.stderr)
	}
}

// TestModelReloadOnHangup: the manifest file a node was started with is
// edited and the node told with SIGHUP; a broken edit is refused and the
// node keeps serving.
func TestModelReloadOnHangup(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "models.json")
	raw, _ := json.Marshal(presence.DefaultManifest())
	os.WriteFile(file, raw, 0o600)
	n := startNode(t, []string{"PRESENCE_TEMPLATE_KEY=" + newKeyText(t)}, "--db", filepath.Join(dir, "p.db"), "--manifest", file)
	waitForSet(t, presence.DefaultManifest().ID(), n)
	os.WriteFile(file, []byte(`{"runtime":`), 0o600)
	n.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(500 * time.Millisecond)
	if id, _ := readyModelSet(t, n.url); id != presence.DefaultManifest().ID() || !strings.Contains(n.stderr.String(), "reload (SIGHUP) refused") {
		t.Fatalf("a broken manifest file: set %s, log %s", id, n.stderr)
	}
	next := presence.DefaultManifest()
	next.Models = slices.DeleteFunc(next.Models, func(s presence.ModelSpec) bool { return s.Name == "silentface_v1se" })
	raw, _ = json.Marshal(next)
	os.WriteFile(file, raw, 0o600)
	n.cmd.Process.Signal(syscall.SIGHUP)
	waitForSet(t, next.ID(), n)
}
