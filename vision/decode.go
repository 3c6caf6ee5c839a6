// Package vision decodes images and does the pixel work of the pipeline:
// EXIF orientation, resampling into model tensors, alignment warps and the
// quality measures (brightness, sharpness, pose from landmarks). It is pure
// Go and knows nothing of models or sessions.
package vision

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"

	"presence"
)

// Limits bound what Decode accepts. All are checked before the full image
// is allocated: bytes first, then the pixel count and the memory decoding
// will take, read from the header.
type Limits struct {
	MaxBytes  int64
	MaxPixels int64
	// MaxDecodedBytes bounds the memory one decode takes (the decoder's
	// pixels and the RGB copy made of anything but YCbCr): a 16-bit PNG
	// takes 8 bytes a pixel before its copy, a JPEG about 1.5. Zero: no
	// bound beyond MaxPixels.
	MaxDecodedBytes int64
}

// DefaultLimits accept a 50 MP JPEG photo of up to 25 MB (every phone
// camera today) and 256 MiB of decoded pixels, while a decompression bomb,
// or a small 16-bit PNG of many pixels, is refused before it costs memory.
var DefaultLimits = Limits{MaxBytes: 25 << 20, MaxPixels: 50_000_000, MaxDecodedBytes: 256 << 20}

// DecodedBytes estimates the memory decoding an image of this header
// takes: the decoder's own pixels, plus the packed RGB copy every format
// but YCbCr JPEG and WebP gets.
func DecodedBytes(format Format, cfg image.Config) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	var perPixel int64
	switch cfg.ColorModel {
	case color.YCbCrModel:
		return px * 3 // at most 4:4:4; no RGB copy
	case color.NYCbCrAModel:
		return px * 4
	case color.GrayModel, color.AlphaModel:
		perPixel = 1
	case color.Gray16Model, color.Alpha16Model:
		perPixel = 2
	case color.RGBA64Model, color.NRGBA64Model:
		perPixel = 8
	default:
		perPixel = 4 // RGBA, NRGBA, CMYK, paletted (at most)
	}
	return px*perPixel + px*3
}

// Format is an image container recognised by its first bytes.
type Format string

// Supported formats.
const (
	FormatJPEG Format = "jpeg"
	FormatPNG  Format = "png"
	FormatWebP Format = "webp"
)

// Info describes a decoded image.
type Info struct {
	Format Format `json:"format"`
	// Width and Height are after EXIF orientation was applied.
	Width       int `json:"width"`
	Height      int `json:"height"`
	Orientation int `json:"orientation"`
	// Scale: the picture was decoded at 1/Scale of its stored size (a
	// DCT-scaled JPEG decode); 1 is full size.
	Scale int `json:"scale,omitempty"`
}

// Sniff names the format of data from its magic bytes; the file name or a
// declared content type is never trusted (one of the dev set's ".jpg" files
// is WebP).
func Sniff(data []byte) (Format, bool) {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return FormatJPEG, true
	case len(data) >= 8 && bytes.Equal(data[:8], []byte("\x89PNG\r\n\x1a\n")):
		return FormatPNG, true
	case len(data) >= 12 && bytes.Equal(data[:4], []byte("RIFF")) && bytes.Equal(data[8:12], []byte("WEBP")):
		return FormatWebP, true
	}
	return "", false
}

