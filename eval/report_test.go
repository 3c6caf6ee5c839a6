package eval

import (
	"bytes"
	"strings"
	"testing"

	"presence"
)

func score(v float64) *float64 { return &v }

func TestPADReportFromOutcomes(t *testing.T) {
	live := func(s float64, d presence.Decision, subject string) PADResult {
		return PADResult{Sample: Sample{Path: "l", Live: true, Extra: map[string]string{"subject": subject}}, Outcome: Outcome{Decision: d, Score: score(s)}}
	}
	attack := func(typ string, s float64, d presence.Decision, subject string) PADResult {
		return PADResult{Sample: Sample{Path: "a", AttackType: typ, Extra: map[string]string{"subject": subject}}, Outcome: Outcome{Decision: d, Score: score(s)}}
	}
	results := []PADResult{
		live(0.9, presence.DecisionRealFace, "s1"),
		live(0.3, presence.DecisionFake, "s1"),
		live(0.8, presence.DecisionRealFace, "s2"),
		{Sample: Sample{Path: "dark.jpg", Live: true, Line: 5, Extra: map[string]string{"subject": "s2"}},
			Outcome: Outcome{Decision: presence.DecisionInconclusive, Score: score(0.1), Reasons: []presence.ReasonCode{presence.ReasonTooDark}}},
		attack("print", 0.6, presence.DecisionRealFace, "s1"),
		attack("print", 0.1, presence.DecisionFake, "s1"),
		attack("screen", 0.2, presence.DecisionFake, "s2"),
		{Sample: Sample{Path: "broken.jpg", AttackType: "screen", Line: 9}, Outcome: Outcome{Error: "truncated jpeg image"}},
	}
	r := NewPADReport(results, 0.5, []string{"subject"})
	if d := r.Decisions["live"]; d.RealFace != 2 || d.Fake != 1 || d.Inconclusive != 1 {
		t.Errorf("live decisions %+v", d)
	}
	c := r.Configured
	// print: 1 of 2 accepted; screen: 0 of 1 (the unreadable one is not
	// counted); live: 1 fake of 4 analysed, 2 not passing with inconclusive.
	if !near(c.APCERByType["print"], 0.5) || !near(c.APCERByType["screen"], 0) || c.WorstType != "print" || !near(c.APCERWorst, 0.5) {
		t.Errorf("APCER %+v", c)
	}
	if !near(c.BPCER, 0.25) || !near(c.BPCERWithInconclusive, 0.5) || !near(c.InconclusiveLive, 0.25) {
		t.Errorf("BPCER %+v", c)
	}
	// Score metrics use the three decided live samples only.
	if r.Scored["live"] != 3 || r.Scored["print"] != 2 || r.Scored["screen"] != 1 {
		t.Errorf("scored %v", r.Scored)
	}
	if len(r.Inconclusive) != 1 || r.Inconclusive[0].Path != "dark.jpg" || len(r.Errors) != 1 || r.Errors[0].Line != 9 {
		t.Errorf("listings %+v %+v", r.Inconclusive, r.Errors)
	}
	if len(r.Breakdown) != 2 || r.Breakdown[0].Value != "s1" || !near(r.Breakdown[0].APCER, 0.5) || !near(r.Breakdown[0].BPCER, 0.5) || r.Breakdown[1].Inconclusive != 1 {
		t.Errorf("breakdown %+v", r.Breakdown)
	}
	if r.BPCERAtAPCER1.Enough {
		t.Error("two print samples cannot measure APCER 1%")
	}
	var text, html bytes.Buffer
	r.WriteText(&text)
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"APCER print", "50.00%", "too_dark 1", "broken.jpg"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	if !strings.Contains(html.String(), "<svg") || !strings.Contains(html.String(), "too_dark") {
		t.Error("HTML report lacks plots or the inconclusive list")
	}
}

func TestVerifyReportCountsFailures(t *testing.T) {
	emb := func(v ...float32) presence.Embedding { e := presence.Embedding(v); e.Normalize(); return e }
	outcomes := map[string]Outcome{
		"a1": {Embedding: emb(1, 0.1)}, "a2": {Embedding: emb(1, 0.2)},
		"b1": {Embedding: emb(0.1, 1)}, "noface": {Decision: presence.DecisionInconclusive},
	}
	pairs := []Pair{
		{A: "a1", B: "a2", FileA: "a1", FileB: "a2", Same: true},
		{A: "a1", B: "b1", FileA: "a1", FileB: "b1"},
		{A: "a2", B: "b1", FileA: "a2", FileB: "b1"},
		{A: "a1", B: "noface", FileA: "a1", FileB: "noface", Same: true, Line: 5},
	}
	r := NewVerifyReport(pairs, outcomes, 0.5)
	if r.Genuine != 1 || r.Impostor != 2 || r.FailedPairs != 1 || len(r.FailedImages) != 1 || r.FailedImages[0].Path != "noface" {
		t.Fatalf("%+v", r)
	}
	if !near(r.AUC, 1) || !near(r.Configured.TAR, 1) || !near(r.Configured.FAR, 0) {
		t.Errorf("AUC %v TAR %v FAR %v", r.AUC, r.Configured.TAR, r.Configured.FAR)
	}
	if r.TARAtFAR[0].Enough || r.TARAtFAR[1].Enough {
		t.Error("two impostor pairs cannot measure FAR 1e-2")
	}
	var text bytes.Buffer
	r.WriteText(&text)
	if !strings.Contains(text.String(), "too few for FAR=0.01") {
		t.Errorf("text report does not say there are too few pairs:\n%s", text.String())
	}
}
