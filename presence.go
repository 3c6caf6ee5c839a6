// Package presence holds the domain of the Presence face liveness and face
// verification service: decisions, reasons, faces, sessions and subjects,
// the model manifest, and the store's role interfaces (SessionStore,
// SubjectStore, KeyStore, AuditLog, RateLimiter; Store is their union,
// which only the SQL adapter implements whole). Each package that uses a
// store or a service declares the narrow interface it needs beside its
// code (session.Store, subjects.Store, httpapi.Sessions...), and the
// models are reached through engine.Model. It imports nothing of its own
// project so every other package can depend on it.
package presence

import "image"

// Decision is the verdict on whether a real, live person was in front of the
// camera.
type Decision string

// The three decisions. Inconclusive means the input was too poor to judge
// (no face, bad light, blur...): it is never a pass, and never an accusation.
const (
	DecisionRealFace     Decision = "realface"
	DecisionFake         Decision = "fake"
	DecisionInconclusive Decision = "inconclusive"
)

// Point is a position in image pixels.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Box is an axis-aligned rectangle in image pixels, corners (X1,Y1) top left
// and (X2,Y2) bottom right.
type Box struct {
	X1 float64 `json:"x1"`
	Y1 float64 `json:"y1"`
	X2 float64 `json:"x2"`
	Y2 float64 `json:"y2"`
}

// Width of the box.
func (b Box) Width() float64 { return b.X2 - b.X1 }

// Height of the box.
func (b Box) Height() float64 { return b.Y2 - b.Y1 }

// Area of the box, zero for degenerate boxes.
func (b Box) Area() float64 {
	if b.X2 <= b.X1 || b.Y2 <= b.Y1 {
		return 0
	}
	return (b.X2 - b.X1) * (b.Y2 - b.Y1)
}

// Center of the box.
func (b Box) Center() Point { return Point{(b.X1 + b.X2) / 2, (b.Y1 + b.Y2) / 2} }

// IoU is the intersection over union of two boxes, in [0,1].
func (b Box) IoU(o Box) float64 {
	in := Box{max(b.X1, o.X1), max(b.Y1, o.Y1), min(b.X2, o.X2), min(b.Y2, o.Y2)}.Area()
	if in == 0 {
		return 0
	}
	return in / (b.Area() + o.Area() - in)
}

// Image is a decoded, upright picture. It holds either packed 8-bit RGB
// (Pix: row-major, 3 bytes a pixel, no padding) or, for JPEG and lossy WebP,
// the decoder's own YCbCr planes in their stored orientation plus the EXIF
// Orientation that makes them upright. Keeping YCbCr avoids converting and
// rotating every pixel when the models only sample a few of them;
// vision.Warp reads both forms.
type Image struct {
	Width, Height int
	Pix           []uint8
	YCbCr         *image.YCbCr
	Orientation   int
}

// NewImage allocates a black RGB image.
func NewImage(width, height int) *Image {
	return &Image{Width: width, Height: height, Pix: make([]uint8, 3*width*height)}
}
