package session

import (
	"encoding/binary"
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
