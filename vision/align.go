package vision

import "presence"

// ArcFaceTemplate is the standard 112x112 position of the left eye, right
// eye, nose tip and mouth corners (in image order: the person's right eye
// first) that ArcFace-family embedders are trained on.
var ArcFaceTemplate = [5]presence.Point{
	{X: 38.2946, Y: 51.6963},
	{X: 73.5318, Y: 51.5014},
	{X: 56.0252, Y: 71.7366},
	{X: 41.5493, Y: 92.3655},
	{X: 70.7299, Y: 92.2041},
}

// Similarity returns the least-squares similarity transform (rotation,
// uniform scale, shift; no reflection) taking the points src onto dst.
// It is the closed form of Umeyama's method in two dimensions.
func Similarity(src, dst []presence.Point) Affine {
	n := float64(len(src))
	var msx, msy, mdx, mdy float64
	for i := range src {
		msx += src[i].X
		msy += src[i].Y
		mdx += dst[i].X
		mdy += dst[i].Y
	}
	msx, msy, mdx, mdy = msx/n, msy/n, mdx/n, mdy/n
	var a, b, norm float64
	for i := range src {
		px, py := src[i].X-msx, src[i].Y-msy
		qx, qy := dst[i].X-mdx, dst[i].Y-mdy
		a += px*qx + py*qy
		b += px*qy - py*qx
		norm += px*px + py*py
	}
	if norm == 0 {
		return Affine{1, 0, mdx - msx, 0, 1, mdy - msy}
	}
	c, s := a/norm, b/norm
	return Affine{c, -s, mdx - (c*msx - s*msy), s, c, mdy - (s*msx + c*msy)}
}

// FivePoints reduces iBUG 68-point landmarks to the five alignment points:
// eye centres (mean of the four lid points), nose tip, mouth corners (mean
// of outer and inner corner).
func FivePoints(lm []presence.Point) [5]presence.Point {
	mean := func(idx ...int) presence.Point {
		var p presence.Point
		for _, i := range idx {
			p.X += lm[i].X
			p.Y += lm[i].Y
		}
		p.X /= float64(len(idx))
		p.Y /= float64(len(idx))
		return p
	}
	return [5]presence.Point{
		mean(37, 38, 40, 41),
		mean(43, 44, 46, 47),
		lm[30],
		mean(48, 60),
		mean(54, 64),
	}
}

// AlignAffine returns the map from the 112x112 aligned crop back into the
// source image for landmarks lm, ready for Warp.
func AlignAffine(lm []presence.Point) (Affine, bool) {
	five := FivePoints(lm)
	return Similarity(five[:], ArcFaceTemplate[:]).Invert()
}
