package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"presence"
	"presence/client"
	"presence/presencetest"
	"presence/sqlstore"
)

// TestShadowOnTheDevSet runs labelled webcam frames of the dev set
// through the HTTP API of two servers, one with a candidate in shadow on
// every session (another model set and threshold): the clients see the
// same verdicts from both, and `presence eval shadow` reports agreement
// and both sides' APCER and BPCER.
func TestShadowOnTheDevSet(t *testing.T) {
	dir := presencetest.DataDir(t, "pad_nuaa_webcam_dev")
	f, err := os.Open(filepath.Join(dir, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// 15 live frames and 15 prints spread across the subjects and lights
	// of the set (PRESENCE_SHADOW_SAMPLE=N for N of each, up to the set).
	each := 15
	if n, err := strconv.Atoi(os.Getenv("PRESENCE_SHADOW_SAMPLE")); err == nil && n > 0 {
		each = n
	}
	liveStep, spoofStep := max(1, 861/each), max(1, 636/each)
	var picked [][]string
	live, spoof := 0, 0
	for _, r := range rows[1:] {
		switch {
		case r[1] == "live" && live%liveStep == 0 && live/liveStep < each:
			picked = append(picked, r)
		case r[1] == "spoof" && spoof%spoofStep == 0 && spoof/spoofStep < each:
			picked = append(picked, r)
		}
		if r[1] == "live" {
			live++
		} else {
			spoof++
		}
	}
	work := t.TempDir()
	// The candidate: the set in service less one liveness model, and
	// another threshold (PRESENCE_SHADOW_DROP=a,b and
	// PRESENCE_SHADOW_THRESHOLD=x try others).
	drop, threshold := []string{"silentface_v1se"}, "0.5"
	if v := os.Getenv("PRESENCE_SHADOW_DROP"); v != "" {
		drop = strings.Split(v, ",")
	}
	if v := os.Getenv("PRESENCE_SHADOW_THRESHOLD"); v != "" {
		threshold = v
	}
	candidate := presence.DefaultManifest()
	candidate.Models = slices.DeleteFunc(candidate.Models, func(s presence.ModelSpec) bool { return slices.Contains(drop, s.Name) })
	raw, _ := json.Marshal(candidate)
	manifest := filepath.Join(work, "candidate.json")
	os.WriteFile(manifest, raw, 0o600)
	env := []string{"PRESENCE_TEMPLATE_KEY=" + newKeyText(t)}
	plainDB, shadowDB := filepath.Join(work, "plain.db"), filepath.Join(work, "shadow.db")
	plain := startNode(t, env, "--db", plainDB)
	shadowed := startNode(t, env, "--db", shadowDB, "--shadow-share", "1", "--shadow-manifest", manifest, "--shadow-liveness-threshold", threshold)
	key := func(db string) string {
		r := run(t, nil, "apikey", "create", "--name", "shadow", "--quiet", "--db", db)
		if r.code != 0 {
			t.Fatalf("apikey: %s", r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	clients := []*client.Client{client.New(plain.url, key(plainDB)), client.New(shadowed.url, key(shadowDB))}
	reader, err := sqlstore.Open(context.Background(), shadowDB)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	labels := "correlation_id,label\n"
	ctx := context.Background()
	for i, r := range picked {
		frame := presencetest.ReadFile(t, filepath.Join(dir, r[0]))
		var seen [2]string
		for j, c := range clients {
			s, err := c.CreateSession(ctx, client.SessionRequest{Mode: "passive", CorrelationID: r[0]})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.UploadFrames(ctx, s.ID, s.ClientToken, frame); err != nil {
				t.Fatal(err)
			}
			v, err := c.Session(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			score := "none"
			if v.Score != nil {
				score = strings.TrimRight(strings.TrimRight(jsonNumber(*v.Score), "0"), ".")
			}
			seen[j] = v.Decision + " " + score
		}
		if seen[0] != seen[1] {
			t.Errorf("%s: the client saw %q without the shadow and %q with it", r[0], seen[0], seen[1])
		}
		labels += r[0] + "," + r[1] + "\n"
		// The candidate judges after the answer; wait for it, so the next
		// upload does not find it busy.
		deadline := time.Now().Add(20 * time.Second)
		for {
			got, _ := reader.ShadowResults(ctx, time.Time{}, 1000)
			if len(got) == i+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no shadow result for %s", r[0])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	labelFile := filepath.Join(work, "labels.csv")
	os.WriteFile(labelFile, []byte(labels), 0o600)
	out := run(t, nil, "eval", "shadow", "--db", shadowDB, "--labels", labelFile, "--json")
	if out.code != 0 {
		t.Fatalf("eval shadow: %s", out.stderr)
	}
	var summary struct {
		Candidates  []string       `json:"candidates"`
		Sessions    int            `json:"sessions"`
		Agree       int            `json:"agree"`
		Live        int            `json:"live"`
		Attacks     int            `json:"attacks"`
		RealRates   map[string]any `json:"real_rates"`
		ShadowRates map[string]any `json:"shadow_rates"`
		Differences []any          `json:"differences"`
	}
	if err := json.Unmarshal([]byte(out.stdout), &summary); err != nil {
		t.Fatal(err)
	}
	text := run(t, nil, "eval", "shadow", "--db", shadowDB, "--labels", labelFile)
	t.Logf("%s", text.stdout)
	if summary.Sessions != len(picked) || summary.Live != each || summary.Attacks != each || summary.RealRates == nil || summary.ShadowRates == nil ||
		summary.Agree+len(summary.Differences) != summary.Sessions || len(summary.Candidates) != 1 || !strings.HasPrefix(summary.Candidates[0], candidate.ID()) {
		t.Fatalf("summary %+v", summary)
	}
	// The server without the candidate recorded nothing.
	if r := run(t, nil, "eval", "shadow", "--db", plainDB, "--json"); !strings.Contains(r.stdout, `"sessions": 0`) {
		t.Fatalf("the plain server has shadow results: %s", r.stdout)
	}
}

func jsonNumber(f float64) string {
	raw, _ := json.Marshal(f)
	return string(raw)
}
