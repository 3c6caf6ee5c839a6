package vision

import (
	"crypto/sha256"
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

// PixelDigest is the SHA-256 of a frame's decoded pixels (up to 128 rows
// spread over the frame, as stored: orientation tags do not change it). A
// camera never delivers the same pixels twice (its noise differs from
// frame to frame), while a frame replayed keeps them even when its file
// is re-wrapped (new metadata, other markers); re-encoding changes them,
// which the perceptual hash is for.
func PixelDigest(img *presence.Image) [32]byte {
	h := sha256.New()
	rows := func(plane []uint8, stride, height, width int) {
		step := max(1, height/128)
		for y := 0; y < height; y += step {
			h.Write(plane[y*stride : y*stride+width])
		}
	}
	if ycc := img.YCbCr; ycc != nil {
		w, ht := ycc.Rect.Dx(), ycc.Rect.Dy()
		rows(ycc.Y, ycc.YStride, ht, w)
		cb := ycc.COffset(ycc.Rect.Max.X-1, ycc.Rect.Max.Y-1) - ycc.COffset(ycc.Rect.Min.X, ycc.Rect.Max.Y-1) + 1
		ch := (ycc.COffset(ycc.Rect.Min.X, ycc.Rect.Max.Y-1)-ycc.COffset(ycc.Rect.Min.X, ycc.Rect.Min.Y))/max(ycc.CStride, 1) + 1
		base := ycc.COffset(ycc.Rect.Min.X, ycc.Rect.Min.Y)
		rows(ycc.Cb[base:], ycc.CStride, ch, cb)
		rows(ycc.Cr[base:], ycc.CStride, ch, cb)
	} else {
		rows(img.Pix, 3*img.Width, img.Height, 3*img.Width)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
