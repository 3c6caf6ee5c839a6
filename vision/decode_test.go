package vision_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"presence"
	"presence/presencetest"
	"presence/vision"
)

// pattern is an asymmetric test picture: red grows to the right, green
// downwards, and a white block marks the top-left corner.
func pattern(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{uint8(x * 255 / (w - 1)), uint8(y * 255 / (h - 1)), 60, 255}
			if x < w/4 && y < h/4 {
				c = color.NRGBA{255, 255, 255, 255}
			}
			m.Set(x, y, c)
		}
	}
	return m
}

// stored returns what a camera writes for the upright picture u under EXIF
// orientation o: the pixels before the viewer's transform. The mapping is
// written from the EXIF definition, independently of the decoder's.
func stored(u *image.NRGBA, o int) *image.NRGBA {
	uw, uh := u.Bounds().Dx(), u.Bounds().Dy()
	sw, sh := uw, uh
	if o >= 5 {
		sw, sh = uh, uw
	}
	s := image.NewNRGBA(image.Rect(0, 0, sw, sh))
	for dy := 0; dy < uh; dy++ {
		for dx := 0; dx < uw; dx++ {
			sx, sy := storedAt(o, dx, dy, sw, sh)
			s.Set(sx, sy, u.At(dx, dy))
		}
	}
	return s
}

// storedAt is where the upright pixel (dx, dy) is stored under EXIF
// orientation o, in a stored picture sw x sh.
func storedAt(o, dx, dy, sw, sh int) (sx, sy int) {
	switch o {
	case 2:
		return sw - 1 - dx, dy
	case 3:
		return sw - 1 - dx, sh - 1 - dy
	case 4:
		return dx, sh - 1 - dy
	case 5:
		return dy, dx
	case 6:
		return dy, sh - 1 - dx
	case 7:
		return sw - 1 - dy, sh - 1 - dx
	case 8:
		return sw - 1 - dy, dx
	}
	return dx, dy
}

// tiffOrientation is a minimal little-endian TIFF block holding only the
// orientation tag.
func tiffOrientation(o int) []byte {
	b := []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0}
	entry := make([]byte, 12)
	binary.LittleEndian.PutUint16(entry[0:], 0x0112)
	binary.LittleEndian.PutUint16(entry[2:], 3)
	binary.LittleEndian.PutUint32(entry[4:], 1)
	binary.LittleEndian.PutUint16(entry[8:], uint16(o))
	return append(append(b, entry...), 0, 0, 0, 0)
}

func jpegWithOrientation(t testing.TB, m image.Image, o int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 98}); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	payload := append([]byte("Exif\x00\x00"), tiffOrientation(o)...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, data[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, data[2:]...)
}

func pngChunk(typ string, data []byte) []byte {
	c := make([]byte, 8, 12+len(data))
	binary.BigEndian.PutUint32(c, uint32(len(data)))
	copy(c[4:], typ)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

func pngWithOrientation(t testing.TB, m image.Image, o int) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	// eXIf goes right after IHDR (8-byte signature + 25-byte IHDR chunk).
	out := append([]byte{}, data[:33]...)
	out = append(out, pngChunk("eXIf", tiffOrientation(o))...)
	return append(out, data[33:]...)
}

func TestOrientationAllEight(t *testing.T) {
	u := pattern(40, 24)
	for o := 1; o <= 8; o++ {
		s := stored(u, o)
		for _, kind := range []string{"png", "jpeg"} {
			var data []byte
			tolerance := 0
			if kind == "png" {
				data = pngWithOrientation(t, s, o)
			} else {
				data = jpegWithOrientation(t, s, o)
				tolerance = 40 // 4:2:0 chroma and quantisation at edges
			}
			if got := vision.Orientation(data); got != o {
				t.Fatalf("%s orientation %d: parsed %d", kind, o, got)
			}
			img, info, err := vision.Decode(data, vision.DefaultLimits)
			if err != nil {
				t.Fatalf("%s orientation %d: %v", kind, o, err)
			}
			if info.Width != 40 || info.Height != 24 {
				t.Fatalf("%s orientation %d: upright size %dx%d, want 40x24", kind, o, info.Width, info.Height)
			}
			rgb := vision.ToRGB(img)
			bad := 0
			for y := 0; y < 24; y++ {
				for x := 0; x < 40; x++ {
					want := u.NRGBAAt(x, y)
					i := 3 * (y*40 + x)
					if absDiff(rgb.Pix[i], want.R) > tolerance || absDiff(rgb.Pix[i+1], want.G) > tolerance {
						bad++
					}
				}
			}
			// JPEG blurs the corner block's edge; a wrong orientation
			// moves the block and the gradients and fails most pixels.
			if limit := 40 * 24 / 20; bad > limit || (kind == "png" && bad > 0) {
				t.Errorf("%s orientation %d: %d of 960 pixels differ from the upright picture", kind, o, bad)
			}
		}
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestDecodeBadInput(t *testing.T) {
	var good bytes.Buffer
	if err := jpeg.Encode(&good, pattern(64, 48), nil); err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(r.UintN(256))
	}
	// A PNG whose header claims 100000x100000 pixels: refused from the
	// header, before any pixel buffer exists.
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 2
	bomb := append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
	bomb = append(bomb, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	bomb = append(bomb, pngChunk("IEND", nil)...)

	cases := []struct {
		name string
		data []byte
		lim  vision.Limits
		want presence.ErrorCode
	}{
		{"empty", nil, vision.DefaultLimits, presence.ErrEmptyInput},
		{"random bytes", random, vision.DefaultLimits, presence.ErrUnsupportedFormat},
		{"text file", []byte("name,label\nface.jpg,live\n"), vision.DefaultLimits, presence.ErrUnsupportedFormat},
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF}, vision.DefaultLimits, presence.ErrCorruptImage},
		{"truncated jpeg", good.Bytes()[:good.Len()/2], vision.DefaultLimits, presence.ErrCorruptImage},
		{"png claiming 100000x100000", bomb, vision.DefaultLimits, presence.ErrImageTooLarge},
		{"over the byte limit", good.Bytes(), vision.Limits{MaxBytes: 100, MaxPixels: 1 << 20}, presence.ErrImageTooLarge},
		{"over the pixel limit", good.Bytes(), vision.Limits{MaxBytes: 1 << 20, MaxPixels: 64*48 - 1}, presence.ErrImageTooLarge},
		{"riff that is not webp", []byte("RIFF\x04\x00\x00\x00WAVEfmt "), vision.DefaultLimits, presence.ErrUnsupportedFormat},
		{"webp header only", []byte("RIFF\x04\x00\x00\x00WEBPVP8 "), vision.DefaultLimits, presence.ErrCorruptImage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, _, err := vision.Decode(c.data, c.lim)
			if err == nil {
				t.Fatalf("decoded %dx%d, want error %s", img.Width, img.Height, c.want)
			}
			if got := presence.ErrorCodeOf(err); got != c.want {
				t.Fatalf("error code %s (%v), want %s", got, err, c.want)
			}
			if presence.ErrorMessage(err) == "" {
				t.Fatal("empty message")
			}
		})
	}
	if _, _, err := vision.Decode(good.Bytes(), vision.DefaultLimits); err != nil {
		t.Fatalf("control: a valid JPEG failed: %v", err)
	}
}

