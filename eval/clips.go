package eval

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"presence"
)

// ClipRun is one replay of a clip into a session, from one start offset.
type ClipRun struct {
	Offset   float64           `json:"offset_s"`
	Status   presence.Status   `json:"status,omitempty"`
	Decision presence.Decision `json:"decision,omitempty"`
	Score    *float64          `json:"score,omitempty"`
	Reasons  []string          `json:"reasons,omitempty"`
	// Seconds is the time from the first frame to the verdict.
	Seconds float64 `json:"seconds"`
	Frames  int     `json:"frames"`
	Judged  int     `json:"judged_frames"`
	Error   string  `json:"error,omitempty"`
}

// Passed says the run ended realface.
func (r ClipRun) Passed() bool { return r.Decision == presence.DecisionRealFace }

// ClipRunFunc replays sample's frames from offset into a session of mode.
type ClipRunFunc func(ctx context.Context, s Sample, mode presence.Mode, offset time.Duration) ClipRun

// ClipResult is every run of one clip in one mode.
type ClipResult struct {
	Sample  Sample        `json:"sample"`
	Subject string        `json:"subject,omitempty"`
	Mode    presence.Mode `json:"mode"`
	Runs    []ClipRun     `json:"runs"`
	// PassRate is the share of runs that ended realface.
	PassRate Rate `json:"pass_rate"`
	// Error is why the clip could not be replayed at all.
	Error string `json:"error,omitempty"`
}

// ClipGroup sums the runs of several clips (one subject, one attack type).
type ClipGroup struct {
	Mode       presence.Mode  `json:"mode"`
	Key        string         `json:"key"`
	Live       bool           `json:"live"`
	Clips      int            `json:"clips"`
	Runs       int            `json:"runs"`
	Passed     int            `json:"passed"`
	Fake       int            `json:"fake"`
	Incon      int            `json:"inconclusive"`
	Failed     int            `json:"failed"`
	PassRate   Rate           `json:"pass_rate"`
	MedianSecs Number         `json:"median_seconds_to_verdict"`
	Reasons    map[string]int `json:"inconclusive_reasons,omitempty"`
}

// ModeSummary is the headline of one mode.
type ModeSummary struct {
	Mode presence.Mode `json:"mode"`
	// LiveRunPassRate is the share of live runs that passed; BPCER is the
	// rest (inconclusive counted as rejected).
	LiveRunPassRate Rate `json:"live_run_pass_rate"`
	BPCER           Rate `json:"bpcer"`
	// LiveClipsAt95 counts live clips passing from at least 95% of their
	// offsets.
	LiveClips     int `json:"live_clips"`
	LiveClipsAt95 int `json:"live_clips_passing_95pct"`
	// APCER per attack type: the share of attack runs that passed.
	APCER       map[string]Rate `json:"apcer"`
	AttackClips int             `json:"attack_clips"`
	// AttackClipsEverPassed counts attack clips that passed from any
	// offset.
	AttackClipsEverPassed int    `json:"attack_clips_ever_passed"`
	MedianSecsLive        Number `json:"median_seconds_to_verdict_live"`
}

// ClipReport is the result of presence eval clips.
type ClipReport struct {
	Dataset   string                  `json:"dataset"`
	Generated string                  `json:"generated"`
	Models    []presence.ModelVersion `json:"models,omitempty"`
	// Protocol says how frames were made and sent.
	Protocol  string        `json:"protocol"`
	Summaries []ModeSummary `json:"summaries"`
	Clips     []ClipResult  `json:"clips"`
	BySubject []ClipGroup   `json:"by_subject"`
	ByAttack  []ClipGroup   `json:"by_attack_type"`
}

// subjectOf is the clip's subject column (subject or subject_id).
func subjectOf(s Sample) string {
	for _, k := range []string{"subject", "subject_id"} {
		if v := s.Extra[k]; v != "" {
			return v
		}
	}
	return ""
}

