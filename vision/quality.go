package vision

import (
	"math"

	"presence"
)

// Exposure summarises the luma (0..255) of a grey patch.
type Exposure struct {
	Mean float64 `json:"mean"`
	// Dark and Bright are the fractions of pixels below 25 and above 245:
	// crushed shadows and blown highlights carry no texture for the
	// anti-spoofing model to read.
	Dark   float64 `json:"dark"`
	Bright float64 `json:"bright"`
}

// MeasureExposure computes the Exposure of a grey patch.
func MeasureExposure(patch []float32) Exposure {
	if len(patch) == 0 {
		return Exposure{}
	}
	var sum float64
	var dark, bright int
	for _, v := range patch {
		sum += float64(v)
		if v < 25 {
			dark++
		} else if v > 245 {
			bright++
		}
	}
	n := float64(len(patch))
	return Exposure{Mean: sum / n, Dark: float64(dark) / n, Bright: float64(bright) / n}
}

// Sharpness is the variance of the 4-neighbour Laplacian over a size x size
// grey patch. The patch is always resampled to one size first, so the value
// describes the detail the models will see, not the camera's resolution.
func Sharpness(patch []float32, size int) float64 {
	if size < 3 || len(patch) < size*size {
		return 0
	}
	var sum, sum2 float64
	n := 0
	for y := 1; y < size-1; y++ {
		for x := 1; x < size-1; x++ {
			i := y*size + x
			l := float64(patch[i-1] + patch[i+1] + patch[i-size] + patch[i+size] - 4*patch[i])
			sum += l
			sum2 += l * l
			n++
		}
	}
	mean := sum / float64(n)
	return sum2/float64(n) - mean*mean
}

// SquareBox returns the square of side equal to b's height centred on b,
// the face box form the default landmark and anti-spoofing models expect.
func SquareBox(b presence.Box) presence.Box {
	c := b.Center()
	half := b.Height() / 2
	return presence.Box{X1: c.X - half, Y1: c.Y - half, X2: c.X + half, Y2: c.Y + half}
}

// ScaledCrop scales b by scale around its centre, shrinking the scale when
// the image is too small to hold it, then shifts it inside the image. It is
// the crop rule of the MiniFASNet anti-spoofing models (Silent-Face's
// CropImage), which see the face with its surroundings.
func ScaledCrop(b presence.Box, scale float64, width, height int) presence.Box {
	bw, bh := b.Width(), b.Height()
	if bw <= 0 || bh <= 0 {
		return b
	}
	scale = math.Min(scale, math.Min(float64(height-1)/bh, float64(width-1)/bw))
	nw, nh := bw*scale, bh*scale
	c := b.Center()
	x1, y1, x2, y2 := c.X-nw/2, c.Y-nh/2, c.X+nw/2, c.Y+nh/2
	if x1 < 0 {
		x2 -= x1
		x1 = 0
	}
	if y1 < 0 {
		y2 -= y1
		y1 = 0
	}
	if x2 > float64(width-1) {
		x1 -= x2 - float64(width-1)
		x2 = float64(width - 1)
	}
	if y2 > float64(height-1) {
		y1 -= y2 - float64(height-1)
		y2 = float64(height - 1)
	}
	// Silent-Face slices img[y1:y2+1, x1:x2+1] with truncated corners.
	return presence.Box{X1: math.Floor(math.Max(x1, 0)), Y1: math.Floor(math.Max(y1, 0)), X2: math.Floor(x2) + 1, Y2: math.Floor(y2) + 1}
}
