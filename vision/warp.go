package vision

import (
	"image"
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

// Then returns the map that applies m first, then n.
func (m Affine) Then(n Affine) Affine {
	return Affine{
		n[0]*m[0] + n[1]*m[3], n[0]*m[1] + n[1]*m[4], n[0]*m[2] + n[1]*m[5] + n[2],
		n[3]*m[0] + n[4]*m[3], n[3]*m[1] + n[4]*m[4], n[3]*m[2] + n[4]*m[5] + n[5],
	}
}

// storedAffine maps upright pixel centres to the stored image's pixel
// centres for an EXIF orientation; sw, sh are the stored size.
func storedAffine(o, sw, sh int) Affine {
	w, h := float64(sw-1), float64(sh-1)
	switch o {
	case 2:
		return Affine{-1, 0, w, 0, 1, 0}
	case 3:
		return Affine{-1, 0, w, 0, -1, h}
	case 4:
		return Affine{1, 0, 0, 0, -1, h}
	case 5:
		return Affine{0, 1, 0, 1, 0, 0}
	case 6:
		return Affine{0, 1, 0, -1, 0, h}
	case 7:
		return Affine{0, -1, w, -1, 0, h}
	case 8:
		return Affine{0, -1, w, 1, 0, 0}
	}
	return Affine{1, 0, 0, 0, 1, 0}
}

// Bilinear weights are applied in float32; BT.601 full-range YCbCr to RGB
// (the JPEG/JFIF definition).
const (
	lumaR, lumaG, lumaB = 0.299, 0.587, 0.114
	crToR               = 1.402
	cbToG, crToG        = 0.344136, 0.714136
	cbToB               = 1.772
)

// plane is one sampled array: an interleaved RGB buffer or one YCbCr
// plane, with the byte step of one stored pixel along each stored axis and
// the factor that maps stored image coordinates onto it (chroma planes are
// subsampled and centre-sited).
type plane struct {
	pix          []uint8
	stepX, stepY int
	w, h         int
	divX, divY   float64
}

// coordinate converts a stored-image coordinate along an axis to this
// plane's coordinate.
func planeCoord(s, div float64) float64 {
	if div == 1 {
		return s
	}
	return (s+0.5)/div - 0.5
}

// tap is a precomputed bilinear tap along one axis: byte offsets of the two
// neighbours and the weight of the second.
type tap struct {
	o0, o1 int
	a      float32
}

// axisTap computes the tap of position s (in plane coordinates) along an
// axis of n pixels with byte step step; positions within one pixel outside
// repeat the edge.
func axisTap(s float64, n, step int) tap {
	i0 := int(math.Floor(s))
	a := float32(s - float64(i0))
	return tap{clampInt(i0, 0, n-1) * step, clampInt(i0+1, 0, n-1) * step, a}
}

// source is an image prepared for sampling: its planes, stored size, and
// the affine from upright to stored coordinates.
type source struct {
	ycc          bool
	rgb          plane
	y, cb, cr    plane
	storedW      int
	storedH      int
	uprightToRaw Affine
}

func newSource(img *presence.Image) source {
	if img.YCbCr == nil {
		return source{
			rgb:          plane{pix: img.Pix, stepX: 3, stepY: 3 * img.Width, w: img.Width, h: img.Height, divX: 1, divY: 1},
			storedW:      img.Width,
			storedH:      img.Height,
			uprightToRaw: Affine{1, 0, 0, 0, 1, 0},
		}
	}
	m := img.YCbCr
	r := m.Rect
	sw, sh := r.Dx(), r.Dy()
	dx, dy := 1.0, 1.0
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		dx = 2
	case image.YCbCrSubsampleRatio420:
		dx, dy = 2, 2
	case image.YCbCrSubsampleRatio440:
		dy = 2
	case image.YCbCrSubsampleRatio411:
		dx = 4
	case image.YCbCrSubsampleRatio410:
		dx, dy = 4, 2
	}
	cw := (r.Max.X+int(dx)-1)/int(dx) - r.Min.X/int(dx)
	ch := (r.Max.Y+int(dy)-1)/int(dy) - r.Min.Y/int(dy)
	return source{
		ycc:          true,
		y:            plane{pix: m.Y, stepX: 1, stepY: m.YStride, w: sw, h: sh, divX: 1, divY: 1},
		cb:           plane{pix: m.Cb, stepX: 1, stepY: m.CStride, w: cw, h: ch, divX: dx, divY: dy},
		cr:           plane{pix: m.Cr, stepX: 1, stepY: m.CStride, w: cw, h: ch, divX: dx, divY: dy},
		storedW:      sw,
		storedH:      sh,
		uprightToRaw: storedAffine(img.Orientation, sw, sh),
	}
}

