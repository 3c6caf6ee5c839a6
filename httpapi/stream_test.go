package httpapi_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"presence/liveness"
	"presence/presencetest"
)

func blinkPolicy() liveness.Policy {
	p := liveness.DefaultPolicy()
	p.Steps, p.MinSteps, p.MaxSteps = []liveness.StepKind{liveness.StepBlink}, 2, 2
	return p
}

// device is a scripted capture client speaking the stream protocol.
type device struct {
	t      *testing.T
	c      *websocket.Conn
	nonce  string
	events []map[string]any
}

func (e *env) connect(id string) *device {
	e.t.Helper()
	url := "ws" + strings.TrimPrefix(e.url, "http") + "/v1/sessions/" + id + "/stream"
	c, _, err := websocket.Dial(context.Background(), url, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	e.t.Cleanup(func() { c.CloseNow() })
	return &device{t: e.t, c: c}
}

func (d *device) hello(token string) map[string]any {
	d.t.Helper()
	if err := wsjson.Write(context.Background(), d.c, map[string]string{"type": "hello", "token": token}); err != nil {
		d.t.Fatal(err)
	}
	m := d.next()
	if n, ok := m["nonce"].(string); ok {
		d.nonce = n
	}
	return m
}

func (d *device) next() map[string]any {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var m map[string]any
	if err := wsjson.Read(ctx, d.c, &m); err != nil {
		return map[string]any{"type": "closed", "err": err.Error()}
	}
	d.events = append(d.events, m)
	return m
}

func frameMessage(seq int, ts float64, nonce string, img []byte) []byte {
	h, _ := json.Marshal(map[string]any{"seq": seq, "ts": ts, "nonce": nonce})
	msg := make([]byte, 2, 2+len(h)+len(img))
	binary.BigEndian.PutUint16(msg, uint16(len(h)))
	return append(append(msg, h...), img...)
}

// play sends frames at fps in real time (the guard refuses frames whose
// capture times run ahead of the server's clock) until the server says
// done, and returns the done message.
func (d *device) play(frames [][]byte, fps int, loops int) map[string]any {
	d.t.Helper()
	got := make(chan map[string]any, 1)
	go func() {
		for {
			m := d.next()
			if m["type"] == "done" || m["type"] == "error" || m["type"] == "closed" {
				got <- m
				return
			}
		}
	}()
	start := time.Now()
	interval := time.Second / time.Duration(fps)
	for i := 0; i < loops*len(frames); i++ {
		select {
		case m := <-got:
			return m
		case <-time.After(time.Until(start.Add(time.Duration(i) * interval))):
		}
		ts := float64(time.Since(start).Microseconds()) / 1000
		if err := d.c.Write(context.Background(), websocket.MessageBinary, frameMessage(i+1, ts, d.nonce, frames[i%len(frames)])); err != nil {
			break
		}
	}
	select {
	case m := <-got:
		return m
	case <-time.After(30 * time.Second):
		d.t.Fatal("no done message")
		return nil
	}
}

func clipFrames(t *testing.T, clip string, fps int) [][]byte {
	var out [][]byte
	for _, f := range presencetest.Frames(t, clip, fps, 640) {
		out = append(out, presencetest.ReadFile(t, f))
	}
	return out
}

func TestActiveBlinkSessionOverWebSocket(t *testing.T) {
	e := newEnv(t, options{Policy: blinkPolicy()})
	talk := clipFrames(t, "video_live/blink_talking_1face_720p.mp4", 15)
	id, token := e.create(`{"mode":"active","audit_images":1}`)
	d := e.connect(id)
	ready := d.hello(token)
	if ready["type"] != "ready" || ready["steps"] != 2.0 || ready["mode"] != "active" || d.nonce == "" {
		t.Fatalf("ready: %v", ready)
	}
	done := d.play(talk, 15, 1)
	if done["type"] != "done" || done["status"] != "succeeded" {
		t.Fatalf("done: %v", done)
	}
	var steps []string
	for _, ev := range d.events {
		if ev["type"] == "step" {
			steps = append(steps, ev["step"].(string)+":"+ev["message"].(string))
		}
		for _, leak := range []string{"score", "decision"} {
			if _, ok := ev[leak]; ok {
				t.Errorf("the device received %s: %v", leak, ev)
			}
		}
	}
	if strings.Join(steps, ",") != "blink:Now blink,blink:Now blink" {
		t.Errorf("steps %v", steps)
	}
	g := e.get(id)
	challenge, _ := g.body["challenge"].(map[string]any)
	transcript, _ := challenge["transcript"].([]any)
	if g.body["decision"] != "realface" || g.body["status"] != "succeeded" || len(transcript) != 2 || len(g.body["audit_images"].([]any)) != 1 {
		t.Fatalf("verdict %s", g.raw)
	}

	// The same recording in a new session replays frames of a passed one.
	id2, token2 := e.create(`{"mode":"active"}`)
	d2 := e.connect(id2)
	d2.hello(token2)
	d2.play(talk, 15, 1)
	if g := e.get(id2); g.body["decision"] != "fake" || !strings.Contains(g.raw2(), "replayed_frame") {
		t.Fatalf("replay of a passed session: %s", g.raw)
	}
}

func TestStreamRefusals(t *testing.T) {
	e := newEnv(t, options{Policy: blinkPolicy()})
	still := presencetest.ReadFile(t, presencetest.DataFile(t, "pad_silentface_samples/image_T1.jpg"))

	// A still picture sent as a stream.
	id, token := e.create(`{"mode":"active"}`)
	d := e.connect(id)
	d.hello(token)
	d.play([][]byte{still}, 10, 60)
	if g := e.get(id); g.body["decision"] != "fake" || !strings.Contains(g.raw2(), "replayed_frame") {
		t.Fatalf("still picture: %s", g.raw)
	}
	// The token was spent by that stream.
	d = e.connect(id)
	if m := d.hello(token); m["type"] != "error" || m["code"] != "token_used" {
		t.Fatalf("reused token: %v", m)
	}
	// Wrong credentials.
	id, _ = e.create(`{"mode":"active"}`)
	for cred, code := range map[string]string{e.key: "wrong_credential", "pct_nope": "invalid_token"} {
		if m := e.connect(id).hello(cred); m["type"] != "error" || m["code"] != code {
			t.Errorf("%s: %v", code, m)
		}
	}
	// Frames bound to another nonce.
	id, token = e.create(`{"mode":"passive"}`)
	d = e.connect(id)
	d.hello(token)
	d.nonce = "not-the-nonce"
	d.play([][]byte{still}, 10, 5)
	if g := e.get(id); g.body["decision"] != "fake" || !strings.Contains(g.raw2(), "replayed_frame") {
		t.Fatalf("foreign nonce: %s", g.raw)
	}
	// A device that disconnects mid-session.
	id, token = e.create(`{"mode":"active"}`)
	d = e.connect(id)
	d.hello(token)
	d.c.Write(context.Background(), websocket.MessageBinary, frameMessage(1, 0, d.nonce, still))
	d.c.Close(websocket.StatusGoingAway, "bye")
	deadline := time.Now().Add(10 * time.Second)
	for {
		g := e.get(id)
		if g.body["status"] == "failed" {
			if !strings.Contains(g.raw2(), "connection_lost") {
				t.Fatalf("disconnect: %s", g.raw)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session after disconnect: %s", g.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPassiveOverWebSocket(t *testing.T) {
	e := newEnv(t, options{})
	talk := clipFrames(t, "video_live/blink_talking_1face_720p.mp4", 15)
	id, token := e.create(`{"mode":"passive"}`)
	d := e.connect(id)
	if r := d.hello(token); r["mode"] != "passive" {
		t.Fatalf("ready %v", r)
	}
	// Start one second in, after the clip's first blink.
	done := d.play(talk[15:], 10, 1)
	if done["status"] != "succeeded" {
		t.Fatalf("done %v", done)
	}
	if g := e.get(id); g.body["decision"] != "realface" {
		t.Fatalf("verdict %s", g.raw)
	}
}
