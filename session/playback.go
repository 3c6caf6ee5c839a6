package session

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"presence/clock"
)

// RecordedFrame is one frame of a recording: its bytes (JPEG) and when it
// was captured, counted from the start of the recording.
type RecordedFrame struct {
	At   time.Duration
	Data []byte
}

// Playback is a device that plays a recording into a stream on a virtual
// clock: the hello with the client token, each frame at its capture time,
// then a keep-alive every 250 ms until the stream ends. Clip evaluation
// and tests use it; it is the stream protocol as the SDK speaks it, with
// the clock moved by the frames instead of by the wall.
type Playback struct {
	Clock  *clock.Virtual
	Token  string
	Frames []RecordedFrame
	// DropAfter, when positive, makes the device vanish (a lost
	// connection) after sending that many frames.
	DropAfter int
	// Idle is how long the device keeps the connection open after its
	// last frame (default 2 minutes, longer than any session deadline).
	Idle time.Duration
	// Nonce, when set, replaces the one the server gave (a stream bound to
	// another session).
	Nonce string
	// Camera is what the device reports about its camera in the hello, as
	// the capture SDK does (nil: nothing).
	Camera map[string]any
	// Answer, when set, is sent right after the hello: the person's
	// answer to the notice ({"type":"consent","agree":true}).
	Answer map[string]any
	// LightStart sends the light challenge's start, stamped with the first
	// frame's capture time, before the first frame (as the SDK does when
	// its screen shows the first colour).
	LightStart bool
	// LightStartAt, when LightStart is set, is the start's capture time
	// (on the frames' scale) instead of the first frame's.
	LightStartAt *time.Duration
	// Transform, when set, changes each frame before it is sent, knowing
	// what the server said when the stream opened (the light challenge's
	// colours): tests simulate a screen's light on the face with it.
	Transform func(ready map[string]any, f RecordedFrame) []byte

	mu       sync.Mutex
	events   []map[string]any
	nonce    string
	base     time.Time
	sent     int
	idled    time.Duration
	handled  chan struct{}
	helloed  bool
	answered bool
	lit      bool
	finished bool
}

var errDeviceGone = errors.New("playback: the device went away")

// Read delivers the next message once the previous one was handled.
func (p *Playback) Read(ctx context.Context) (bool, []byte, error) {
	p.mu.Lock()
	if p.handled == nil {
		p.handled = make(chan struct{}, 1)
	}
	if !p.helloed {
		p.helloed = true
		p.mu.Unlock()
		msg := map[string]any{"type": "hello", "token": p.Token}
		if p.Camera != nil {
			msg["camera"] = p.Camera
		}
		hello, _ := json.Marshal(msg)
		return false, hello, nil
	}
	if p.Answer != nil && !p.answered {
		p.answered = true
		p.mu.Unlock()
		msg, _ := json.Marshal(p.Answer)
		return false, msg, nil
	}
	first := p.sent == 0 && p.idled == 0
	p.mu.Unlock()
	if !first {
		select {
		case <-p.handled:
		case <-ctx.Done():
			return false, nil, ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	idle := p.Idle
	if idle == 0 {
		idle = 2 * time.Minute
	}
	switch {
	case p.finished:
		return false, nil, errDeviceGone
	case p.DropAfter > 0 && p.sent >= p.DropAfter:
		return false, nil, errDeviceGone
	case p.LightStart && !p.lit && p.sent < len(p.Frames):
		p.lit = true
		at := p.Frames[p.sent].At
		if p.LightStartAt != nil {
			at = *p.LightStartAt
		}
		msg, _ := json.Marshal(map[string]any{"type": "light_start", "ts": float64(at.Microseconds()) / 1000})
		return false, msg, nil
	case p.sent < len(p.Frames):
		f := p.Frames[p.sent]
		p.sent++
		p.Clock.Set(p.base.Add(f.At))
		data := f.Data
		if p.Transform != nil {
			data = p.Transform(p.readyLocked(), f)
		}
		return true, FrameMessage(p.sent, float64(f.At.Microseconds())/1000, p.nonce, data), nil
	case p.idled < idle:
		p.idled += 250 * time.Millisecond
		p.Clock.Advance(250 * time.Millisecond)
		return false, []byte(`{"type":"keepalive"}`), nil
	}
	return false, nil, errDeviceGone
}

// Handled lets the next message through.
func (p *Playback) Handled() {
	select {
	case p.handled <- struct{}{}:
	default:
	}
}

// WriteJSON records what the server sent; the ready message starts the
// recording's clock.
func (p *Playback) WriteJSON(_ context.Context, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, m)
	switch m["type"] {
	case "ready":
		p.nonce, _ = m["nonce"].(string)
		if p.Nonce != "" {
			p.nonce = p.Nonce
		}
		p.base = p.Clock.Now()
	case "done", "error":
		p.finished = true
	}
	return nil
}

// Events are the messages the server sent, in order.
func (p *Playback) Events() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.events...)
}

// FrameMessage builds a binary frame message: a 2-byte big-endian header
// length, the JSON header, then the image.
func FrameMessage(seq int, captureMS float64, nonce string, img []byte) []byte {
	h, _ := json.Marshal(frameHeader{Seq: seq, TS: captureMS, Nonce: nonce})
	msg := make([]byte, 2, 2+len(h)+len(img))
	binary.BigEndian.PutUint16(msg, uint16(len(h)))
	return append(append(msg, h...), img...)
}

var _ PacedConn = (*Playback)(nil)

// readyLocked is the server's ready message, or nil.
func (p *Playback) readyLocked() map[string]any {
	for _, e := range p.events {
		if e["type"] == "ready" {
			return e
		}
	}
	return nil
}
