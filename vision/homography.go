package vision

import (
	"math"

	"presence"
)

// planeLandmarks are iBUG landmarks that lie close to one plane on a real
// face, compared with the nose: the eyes, the brows and the outer lips
// (within about a quarter of the nose's height above them, genericHead).
// PlanarFit starts its homography from them.
var planeLandmarks = func() []int {
	var out []int
	for i := 17; i <= 26; i++ { // brows
		out = append(out, i)
	}
	for i := 36; i <= 59; i++ { // eyes, outer lips
		out = append(out, i)
	}
	return out
}()

// fitHomography fits dst ≈ H(src) by linear least squares (H[8] = 1), on
// points normalised to unit spread for a well-conditioned system.
func fitHomography(src, dst []presence.Point) ([8]float64, bool) {
	var h [8]float64
	if len(src) < 4 {
		return h, false
	}
	ns, ts := normaliser(src)
	nd, td := normaliser(dst)
	var ata [8][8]float64
	var atb [8]float64
	add := func(row [8]float64, b float64) {
		for i := range 8 {
			for j := range 8 {
				ata[i][j] += row[i] * row[j]
			}
			atb[i] += row[i] * b
		}
	}
	for k := range src {
		x, y := ns(src[k])
		u, v := nd(dst[k])
		add([8]float64{x, y, 1, 0, 0, 0, -u * x, -u * y}, u)
		add([8]float64{0, 0, 0, x, y, 1, -v * x, -v * y}, v)
	}
	sol, ok := solve8(ata, atb)
	if !ok {
		return h, false
	}
	// Undo the normalisation: H = Td⁻¹ · Hn · Ts.
	hn := [3][3]float64{{sol[0], sol[1], sol[2]}, {sol[3], sol[4], sol[5]}, {sol[6], sol[7], 1}}
	full := mul3(mul3(inverseSimilarity(td), hn), ts)
	if math.Abs(full[2][2]) < 1e-12 {
		return h, false
	}
	for i := range 8 {
		h[i] = full[i/3][i%3] / full[2][2]
	}
	return h, true
}

// normaliser centres points and scales their mean distance to √2.
func normaliser(pts []presence.Point) (func(presence.Point) (float64, float64), [3][3]float64) {
	var cx, cy, d float64
	for _, p := range pts {
		cx += p.X
		cy += p.Y
	}
	n := float64(len(pts))
	cx, cy = cx/n, cy/n
	for _, p := range pts {
		d += math.Hypot(p.X-cx, p.Y-cy)
	}
	s := math.Sqrt2 / math.Max(d/n, 1e-9)
	t := [3][3]float64{{s, 0, -s * cx}, {0, s, -s * cy}, {0, 0, 1}}
	return func(p presence.Point) (float64, float64) { return s * (p.X - cx), s * (p.Y - cy) }, t
}

func inverseSimilarity(t [3][3]float64) [3][3]float64 {
	s := t[0][0]
	return [3][3]float64{{1 / s, 0, -t[0][2] / s}, {0, 1 / s, -t[1][2] / s}, {0, 0, 1}}
}

func mul3(a, b [3][3]float64) [3][3]float64 {
	var c [3][3]float64
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				c[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return c
}

// solve8 solves a·x = b by Gaussian elimination with partial pivoting.
func solve8(a [8][8]float64, b [8]float64) ([8]float64, bool) {
	var x [8]float64
	for col := range 8 {
		pivot := col
		for r := col + 1; r < 8; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[pivot][col]) {
				pivot = r
			}
		}
		if math.Abs(a[pivot][col]) < 1e-12 {
			return x, false
		}
		a[col], a[pivot] = a[pivot], a[col]
		b[col], b[pivot] = b[pivot], b[col]
		for r := col + 1; r < 8; r++ {
			f := a[r][col] / a[col][col]
			for c := col; c < 8; c++ {
				a[r][c] -= f * a[col][c]
			}
			b[r] -= f * b[col]
		}
	}
	for r := 7; r >= 0; r-- {
		s := b[r]
		for c := r + 1; c < 8; c++ {
			s -= a[r][c] * x[c]
		}
		x[r] = s / a[r][r]
	}
	return x, true
}
