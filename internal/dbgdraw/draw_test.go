package dbgdraw

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"presence"
	"presence/vision"
)

// TestDraw renders landmarks from `presence check --json --landmarks` output.
func TestDraw(t *testing.T) {
	files := os.Getenv("DRAW_FILES")
	if files == "" {
		t.Skip()
	}
	out, _ := exec.Command("/work/main/bin/presence", append([]string{"check", "--cache", "/work/main/.cache", "--json", "--landmarks"}, filepath.SplitList(files)...)...).Output()
	var res []struct {
		File string
		Face *presence.FaceAnalysis
	}
	json.Unmarshal(out, &res)
	for _, r := range res {
		data, _ := os.ReadFile(r.File)
		img, _, err := vision.Decode(data, vision.DefaultLimits)
		if err != nil || r.Face == nil {
			continue
		}
		m := image.NewRGBA(image.Rect(0, 0, img.Width, img.Height))
		for i := 0; i < img.Width*img.Height; i++ {
			m.Pix[4*i], m.Pix[4*i+1], m.Pix[4*i+2], m.Pix[4*i+3] = img.Pix[3*i], img.Pix[3*i+1], img.Pix[3*i+2], 255
		}
		for i, p := range r.Face.Landmarks {
			c := color.RGBA{0, 255, 0, 255}
			if i == 30 || i == 36 || i == 45 {
				c = color.RGBA{255, 0, 0, 255}
			}
			for dx := -2; dx <= 2; dx++ {
				for dy := -2; dy <= 2; dy++ {
					m.Set(int(p.X)+dx, int(p.Y)+dy, c)
				}
			}
		}
		b := r.Face.Box
		for x := int(b.X1); x < int(b.X2); x++ {
			m.Set(x, int(b.Y1), color.RGBA{255, 255, 0, 255})
			m.Set(x, int(b.Y2), color.RGBA{255, 255, 0, 255})
		}
		for y := int(b.Y1); y < int(b.Y2); y++ {
			m.Set(int(b.X1), y, color.RGBA{255, 255, 0, 255})
			m.Set(int(b.X2), y, color.RGBA{255, 255, 0, 255})
		}
		f, _ := os.Create("/tmp/dbg/" + filepath.Base(r.File) + ".png")
		png.Encode(f, m)
		f.Close()
	}
}
