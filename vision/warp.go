package vision

import (
	"math"

	"presence"
)

// Channels is the plane order a model expects.
type Channels int

// Plane orders.
const (
	RGB Channels = iota
	BGR
	Gray
)

// Planes is the number of planes written for c.
func (c Channels) Planes() int {
	if c == Gray {
		return 1
	}
	return 3
}

// TensorFormat says how pixel values become tensor values:
// out = (v - Mean) * Scale, with v in 0..255.
type TensorFormat struct {
	Channels Channels
	Mean     float32
	Scale    float32
}

// Affine maps an output pixel (x, y) to the source position
// (M[0]x + M[1]y + M[2], M[3]x + M[4]y + M[5]), both in pixel-centre
// coordinates (pixel i covers i-0.5..i+0.5), as OpenCV does.
type Affine [6]float64

// CropAffine maps an outW x outH output onto the source rectangle r with the
// same sampling positions as OpenCV's resize of that region, which is what
// the default models were trained with.
func CropAffine(r presence.Box, outW, outH int) Affine {
	sx := r.Width() / float64(outW)
	sy := r.Height() / float64(outH)
	return Affine{sx, 0, r.X1 + 0.5*sx - 0.5, 0, sy, r.Y1 + 0.5*sy - 0.5}
}

// Invert returns the affine map going the other way; ok is false for a
// singular map.
func (m Affine) Invert() (Affine, bool) {
	det := m[0]*m[4] - m[1]*m[3]
	if math.Abs(det) < 1e-12 {
		return Affine{}, false
	}
	a, b, d, e := m[4]/det, -m[1]/det, -m[3]/det, m[0]/det
	return Affine{a, b, -(a*m[2] + b*m[5]), d, e, -(d*m[2] + e*m[5])}, true
}

// Apply maps p through m.
func (m Affine) Apply(p presence.Point) presence.Point {
	return presence.Point{X: m[0]*p.X + m[1]*p.Y + m[2], Y: m[3]*p.X + m[4]*p.Y + m[5]}
}

const lumaR, lumaG, lumaB = 0.299, 0.587, 0.114

// Warp samples img bilinearly at the positions m gives for every pixel of
// an outW x outH grid and writes planar (CHW) values in format f into dst,
// which must hold f.Channels.Planes()*outW*outH values. Positions more than
// one pixel outside the image take the value fill (e.g. letterbox bars);
// nearer ones repeat the edge pixel.
func Warp(img *presence.Image, m Affine, outW, outH int, f TensorFormat, fill uint8, dst []float32) {
	if m[1] == 0 && m[3] == 0 {
		warpAxisAligned(img, m, outW, outH, f, fill, dst)
		return
	}
	plane := outW * outH
	fillV := (float32(fill) - f.Mean) * f.Scale
	w, h := img.Width, img.Height
	for y := 0; y < outH; y++ {
		for x := 0; x < outW; x++ {
			sx := m[0]*float64(x) + m[1]*float64(y) + m[2]
			sy := m[3]*float64(x) + m[4]*float64(y) + m[5]
			o := y*outW + x
			if sx < -1 || sy < -1 || sx > float64(w) || sy > float64(h) {
				writeFill(dst, o, plane, f.Channels, fillV)
				continue
			}
			x0 := int(math.Floor(sx))
			y0 := int(math.Floor(sy))
			ax := float32(sx - float64(x0))
			ay := float32(sy - float64(y0))
			i00 := pixIndex(x0, y0, w, h)
			i01 := pixIndex(x0+1, y0, w, h)
			i10 := pixIndex(x0, y0+1, w, h)
			i11 := pixIndex(x0+1, y0+1, w, h)
			var rgb [3]float32
			for c := 0; c < 3; c++ {
				top := float32(img.Pix[i00+c])*(1-ax) + float32(img.Pix[i01+c])*ax
				bot := float32(img.Pix[i10+c])*(1-ax) + float32(img.Pix[i11+c])*ax
				rgb[c] = top*(1-ay) + bot*ay
			}
			writePixel(dst, o, plane, f, rgb)
		}
	}
}

