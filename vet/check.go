package vet

import (
	"bytes"
	"errors"
	"fmt"
	"go/format"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"
)

// Options configure [Check].
type Options struct {
	// Dir is the directory the patterns are resolved in ("": the current
	// one).
	Dir string
	// Checks names the checks to run (nil: all of them).
	Checks []string
	// NoTests leaves out the packages' _test.go files (go vet includes
	// them).
	NoTests bool
	// Fix applies the suggested fixes to the files.
	Fix bool
	// Env is the go command's environment (nil: this process's).
	Env []string
}

// Diagnostic is one problem found in the code.
type Diagnostic struct {
	Check   string `json:"check"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
	// Fix describes the suggested fix, when there is a mechanical one.
	Fix string `json:"fix,omitempty"`
	// Fixed is set when -fix applied it.
	Fixed bool `json:"fixed,omitempty"`
}

// String formats d as file:line:col: message.
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Column, d.Message)
}

// Result is what Check found.
type Result struct {
	Diagnostics []Diagnostic `json:"diagnostics"`
	// Fixed lists the files rewritten by Fix.
	Fixed []string `json:"fixed,omitempty"`
}

// LoadError is returned when the packages could not be loaded or do not
// compile: the checks need type-checked code.
type LoadError struct{ Problems []string }

func (e *LoadError) Error() string { return strings.Join(e.Problems, "\n") }

// ByName returns the checks named, or an error that names the unknown
// one and the known ones.
func ByName(names []string) ([]*analysis.Analyzer, error) {
	if len(names) == 0 {
		return Analyzers, nil
	}
	var out []*analysis.Analyzer
	for _, n := range names {
		i := slices.IndexFunc(Analyzers, func(a *analysis.Analyzer) bool { return CheckName(a) == strings.ReplaceAll(n, "_", "-") })
		if i < 0 {
			return nil, fmt.Errorf("unknown check %q; the checks are %s", n, strings.Join(Names(), ", "))
		}
		out = append(out, Analyzers[i])
	}
	return out, nil
}

// Names returns the names of the checks.
func Names() []string {
	var out []string
	for _, a := range Analyzers {
		out = append(out, CheckName(a))
	}
	return out
}

// Check loads the packages the patterns name (as go build does: ./...,
// an import path, a directory) with go/packages, runs the checks on
// them and returns what they found, sorted by file and line.
func Check(patterns []string, opts Options) (*Result, error) {
	analyzers, err := ByName(opts.Checks)
	if err != nil {
		return nil, err
	}
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	cfg := &packages.Config{Mode: packages.LoadSyntax, Dir: opts.Dir, Tests: !opts.NoTests, Env: opts.Env}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, &LoadError{Problems: []string{err.Error()}}
	}
	if len(pkgs) == 0 {
		return nil, &LoadError{Problems: []string{fmt.Sprintf("%s matched no packages", strings.Join(patterns, " "))}}
	}
	var problems []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			problems = append(problems, e.Error())
		}
	})
	if len(problems) > 0 {
		return nil, &LoadError{Problems: dedupe(problems)}
	}
	g, err := checker.Analyze(analyzers, pkgs, nil)
	if err != nil {
		return nil, err
	}
	base := opts.Dir
	if base == "" {
		base, _ = os.Getwd()
	}
	res := &Result{}
	var fixes []pendingFix
	seen := map[string]bool{}
	var errs []error
	for act := range g.All() {
		if !act.IsRoot {
			continue
		}
		if act.Err != nil {
			errs = append(errs, fmt.Errorf("%s on %s: %w", act.Analyzer.Name, act.Package.PkgPath, act.Err))
			continue
		}
		for _, d := range act.Diagnostics {
			p := act.Package.Fset.Position(d.Pos)
			file := p.Filename
			if rel, err := filepath.Rel(base, file); err == nil && !strings.HasPrefix(rel, "..") {
				file = rel
			}
			diag := Diagnostic{Check: CheckName(act.Analyzer), File: file, Line: p.Line, Column: p.Column, Message: d.Message}
			key := diag.String()
			if seen[key] { // a package and its test variant share files
				continue
			}
			seen[key] = true
			if len(d.SuggestedFixes) > 0 {
				diag.Fix = d.SuggestedFixes[0].Message
				fixes = append(fixes, pendingFix{index: len(res.Diagnostics), fset: act.Package.Fset, fix: d.SuggestedFixes[0]})
			}
			res.Diagnostics = append(res.Diagnostics, diag)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if opts.Fix && len(fixes) > 0 {
		files, applied, err := applyFixes(fixes)
		if err != nil {
			return nil, err
		}
		res.Fixed = files
		for _, i := range applied {
			res.Diagnostics[i].Fixed = true
		}
	}
	sort.SliceStable(res.Diagnostics, func(i, j int) bool {
		a, b := res.Diagnostics[i], res.Diagnostics[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return res, nil
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

type pendingFix struct {
	index int // of its diagnostic
	fset  *token.FileSet
	fix   analysis.SuggestedFix
}

type fileEdit struct {
	start, end int
	text       []byte
	fix        int // index into the pending fixes
}

// applyFixes applies the fixes whose edits do not overlap an earlier
// one's, file by file, formats the files and writes them. It returns the
// files written and the diagnostics whose fix was applied.
func applyFixes(fixes []pendingFix) (files []string, applied []int, err error) {
	byFile := map[string][]fileEdit{}
	for i, f := range fixes {
		for _, e := range f.fix.TextEdits {
			tf := f.fset.File(e.Pos)
			if tf == nil {
				continue
			}
			end := e.End
			if !end.IsValid() {
				end = e.Pos
			}
			byFile[tf.Name()] = append(byFile[tf.Name()], fileEdit{tf.Offset(e.Pos), tf.Offset(end), e.NewText, i})
		}
	}
	// A fix is applied whole or not at all: drop the fixes with an edit
	// that overlaps an accepted one.
	rejected := map[int]bool{}
	for _, edits := range byFile {
		sort.SliceStable(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
		last := -1
		for _, e := range edits {
			if e.start < last {
				rejected[e.fix] = true
				continue
			}
			last = e.end
		}
	}
	names := make([]string, 0, len(byFile))
	for name := range byFile {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, nil, fmt.Errorf("fix: %w", err)
		}
		var out bytes.Buffer
		pos := 0
		for _, e := range byFile[name] {
			if rejected[e.fix] {
				continue
			}
			out.Write(src[pos:e.start])
			out.Write(e.text)
			pos = e.end
		}
		out.Write(src[pos:])
		formatted, err := format.Source(out.Bytes())
		if err != nil {
			return nil, nil, fmt.Errorf("fix: %s does not parse after the fixes: %w", name, err)
		}
		st, err := os.Stat(name)
		if err != nil {
			return nil, nil, fmt.Errorf("fix: %w", err)
		}
		if err := os.WriteFile(name, formatted, st.Mode().Perm()); err != nil {
			return nil, nil, fmt.Errorf("fix: %w", err)
		}
		files = append(files, name)
	}
	for i, f := range fixes {
		if !rejected[i] {
			applied = append(applied, f.index)
		}
	}
	return files, applied, nil
}
