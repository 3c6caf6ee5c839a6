package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"presence/presencetest"
)

// TestReadmeWalkthrough runs the README's curl walk-through as written,
// against a real server: only the port and the binary's path are swapped
// for the test's own.
func TestReadmeWalkthrough(t *testing.T) {
	presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg")
	for _, tool := range []string{"curl", "jq", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (make installs it): %v", tool, err)
		}
	}
	readme := string(presencetest.ReadFile(t, filepath.Join(presencetest.Root(), "README.md")))
	// Every walkthrough block, in order, as one script.
	var script string
	for rest := readme; ; {
		_, after, ok := strings.Cut(rest, "<!-- walkthrough -->")
		if !ok {
			break
		}
		block, next, ok := strings.Cut(after, "<!-- /walkthrough -->")
		if !ok {
			t.Fatal("README has an unclosed walkthrough block")
		}
		block = strings.TrimSpace(block)
		script += strings.TrimPrefix(strings.TrimSuffix(block, "```"), "```sh") + "\n"
		rest = next
	}
	if script == "" {
		t.Fatal("README has no walkthrough block")
	}

	dir := t.TempDir()
	db := filepath.Join(dir, "presence.db")
	n := startNode(t, nil, "--dev", "--db", db, "--data-dir", dir)
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", n.url)
	script = strings.ReplaceAll(script, "bin/presence", binary)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = presencetest.Root()
	cmd.Env = append(os.Environ(), "PRESENCE_DB="+db)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"status": "succeeded"`, `"decision": "realface"`, `"status":"succeeded"`, `"templates": 1`, `"duplicates": []`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walkthrough output lacks %s:\n%s", want, out)
		}
	}
}