// Warp samples img bilinearly at the positions m gives for every pixel of
// an outW x outH grid and writes planar (CHW) values in format f into dst,
// which must hold f.Channels.Planes()*outW*outH values. Positions more than
// one pixel outside the image take the value fill (e.g. letterbox bars);
// nearer ones repeat the edge pixel.
func Warp(img *presence.Image, m Affine, outW, outH int, f TensorFormat, fill uint8, dst []float32) {
	src := newSource(img)
	raw := m.Then(src.uprightToRaw)
	w := warper{src: src, f: f, outW: outW, outH: outH, dst: dst, plane: outW * outH}
	w.fillV = (float32(fill) - f.Mean) * f.Scale
	switch {
	case raw[1] == 0 && raw[3] == 0:
		w.separable(raw[0], raw[2], raw[4], raw[5], false)
	case raw[0] == 0 && raw[4] == 0:
		// Quarter-turn orientations: stored x follows output rows and
		// stored y output columns.
		w.separable(raw[3], raw[5], raw[1], raw[2], true)
	default:
		w.general(raw)
	}
}

type warper struct {
	src        source
	f          TensorFormat
	outW, outH int
	dst        []float32
	plane      int
	fillV      float32
}

// separable handles maps where one stored coordinate depends only on the
// output column (colScale*x + colShift) and the other only on the output
// row: crops, resizes and letterboxes in any EXIF orientation. swapped says
// the column drives stored y instead of stored x. Taps are computed once
// per column and once per row, and each source kind has its own loop.
func (w *warper) separable(colScale, colShift, rowScale, rowShift float64, swapped bool) {
	s := w.src
	colLimit, rowLimit := s.storedW, s.storedH
	if swapped {
		colLimit, rowLimit = s.storedH, s.storedW
	}
	axis := func(p plane, pos float64, column bool) tap {
		// Which stored axis this position lies on decides the plane's
		// scale, size and byte step.
		if column != swapped {
			return axisTap(planeCoord(pos, p.divX), p.w, p.stepX)
		}
		return axisTap(planeCoord(pos, p.divY), p.h, p.stepY)
	}
	main := s.rgb
	if s.ycc {
		main = s.y
	}
	needChroma := s.ycc && w.f.Channels != Gray
	// Positions are linear in x, so the columns inside the image form one
	// run [x0, x1).
	x0, x1 := w.outW, 0
	colMain := make([]tap, w.outW)
	var colChroma []tap
	if needChroma {
		colChroma = make([]tap, w.outW)
	}
	for x := 0; x < w.outW; x++ {
		pos := colScale*float64(x) + colShift
		if pos < -1 || pos > float64(colLimit) {
			continue
		}
		x0, x1 = min(x0, x), max(x1, x+1)
		colMain[x] = axis(main, pos, true)
		if needChroma {
			colChroma[x] = axis(s.cb, pos, true)
		}
	}
	if x0 >= x1 {
		x0, x1 = 0, 0
	}
	mean, scale := w.f.Mean, w.f.Scale
	r, g, b := w.planeOffsets()
	for y := 0; y < w.outH; y++ {
		row := y * w.outW
		pos := rowScale*float64(y) + rowShift
		if pos < -1 || pos > float64(rowLimit) {
			w.fillRun(row, row+w.outW)
			continue
		}
		w.fillRun(row, row+x0)
		w.fillRun(row+x1, row+w.outW)
		rm := axis(main, pos, false)
		dst := w.dst
		switch {
		case !s.ycc:
			for x := x0; x < x1; x++ {
				rgb := bilinear3(main.pix, colMain[x], rm)
				w.writeRGB(row+x, rgb)
			}
		case !needChroma:
			yp := s.y.pix
			r0, r1, ay := rm.o0, rm.o1, rm.a
			for x := x0; x < x1; x++ {
				t := colMain[x]
				top := float32(yp[r0+t.o0]) + (float32(yp[r0+t.o1])-float32(yp[r0+t.o0]))*t.a
				bot := float32(yp[r1+t.o0]) + (float32(yp[r1+t.o1])-float32(yp[r1+t.o0]))*t.a
				dst[row+x] = (top + (bot-top)*ay - mean) * scale
			}
		default:
			rc := axis(s.cb, pos, false)
			yp, cbp, crp := s.y.pix, s.cb.pix, s.cr.pix
			r0, r1, ay := rm.o0, rm.o1, rm.a
			c0, c1, cy := rc.o0, rc.o1, rc.a
			for x := x0; x < x1; x++ {
				o := row + x
				t, c := colMain[x], colChroma[x]
				top := float32(yp[r0+t.o0]) + (float32(yp[r0+t.o1])-float32(yp[r0+t.o0]))*t.a
				bot := float32(yp[r1+t.o0]) + (float32(yp[r1+t.o1])-float32(yp[r1+t.o0]))*t.a
				luma := top + (bot-top)*ay
				top = float32(cbp[c0+c.o0]) + (float32(cbp[c0+c.o1])-float32(cbp[c0+c.o0]))*c.a
				bot = float32(cbp[c1+c.o0]) + (float32(cbp[c1+c.o1])-float32(cbp[c1+c.o0]))*c.a
				cb := top + (bot-top)*cy - 128
				top = float32(crp[c0+c.o0]) + (float32(crp[c0+c.o1])-float32(crp[c0+c.o0]))*c.a
				bot = float32(crp[c1+c.o0]) + (float32(crp[c1+c.o1])-float32(crp[c1+c.o0]))*c.a
				cr := top + (bot-top)*cy - 128
				dst[r+o] = (clamp255(luma+crToR*cr) - mean) * scale
				dst[g+o] = (clamp255(luma-cbToG*cb-crToG*cr) - mean) * scale
				dst[b+o] = (clamp255(luma+cbToB*cb) - mean) * scale
			}
		}
	}
}

