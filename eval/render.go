package eval

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"presence"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteText prints the concise terminal summary of a PAD report.
func (r *PADReport) WriteText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PAD evaluation of %s: %d samples\n\n", r.Dataset, r.Samples)
	fmt.Fprintln(tw, "class\tanalysed\trealface\tfake\tinconclusive\terrors")
	for _, class := range sortedKeys(r.Decisions) {
		d := r.Decisions[class]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", class, d.Analysed(), d.RealFace, d.Fake, d.Inconclusive, d.Errors)
	}
	fmt.Fprintln(tw)
	c := r.Configured
	fmt.Fprintf(tw, "at the configured threshold %.3f (quality gates included):\n", c.Threshold)
	for _, k := range sortedKeys(c.APCERByType) {
		fmt.Fprintf(tw, "  APCER %s\t%s\n", k, pct(c.APCERByType[k]))
	}
	fmt.Fprintf(tw, "  APCER worst type\t%s\t(%s)\n", pct(c.APCERWorst), c.WorstType)
	fmt.Fprintf(tw, "  BPCER\t%s\n", pct(c.BPCER))
	fmt.Fprintf(tw, "  BPCER incl. inconclusive\t%s\n", pct(c.BPCERWithInconclusive))
	fmt.Fprintf(tw, "  inconclusive live / spoof\t%s / %s\n", pct(c.InconclusiveLive), pct(c.InconclusiveSpoof))
	fmt.Fprintln(tw, "\nscore metrics (samples that passed the quality gates):")
	fmt.Fprintf(tw, "  EER\t%s\tat threshold %s\n", pct(r.EER), f4(r.EERThreshold))
	fmt.Fprintf(tw, "  ROC AUC\t%s\n", num(r.AUC))
	for _, t := range []struct {
		name string
		t    Target
		rate Rate
	}{{"BPCER @ APCER=1%", r.BPCERAtAPCER1, r.BPCERAtAPCER1.FalseReject}, {"BPCER @ APCER=5%", r.BPCERAtAPCER5, r.BPCERAtAPCER5.FalseReject}, {"APCER @ BPCER=5%", r.APCERAtBPCER5, r.APCERAtBPCER5.FalseAccept}} {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.name, pct(t.rate), targetNote(t.t))
	}
	if len(r.Breakdown) > 0 {
		fmt.Fprintln(tw, "\nbreakdown at the configured threshold:")
		fmt.Fprintln(tw, "  column\tvalue\tlive\tspoof\tAPCER\tBPCER\tinconclusive")
		for _, g := range r.Breakdown {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\t%s\t%d\n", g.Column, g.Value, g.Live, g.Spoof, pct(g.APCER), pct(g.BPCER), g.Inconclusive)
		}
	}
	if n := len(r.Inconclusive); n > 0 {
		fmt.Fprintf(tw, "\n%d inconclusive (listed in the reports): %s\n", n, reasonSummary(r.Inconclusive))
	}
	if n := len(r.Errors); n > 0 {
		fmt.Fprintf(tw, "%d unreadable:\n", n)
		for _, e := range r.Errors {
			fmt.Fprintf(tw, "  line %d %s: %s\n", e.Line, e.Path, e.Error)
		}
	}
	tw.Flush()
	writeModels(w, r.ModelsAlone, r.Configured.Threshold)
	writeGates(w, r.Gates, r.Measures, r.Configured.Threshold)
}

