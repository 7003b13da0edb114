package faya_test

import (
	"bufio"
	"errors"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/faya-load/faya"

// TestLayering holds docs/architecture.md's list of the imports between
// faya's packages to the code, both ways: every package with an import of
// faya's is listed with exactly those imports (tests excluded), and every
// listed package exists and imports what it says.
func TestLayering(t *testing.T) {
	claimed := claimedImports(t, "docs/architecture.md")
	actual := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		if err != nil {
			return err
		}
		var faya []string
		for _, imp := range pkg.Imports {
			if rest, ok := strings.CutPrefix(imp, module+"/"); ok {
				faya = append(faya, rest)
			}
		}
		if len(faya) > 0 {
			slices.Sort(faya)
			actual[filepath.ToSlash(path)] = faya
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(actual) < 10 {
		t.Fatalf("found %d packages importing faya's, want the module's (is the test run from the module root?)", len(actual))
	}
	for pkg, imps := range actual {
		want, ok := claimed[pkg]
		switch {
		case !ok:
			t.Errorf("docs/architecture.md does not list %s -> %s", pkg, strings.Join(imps, " "))
		case !slices.Equal(want, imps):
			t.Errorf("docs/architecture.md says %s -> %s; the code imports %s", pkg, strings.Join(want, " "), strings.Join(imps, " "))
		}
	}
	for pkg, want := range claimed {
		if _, ok := actual[pkg]; !ok {
			t.Errorf("docs/architecture.md says %s -> %s; the code has no such package importing faya's", pkg, strings.Join(want, " "))
		}
	}
}

// claimedImports reads the fenced block after the "imports:" marker of the
// architecture doc: lines "pkg -> dep dep ...".
func claimedImports(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	state := 0 // 0: before the marker, 1: before the fence, 2: in the block
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case state == 0 && strings.HasPrefix(line, "<!-- imports:"):
			state = 1
		case state == 1 && strings.HasPrefix(line, "```"):
			state = 2
		case state == 2 && strings.HasPrefix(line, "```"):
			return out
		case state == 2 && line != "":
			pkg, deps, ok := strings.Cut(line, " -> ")
			if !ok {
				t.Fatalf("%s: %q is not \"pkg -> deps\"", path, line)
			}
			list := strings.Fields(deps)
			slices.Sort(list)
			out[pkg] = list
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("%s: no imports block (an \"<!-- imports:\" marker, then a fenced block)", path)
	return nil
}