// planeOffsets gives the start of the red, green and blue output planes.
func (w *warper) planeOffsets() (r, g, b int) {
	if w.f.Channels == BGR {
		return 2 * w.plane, w.plane, 0
	}
	return 0, w.plane, 2 * w.plane
}

// general handles any affine map (rotated alignment warps), computing taps
// for every output pixel.
func (w *warper) general(m Affine) {
	s := w.src
	main := s.rgb
	if s.ycc {
		main = s.y
	}
	needChroma := s.ycc && w.f.Channels != Gray
	for y := 0; y < w.outH; y++ {
		for x := 0; x < w.outW; x++ {
			o := y*w.outW + x
			sx := m[0]*float64(x) + m[1]*float64(y) + m[2]
			sy := m[3]*float64(x) + m[4]*float64(y) + m[5]
			if sx < -1 || sy < -1 || sx > float64(s.storedW) || sy > float64(s.storedH) {
				w.writeFill(o)
				continue
			}
			tx := axisTap(sx, main.w, main.stepX)
			ty := axisTap(sy, main.h, main.stepY)
			if !s.ycc {
				w.writeRGB(o, bilinear3(main.pix, tx, ty))
				continue
			}
			luma := bilinear(s.y.pix, tx, ty)
			if !needChroma {
				w.dst[o] = (luma - w.f.Mean) * w.f.Scale
				continue
			}
			cx := axisTap(planeCoord(sx, s.cb.divX), s.cb.w, s.cb.stepX)
			cy := axisTap(planeCoord(sy, s.cb.divY), s.cb.h, s.cb.stepY)
			w.writeYCC(o, luma, bilinear(s.cb.pix, cx, cy), bilinear(s.cr.pix, cx, cy))
		}
	}
}

