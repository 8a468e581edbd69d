package web

import (
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
)

// kat is a small bundle whose hash was computed independently with the shell
// recipe of the package documentation (find | LC_ALL=C sort | xargs sha256sum
// | sha256sum). Note "assets/B.css" sorts before "assets/app.js" bytewise.
func kat() fstest.MapFS {
	return fstest.MapFS{
		".keep":         {Data: nil},
		"index.html":    {Data: []byte("<!doctype html>\n")},
		"assets/app.js": {Data: []byte("console.log(1)\n")},
		"assets/B.css":  {Data: []byte("b")},
	}
}

const katHash = "0adca53ac6f5c584196448f78ab3d6bf75c68200db9d6ca691ddd7e8d84e5752"

func TestHashFS(t *testing.T) {
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    string
		wantErr error
		differs bool // want is katHash but the result must differ from it
	}{
		{name: "matches sha256sum recipe", fsys: kat(), want: katHash},
		{name: "placeholder excluded", fsys: func() fstest.MapFS {
			m := kat()
			delete(m, ".keep")
			return m
		}(), want: katHash},
		{name: "placeholder content ignored", fsys: func() fstest.MapFS {
			m := kat()
			m[".keep"] = &fstest.MapFile{Data: []byte("x")}
			return m
		}(), want: katHash},
		{name: "changed byte", fsys: func() fstest.MapFS {
			m := kat()
			m["assets/app.js"] = &fstest.MapFile{Data: []byte("console.log(2)\n")}
			return m
		}(), want: katHash, differs: true},
		{name: "extra file", fsys: func() fstest.MapFS {
			m := kat()
			m["assets/extra.js"] = &fstest.MapFile{Data: nil}
			return m
		}(), want: katHash, differs: true},
		{name: "renamed file", fsys: func() fstest.MapFS {
			m := kat()
			m["assets/c.css"] = m["assets/B.css"]
			delete(m, "assets/B.css")
			return m
		}(), want: katHash, differs: true},
		{name: "nested placeholder is part of the bundle", fsys: func() fstest.MapFS {
			m := kat()
			m["assets/.keep"] = &fstest.MapFile{Data: nil}
			return m
		}(), want: katHash, differs: true},
		{name: "not built", fsys: fstest.MapFS{".keep": {}}, wantErr: ErrNotBuilt},
		{name: "empty", fsys: fstest.MapFS{}, wantErr: ErrNotBuilt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := HashFS(tt.fsys)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("HashFS error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("HashFS: %v", err)
			}
			if tt.differs {
				if got == tt.want {
					t.Fatalf("HashFS = %s, want a different hash", got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("HashFS = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestHashDeterministic(t *testing.T) {
	a, errA := HashFS(kat())
	b, errB := HashFS(kat())
	if errA != nil || errB != nil {
		t.Fatalf("HashFS: %v, %v", errA, errB)
	}
	if a != b {
		t.Fatalf("hash not deterministic: %s != %s", a, b)
	}
}

// TestEmbedded checks the embedded bundle against its own definition: either
// the build has run (index.html present, hash well formed, the placeholder
// hidden) or Hash reports ErrNotBuilt.
func TestEmbedded(t *testing.T) {
	h, err := Hash()
	if errors.Is(err, ErrNotBuilt) {
		if _, err := fs.Stat(FS(), IndexFile); err == nil {
			t.Fatal("Hash says not built but index.html exists")
		}
		return
	}
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if len(h) != 64 {
		t.Fatalf("Hash = %q, want 64 hex digits", h)
	}
	again, err := HashFS(FS())
	if err != nil || again != h {
		t.Fatalf("HashFS(FS()) = %s, %v; want %s", again, err, h)
	}
	for _, tc := range []struct {
		name string
		want bool
	}{
		{IndexFile, true},
		{"assets/app.js", true},
		{"assets/app.css", true},
		{"assets/e2ee-worker.js", true},
		{"assets/files.json", true},
		{".keep", false},
		{"nope.js", false},
	} {
		_, err := fs.Stat(FS(), tc.name)
		if got := err == nil; got != tc.want {
			t.Errorf("Stat(%q) error = %v, want exists=%v", tc.name, err, tc.want)
		}
	}
}
