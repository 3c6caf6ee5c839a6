package vision

import (
	"image"

	"presence"
)

// JPEGDecoder decodes JPEG scaled by 1/denom (1, 2, 4 or 8) in the DCT, as
// libjpeg-turbo does (vision/turbojpeg), into YCbCr planes as stored.
type JPEGDecoder interface {
	Decode(data []byte, denom int) (*image.YCbCr, error)
	Name() string
}

// ScaleFor is the largest DCT scale denominator (8, 4, 2 or 1) at which a
// w x h picture keeps a shorter side of at least minSide pixels.
func ScaleFor(w, h, minSide int) int {
	for d := 8; d > 1; d /= 2 {
		if min((w+d-1)/d, (h+d-1)/d) >= minSide {
			return d
		}
	}
	return 1
}

// DecodeScaled decodes data as Decode does, but a JPEG through jd at
// 1/denom of its size (EXIF orientation applied the same way). Without jd,
// for other formats, or when jd cannot decode the file (a layout it does
// not handle, or damage, whose precise error Go's decoder then gives), it
// is Decode at full size.
func DecodeScaled(data []byte, lim Limits, jd JPEGDecoder, denom int) (*presence.Image, Info, error) {
	format, _, err := DecodeConfig(data, lim)
	if err != nil {
		return nil, Info{}, err
	}
	if jd == nil || format != FormatJPEG {
		img, info, err := Decode(data, lim)
		info.Scale = 1
		return img, info, err
	}
	ycc, err := jd.Decode(data, denom)
	if err != nil {
		img, info, err := Decode(data, lim)
		info.Scale = 1
		return img, info, err
	}
	orientation := Orientation(data)
	img := fromImage(ycc, orientation)
	return img, Info{Format: format, Width: img.Width, Height: img.Height, Orientation: img.Orientation, Scale: denom}, nil
}
