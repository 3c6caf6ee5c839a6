package vision

import (
	"math"

	"presence"
)

// Pose is head orientation in degrees. Yaw > 0: the head turns to the
// person's left (the nose moves right in an unmirrored camera image).
// Pitch > 0: the person looks up. Roll > 0: the head tilts toward the
// person's right shoulder.
type Pose struct {
	Yaw   float64 `json:"yaw"`
	Pitch float64 `json:"pitch"`
	Roll  float64 `json:"roll"`
}

// genericHead is a mean 3-D head (x right, y up, z toward the camera, in
// arbitrary units) at six iBUG landmarks: the model widely used for head
// pose from 2-D landmarks.
var genericHead = []struct {
	landmark int
	x, y, z  float64
}{
	{30, 0, 0, 0},          // nose tip
	{8, 0, -330, -65},      // chin
	{36, -225, 170, -135},  // outer corner of the eye on the image left
	{45, 225, 170, -135},   // outer corner of the eye on the image right
	{48, -150, -150, -125}, // mouth corner, image left
	{54, 150, -150, -125},  // mouth corner, image right
}

// HeadPose fits the generic head to 68 landmarks under scaled orthographic
// projection (the POS step of POSIT) and returns its rotation. The vendor's
// pose network fails a mirror test on yaw, so yaw and roll must come from
// geometry; this fit gives all three from one consistent model.
func HeadPose(lm []presence.Point) Pose {
	n := len(genericHead)
	var mx, my, mz, mu, mv float64
	for _, g := range genericHead {
		mx += g.x
		my += g.y
		mz += g.z
		mu += lm[g.landmark].X
		mv += -lm[g.landmark].Y // image y points down, the model's up
	}
	fn := float64(n)
	mx, my, mz, mu, mv = mx/fn, my/fn, mz/fn, mu/fn, mv/fn
	// Normal equations: (XᵀX) m = Xᵀu for each image axis.
	var xtx [3][3]float64
	var xtu, xtv [3]float64
	for _, g := range genericHead {
		p := [3]float64{g.x - mx, g.y - my, g.z - mz}
		u := lm[g.landmark].X - mu
		v := -lm[g.landmark].Y - mv
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				xtx[i][j] += p[i] * p[j]
			}
			xtu[i] += p[i] * u
			xtv[i] += p[i] * v
		}
	}
	inv, ok := invert3(xtx)
	if !ok {
		return Pose{}
	}
	r1 := mulVec(inv, xtu)
	r2 := mulVec(inv, xtv)
	r1, r2, ok = orthonormalize(r1, r2)
	if !ok {
		return Pose{}
	}
	r3 := cross(r1, r2)
	deg := 180 / math.Pi
	// R = Rz(roll) Ry(yaw) Rx(pitch); rows r1, r2, r3.
	yaw := math.Asin(clampF(-r3[0], -1, 1)) * deg
	pitch := math.Atan2(r3[1], r3[2]) * deg
	roll := math.Atan2(r2[0], r1[0]) * deg
	return Pose{Yaw: yaw, Pitch: -pitch, Roll: roll}
}

// orthonormalize turns two roughly orthogonal rows into an orthonormal pair,
// splitting the correction evenly between them.
func orthonormalize(a, b [3]float64) ([3]float64, [3]float64, bool) {
	na, nb := norm3(a), norm3(b)
	if na == 0 || nb == 0 {
		return a, b, false
	}
	for i := range a {
		a[i] /= na
		b[i] /= nb
	}
	// Rotate both away from their bisector so they end 90° apart.
	sum := [3]float64{a[0] + b[0], a[1] + b[1], a[2] + b[2]}
	diff := [3]float64{a[0] - b[0], a[1] - b[1], a[2] - b[2]}
	ns, nd := norm3(sum), norm3(diff)
	if ns == 0 || nd == 0 {
		return a, b, false
	}
	for i := range a {
		s, d := sum[i]/ns, diff[i]/nd
		a[i] = (s + d) / math.Sqrt2
		b[i] = (s - d) / math.Sqrt2
	}
	return a, b, true
}

func invert3(m [3][3]float64) ([3][3]float64, bool) {
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	if math.Abs(det) < 1e-12 {
		return m, false
	}
	var r [3][3]float64
	r[0][0] = (m[1][1]*m[2][2] - m[1][2]*m[2][1]) / det
	r[0][1] = (m[0][2]*m[2][1] - m[0][1]*m[2][2]) / det
	r[0][2] = (m[0][1]*m[1][2] - m[0][2]*m[1][1]) / det
	r[1][0] = (m[1][2]*m[2][0] - m[1][0]*m[2][2]) / det
	r[1][1] = (m[0][0]*m[2][2] - m[0][2]*m[2][0]) / det
	r[1][2] = (m[0][2]*m[1][0] - m[0][0]*m[1][2]) / det
	r[2][0] = (m[1][0]*m[2][1] - m[1][1]*m[2][0]) / det
	r[2][1] = (m[0][1]*m[2][0] - m[0][0]*m[2][1]) / det
	r[2][2] = (m[0][0]*m[1][1] - m[0][1]*m[1][0]) / det
	return r, true
}

func mulVec(m [3][3]float64, v [3]float64) [3]float64 {
	return [3]float64{
		m[0][0]*v[0] + m[0][1]*v[1] + m[0][2]*v[2],
		m[1][0]*v[0] + m[1][1]*v[1] + m[1][2]*v[2],
		m[2][0]*v[0] + m[2][1]*v[1] + m[2][2]*v[2],
	}
}

func cross(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func norm3(a [3]float64) float64 { return math.Sqrt(a[0]*a[0] + a[1]*a[1] + a[2]*a[2]) }

func clampF(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
