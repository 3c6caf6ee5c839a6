package turbojpeg_test

import (
	"bytes"
	"image/jpeg"
	"testing"

	"presence/presencetest"
)

// BenchmarkDecode12MP decodes a 12.6-megapixel dev photo as published
// (progressive) and re-encoded baseline, as phone cameras write JPEG:
// Go's decoder against libjpeg-turbo at full size and scaled in the DCT.
func BenchmarkDecode12MP(b *testing.B) {
	d := open(b)
	progressive := presencetest.ReadFile(b, presencetest.DataFile(b, "fr_deepface_pairs/img49.jpg"))
	img, err := jpeg.Decode(bytes.NewReader(progressive))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		b.Fatal(err)
	}
	for name, data := range map[string][]byte{"progressive": progressive, "baseline": buf.Bytes()} {
		b.Run(name+"/go", func(b *testing.B) {
			for b.Loop() {
				if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, denom := range []int{1, 4, 8} {
			b.Run(name+"/turbo-1/"+string(rune('0'+denom)), func(b *testing.B) {
				for b.Loop() {
					if _, err := d.Decode(data, denom); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
