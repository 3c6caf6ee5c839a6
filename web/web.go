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

//go:embed console
var console embed.FS

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

// Console serves the operator's console page under /console/: it reads
// the operator API (/v1/operator/) with the operator credential the
// operator types in; the page itself holds no data.
func Console() http.Handler {
	sub, _ := fs.Sub(console, "console")
	files := http.StripPrefix("/console/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
		files.ServeHTTP(w, r)
	})
}