// RunClips replays every clip from every offset in every mode, workers at
// a time. A clip that cannot be read is reported with its error; the rest
// go on.
func RunClips(ctx context.Context, run ClipRunFunc, samples []Sample, modes []presence.Mode, offsets func(Sample) ([]time.Duration, error), workers int, progress func(done, total int)) *ClipReport {
	type job struct {
		clip, run int
		offset    time.Duration
	}
	results := make([]ClipResult, 0, len(samples)*len(modes))
	var jobs []job
	for _, s := range samples {
		offs, err := offsets(s)
		for _, m := range modes {
			r := ClipResult{Sample: s, Subject: subjectOf(s), Mode: m}
			if err != nil {
				r.Error = err.Error()
			}
			results = append(results, r)
			for k, o := range offs {
				jobs = append(jobs, job{len(results) - 1, k, o})
			}
			results[len(results)-1].Runs = make([]ClipRun, len(offs))
		}
	}
	var mu sync.Mutex
	done := 0
	next := make(chan job)
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				r := &results[j.clip]
				out := run(ctx, r.Sample, r.Mode, j.offset)
				out.Offset = j.offset.Seconds()
				mu.Lock()
				r.Runs[j.run] = out
				done++
				if progress != nil {
					progress(done, len(jobs))
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	return NewClipReport(results)
}

// NewClipReport aggregates clip results.
func NewClipReport(results []ClipResult) *ClipReport {
	r := &ClipReport{Clips: results}
	for i := range r.Clips {
		c := &r.Clips[i]
		passed := 0
		for _, run := range c.Runs {
			if run.Passed() {
				passed++
			}
		}
		c.PassRate = ratio(passed, len(c.Runs))
	}
	var modes []presence.Mode
	seen := map[presence.Mode]bool{}
	for _, c := range results {
		if !seen[c.Mode] {
			seen[c.Mode] = true
			modes = append(modes, c.Mode)
		}
	}
	for _, m := range modes {
		r.Summaries = append(r.Summaries, summarise(results, m))
		r.BySubject = append(r.BySubject, groups(results, m, func(c ClipResult) string { return c.Subject })...)
		r.ByAttack = append(r.ByAttack, groups(results, m, func(c ClipResult) string {
			if c.Sample.Live {
				return "live"
			}
			return c.Sample.AttackType
		})...)
	}
	return r
}

func ratio(n, d int) Rate {
	if d == 0 {
		return nan
	}
	return Rate(float64(n) / float64(d))
}

func median(v []float64) Number {
	if len(v) == 0 {
		return nan
	}
	sort.Float64s(v)
	return Number(v[len(v)/2])
}

func summarise(results []ClipResult, mode presence.Mode) ModeSummary {
	s := ModeSummary{Mode: mode, APCER: map[string]Rate{}}
	var liveRuns, livePassed int
	var secs []float64
	attackRuns, attackPassed := map[string]int{}, map[string]int{}
	for _, c := range results {
		if c.Mode != mode {
			continue
		}
		passed := 0
		for _, run := range c.Runs {
			if run.Passed() {
				passed++
			}
			if c.Sample.Live && run.Decision != "" {
				secs = append(secs, run.Seconds)
			}
		}
		if c.Sample.Live {
			s.LiveClips++
			liveRuns += len(c.Runs)
			livePassed += passed
			if len(c.Runs) > 0 && float64(passed) >= 0.95*float64(len(c.Runs)) {
				s.LiveClipsAt95++
			}
			continue
		}
		s.AttackClips++
		attackRuns[c.Sample.AttackType] += len(c.Runs)
		attackPassed[c.Sample.AttackType] += passed
		if passed > 0 {
			s.AttackClipsEverPassed++
		}
	}
	s.LiveRunPassRate = ratio(livePassed, liveRuns)
	s.BPCER = ratio(liveRuns-livePassed, liveRuns)
	for t, n := range attackRuns {
		s.APCER[t] = ratio(attackPassed[t], n)
	}
	s.MedianSecsLive = median(secs)
	return s
}

func groups(results []ClipResult, mode presence.Mode, key func(ClipResult) string) []ClipGroup {
	byKey := map[string]*ClipGroup{}
	secs := map[string][]float64{}
	var order []string
	for _, c := range results {
		if c.Mode != mode {
			continue
		}
		k := key(c)
		if k == "" {
			k = "(none)"
		}
		g := byKey[k]
		if g == nil {
			g = &ClipGroup{Mode: mode, Key: k, Live: c.Sample.Live, Reasons: map[string]int{}}
			byKey[k] = g
			order = append(order, k)
		}
		g.Clips++
		for _, run := range c.Runs {
			g.Runs++
			switch {
			case run.Passed():
				g.Passed++
			case run.Decision == presence.DecisionFake:
				g.Fake++
			case run.Decision == presence.DecisionInconclusive:
				g.Incon++
				for _, reason := range run.Reasons {
					g.Reasons[reason]++
				}
			default:
				g.Failed++
			}
			if run.Decision != "" {
				secs[k] = append(secs[k], run.Seconds)
			}
		}
	}
	sort.Strings(order)
	var out []ClipGroup
	for _, k := range order {
		g := byKey[k]
		g.PassRate = ratio(g.Passed, g.Runs)
		g.MedianSecs = median(secs[k])
		if len(g.Reasons) == 0 {
			g.Reasons = nil
		}
		out = append(out, *g)
	}
	return out
}

func reasonList(m map[string]int) string {
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// WriteText writes the summary, the groups and every clip.
func (r *ClipReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Clip evaluation: %s\n%s\n", r.Dataset, r.Protocol)
	for _, s := range r.Summaries {
		fmt.Fprintf(w, "\n[%s] live: %d clips, runs passed %s (BPCER incl. inconclusive %s), clips passing from >=95%% of offsets: %d of %d, median time to verdict %s s\n",
			s.Mode, s.LiveClips, pct(s.LiveRunPassRate), pct(s.BPCER), s.LiveClipsAt95, s.LiveClips, f4(s.MedianSecsLive))
		if s.AttackClips > 0 {
			fmt.Fprintf(w, "[%s] attacks: %d clips, %d passed from some offset; APCER by type:", s.Mode, s.AttackClips, s.AttackClipsEverPassed)
			for _, t := range sortedKeys(s.APCER) {
				fmt.Fprintf(w, " %s %s", t, pct(s.APCER[t]))
			}
			fmt.Fprintln(w)
		}
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, section := range []struct {
		title string
		g     []ClipGroup
	}{{"By attack type", r.ByAttack}, {"By subject", r.BySubject}} {
		fmt.Fprintf(tw, "\n%s\nmode\tgroup\tclips\truns\tpassed\tfake\tinconclusive\tfailed\tmedian s\tinconclusive because\n", section.title)
		for _, g := range section.g {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", g.Mode, g.Key, g.Clips, g.Runs, g.Passed, g.Fake, g.Incon, g.Failed, f4(g.MedianSecs), reasonList(g.Reasons))
		}
	}
	fmt.Fprintf(tw, "\nClips\nmode\tclip\tlabel\truns\tpass rate\toutcomes by offset\n")
	for _, c := range r.Clips {
		label := "live"
		if !c.Sample.Live {
			label = c.Sample.AttackType
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", c.Mode, c.Sample.Path, label, len(c.Runs), pct(c.PassRate), runLine(c))
	}
	tw.Flush()
}

// runLine is one letter a run: R realface, F fake, I inconclusive, X no
// verdict (failed or error).
func runLine(c ClipResult) string {
	if c.Error != "" {
		return "error: " + c.Error
	}
	var b strings.Builder
	for _, run := range c.Runs {
		switch run.Decision {
		case presence.DecisionRealFace:
			b.WriteByte('R')
		case presence.DecisionFake:
			b.WriteByte('F')
		case presence.DecisionInconclusive:
			b.WriteByte('I')
		default:
			b.WriteByte('X')
		}
	}
	return b.String()
}

var clipBody = template.Must(template.New("clips").Funcs(template.FuncMap{"pct": pct, "f4": f4, "reasons": reasonList, "runs": runLine}).Parse(`
<p>{{.Protocol}}</p>
{{range .Summaries}}<h2>{{.Mode}}</h2>
<p>Live: {{.LiveClips}} clips, runs passed {{pct .LiveRunPassRate}} (BPCER including inconclusive {{pct .BPCER}}); clips passing from at least 95% of offsets: {{.LiveClipsAt95}} of {{.LiveClips}}; median time to verdict {{f4 .MedianSecsLive}} s.</p>
{{if .AttackClips}}<p>Attacks: {{.AttackClips}} clips, {{.AttackClipsEverPassed}} passed from some offset. APCER: {{range $t, $v := .APCER}}{{$t}} {{pct $v}} {{end}}</p>{{end}}
{{end}}
<h2>By attack type</h2><table><tr><th>mode</th><th>group</th><th>clips</th><th>runs</th><th>passed</th><th>fake</th><th>inconclusive</th><th>failed</th><th>median s</th><th>inconclusive because</th></tr>
{{range .ByAttack}}<tr><td>{{.Mode}}</td><td>{{.Key}}</td><td>{{.Clips}}</td><td>{{.Runs}}</td><td>{{.Passed}}</td><td>{{.Fake}}</td><td>{{.Incon}}</td><td>{{.Failed}}</td><td>{{f4 .MedianSecs}}</td><td>{{reasons .Reasons}}</td></tr>{{end}}</table>
<h2>By subject</h2><table><tr><th>mode</th><th>subject</th><th>clips</th><th>runs</th><th>passed</th><th>fake</th><th>inconclusive</th><th>failed</th><th>median s</th><th>inconclusive because</th></tr>
{{range .BySubject}}<tr><td>{{.Mode}}</td><td>{{.Key}}</td><td>{{.Clips}}</td><td>{{.Runs}}</td><td>{{.Passed}}</td><td>{{.Fake}}</td><td>{{.Incon}}</td><td>{{.Failed}}</td><td>{{f4 .MedianSecs}}</td><td>{{reasons .Reasons}}</td></tr>{{end}}</table>
<h2>Clips</h2><p>One letter a start offset: R realface, F fake, I inconclusive, X no verdict.</p>
<table><tr><th>mode</th><th>clip</th><th>label</th><th>runs</th><th>pass rate</th><th>outcomes by offset</th></tr>
{{range .Clips}}<tr><td>{{.Mode}}</td><td>{{.Sample.Path}}</td><td>{{if .Sample.Live}}live{{else}}{{.Sample.AttackType}}{{end}}</td><td>{{len .Runs}}</td><td>{{pct .PassRate}}</td><td><code>{{runs .}}</code></td></tr>{{end}}</table>
`))

// WriteHTML writes the self-contained HTML report.
func (r *ClipReport) WriteHTML(w io.Writer) error {
	return writePage(w, "Presence clip evaluation", r.Dataset, r.Generated, r.Models, clipBody, r)
}
