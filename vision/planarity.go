package vision

import (
	"math"

	"presence"
)

// PlanarFit says how well one homography explains how a face changed
// between two views: it aligns base's face onto cur's, starting from the
// homography of the landmarks (planeLandmarks) and refining it on
// the pixels, and returns the normalised correlation of the aligned faces.
// A flat picture (a print, a screen, a cut-out), however it is held,
// turned or tilted, moves as one homography and correlates near 1; a head
// that turns uncovers one cheek, hides the other and moves its nose
// against its face, which no homography follows. The landmarks alone
// cannot tell: the landmark model puts a turned head's nose where a turned
// head's would be even on a warped print.
func PlanarFit(baseImg *presence.Image, baseLm []presence.Point, curImg *presence.Image, curLm []presence.Point) (float64, bool) {
	if len(baseLm) < 68 || len(curLm) < 68 || baseImg == nil || curImg == nil {
		return 0, false
	}
	baseSharp, curSharp := grayOf(baseImg), grayOf(curImg)
	// The grid covers cur's inner face, outer eye corners to outer eye
	// corners, brows to lower lip: always inside a print or a cut-out,
	// whose edge would move against the room behind it and look like
	// depth, and holding the nose, which stands out of a head.
	x1, x2 := math.Min(curLm[36].X, curLm[45].X), math.Max(curLm[36].X, curLm[45].X)
	y1, y2 := math.Inf(1), curLm[57].Y
	for i := 17; i <= 26; i++ {
		y1 = math.Min(y1, curLm[i].Y)
	}
	if x2-x1 < 16 || y2-y1 < 16 {
		return 0, false
	}
	const n = 48
	cn := frameNorm(curLm)
	bn := frameNorm(baseLm)
	src := make([]presence.Point, len(planeLandmarks))
	dst := make([]presence.Point, len(planeLandmarks))
	for k, i := range planeLandmarks {
		src[k], dst[k] = cn.to(curLm[i]), bn.to(baseLm[i])
	}
	h, ok := fitHomography(src, dst) // cur → base, normalised coordinates
	if !ok {
		return 0, false
	}
	affine, ok := fitAffine(src, dst)
	if !ok {
		return 0, false
	}
	var pixels []presence.Point
	pts := make([]presence.Point, 0, n*n)
	for j := range n {
		for i := range n {
			p := presence.Point{X: x1 + (x2-x1)*(float64(i)+0.5)/n, Y: y1 + (y2-y1)*(float64(j)+0.5)/n}
			pixels = append(pixels, p)
			pts = append(pts, cn.to(p))
		}
	}
	tmpl := make([]float64, len(pts))
	vals := make([]float64, len(pts))
	var base grayImage
	warp := func(h [8]float64, p presence.Point) (float64, float64, float64) {
		w := h[6]*p.X + h[7]*p.Y + 1
		return (h[0]*p.X + h[1]*p.Y + h[2]) / w, (h[3]*p.X + h[4]*p.Y + h[5]) / w, w
	}
	sample := func(h [8]float64) {
		// base is the level being refined (set below).
		for k, p := range pts {
			u, v, _ := warp(h, p)
			q := bn.from(u, v)
			vals[k] = base.at(q.X, q.Y)
		}
	}
	// Gauss-Newton on the homography, the gain and offset between the
	// views solved in closed form each round (light changes as a face or
	// a print turns); coarse to fine, so a start the landmarks put a few
	// pixels off still converges.
	radius := max(2, int((x2-x1)/24))
	levels := []int{4 * radius, 2 * radius, radius, 0}
	bases := make([]grayImage, len(levels))
	curs := make([]grayImage, len(levels))
	for i, blur := range levels {
		bases[i], curs[i] = baseSharp.blurred(blur), curSharp.blurred(blur)
	}
	best := -1.0
	// Two starts: the landmarks' homography, and their affine map, which
	// a landmark model that imagines depth on a turned print misleads less.
	for _, start := range [][8]float64{h, affine} {
		g := start
		for i := range levels {
			base = bases[i]
			for k, p := range pixels {
				tmpl[k] = curs[i].at(p.X, p.Y)
			}
			g = refine(g, base, bn, pts, tmpl, vals, sample)
		}
		sample(g)
		best = math.Max(best, correlation(tmpl, vals))
	}
	return best, true
}

