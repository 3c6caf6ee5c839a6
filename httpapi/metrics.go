package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"presence"
)

// Metrics are the Prometheus series of one server. Each server has its own
// registry, so tests can run several servers in one process.
type Metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	created   *prometheus.CounterVec
	decisions *prometheus.CounterVec
	stages    *prometheus.HistogramVec
}

// NewMetrics registers the series; queueDepth and workers report the
// engine.
func NewMetrics(queueDepth func() float64, workers float64) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		registry: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "presence_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "presence_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "presence_sessions_created_total", Help: "Sessions created by mode.",
		}, []string{"mode"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "presence_decisions_total", Help: "Session verdicts by mode and decision.",
		}, []string{"mode", "decision"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "presence_analysis_stage_seconds", Help: "Time spent in each pipeline stage per frame.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1},
		}, []string{"stage"}),
	}
	r.MustRegister(m.requests, m.latency, m.created, m.decisions, m.stages,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "presence_engine_queue_depth", Help: "Frames waiting for a free engine worker."}, queueDepth),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "presence_engine_workers", Help: "Frames the engine analyses at once."}, func() float64 { return workers }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// SessionCreated counts a new session.
func (m *Metrics) SessionCreated(mode presence.Mode) { m.created.WithLabelValues(string(mode)).Inc() }

// Verdict counts a decision.
func (m *Metrics) Verdict(mode presence.Mode, v *presence.Verdict) {
	m.decisions.WithLabelValues(string(mode), string(v.Decision)).Inc()
}

// FrameAnalysed records per-stage latency.
func (m *Metrics) FrameAnalysed(t presence.Timings) {
	for stage, ms := range map[string]float64{
		"decode": t.Decode, "queue": t.Queue, "detect": t.Detect, "landmarks": t.Landmarks,
		"quality": t.Quality, "liveness": t.Liveness, "embedding": t.Embedding, "total": t.Total,
	} {
		m.stages.WithLabelValues(stage).Observe(ms / 1000)
	}
}

func (m *Metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}
