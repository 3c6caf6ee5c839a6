package main

import (
	"encoding/json"
	"strings"
	"testing"

	"presence/presencetest"
)

func TestBenchCompare(t *testing.T) {
	img := presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg")
	r := run(t, nil, "bench", "--json", "--requests", "8", "--images", img, "--compare", "workers=1", "workers=2,embedding=off")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var report struct {
		Rows []struct {
			Config struct {
				Workers   int
				Embedding bool
			}
			Requests int
			P50      float64 `json:"p50_ms"`
			P99      float64 `json:"p99_ms"`
			PerSec   float64 `json:"per_second"`
		}
		Ratios []struct {
			Throughput float64 `json:"throughput_b_over_a"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(report.Rows) != 2 || len(report.Ratios) != 1 {
		t.Fatalf("%+v", report)
	}
	a, b := report.Rows[0], report.Rows[1]
	if a.Config.Workers != 1 || b.Config.Workers != 2 || b.Config.Embedding || a.Requests != 8 || a.P50 <= 0 || a.P99 < a.P50 || b.PerSec <= 0 {
		t.Errorf("%+v", report.Rows)
	}
}

func TestBenchBadConfigurations(t *testing.T) {
	img := presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg")
	for _, args := range [][]string{
		{"--compare", "workers=1"},
		{"--compare", "workers=0", "workers=2"},
		{"--compare", "speed=max", "workers=2"},
		{"workers=2"},
	} {
		r := run(t, nil, append([]string{"bench", "--images", img}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "presence bench") {
			t.Errorf("%v: exit %d, %q", args, r.code, r.stderr)
		}
	}
}

func TestBenchHTTPFlow(t *testing.T) {
	img := presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg")
	r := run(t, nil, "bench", "--http", "--json", "--requests", "8", "--clients", "2", "--images", img)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var report struct {
		Rows []struct {
			Config   struct{ Mode string }
			Requests int
			Errors   int
			PerSec   float64 `json:"per_second"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatal(err)
	}
	if len(report.Rows) != 1 || report.Rows[0].Config.Mode != "http" || report.Rows[0].Requests != 8 || report.Rows[0].Errors != 0 || report.Rows[0].PerSec <= 0 {
		t.Fatalf("%+v", report)
	}
}

func TestBenchIdentify(t *testing.T) {
	r := run(t, nil, "bench", "--identify", "5000", "--requests", "5")
	if r.code != 0 || !strings.Contains(r.stdout, "1:N search over 5000 synthetic templates") || !strings.Contains(r.stdout, "bytes a template") {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
}