func refine(h [8]float64, base grayImage, bn faceFrame, pts []presence.Point, tmpl, vals []float64, sample func([8]float64)) [8]float64 {
	warp := func(h [8]float64, p presence.Point) (float64, float64, float64) {
		w := h[6]*p.X + h[7]*p.Y + 1
		return (h[0]*p.X + h[1]*p.Y + h[2]) / w, (h[3]*p.X + h[4]*p.Y + h[5]) / w, w
	}
	// Steps are judged by the correlation, which, unlike the residual,
	// cannot improve by sliding onto a blank patch.
	cost := func(h [8]float64) float64 {
		sample(h)
		c := 1 - correlation(tmpl, vals)
		if math.IsNaN(c) {
			return math.Inf(1)
		}
		return c
	}
	current := cost(h)
	lambda := 1e-3
	for range 30 {
		sample(h)
		// The sampled base is mapped onto the template (c·vals + d): a
		// blank patch then explains nothing, so the steps do not slide
		// toward one.
		c, d := regress(vals, tmpl)
		var jtj [8][8]float64
		var jtr [8]float64
		for k, p := range pts {
			u, v, w := warp(h, p)
			q := bn.from(u, v)
			gx := c * (base.at(q.X+1, q.Y) - base.at(q.X-1, q.Y)) / 2 * bn.scale
			gy := c * (base.at(q.X, q.Y+1) - base.at(q.X, q.Y-1)) / 2 * bn.scale
			r := c*vals[k] + d - tmpl[k]
			x, y := p.X, p.Y
			j := [8]float64{gx * x / w, gx * y / w, gx / w, gy * x / w, gy * y / w, gy / w,
				-(gx*u + gy*v) * x / w, -(gx*u + gy*v) * y / w}
			for r1 := range 8 {
				for c := range 8 {
					jtj[r1][c] += j[r1] * j[c]
				}
				jtr[r1] -= j[r1] * r
			}
		}
		improved := false
		for range 6 { // Levenberg-Marquardt: damp until a step helps
			damped := jtj
			for d := range 8 {
				damped[d][d] *= 1 + lambda
			}
			step, ok := solve8(damped, jtr)
			if !ok {
				break
			}
			next := h
			for d := range 8 {
				next[d] += step[d]
			}
			if c := cost(next); c < current {
				h, current, improved = next, c, true
				lambda = math.Max(lambda/4, 1e-6)
				break
			}
			lambda *= 8
		}
		if !improved {
			break
		}
	}
	return h
}

// faceFrame maps image points to coordinates centred on the face and
// scaled by its eye span, so the homography's parameters are of one size.
type faceFrame struct{ cx, cy, scale float64 }

func frameNorm(lm []presence.Point) faceFrame {
	span := math.Max(math.Hypot(lm[45].X-lm[36].X, lm[45].Y-lm[36].Y), 1)
	return faceFrame{cx: (lm[36].X + lm[45].X + lm[48].X + lm[54].X) / 4, cy: (lm[36].Y + lm[45].Y + lm[48].Y + lm[54].Y) / 4, scale: span}
}

func (f faceFrame) to(p presence.Point) presence.Point {
	return presence.Point{X: (p.X - f.cx) / f.scale, Y: (p.Y - f.cy) / f.scale}
}

func (f faceFrame) from(u, v float64) presence.Point {
	return presence.Point{X: u*f.scale + f.cx, Y: v*f.scale + f.cy}
}

// grayImage is an upright grey picture for sampling between pixels.
type grayImage struct {
	w, h int
	pix  []float64
}

