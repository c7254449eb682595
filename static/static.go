// Package static embeds the dashboard's CSS and scripts and serves them under content-hashed URLs,
// so browsers may cache them for a year and still see every new release at once.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed *.css *.js *.svg
var files embed.FS

type asset struct {
	body        []byte
	contentType string
}

var (
	byHashed = map[string]asset{}  // "app.3f2a1c9b.css" -> asset
	hashed   = map[string]string{} // "app.css" -> "app.3f2a1c9b.css"
)

func init() {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		body, err := files.ReadFile(e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(e.Name())
		name := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:5]) + ext
		hashed[e.Name()] = name
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		byHashed[name] = asset{body: body, contentType: ct}
	}
}

// Prefix is where assets are served.
const Prefix = "/static/"

// URL returns the cache-busting URL of an asset by its plain name ("app.css"). It panics on an
// unknown name: that is a programming error that tests catch.
func URL(name string) string {
	h, ok := hashed[name]
	if !ok {
		panic("static: unknown asset " + name)
	}
	return Prefix + h
}

// Handler serves hashed assets with long-lived cache headers; unknown names are 404.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := byHashed[strings.TrimPrefix(r.URL.Path, Prefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(a.body)
	})
}
