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
	return static(sdk, "sdk", map[string]string{"Cache-Control": "no-cache"})
}

// static serves an embedded folder under /name/ with headers.
func static(files embed.FS, name string, headers map[string]string) http.Handler {
	sub, _ := fs.Sub(files, name)
	server := http.StripPrefix("/"+name+"/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		server.ServeHTTP(w, r)
	})
}

// Console serves the operator's console page under /console/: it reads
// the operator API (/v1/operator/) with the operator credential the
// operator types in; the page itself holds no data.
func Console() http.Handler {
	return static(console, "console", map[string]string{
		"Cache-Control": "no-store", "X-Frame-Options": "DENY",
		"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
	})
}
