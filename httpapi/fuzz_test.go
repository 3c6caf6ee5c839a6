package httpapi

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"presence"
)

func FuzzDecodeCreateRequest(f *testing.F) {
	f.Add([]byte(`{"mode":"active","audit_images":2,"ttl_seconds":60,"correlation_id":"x"}`))
	f.Add([]byte(`{"mode":`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`{"audit_images":"2"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v1/sessions", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req createRequest
		err := decodeJSON(r, &req)
		if err != nil && presence.ErrorCodeOf(err) != presence.ErrInvalid && presence.ErrorCodeOf(err) != presence.ErrPayloadTooLarge {
			t.Fatalf("unexpected error code %s: %v", presence.ErrorCodeOf(err), err)
		}
	})
}

func FuzzReadFrames(f *testing.F) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("frame", "a.jpg")
	w.Write([]byte{0xFF, 0xD8, 0xFF, 1, 2, 3})
	mw.Close()
	f.Add(buf.Bytes(), mw.Boundary())
	f.Add([]byte("--x\r\n\r\n--x--"), "x")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		s := &Server{cfg: Config{MaxBodyBytes: 1 << 20}}
		r := httptest.NewRequest("POST", "/v1/sessions/x/frames", bytes.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		rec := httptest.NewRecorder()
		r.Body = http.MaxBytesReader(rec, r.Body, s.cfg.MaxBodyBytes)
		frames, err := s.readFrames(r)
		if err == nil && len(frames) > maxFramesRead {
			t.Fatalf("%d frames read", len(frames))
		}
	})
}