func grayOf(img *presence.Image) grayImage {
	rgb := ToRGB(img)
	g := grayImage{w: rgb.Width, h: rgb.Height, pix: make([]float64, rgb.Width*rgb.Height)}
	for i := range g.pix {
		g.pix[i] = 0.299*float64(rgb.Pix[3*i]) + 0.587*float64(rgb.Pix[3*i+1]) + 0.114*float64(rgb.Pix[3*i+2])
	}
	return g
}

// at samples bilinearly, clamping to the edge.
func (g grayImage) at(x, y float64) float64 {
	if math.IsNaN(x) || math.IsNaN(y) {
		return 0 // a degenerate homography; the correlation drops
	}
	x = math.Max(0, math.Min(x, float64(g.w-1)))
	y = math.Max(0, math.Min(y, float64(g.h-1)))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, g.w-1), min(y0+1, g.h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	top := g.pix[y0*g.w+x0]*(1-fx) + g.pix[y0*g.w+x1]*fx
	bottom := g.pix[y1*g.w+x0]*(1-fx) + g.pix[y1*g.w+x1]*fx
	return top*(1-fy) + bottom*fy
}

// regress fits vals ≈ a·tmpl + b.
func regress(tmpl, vals []float64) (float64, float64) {
	var mt, mv float64
	for i := range tmpl {
		mt += tmpl[i]
		mv += vals[i]
	}
	n := float64(len(tmpl))
	mt, mv = mt/n, mv/n
	var stt, stv float64
	for i := range tmpl {
		stt += (tmpl[i] - mt) * (tmpl[i] - mt)
		stv += (tmpl[i] - mt) * (vals[i] - mv)
	}
	if stt == 0 {
		return 1, mv - mt
	}
	a := stv / stt
	return a, mv - a*mt
}

// correlation is the Pearson correlation of two samples.
func correlation(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	n := float64(len(x))
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// blurred is g smoothed by a box of radius r, twice (close to a Gaussian).
func (g grayImage) blurred(r int) grayImage {
	if r <= 0 {
		return g
	}
	out := grayImage{w: g.w, h: g.h, pix: append([]float64(nil), g.pix...)}
	tmp := make([]float64, len(g.pix))
	for range 2 {
		boxPass(out.pix, tmp, g.w, g.h, r, 1, g.w)
		boxPass(tmp, out.pix, g.h, g.w, r, g.w, 1)
	}
	return out
}

// boxPass averages src along lines of n samples (stride step, lines
// lineStride apart) into dst.
func boxPass(src, dst []float64, n, lines, r, step, lineStride int) {
	for l := range lines {
		off := l * lineStride
		var sum float64
		count := 0
		for i := 0; i <= r && i < n; i++ {
			sum += src[off+i*step]
			count++
		}
		for i := range n {
			dst[off+i*step] = sum / float64(count)
			if j := i + r + 1; j < n {
				sum += src[off+j*step]
				count++
			}
			if j := i - r; j >= 0 {
				sum -= src[off+j*step]
				count--
			}
		}
	}
}

// fitAffine fits dst ≈ A(src) by least squares, as a homography with no
// perspective terms.
func fitAffine(src, dst []presence.Point) ([8]float64, bool) {
	var h [8]float64
	var ata [3][3]float64
	var atu, atv [3]float64
	for k := range src {
		row := [3]float64{src[k].X, src[k].Y, 1}
		for i := range 3 {
			for j := range 3 {
				ata[i][j] += row[i] * row[j]
			}
			atu[i] += row[i] * dst[k].X
			atv[i] += row[i] * dst[k].Y
		}
	}
	inv, ok := invert3(ata)
	if !ok {
		return h, false
	}
	u, v := mulVec(inv, atu), mulVec(inv, atv)
	return [8]float64{u[0], u[1], u[2], v[0], v[1], v[2], 0, 0}, true
}
