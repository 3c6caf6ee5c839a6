package vision

import (
	"math/bits"
	"sort"

	"presence"
)

// Hash is a 256-bit perceptual hash of a frame: the frame is averaged down
// to 16x16 grey cells and each bit says whether its cell is brighter than
// the median cell. Re-encoding or rescaling a frame barely changes it;
// camera noise, movement and light between two live frames change many
// bits (distances measured in docs/active.md).
type Hash [4]uint64

// PerceptualHash hashes the whole frame.
func PerceptualHash(img *presence.Image) Hash {
	return hashRegion(img, presence.Box{X2: float64(img.Width), Y2: float64(img.Height)})
}

// FaceHash hashes the square around a face box (1.4 times its larger
// side): what a replay must repeat is the person, and a static background
// that fills most of a frame would make every frame of a still scene hash
// alike.
func FaceHash(img *presence.Image, face presence.Box) Hash {
	side := 1.4 * max(face.Width(), face.Height())
	cx, cy := (face.X1+face.X2)/2, (face.Y1+face.Y2)/2
	return hashRegion(img, presence.Box{X1: cx - side/2, Y1: cy - side/2, X2: cx + side/2, Y2: cy + side/2})
}

func hashRegion(img *presence.Image, region presence.Box) Hash {
	const cells, sub = 16, 4
	// Sample 64x64 and average 4x4 blocks: averaging over many samples
	// keeps the hash from aliasing on large frames.
	patch := GrayPatch(img, region, cells*sub)
	var mean [cells * cells]float32
	for y := 0; y < cells*sub; y++ {
		for x := 0; x < cells*sub; x++ {
			mean[(y/sub)*cells+x/sub] += patch[y*cells*sub+x]
		}
	}
	sorted := append([]float32(nil), mean[:]...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	median := (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	var h Hash
	for i, v := range mean {
		if v > median {
			h[i/64] |= 1 << (i % 64)
		}
	}
	return h
}

// Distance is the number of differing bits.
func (h Hash) Distance(o Hash) int {
	n := 0
	for i := range h {
		n += bits.OnesCount64(h[i] ^ o[i])
	}
	return n
}
