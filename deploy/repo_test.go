package deploy

import (
	"bytes"
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoFileReferencesTheDesignNotesOutsideTheRepository: a user who clones the
// repository has only the repository. Every pointer must be to a file in it (docs/),
// never to the workspace's notes beside it.
func TestNoFileReferencesTheDesignNotesOutsideTheRepository(t *testing.T) {
	// Spelled in two halves so that this file does not match itself.
	needle := []byte(".." + "/shared")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	skipDirs := map[string]bool{".git": true, "bin": true, ".sever": true, "node_modules": true}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDirs[d.Name()] && p != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > 4<<20 {
			return nil // large files are data (fixtures, histories), not prose
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if i := bytes.Index(b, needle); i >= 0 {
			line := bytes.Count(b[:i], []byte("\n")) + 1
			rel, _ := filepath.Rel(root, p)
			t.Errorf("%s:%d points outside the repository (%s); link a file under docs/ instead", rel, line, needle)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStaticBuildNeedsNoCgo: every package the sever binary links builds without cgo,
// so CGO_ENABLED=0 (as make image-files builds it) gives a static, pure-Go binary that
// starts on the image's empty base. It asks go list, which is quick, rather than
// compiling: a CGO_ENABLED=0 build shares nothing with the usual build cache and takes
// minutes; TestStaticBinary checks the built binary itself.
func TestStaticBuildNeedsNoCgo(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-e",
		"-f", "{{.ImportPath}}\t{{join .CgoFiles \",\"}}\t{{if .Error}}{{.Error}}{{end}}", "../cmd/sever")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ../cmd/sever with CGO_ENABLED=0: %v", err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		n++
		pkg, rest, _ := strings.Cut(line, "\t")
		cgo, perr, _ := strings.Cut(rest, "\t")
		if cgo != "" {
			t.Errorf("%s has cgo files with CGO_ENABLED=0: %s", pkg, cgo)
		}
		if perr != "" {
			t.Errorf("%s does not build with CGO_ENABLED=0: %s", pkg, perr)
		}
	}
	if n < 100 {
		t.Fatalf("go list named only %d packages; the check looked at the wrong thing", n)
	}
}

// TestStaticBinary checks that the binary make image-files built (SEVER_STATIC_BINARY)
// is a static executable: no program interpreter, no shared libraries. The image is
// FROM scratch, where a dynamic binary would not start. Without the variable it is
// skipped: make image-files runs it on the binary it just built.
func TestStaticBinary(t *testing.T) {
	bin := os.Getenv("SEVER_STATIC_BINARY")
	if bin == "" {
		t.Skip("SEVER_STATIC_BINARY is not set; make image-files builds the binary and runs this test on it")
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("open %s: %v", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: it is dynamically linked", bin)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("read %s's dynamic section: %v", bin, err)
	}
	if len(libs) > 0 {
		t.Errorf("%s needs shared libraries %s", bin, strings.Join(libs, ", "))
	}
}