// DecodeConfig reads only the header of data and returns its format and
// stored (pre-orientation) size, enforcing lim.
func DecodeConfig(data []byte, lim Limits) (Format, image.Config, error) {
	if len(data) == 0 {
		return "", image.Config{}, presence.Errorf(presence.ErrEmptyInput, "empty input: no image data")
	}
	if lim.MaxBytes > 0 && int64(len(data)) > lim.MaxBytes {
		return "", image.Config{}, presence.Errorf(presence.ErrImageTooLarge,
			"image too large: %d bytes, limit %d", len(data), lim.MaxBytes)
	}
	format, ok := Sniff(data)
	if !ok {
		return "", image.Config{}, presence.Errorf(presence.ErrUnsupportedFormat, "not a JPEG, PNG or WebP image")
	}
	var cfg image.Config
	var err error
	r := bytes.NewReader(data)
	switch format {
	case FormatJPEG:
		cfg, err = jpeg.DecodeConfig(r)
	case FormatPNG:
		cfg, err = png.DecodeConfig(r)
	case FormatWebP:
		cfg, err = webp.DecodeConfig(r)
	}
	if err != nil {
		return format, cfg, presence.WrapError(presence.ErrCorruptImage, err, "corrupt %s header", format)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return format, cfg, presence.Errorf(presence.ErrCorruptImage, "corrupt %s header: %dx%d pixels", format, cfg.Width, cfg.Height)
	}
	if lim.MaxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > lim.MaxPixels {
		return format, cfg, presence.Errorf(presence.ErrImageTooLarge,
			"image too large: %dx%d pixels, limit %d", cfg.Width, cfg.Height, lim.MaxPixels)
	}
	if need := DecodedBytes(format, cfg); lim.MaxDecodedBytes > 0 && need > lim.MaxDecodedBytes {
		return format, cfg, presence.Errorf(presence.ErrImageTooLarge,
			"image too large to decode: %dx%d pixels would take %d MB, limit %d MB; send a smaller or 8-bit image",
			cfg.Width, cfg.Height, need>>20, lim.MaxDecodedBytes>>20)
	}
	return format, cfg, nil
}

// Decode turns JPEG, PNG or WebP bytes into an upright RGB image. Every
// failure is a *presence.Error with a specific code; it never panics.
func Decode(data []byte, lim Limits) (img *presence.Image, info Info, err error) {
	format, cfg, err := DecodeConfig(data, lim)
	if err != nil {
		return nil, Info{}, err
	}
	// The standard decoders are not documented to be panic-free on hostile
	// input; a panic here must become a clean error, not a dead server.
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, presence.Errorf(presence.ErrCorruptImage, "corrupt %s image data", format)
		}
	}()
	var decoded image.Image
	r := bytes.NewReader(data)
	switch format {
	case FormatJPEG:
		decoded, err = jpeg.Decode(r)
	case FormatPNG:
		decoded, err = png.Decode(r)
	case FormatWebP:
		decoded, err = webp.Decode(r)
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, Info{}, presence.WrapError(presence.ErrCorruptImage, err, "truncated %s image", format)
		}
		return nil, Info{}, presence.WrapError(presence.ErrCorruptImage, err, "corrupt %s image data", format)
	}
	if b := decoded.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, Info{}, presence.Errorf(presence.ErrCorruptImage,
			"corrupt %s image: header says %dx%d, data %dx%d", format, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	orientation := Orientation(data)
	img = fromImage(decoded, orientation)
	return img, Info{Format: format, Width: img.Width, Height: img.Height, Orientation: orientation}, nil
}

// fromImage wraps YCbCr decoder output as it is (Warp samples it in place)
// and converts anything else to upright packed RGB.
func fromImage(m image.Image, orientation int) *presence.Image {
	var ycc *image.YCbCr
	switch v := m.(type) {
	case *image.YCbCr:
		ycc = v
	case *image.NYCbCrA:
		ycc = &v.YCbCr
	default:
		return toRGBOriented(m, orientation)
	}
	w, h := ycc.Rect.Dx(), ycc.Rect.Dy()
	if orientation >= 5 {
		w, h = h, w
	}
	if orientation < 1 || orientation > 8 {
		orientation = 1
	}
	return &presence.Image{Width: w, Height: h, YCbCr: ycc, Orientation: orientation}
}

// FromImage converts any image.Image to the pipeline's RGB layout; tests
// and the video path use it for frames that never were files.
func FromImage(m image.Image) *presence.Image { return fromImage(m, 1) }

