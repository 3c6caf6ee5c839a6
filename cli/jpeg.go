package cli

import (
	"presence/vision"
	"presence/vision/turbojpeg"
)

// jpegDecoder is libjpeg-turbo when the system has it, else nil (Go's
// decoder), with a line saying which.
func jpegDecoder() (vision.JPEGDecoder, string) {
	d, err := turbojpeg.Open()
	if err != nil {
		return nil, "Go's image/jpeg at full size (" + err.Error() + ")"
	}
	return d, d.Name() + ", DCT-scaled"
}
