package eval

import (
	"bytes"
	"strings"
	"testing"

	"presence"
)

func verdictOf(d presence.Decision, codes ...presence.ReasonCode) presence.ShadowVerdict {
	v := presence.ShadowVerdict{Decision: d, Reasons: []presence.Reason{}}
	for _, c := range codes {
		v.Reasons = append(v.Reasons, presence.NewReason(c))
	}
	return v
}

func TestSummarizeShadow(t *testing.T) {
	real, fake, inc := presence.DecisionRealFace, presence.DecisionFake, presence.DecisionInconclusive
	results := []presence.ShadowResult{
		{SessionID: "s1", CorrelationID: "live-1", Candidate: "ms_x", Real: verdictOf(real), Shadow: verdictOf(real)},
		{SessionID: "s2", CorrelationID: "live-2", Candidate: "ms_x", Real: verdictOf(real), Shadow: verdictOf(fake, presence.ReasonSpoofSuspected), AuditImages: 1},
		{SessionID: "s3", CorrelationID: "live-3", Candidate: "ms_x", Real: verdictOf(inc, presence.ReasonTooDark), Shadow: verdictOf(inc, presence.ReasonTooDark)},
		{SessionID: "s4", CorrelationID: "print-1", Candidate: "ms_x", Real: verdictOf(real), Shadow: verdictOf(fake, presence.ReasonSpoofSuspected)},
		{SessionID: "s5", CorrelationID: "print-2", Candidate: "ms_x", Real: verdictOf(fake), Shadow: verdictOf(fake)},
		{SessionID: "s6", CorrelationID: "unlabelled", Candidate: "ms_x", Real: verdictOf(fake), Shadow: verdictOf(real)},
	}
	truth, err := ReadShadowLabels("labels.csv", strings.NewReader("correlation_id,label\nlive-1,live\nlive-2,live\nlive-3,live\nprint-1,spoof\nprint-2,attack\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := SummarizeShadow(results, truth)
	if s.Sessions != 6 || s.Agree != 3 || len(s.Differences) != 3 || s.Live != 3 || s.Attacks != 2 {
		t.Fatalf("summary %+v", s)
	}
	// In service: live-3 inconclusive (BPCER 1/3), print-1 accepted
	// (APCER 1/2). Candidate: live-2 fake, live-3 inconclusive (BPCER 2/3,
	// one live→fake), no attack accepted.
	if r := s.RealRates; r.APCER != 0.5 || r.BPCER != 1.0/3 || r.LiveFake != 0 {
		t.Fatalf("real rates %+v", r)
	}
	if c := s.ShadowRates; c.APCER != 0 || c.BPCER != 2.0/3 || c.LiveFake != 1 {
		t.Fatalf("candidate rates %+v", c)
	}
	if s.Matrix[real][fake] != 2 || s.Matrix[fake][real] != 1 {
		t.Fatalf("matrix %v", s.Matrix)
	}
	var buf bytes.Buffer
	s.WriteText(&buf)
	for _, want := range []string{"Agreement: 3 of 6 (50.0%)", `s2 "live-2" truth live: realface [] → candidate fake [spoof_suspected], 1 audit images`, "candidate        0.0%    66.7%"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
	for _, bad := range []string{"correlation_id\nx\n", "id,label\nx,live\n", "correlation_id,label\nx,maybe\n", ""} {
		if _, err := ReadShadowLabels("l.csv", strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzReadShadowLabels(f *testing.F) {
	f.Add("correlation_id,label\na,live\nb,spoof\n")
	f.Add("\ufeffLabel,Correlation_ID\nlive,\"a,b\"\n")
	f.Fuzz(func(t *testing.T, content string) {
		truth, err := ReadShadowLabels("l.csv", strings.NewReader(content))
		if err != nil && truth != nil {
			t.Fatal("an error with labels")
		}
	})
}