// orientation maps a source pixel (sx, sy) to its index in the upright
// image: base + sx*a + sy*b. Every EXIF orientation is such a linear map,
// so conversion and rotation happen in one pass.
type orientation struct {
	dw, dh, base, a, b int
}

func orientationMap(sw, sh, o int) orientation {
	switch o {
	case 2: // mirrored
		return orientation{sw, sh, sw - 1, -1, sw}
	case 3: // rotated 180°
		return orientation{sw, sh, sh*sw - 1, -1, -sw}
	case 4: // flipped
		return orientation{sw, sh, (sh - 1) * sw, 1, -sw}
	case 5: // transposed
		return orientation{sh, sw, 0, sh, 1}
	case 6: // needs 90° clockwise
		return orientation{sh, sw, sh - 1, sh, -1}
	case 7: // transverse
		return orientation{sh, sw, sw*sh - 1, -sh, -1}
	case 8: // needs 90° counter-clockwise
		return orientation{sh, sw, (sw - 1) * sh, -sh, 1}
	}
	return orientation{sw, sh, 0, 1, sw}
}

// toRGBOriented converts a decoded non-YCbCr image into upright packed RGB. Each
// source row is converted by a loop specific to the decoder's pixel type,
// then placed; for upright images it is converted in place.
func toRGBOriented(m image.Image, o int) *presence.Image {
	b := m.Bounds()
	sw, sh := b.Dx(), b.Dy()
	om := orientationMap(sw, sh, o)
	out := presence.NewImage(om.dw, om.dh)
	convert := rowConverter(m)
	var row []uint8
	if om.a != 1 {
		row = make([]uint8, 3*sw)
	}
	for sy := 0; sy < sh; sy++ {
		if om.a == 1 { // upright or flipped: rows stay rows
			start := 3 * (om.base + sy*om.b)
			convert(sy, out.Pix[start:start+3*sw])
			continue
		}
		convert(sy, row)
		idx := om.base + sy*om.b
		for sx := 0; sx < sw; sx++ {
			d := 3 * idx
			out.Pix[d], out.Pix[d+1], out.Pix[d+2] = row[3*sx], row[3*sx+1], row[3*sx+2]
			idx += om.a
		}
	}
	return out
}

// rowConverter returns a function writing source row sy as packed RGB.
func rowConverter(m image.Image) func(sy int, dst []uint8) {
	b := m.Bounds()
	switch src := m.(type) {
	case *image.Gray:
		return func(sy int, dst []uint8) {
			row := src.Pix[sy*src.Stride : sy*src.Stride+b.Dx()]
			for x, v := range row {
				dst[3*x], dst[3*x+1], dst[3*x+2] = v, v, v
			}
		}
	case *image.RGBA:
		return rgbaRows(src.Pix, src.Stride, b.Dx())
	case *image.NRGBA:
		// Alpha is dropped: a transparent selfie makes no sense, and
		// compositing would only invent pixels.
		return rgbaRows(src.Pix, src.Stride, b.Dx())
	}
	return func(sy int, dst []uint8) {
		for x := 0; x < b.Dx(); x++ {
			r, g, bl, _ := m.At(b.Min.X+x, b.Min.Y+sy).RGBA()
			dst[3*x], dst[3*x+1], dst[3*x+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
		}
	}
}

func rgbaRows(pix []uint8, stride, w int) func(sy int, dst []uint8) {
	return func(sy int, dst []uint8) {
		row := pix[sy*stride : sy*stride+4*w]
		for x := 0; x < w; x++ {
			dst[3*x], dst[3*x+1], dst[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
}

// String renders info for people, e.g. "jpeg 640x480 (EXIF orientation 6)".
func (i Info) String() string {
	s := fmt.Sprintf("%s %dx%d", i.Format, i.Width, i.Height)
	if i.Orientation > 1 {
		s += fmt.Sprintf(" (EXIF orientation %d)", i.Orientation)
	}
	return s
}