// warpAxisAligned is Warp for scale-and-shift maps (crops, resizes,
// letterboxes), with the horizontal taps computed once per column.
func warpAxisAligned(img *presence.Image, m Affine, outW, outH int, f TensorFormat, fill uint8, dst []float32) {
	plane := outW * outH
	fillV := (float32(fill) - f.Mean) * f.Scale
	w, h := img.Width, img.Height
	type tap struct {
		i0, i1 int // byte offsets of the left and right pixel in a row
		a      float32
		inside bool
	}
	cols := make([]tap, outW)
	for x := range cols {
		sx := m[0]*float64(x) + m[2]
		if sx < -1 || sx > float64(w) {
			continue
		}
		x0 := int(math.Floor(sx))
		cols[x] = tap{3 * clampInt(x0, 0, w-1), 3 * clampInt(x0+1, 0, w-1), float32(sx - float64(x0)), true}
	}
	mean, scale := f.Mean, f.Scale
	for y := 0; y < outH; y++ {
		sy := m[4]*float64(y) + m[5]
		row := y * outW
		if sy < -1 || sy > float64(h) {
			for x := 0; x < outW; x++ {
				writeFill(dst, row+x, plane, f.Channels, fillV)
			}
			continue
		}
		y0 := int(math.Floor(sy))
		ay := float32(sy - float64(y0))
		r0 := img.Pix[3*w*clampInt(y0, 0, h-1):]
		r1 := img.Pix[3*w*clampInt(y0+1, 0, h-1):]
		for x, t := range cols {
			o := row + x
			if !t.inside {
				writeFill(dst, o, plane, f.Channels, fillV)
				continue
			}
			ax := t.a
			var rgb [3]float32
			for c := 0; c < 3; c++ {
				top := float32(r0[t.i0+c]) + (float32(r0[t.i1+c])-float32(r0[t.i0+c]))*ax
				bot := float32(r1[t.i0+c]) + (float32(r1[t.i1+c])-float32(r1[t.i0+c]))*ax
				rgb[c] = top + (bot-top)*ay
			}
			switch f.Channels {
			case RGB:
				dst[o] = (rgb[0] - mean) * scale
				dst[plane+o] = (rgb[1] - mean) * scale
				dst[2*plane+o] = (rgb[2] - mean) * scale
			case BGR:
				dst[o] = (rgb[2] - mean) * scale
				dst[plane+o] = (rgb[1] - mean) * scale
				dst[2*plane+o] = (rgb[0] - mean) * scale
			case Gray:
				dst[o] = (lumaR*rgb[0] + lumaG*rgb[1] + lumaB*rgb[2] - mean) * scale
			}
		}
	}
}

func writePixel(dst []float32, o, plane int, f TensorFormat, rgb [3]float32) {
	switch f.Channels {
	case RGB:
		dst[o] = (rgb[0] - f.Mean) * f.Scale
		dst[plane+o] = (rgb[1] - f.Mean) * f.Scale
		dst[2*plane+o] = (rgb[2] - f.Mean) * f.Scale
	case BGR:
		dst[o] = (rgb[2] - f.Mean) * f.Scale
		dst[plane+o] = (rgb[1] - f.Mean) * f.Scale
		dst[2*plane+o] = (rgb[0] - f.Mean) * f.Scale
	case Gray:
		dst[o] = (lumaR*rgb[0] + lumaG*rgb[1] + lumaB*rgb[2] - f.Mean) * f.Scale
	}
}

func writeFill(dst []float32, o, plane int, c Channels, v float32) {
	for p := 0; p < c.Planes(); p++ {
		dst[p*plane+o] = v
	}
}

func pixIndex(x, y, w, h int) int {
	return 3 * (clampInt(y, 0, h-1)*w + clampInt(x, 0, w-1))
}

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// GrayPatch samples the region r of img into a size x size grey patch with
// values 0..255, the common input of the quality measures.
func GrayPatch(img *presence.Image, r presence.Box, size int) []float32 {
	out := make([]float32, size*size)
	Warp(img, CropAffine(r, size, size), size, size, TensorFormat{Channels: Gray, Scale: 1}, 0, out)
	return out
}