// f4 prints a threshold or value with four decimals, "n/a" when undefined.
func f4(v any) string {
	var f float64
	switch x := v.(type) {
	case Number:
		f = float64(x)
	case float64:
		f = x
	}
	if math.IsNaN(f) {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", f)
}

func targetNote(t Target) string {
	switch {
	case !t.Reached:
		return "not reached"
	case !t.Enough:
		return fmt.Sprintf("threshold %s; too few samples to measure %.0f%% reliably", f4(t.Threshold), 100*t.Target)
	}
	return "threshold " + f4(t.Threshold)
}

func reasonSummary(list []Listed) string {
	counts := map[string]int{}
	for _, l := range list {
		for _, r := range l.Reasons {
			counts[string(r)]++
		}
	}
	var parts []string
	for _, k := range sortedKeys(counts) {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

func num(r Rate) string {
	if !r.Defined() {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", float64(r))
}

// WriteText prints the concise terminal summary of a verification report.
func (r *VerifyReport) WriteText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Verification evaluation of %s: %d pairs (%d same-person, %d different-people scored; %d failed)\n\n",
		r.Dataset, r.Pairs, r.Genuine, r.Impostor, r.FailedPairs)
	fmt.Fprintf(tw, "ROC AUC\t%s\n", num(r.AUC))
	fmt.Fprintf(tw, "EER\t%s\tat threshold %s\n", pct(r.EER), f4(r.EERThreshold))
	for _, t := range r.TARAtFAR {
		note := targetNote(t)
		if !t.Enough {
			note = fmt.Sprintf("threshold %s; only %d impostor pairs: too few for FAR=%g", f4(t.Threshold), r.Impostor, t.Target)
		}
		fmt.Fprintf(tw, "TAR @ FAR=%g\t%s\t%s\n", t.Target, pct(t.TAR()), note)
	}
	fmt.Fprintf(tw, "at the configured threshold %.3f\tTAR %s, FAR %s\n", r.Configured.Threshold, pct(r.Configured.TAR), pct(r.Configured.FAR))
	tw.Flush()
	writeSlices(w, r.Slices, r.Configured.Threshold)
	if len(r.FailedImages) > 0 {
		fmt.Fprintf(tw, "\nfailures to acquire (%d images):\n", len(r.FailedImages))
		for _, f := range r.FailedImages {
			fmt.Fprintf(tw, "  %s: %s\n", f.Path, f.Error)
		}
	}
	tw.Flush()
}

// probit is the standard normal quantile: DET curves plot error rates on
// normal-deviate axes so that normal score distributions give lines.
func probit(p float64) float64 {
	p = math.Max(1e-4, math.Min(1-1e-4, p))
	return math.Sqrt2 * math.Erfinv(2*p-1)
}

type plot struct {
	W, H                  float64
	Left, Right, Top, Bot float64
	X0, X1, Y0, Y1        float64
	b                     strings.Builder
}

func newPlot(x0, x1, y0, y1 float64) *plot {
	p := &plot{W: 460, H: 340, Left: 60, Right: 15, Top: 15, Bot: 45, X0: x0, X1: x1, Y0: y0, Y1: y1}
	fmt.Fprintf(&p.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="%g" height="%g" font-family="sans-serif" font-size="11">`, p.W, p.H, p.W, p.H)
	fmt.Fprintf(&p.b, `<defs><clipPath id="area"><rect x="%g" y="%g" width="%g" height="%g"/></clipPath></defs>`, p.Left, p.Top, p.W-p.Left-p.Right, p.H-p.Top-p.Bot)
	fmt.Fprintf(&p.b, `<rect x="%g" y="%g" width="%g" height="%g" fill="#fff" stroke="#999"/>`, p.Left, p.Top, p.W-p.Left-p.Right, p.H-p.Top-p.Bot)
	return p
}

func (p *plot) x(v float64) float64 {
	return p.Left + (v-p.X0)/(p.X1-p.X0)*(p.W-p.Left-p.Right)
}

func (p *plot) y(v float64) float64 {
	return p.H - p.Bot - (v-p.Y0)/(p.Y1-p.Y0)*(p.H-p.Top-p.Bot)
}

func (p *plot) xTick(v float64, label string) {
	fmt.Fprintf(&p.b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#ddd"/><text x="%.1f" y="%g" text-anchor="middle">%s</text>`,
		p.x(v), p.x(v), p.Top, p.H-p.Bot, p.x(v), p.H-p.Bot+14, template.HTMLEscapeString(label))
}

func (p *plot) yTick(v float64, label string) {
	fmt.Fprintf(&p.b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%s</text>`,
		p.Left, p.W-p.Right, p.y(v), p.y(v), p.Left-4, p.y(v)+4, template.HTMLEscapeString(label))
}

func (p *plot) labels(x, y string) {
	fmt.Fprintf(&p.b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`, (p.Left+p.W-p.Right)/2, p.H-8, template.HTMLEscapeString(x))
	fmt.Fprintf(&p.b, `<text transform="translate(14,%g) rotate(-90)" text-anchor="middle">%s</text>`, (p.Top+p.H-p.Bot)/2, template.HTMLEscapeString(y))
}

func (p *plot) polyline(xs, ys []float64, color string) {
	var pts []string
	for i := range xs {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", p.x(xs[i]), p.y(ys[i])))
	}
	fmt.Fprintf(&p.b, `<polyline clip-path="url(#area)" fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color, strings.Join(pts, " "))
}

func (p *plot) marker(x, y float64, color, label string) {
	fmt.Fprintf(&p.b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/><text x="%.1f" y="%.1f">%s</text>`,
		p.x(x), p.y(y), color, p.x(x)+6, p.y(y)-6, template.HTMLEscapeString(label))
}

func (p *plot) svg() template.HTML {
	return template.HTML(p.b.String() + "</svg>")
}

var detTicks = []float64{0.001, 0.01, 0.05, 0.1, 0.2, 0.4, 0.6}

// detSVG plots BPCER against APCER on normal-deviate axes.
func detSVG(curve []Point, marks map[string]Point) template.HTML {
	lo, hi := probit(0.0005), probit(0.7)
	p := newPlot(lo, hi, lo, hi)
	for _, t := range detTicks {
		p.xTick(probit(t), fmt.Sprintf("%g%%", 100*t))
		p.yTick(probit(t), fmt.Sprintf("%g%%", 100*t))
	}
	var xs, ys []float64
	for _, pt := range curve {
		if !pt.FalseAccept.Defined() || !pt.FalseReject.Defined() {
			continue
		}
		xs = append(xs, probit(float64(pt.FalseAccept)))
		ys = append(ys, probit(float64(pt.FalseReject)))
	}
	p.polyline(xs, ys, "#1f5fbf")
	for _, name := range sortedKeys(marks) {
		m := marks[name]
		if m.FalseAccept.Defined() && m.FalseReject.Defined() {
			p.marker(probit(float64(m.FalseAccept)), probit(float64(m.FalseReject)), "#c0392b", name)
		}
	}
	p.labels("APCER (attacks accepted)", "BPCER (bona fide rejected)")
	return p.svg()
}

// rocSVG plots TAR against FAR with a logarithmic FAR axis.
func rocSVG(curve []Point, marks map[string]Point) template.HTML {
	lx := func(v float64) float64 { return math.Log10(math.Max(v, 1e-4)) }
	p := newPlot(-4, 0, 0, 1)
	for _, t := range []float64{1e-4, 1e-3, 1e-2, 1e-1, 1} {
		p.xTick(lx(t), fmt.Sprintf("%g", t))
	}
	for _, t := range []float64{0, 0.25, 0.5, 0.75, 1} {
		p.yTick(t, fmt.Sprintf("%g", t))
	}
	var xs, ys []float64
	for _, pt := range curve {
		if pt.FalseAccept.Defined() && pt.FalseReject.Defined() {
			xs = append(xs, lx(float64(pt.FalseAccept)))
			ys = append(ys, 1-float64(pt.FalseReject))
		}
	}
	p.polyline(xs, ys, "#1f5fbf")
	for _, name := range sortedKeys(marks) {
		m := marks[name]
		if m.FalseAccept.Defined() && m.FalseReject.Defined() {
			p.marker(lx(float64(m.FalseAccept)), 1-float64(m.FalseReject), "#c0392b", name)
		}
	}
	p.labels("FAR (different people accepted), log scale", "TAR (same person accepted)")
	return p.svg()
}

var classColors = []string{"#2e8b57", "#c0392b", "#e67e22", "#8e44ad", "#2c3e50", "#7f8c8d"}

// histogramSVG draws each class's share of samples per bin as outlined
// steps, so overlapping classes stay visible.
func histogramSVG(h Histogram, order []string, xlabel string, threshold float64) template.HTML {
	maxShare := 0.0
	shares := map[string][]float64{}
	for class, counts := range h.Classes {
		total := 0
		for _, c := range counts {
			total += c
		}
		s := make([]float64, len(counts))
		for i, c := range counts {
			if total > 0 {
				s[i] = float64(c) / float64(total)
			}
			maxShare = math.Max(maxShare, s[i])
		}
		shares[class] = s
	}
	if maxShare == 0 {
		maxShare = 1
	}
	lo, hi := h.Edges[0], h.Edges[len(h.Edges)-1]
	// Round the top up to a multiple of 10% so the ticks read well.
	top := math.Ceil(maxShare*10) / 10
	p := newPlot(lo, hi, 0, top)
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		p.xTick(v, fmt.Sprintf("%.2f", v))
	}
	for v := 0.0; v <= top+1e-9; v += top / 5 {
		p.yTick(v, fmt.Sprintf("%.0f%%", 100*v))
	}
	for k, class := range order {
		s, ok := shares[class]
		if !ok {
			continue
		}
		var xs, ys []float64
		for i, v := range s {
			xs = append(xs, h.Edges[i], h.Edges[i+1])
			ys = append(ys, v, v)
		}
		color := classColors[k%len(classColors)]
		p.polyline(xs, ys, color)
		fmt.Fprintf(&p.b, `<rect x="%g" y="%d" width="10" height="10" fill="%s"/><text x="%g" y="%d">%s</text>`,
			p.W-p.Right-150, 22+14*k, color, p.W-p.Right-136, 31+14*k, template.HTMLEscapeString(class))
	}
	if !math.IsNaN(threshold) && threshold >= lo && threshold <= hi {
		fmt.Fprintf(&p.b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#000" stroke-dasharray="4 3"/>`, p.x(threshold), p.x(threshold), p.Top, p.H-p.Bot)
	}
	p.labels(xlabel, "share of the class")
	return p.svg()
}

func classOrder(h Histogram) []string {
	var rest []string
	for k := range h.Classes {
		if k != liveClass && k != "same person" {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	var out []string
	for _, first := range []string{liveClass, "same person"} {
		if _, ok := h.Classes[first]; ok {
			out = append(out, first)
		}
	}
	return append(out, rest...)
}

var funcs = template.FuncMap{
	"pct":  pct,
	"num":  num,
	"note": targetNote,
	"f4":   f4,
	"join": func(rs []presence.ReasonCode) string {
		var parts []string
		for _, r := range rs {
			parts = append(parts, string(r))
		}
		return strings.Join(parts, ", ")
	},
}

var htmlPage = template.Must(template.New("report").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f3f3f3}.plots{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}figcaption{font-size:.9em;color:#555}
.note{color:#555;font-size:.9em}
</style></head><body>
<h1>{{.Title}}</h1>
<p class="note">Generated {{.Generated}} by <code>presence eval</code>. Dataset: <code>{{.Dataset}}</code>.</p>
{{.Body}}
{{if .Models}}<h2>Models</h2><table><tr><th>name</th><th>role</th><th>version</th><th>sha256</th></tr>
{{range .Models}}<tr><td>{{.Name}}</td><td>{{.Role}}</td><td>{{.Version}}</td><td><code>{{.SHA256}}</code></td></tr>{{end}}</table>{{end}}
</body></html>
`))

var padBody = template.Must(template.New("pad").Funcs(funcs).Parse(`
<h2>Decisions</h2>
<table><tr><th>class</th><th>analysed</th><th>realface</th><th>fake</th><th>inconclusive</th><th>unreadable</th></tr>
{{range $k, $d := .R.Decisions}}<tr><td>{{$k}}</td><td>{{$d.Analysed}}</td><td>{{$d.RealFace}}</td><td>{{$d.Fake}}</td><td>{{$d.Inconclusive}}</td><td>{{$d.Errors}}</td></tr>{{end}}
</table>
<h2>At the configured threshold ({{f4 .R.Configured.Threshold}}), quality gates included</h2>
<table><tr><th>metric</th><th>value</th></tr>
{{range $k, $v := .R.Configured.APCERByType}}<tr><td>APCER {{$k}}</td><td>{{pct $v}}</td></tr>{{end}}
<tr><td>APCER, worst attack type ({{.R.Configured.WorstType}})</td><td>{{pct .R.Configured.APCERWorst}}</td></tr>
<tr><td>BPCER</td><td>{{pct .R.Configured.BPCER}}</td></tr>
<tr><td>BPCER counting inconclusive as rejected</td><td>{{pct .R.Configured.BPCERWithInconclusive}}</td></tr>
<tr><td>inconclusive: live / attacks</td><td>{{pct .R.Configured.InconclusiveLive}} / {{pct .R.Configured.InconclusiveSpoof}}</td></tr>
</table>
<h2>Score metrics</h2>
<p class="note">On the samples that passed the quality gates (the ones the liveness threshold decides): {{range $k, $v := .R.Scored}}{{$k}} {{$v}}; {{end}}</p>
<table><tr><th>metric</th><th>value</th><th>operating point</th></tr>
<tr><td>EER</td><td>{{pct .R.EER}}</td><td>threshold {{f4 .R.EERThreshold}}</td></tr>
<tr><td>ROC AUC</td><td>{{num .R.AUC}}</td><td></td></tr>
<tr><td>BPCER at APCER = 1%</td><td>{{pct .R.BPCERAtAPCER1.FalseReject}}</td><td>{{note .R.BPCERAtAPCER1}}</td></tr>
<tr><td>BPCER at APCER = 5%</td><td>{{pct .R.BPCERAtAPCER5.FalseReject}}</td><td>{{note .R.BPCERAtAPCER5}}</td></tr>
<tr><td>APCER at BPCER = 5%</td><td>{{pct .R.APCERAtBPCER5.FalseAccept}}</td><td>{{note .R.APCERAtBPCER5}}</td></tr>
</table>
<div class="plots">
<figure>{{.DET}}<figcaption>DET curve (normal-deviate axes); dots: operating points.</figcaption></figure>
<figure>{{.Hist}}<figcaption>Liveness score per class; dashed line: configured threshold.</figcaption></figure>
</div>
{{if .R.Breakdown}}<h2>Breakdown</h2><table><tr><th>column</th><th>value</th><th>live</th><th>spoof</th><th>APCER</th><th>BPCER</th><th>inconclusive</th></tr>
{{range .R.Breakdown}}<tr><td>{{.Column}}</td><td>{{.Value}}</td><td>{{.Live}}</td><td>{{.Spoof}}</td><td>{{pct .APCER}}</td><td>{{pct .BPCER}}</td><td>{{.Inconclusive}}</td></tr>{{end}}</table>{{end}}
<h2>Inconclusive ({{len .R.Inconclusive}})</h2>
{{if .R.Inconclusive}}<table><tr><th>line</th><th>file</th><th>class</th><th>reasons</th></tr>
{{range .R.Inconclusive}}<tr><td>{{.Line}}</td><td>{{.Path}}</td><td>{{if .Live}}live{{else}}{{.AttackType}}{{end}}</td><td>{{join .Reasons}}</td></tr>{{end}}</table>{{end}}
{{if .R.Errors}}<h2>Unreadable ({{len .R.Errors}})</h2><table><tr><th>line</th><th>file</th><th>error</th></tr>
{{range .R.Errors}}<tr><td>{{.Line}}</td><td>{{.Path}}</td><td>{{.Error}}</td></tr>{{end}}</table>{{end}}
`))

var verifyBody = template.Must(template.New("verify").Funcs(funcs).Parse(`
<p>{{.R.Pairs}} pairs: {{.R.Genuine}} same-person and {{.R.Impostor}} different-people pairs scored, {{.R.FailedPairs}} not scored (failure to acquire).</p>
<table><tr><th>metric</th><th>value</th><th>operating point</th></tr>
<tr><td>ROC AUC</td><td>{{num .R.AUC}}</td><td></td></tr>
<tr><td>EER</td><td>{{pct .R.EER}}</td><td>threshold {{f4 .R.EERThreshold}}</td></tr>
{{range .R.TARAtFAR}}<tr><td>TAR at FAR = {{.Target}}</td><td>{{pct .TAR}}</td><td>{{note .}}</td></tr>{{end}}
<tr><td>at the configured threshold {{f4 .R.Configured.Threshold}}</td><td>TAR {{pct .R.Configured.TAR}}, FAR {{pct .R.Configured.FAR}}</td><td></td></tr>
</table>
<div class="plots">
<figure>{{.ROC}}<figcaption>ROC curve; dots: operating points.</figcaption></figure>
<figure>{{.Hist}}<figcaption>Cosine similarity per class; dashed line: configured threshold.</figcaption></figure>
</div>
{{if .R.FailedImages}}<h2>Failures to acquire ({{len .R.FailedImages}})</h2><table><tr><th>file</th><th>reason</th></tr>
{{range .R.FailedImages}}<tr><td>{{.Path}}</td><td>{{.Error}}</td></tr>{{end}}</table>{{end}}
`))

func writePage(w io.Writer, title, dataset, generated string, models any, body *template.Template, data any) error {
	var b strings.Builder
	if err := body.Execute(&b, data); err != nil {
		return err
	}
	return htmlPage.Execute(w, map[string]any{
		"Title": title, "Dataset": dataset, "Generated": generated, "Models": models, "Body": template.HTML(b.String()),
	})
}

// WriteHTML writes the self-contained HTML report.
func (r *PADReport) WriteHTML(w io.Writer) error {
	marks := map[string]Point{}
	for name, t := range map[string]Target{"APCER 1%": r.BPCERAtAPCER1, "APCER 5%": r.BPCERAtAPCER5} {
		if t.Reached {
			marks[name] = t.Point
		}
	}
	data := map[string]any{
		"R":    r,
		"DET":  detSVG(r.DET, marks),
		"Hist": histogramSVG(r.ScoreHistogram, classOrder(r.ScoreHistogram), "liveness score", r.Configured.Threshold),
	}
	return writePage(w, "Presence PAD evaluation", r.Dataset, r.Generated, r.Models, padBody, data)
}

// WriteHTML writes the self-contained HTML report.
func (r *VerifyReport) WriteHTML(w io.Writer) error {
	marks := map[string]Point{}
	for _, t := range r.TARAtFAR {
		if t.Reached {
			marks[fmt.Sprintf("FAR %g", t.Target)] = t.Point
		}
	}
	data := map[string]any{
		"R":    r,
		"ROC":  rocSVG(r.ROC, marks),
		"Hist": histogramSVG(r.Histogram, classOrder(r.Histogram), "cosine similarity", r.Configured.Threshold),
	}
	return writePage(w, "Presence verification evaluation", r.Dataset, r.Generated, r.Models, verifyBody, data)
}
