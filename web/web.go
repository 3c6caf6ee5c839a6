// Package web serves the capture SDK and its demo page (/sdk/), embedded in
// the binary. The face-login app is package webapp.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed sdk
var sdk embed.FS

// SDK serves the capture SDK and its demo page under /sdk/.
func SDK() http.Handler {
	sub, _ := fs.Sub(sdk, "sdk")
	files := http.StripPrefix("/sdk/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
