package session

import (
	"math"
	"sort"
	"strings"

	"presence"
)

// cameraReport is what the capture SDK says about the camera in its hello:
// the track's label and settings. A modified client can say anything, so
// it only ever counts against a capture, never for one.
type cameraReport struct {
	Label      string  `json:"label"`
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	FrameRate  float64 `json:"frame_rate"`
	FacingMode string  `json:"facing_mode"`
}

// virtualCameras are substrings of the device labels of software that
// presents a video (a file, a screen, a face swap) as a camera. Chromium's
// test camera, which plays a file, is among them.
var virtualCameras = []string{
	"obs virtual camera", "obs-camera", "manycam", "xsplit", "snap camera", "camtwist", "e2esoft", "vcam",
	"splitcam", "dummy video device", "v4l2loopback", "virtual camera", "virtualcam", "fake_device", "fake video",
	"unity video capture", "chromacam", "mmhmm", "youcam", "droidcam virtual", "avatarify", "deepfacelive",
}

// virtualCamera returns the known virtual camera label matches, or "".
// Chromium's test camera labels itself with the video file it plays.
func virtualCamera(label string) string {
	l := strings.ToLower(label)
	for _, ext := range []string{".y4m", ".mjpeg", ".mjpg"} {
		if strings.HasSuffix(l, ext) {
			return "video file"
		}
	}
	for _, v := range virtualCameras {
		if strings.Contains(l, v) {
			return v
		}
	}
	return ""
}

// captureReport records how a stream's frames arrived.
func captureReport(cam *cameraReport, captureMS []float64) *presence.CaptureReport {
	r := &presence.CaptureReport{Source: "stream"}
	if cam != nil {
		r.Reported = true
		r.Label = truncate(cam.Label, 200)
		r.Width, r.Height, r.FacingMode = clampInt(cam.Width), clampInt(cam.Height), truncate(cam.FacingMode, 20)
		if cam.FrameRate > 0 && cam.FrameRate < 1000 {
			r.FrameRate = math.Round(cam.FrameRate*100) / 100
		}
		r.VirtualCamera = virtualCamera(cam.Label)
	}
	if len(captureMS) > 1 {
		gaps := make([]float64, len(captureMS)-1)
		for i := range gaps {
			gaps[i] = captureMS[i+1] - captureMS[i]
		}
		sort.Float64s(gaps)
		r.MeasuredFrameIntervalMS = math.Round(gaps[len(gaps)/2]*10) / 10
	}
	return r
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

func clampInt(v int) int { return min(max(v, 0), 100000) }