func bilinear(p []uint8, tx, ty tap) float32 {
	v00 := float32(p[ty.o0+tx.o0])
	v01 := float32(p[ty.o0+tx.o1])
	v10 := float32(p[ty.o1+tx.o0])
	v11 := float32(p[ty.o1+tx.o1])
	top := v00 + (v01-v00)*tx.a
	bot := v10 + (v11-v10)*tx.a
	return top + (bot-top)*ty.a
}

func bilinear3(p []uint8, tx, ty tap) [3]float32 {
	var rgb [3]float32
	for c := 0; c < 3; c++ {
		v00 := float32(p[ty.o0+tx.o0+c])
		v01 := float32(p[ty.o0+tx.o1+c])
		v10 := float32(p[ty.o1+tx.o0+c])
		v11 := float32(p[ty.o1+tx.o1+c])
		top := v00 + (v01-v00)*tx.a
		bot := v10 + (v11-v10)*tx.a
		rgb[c] = top + (bot-top)*ty.a
	}
	return rgb
}

func (w *warper) writeYCC(o int, y, cb, cr float32) {
	cb -= 128
	cr -= 128
	rgb := [3]float32{
		clamp255(y + crToR*cr),
		clamp255(y - cbToG*cb - crToG*cr),
		clamp255(y + cbToB*cb),
	}
	w.writeRGB(o, rgb)
}

func (w *warper) writeRGB(o int, rgb [3]float32) {
	mean, scale, p := w.f.Mean, w.f.Scale, w.plane
	switch w.f.Channels {
	case RGB:
		w.dst[o] = (rgb[0] - mean) * scale
		w.dst[p+o] = (rgb[1] - mean) * scale
		w.dst[2*p+o] = (rgb[2] - mean) * scale
	case BGR:
		w.dst[o] = (rgb[2] - mean) * scale
		w.dst[p+o] = (rgb[1] - mean) * scale
		w.dst[2*p+o] = (rgb[0] - mean) * scale
	case Gray:
		w.dst[o] = (lumaR*rgb[0] + lumaG*rgb[1] + lumaB*rgb[2] - mean) * scale
	}
}

// fillRun writes the fill value to outputs [from, to) of every plane.
func (w *warper) fillRun(from, to int) {
	for k := 0; k < w.f.Channels.Planes(); k++ {
		run := w.dst[k*w.plane+from : k*w.plane+to]
		for i := range run {
			run[i] = w.fillV
		}
	}
}

func (w *warper) writeFill(o int) {
	for k := 0; k < w.f.Channels.Planes(); k++ {
		w.dst[k*w.plane+o] = w.fillV
	}
}

func clamp255(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return v
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

// ToRGB returns img as upright packed RGB (a copy for YCbCr images), for
// code that needs every pixel: drawing, encoding, tests.
func ToRGB(img *presence.Image) *presence.Image {
	if img.YCbCr == nil {
		return img
	}
	out := presence.NewImage(img.Width, img.Height)
	planar := make([]float32, 3*img.Width*img.Height)
	full := presence.Box{X2: float64(img.Width), Y2: float64(img.Height)}
	Warp(img, CropAffine(full, img.Width, img.Height), img.Width, img.Height, TensorFormat{Channels: RGB, Scale: 1}, 0, planar)
	n := img.Width * img.Height
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			out.Pix[3*i+c] = uint8(planar[c*n+i] + 0.5)
		}
	}
	return out
}

// Valid reports whether img is a consistent image Warp can sample.
func Valid(img *presence.Image) bool {
	if img == nil || img.Width <= 0 || img.Height <= 0 {
		return false
	}
	if img.YCbCr == nil {
		return len(img.Pix) == 3*img.Width*img.Height
	}
	w, h := img.YCbCr.Rect.Dx(), img.YCbCr.Rect.Dy()
	if img.Orientation >= 5 {
		w, h = h, w
	}
	return w == img.Width && h == img.Height && img.Orientation >= 1 && img.Orientation <= 8
}
