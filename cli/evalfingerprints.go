package cli

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"time"

	"presence"
	"presence/eval"
	"presence/liveness"
	"presence/session"
	"presence/vision"
)

// runEvalFingerprints measures the cross-session replay rule on clips:
// how often a live person checking again would be refused, and how often
// a replay would not be (docs/active.md).
func runEvalFingerprints(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval fingerprints", "DIR [DIR...] [flags]", stderr)
	out := fs.String("out", "reports/fingerprints", "write PREFIX.json and PREFIX.html")
	segment := fs.Duration("segment", 3*time.Second, "length of one session cut from a clip")
	gap := fs.Duration("gap", 0, "least time between two sessions cut from one clip")
	rule := liveness.DefaultGuardRule()
	fs.IntVar(&rule.SimilarFrames, "similar-frames", rule.SimilarFrames, "frames in a row that must repeat an earlier session's, in order")
	fs.IntVar(&rule.SimilarAmbiguity, "similar-ambiguity", rule.SimilarAmbiguity, "most earlier frames one frame may resemble and still count")
	footage := fs.String("footage", "subject", "labels.csv column naming the recording a clip was made from (clips sharing it are reported apart)")
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError("eval fingerprints needs at least one DIR with labels.csv")
	}
	if *segment <= 0 || *gap < 0 {
		return usageError("--segment must be positive and --gap not negative")
	}
	tmp, err := os.MkdirTemp("", "presence-eval-fingerprints-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	proto := clipProtocol{FPS: 10, Width: 640, Quality: 4}
	cache := &clipFrames{proto: proto, tmp: tmp, frames: map[string][]session.RecordedFrame{}, errs: map[string]error{}}
	var clips []eval.FingerprintClip
	for _, dir := range fs.Args() {
		samples, _, err := eval.ReadLabels(dir)
		if err != nil {
			return err
		}
		for _, s := range samples {
			frames, err := cache.load(s.File)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Path, err)
			}
			c, err := FingerprintClipOf(filepath.Join(filepath.Base(filepath.Clean(dir)), s.Path), proto.FPS, frames)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Path, err)
			}
			c.AttackType, c.Footage = s.AttackType, s.Extra[*footage]
			clips = append(clips, c)
			delete(cache.frames, s.File) // the hashes are all that is needed
		}
	}
	r := eval.RunFingerprints(clips, eval.FingerprintStudy{Rule: rule, Segment: *segment, Gap: *gap})
	r.Generated = time.Now().UTC().Format(time.RFC3339)
	if err := writeReport(*out, r); err != nil {
		return err
	}
	r.WriteText(stdout)
	fmt.Fprintf(stdout, "\nreports: %s.json, %s.html\n", *out, *out)
	return nil
}

// FingerprintClipOf fingerprints recorded frames as a session does, and
// the same frames re-encoded at JPEG quality 75 (a replay that does not
// keep the pixels).
func FingerprintClipOf(name string, fps int, frames []session.RecordedFrame) (eval.FingerprintClip, error) {
	c := eval.FingerprintClip{Name: name, FPS: fps}
	for i, f := range frames {
		img, _, err := vision.Decode(f.Data, vision.DefaultLimits)
		if err != nil {
			return c, fmt.Errorf("frame %d: %w", i+1, err)
		}
		c.Frames = append(c.Frames, fingerprint(i, img))
		var again bytes.Buffer
		if err := jpeg.Encode(&again, asImage(img), &jpeg.Options{Quality: 75}); err != nil {
			return c, err
		}
		img2, _, err := vision.Decode(again.Bytes(), vision.DefaultLimits)
		if err != nil {
			return c, err
		}
		c.Reencoded = append(c.Reencoded, fingerprint(i, img2))
	}
	return c, nil
}

func fingerprint(seq int, img *presence.Image) presence.FrameHash {
	sum := vision.PixelDigest(img)
	return presence.FrameHash{Seq: seq, SHA256: sum[:], Perceptual: vision.PerceptualHash(img)}
}

// asImage views a decoded frame as an image.Image.
func asImage(img *presence.Image) image.Image {
	if img.YCbCr != nil {
		return img.YCbCr
	}
	rgba := image.NewRGBA(image.Rect(0, 0, img.Width, img.Height))
	for i := 0; i < img.Width*img.Height; i++ {
		copy(rgba.Pix[4*i:4*i+3], img.Pix[3*i:3*i+3])
		rgba.Pix[4*i+3] = 255
	}
	return rgba
}
