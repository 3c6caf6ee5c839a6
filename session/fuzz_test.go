package session

import (
	"encoding/binary"
	"presence"
	"testing"
)

func FuzzParseFrame(f *testing.F) {
	good := []byte(`{"seq":1,"ts":12.5,"nonce":"abc"}`)
	msg := binary.BigEndian.AppendUint16(nil, uint16(len(good)))
	f.Add(append(append(msg, good...), 0xFF, 0xD8, 0xFF))
	f.Add([]byte{0, 0})
	f.Add([]byte{0xFF, 0xFF, '{'})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, img, err := parseFrame(data)
		if err != nil {
			return
		}
		if h.Nonce == "" && h.Seq == 0 && h.TS == 0 && len(img) > len(data) {
			t.Fatal("impossible split")
		}
		if len(img) > len(data)-2 {
			t.Fatalf("image part larger than the message")
		}
	})
}

func FuzzParseRecording(f *testing.F) {
	f.Add([]byte(`{"format":"presence-recording/1","frames":[{"ts":1,"jpeg":"/9j/"}]}`))
	f.Add([]byte(`{"format":"presence-recording/1","light":{"colors":["#ff0000"],"durations_ms":[500]},"light_start_ms":3,"frames":[{"ts":5,"jpeg":"/9j/"},{"ts":2,"jpeg":"/9j/"}]}`))
	f.Add([]byte(`{"format":"presence-recording/1","frames":[{"ts":1e308,"jpeg":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, frames, _, err := ParseRecording(data)
		if err != nil {
			if presence.ErrorCodeOf(err) != presence.ErrInvalid {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if r == nil || len(frames) == 0 || frames[0].At != 0 {
			t.Fatalf("accepted a recording without a first frame at 0: %v %d", r, len(frames))
		}
		for i := 1; i < len(frames); i++ {
			if frames[i].At < frames[i-1].At {
				t.Fatal("frames out of order")
			}
		}
	})
}
