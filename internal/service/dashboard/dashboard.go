// Package dashboard is the web dashboard of `sluice serve`: static pages,
// scripts and styles embedded in the binary (no build step, nothing fetched
// from the network), drawing what the REST API under /v1/ returns.
//
// The pages are plain ES modules: app.js routes by the URL's fragment
// (#/jobs/ID), polls the REST API every PollInterval and redraws;
// graph.js lays out and draws a job's graph in SVG, coloured by
// backpressure; chart.js draws the live line charts.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// Prefix is the path the dashboard is served under.
const Prefix = "/ui/"

// Handler serves the dashboard under Prefix: the assets by name, and the
// page itself for Prefix and any other path under it.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree always has assets/
	}
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		// Everything the pages load comes from this server.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if name == "" || !strings.Contains(path.Base(name), ".") {
			name = "index.html"
		}
		if _, err := fs.Stat(sub, name); err != nil {
			http.NotFound(w, r)
			return
		}
		h.Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		if name == "index.html" {
			r2.URL.Path = "/"
		}
		files.ServeHTTP(w, r2)
	})
}
