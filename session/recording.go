package session

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"sort"
	"time"

	"presence"
	"presence/liveness"
)

// RecordingFormat names the recording format the capture SDK writes when
// a person agrees to have their check recorded (demo page, ?record=1).
const RecordingFormat = "presence-recording/1"

// Recording is a stream as the device sent it: its frames with their
// capture times, and for a light challenge the colours shown and when they
// started, on the frames' clock. `presence eval clips` replays recordings
// like clips, so an operator can measure the checks on their own users.
type Recording struct {
	Format       string              `json:"format"`
	Light        *liveness.LightPlan `json:"light,omitempty"`
	LightStartMS *float64            `json:"light_start_ms,omitempty"`
	Camera       map[string]any      `json:"camera,omitempty"`
	Frames       []recordedJSON      `json:"frames"`
}

type recordedJSON struct {
	TS   float64 `json:"ts"`
	JPEG string  `json:"jpeg"` // base64
}

// Recording limits: a check lasts seconds, a frame is a camera JPEG.
const (
	maxRecordingFrames     = 2000
	maxRecordingFrameBytes = 4 << 20
)

// ParseRecording reads a recording and returns its frames with times
// counted from the first frame, and the light challenge's start on the
// same scale.
func ParseRecording(data []byte) (*Recording, []RecordedFrame, time.Duration, error) {
	var r Recording
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, nil, 0, presence.Errorf(presence.ErrInvalid, "recording: not JSON: %v", err)
	}
	switch {
	case r.Format != RecordingFormat:
		return nil, nil, 0, presence.Errorf(presence.ErrInvalid, "recording: format %q, want %q", r.Format, RecordingFormat)
	case len(r.Frames) == 0:
		return nil, nil, 0, presence.Errorf(presence.ErrInvalid, "recording: no frames")
	case len(r.Frames) > maxRecordingFrames:
		return nil, nil, 0, presence.Errorf(presence.ErrInvalid, "recording: %d frames, at most %d", len(r.Frames), maxRecordingFrames)
	case r.Light != nil && r.LightStartMS == nil:
		return nil, nil, 0, presence.Errorf(presence.ErrInvalid, "recording: a light challenge without its start")
	}
	if r.Light != nil {
		if err := r.Light.Validate(); err != nil {
			return nil, nil, 0, presence.WrapError(presence.ErrInvalid, err, "recording: %v", err)
		}
	}
	sort.SliceStable(r.Frames, func(i, j int) bool { return r.Frames[i].TS < r.Frames[j].TS })
	first := r.Frames[0].TS
	frames := make([]RecordedFrame, len(r.Frames))
	for i, f := range r.Frames {
		if math.IsNaN(f.TS) || math.IsInf(f.TS, 0) || f.TS-first > float64(time.Hour/time.Millisecond) {
			return nil, nil, 0, presence.Errorf(presence.ErrInvalid, "recording: frame %d has an impossible time", i+1)
		}
		if base64.StdEncoding.DecodedLen(len(f.JPEG)) > maxRecordingFrameBytes {
			return nil, nil, 0, presence.Errorf(presence.ErrInvalid, "recording: frame %d is over %d MB", i+1, maxRecordingFrameBytes>>20)
		}
		img, err := base64.StdEncoding.DecodeString(f.JPEG)
		if err != nil || len(img) == 0 {
			return nil, nil, 0, presence.Errorf(presence.ErrInvalid, "recording: frame %d is not base64 image data", i+1)
		}
		frames[i] = RecordedFrame{At: time.Duration((f.TS - first) * float64(time.Millisecond)), Data: img}
	}
	var lightAt time.Duration
	if r.LightStartMS != nil {
		if math.IsNaN(*r.LightStartMS) || math.Abs(*r.LightStartMS-first) > float64(time.Hour/time.Millisecond) {
			return nil, nil, 0, presence.Errorf(presence.ErrInvalid, "recording: impossible light start")
		}
		lightAt = time.Duration((*r.LightStartMS - first) * float64(time.Millisecond))
	}
	return &r, frames, lightAt, nil
}