func TestSilentFaceSamplesAreRotated(t *testing.T) {
	dir := presencetest.DataDir(t, "pad_silentface_samples")
	for _, f := range []string{"image_T1.jpg", "image_F1.jpg", "image_F2.jpg"} {
		data := presencetest.ReadFile(t, filepath.Join(dir, f))
		img, info, err := vision.Decode(data, vision.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if info.Orientation != 6 || img.Width != 480 || img.Height != 640 {
			t.Errorf("%s: orientation %d, %dx%d; want 6 and an upright 480x640 portrait", f, info.Orientation, img.Width, img.Height)
		}
	}
}

func TestWebPNamedJPG(t *testing.T) {
	dir := presencetest.DataDir(t, "fr_deepface_pairs")
	files, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	found := 0
	for _, f := range files {
		data := presencetest.ReadFile(t, f)
		if format, _ := vision.Sniff(data); format != vision.FormatWebP {
			continue
		}
		found++
		img, info, err := vision.Decode(data, vision.DefaultLimits)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if info.Format != vision.FormatWebP || img.Width < 100 || img.Height < 100 {
			t.Errorf("%s: decoded as %v", f, info)
		}
	}
	if found == 0 {
		t.Fatal("the dev set has a WebP file named .jpg; none was recognised")
	}
}

func TestDecodeEveryDevImage(t *testing.T) {
	for _, sub := range []string{"fr_deepface_pairs", "pad_silentface_samples", "pad_celebaspoof/live"} {
		dir := presencetest.DataDir(t, sub)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if filepath.Ext(e.Name()) != ".jpg" {
				continue
			}
			data := presencetest.ReadFile(t, filepath.Join(dir, e.Name()))
			if _, _, err := vision.Decode(data, vision.DefaultLimits); err != nil {
				t.Errorf("%s/%s: %v", sub, e.Name(), err)
			}
		}
	}
}

// TestDecodeMemoryIsBoundedByTheHeader: a small 16-bit PNG of many pixels
// is refused from its header, before any pixel is allocated (it took the
// server from 139 to 895 MB); an 8-bit image of the same size, within the
// budget, is let through to the decoder.
func TestDecodeMemoryIsBoundedByTheHeader(t *testing.T) {
	bomb := presencetest.PNGHeader(7000, 7000, 16, 6) // 49 MP RGBA64: 392 MB of pixels
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := vision.Decode(bomb, vision.DefaultLimits)
	runtime.ReadMemStats(&after)
	if presence.ErrorCodeOf(err) != presence.ErrImageTooLarge || !strings.Contains(presence.ErrorMessage(err), "to decode") {
		t.Fatalf("16-bit bomb: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Fatalf("refusing the bomb allocated %d MB", grew>>20)
	}
	if n := vision.DecodedBytes(vision.FormatPNG, image.Config{Width: 7000, Height: 7000, ColorModel: color.RGBA64Model}); n != 7000*7000*11 {
		t.Fatalf("estimate %d", n)
	}
	// Within the budget, the header is accepted (the missing pixels are
	// then a corrupt image, not a memory problem).
	_, _, err = vision.Decode(presencetest.PNGHeader(2000, 2000, 8, 2), vision.DefaultLimits)
	if presence.ErrorCodeOf(err) != presence.ErrCorruptImage {
		t.Fatalf("8-bit header within budget: %v", err)
	}
}
