package vet

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/cfg"
)

// BodyNotDrained reports a response body closed, on some path, without
// having been read: net/http returns a connection to its pool only once
// the body was read to EOF, so closing it unread closes the connection
// and the next request dials a new one. A body that is read at all (by
// io.ReadAll, a decoder, a helper it is passed to) counts as read; a
// response handed elsewhere is not judged.
var BodyNotDrained = &analysis.Analyzer{
	Name:     "body_not_drained",
	Doc:      "report a response body closed without being read, so that its connection cannot be reused",
	URL:      "https://github.com/faya-load/faya/blob/main/docs/vet.md#body-not-drained",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runBodyNotDrained,
}

func runBodyNotDrained(pass *analysis.Pass) (any, error) {
	rep := newReporter(pass)
	reported := map[token.Pos]bool{}
	responses(pass, func(r *response, g *cfg.CFG) {
		if r.resp == nil || escapes(pass.TypesInfo, r) || isHead(pass.TypesInfo, r) {
			return
		}
		info := pass.TypesInfo
		type state struct {
			b *cfg.Block
			d *ast.DeferStmt // a Close deferred on this path, body unread so far
		}
		seen := map[state]bool{}
		var walk func(b *cfg.Block, from int, d *ast.DeferStmt)
		walk = func(b *cfg.Block, from int, d *ast.DeferStmt) {
			for i := from; i < len(b.Nodes); i++ {
				n := b.Nodes[i]
				if isCondOf(b, i) {
					if br := errBranch(info, n.(ast.Expr), r.err); br >= 0 {
						// The error path has no body to read.
						next := b.Succs[br]
						if st := (state{next, d}); !seen[st] {
							seen[st] = true
							walk(next, 0, d)
						}
						return
					}
				}
				if assigns(info, n, r.resp) {
					return // a new response
				}
				switch bodyUse(info, n, r.resp) {
				case bodyRead:
					return
				case bodyDeferClose:
					d = n.(*ast.DeferStmt)
					continue
				case bodyClose:
					if c := closeCall(info, n, r.resp); c != nil && !reported[c.Pos()] && (!r.once || r.inLoop(c)) {
						reported[c.Pos()] = true
						rep.report(c, fmt.Sprintf("%s.Body is closed here without having been read: net/http then closes the connection instead of putting it back in the pool, so the next request dials a new one (a TCP/TLS handshake, a socket left in TIME_WAIT); read it to EOF first: io.Copy(io.Discard, %s.Body)",
							r.name(), r.name()), drainFix(pass, r, c)...)
					}
					return
				}
			}
			if len(b.Succs) == 0 {
				if d == nil || len(b.Nodes) == 0 {
					return
				}
				ret, ok := b.Nodes[len(b.Nodes)-1].(*ast.ReturnStmt)
				if !ok {
					return // panic, os.Exit, t.Fatal: the program or test is stopping
				}
				if !reported[d.Pos()] && (!r.once || r.inLoop(d)) {
					reported[d.Pos()] = true
					rep.report(d, fmt.Sprintf("the deferred Close of %s.Body runs without the body having been read when the function returns at line %d: net/http then closes the connection instead of putting it back in the pool, so the next request dials a new one (a TCP/TLS handshake, a socket left in TIME_WAIT); read it to EOF before the Close: io.Copy(io.Discard, %s.Body)",
						r.name(), pass.Fset.Position(ret.Pos()).Line, r.name()), drainFix(pass, r, d)...)
				}
				return
			}
			for _, s := range b.Succs {
				if st := (state{s, d}); !seen[st] {
					seen[st] = true
					walk(s, 0, d)
				}
			}
		}
		walk(r.block, r.index+1, nil)
	})
	return nil, nil
}

// Uses of a response's body in one CFG node.
const (
	bodyNone       = iota
	bodyRead       // the body is read, or handed to code that may read it
	bodyClose      // resp.Body.Close() called here, the body not read
	bodyDeferClose // defer resp.Body.Close(), or a deferred closure that only closes
)

// bodyUse classifies what node n does with resp's body. A function
// literal other than a deferred one counts as a read when it mentions the
// body (it may run at any time).
func bodyUse(info *types.Info, n ast.Node, resp types.Object) int {
	reads, closes := false, false
	inspectNode := func(n ast.Node, top bool) {
		ast.Inspect(n, func(x ast.Node) bool {
			switch x := x.(type) {
			case *ast.FuncLit:
				if top && x == deferredLit(n) {
					return true
				}
				if refersTo(info, x, resp) {
					reads = true
				}
				return false
			case *ast.CallExpr:
				if isBodyClose(info, x, resp) {
					closes = true
					return false
				}
			case *ast.SelectorExpr:
				if id, ok := ast.Unparen(x.X).(*ast.Ident); ok && info.Uses[id] == resp && x.Sel.Name == "Body" {
					reads = true
				}
			}
			return true
		})
	}
	inspectNode(n, true)
	switch {
	case reads:
		return bodyRead
	case closes:
		if _, ok := n.(*ast.DeferStmt); ok {
			return bodyDeferClose
		}
		return bodyClose
	}
	return bodyNone
}

// isBodyClose reports whether call is resp.Body.Close().
func isBodyClose(info *types.Info, call *ast.CallExpr, resp types.Object) bool {
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Close" || len(call.Args) != 0 {
		return false
	}
	body, ok := ast.Unparen(sel.X).(*ast.SelectorExpr)
	if !ok || body.Sel.Name != "Body" {
		return false
	}
	id, ok := ast.Unparen(body.X).(*ast.Ident)
	return ok && info.Uses[id] == resp
}

// closeCall returns the resp.Body.Close() call in n.
func closeCall(info *types.Info, n ast.Node, resp types.Object) *ast.CallExpr {
	var c *ast.CallExpr
	ast.Inspect(n, func(x ast.Node) bool {
		if call, ok := x.(*ast.CallExpr); ok && c == nil && isBodyClose(info, call, resp) {
			c = call
		}
		return c == nil
	})
	return c
}

// escapes reports whether the response leaves the function or is handed
// to other code (returned, stored, passed, captured by a closure that is
// not deferred): then its body may be read elsewhere.
func escapes(info *types.Info, r *response) bool {
	out := false
	var visit func(n ast.Node, parent ast.Node) bool
	stack := []ast.Node{}
	visit = func(n ast.Node, _ ast.Node) bool {
		if out {
			return false
		}
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		stack = append(stack, n)
		id, ok := n.(*ast.Ident)
		if !ok || info.Uses[id] != r.resp || len(stack) < 2 {
			return true
		}
		switch p := stack[len(stack)-2].(type) {
		case *ast.SelectorExpr:
			if p.X == id {
				return true // resp.Field
			}
		case *ast.BinaryExpr:
			if isNilCompare(info, p, r.resp) {
				return true
			}
		case *ast.AssignStmt:
			for _, l := range p.Lhs {
				if l == id {
					return true // assigned a new response
				}
			}
		}
		out = true
		return false
	}
	ast.Inspect(r.body, func(n ast.Node) bool { return visit(n, nil) })
	return out
}

// isHead reports whether the response answers a HEAD request, whose body
// is always empty: http.Head, Client.Head, or a request whose method is
// "HEAD" in the same function.
func isHead(info *types.Info, r *response) bool {
	if sel, ok := ast.Unparen(r.call.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Head" {
		return true
	}
	head := false
	ast.Inspect(r.body, func(n ast.Node) bool {
		if e, ok := n.(ast.Expr); ok && !head {
			if tv, ok := info.Types[e]; ok && tv.Value != nil && tv.Value.Kind() == constant.String && constant.StringVal(tv.Value) == "HEAD" {
				head = true
			}
		}
		return !head
	})
	return head
}

// drainFix reads the body to EOF before the Close at n: a deferred
// Close becomes a deferred closure that drains, then closes.
func drainFix(pass *analysis.Pass, r *response, n ast.Node) []analysis.SuggestedFix {
	file := fileOf(pass, n.Pos())
	if file == nil {
		return nil
	}
	io, importEdit, ok := ioName(pass, file)
	if !ok {
		return nil
	}
	body := r.name() + ".Body"
	drain := fmt.Sprintf("_, _ = %s.Copy(%s.Discard, %s)", io, io, body)
	var edits []analysis.TextEdit
	switch n := n.(type) {
	case *ast.DeferStmt:
		if lit := deferredLit(n); lit != nil {
			// defer func() { ...; _ = resp.Body.Close() }(): drain before
			// the Close statement inside.
			stmt := stmtOf(lit.Body, closeCall(pass.TypesInfo, lit.Body, r.resp))
			if stmt == nil {
				return nil
			}
			edits = append(edits, insertBefore(pass, stmt, drain))
		} else {
			edits = append(edits, analysis.TextEdit{Pos: n.Pos(), End: n.End(),
				NewText: fmt.Appendf(nil, "defer func() { %s; _ = %s.Close() }()", drain, body)})
		}
	case *ast.CallExpr:
		stmt := stmtOf(r.body, n)
		if stmt == nil {
			return nil
		}
		edits = append(edits, insertBefore(pass, stmt, drain))
	default:
		return nil
	}
	if importEdit != nil {
		edits = append(edits, *importEdit)
	}
	return []analysis.SuggestedFix{{Message: "Read the body to EOF before the Close", TextEdits: edits}}
}

// insertBefore inserts the statement text before stmt, on a line of its
// own with stmt's indentation.
func insertBefore(pass *analysis.Pass, stmt ast.Stmt, text string) analysis.TextEdit {
	indent := strings.Repeat("\t", max(pass.Fset.Position(stmt.Pos()).Column-1, 0))
	return analysis.TextEdit{Pos: stmt.Pos(), End: stmt.Pos(), NewText: []byte(text + "\n" + indent)}
}

// stmtOf returns the statement of block (at any depth) that holds n.
func stmtOf(block *ast.BlockStmt, n ast.Node) ast.Stmt {
	if n == nil {
		return nil
	}
	var found ast.Stmt
	ast.Inspect(block, func(x ast.Node) bool {
		if found != nil || x == nil {
			return false
		}
		var list []ast.Stmt
		switch b := x.(type) {
		case *ast.BlockStmt:
			list = b.List
		case *ast.CaseClause:
			list = b.Body
		case *ast.CommClause:
			list = b.Body
		}
		for _, s := range list {
			if s.Pos() <= n.Pos() && n.End() <= s.End() && isSimple(s) {
				found = s
				return false
			}
		}
		return true
	})
	return found
}

// isSimple reports whether s holds no statements of its own.
func isSimple(s ast.Stmt) bool {
	switch s.(type) {
	case *ast.AssignStmt, *ast.ExprStmt, *ast.DeferStmt, *ast.ReturnStmt, *ast.GoStmt, *ast.DeclStmt:
		return true
	}
	return false
}

func fileOf(pass *analysis.Pass, pos token.Pos) *ast.File {
	for _, f := range pass.Files {
		if f.FileStart <= pos && pos <= f.FileEnd {
			return f
		}
	}
	return nil
}

// ioName returns the name file knows package io by, and the edit that
// imports it when the file does not. ok is false when io cannot be named
// (a blank or dot import).
func ioName(pass *analysis.Pass, file *ast.File) (name string, edit *analysis.TextEdit, ok bool) {
	for _, imp := range file.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if path != "io" {
			continue
		}
		if imp.Name == nil {
			return "io", nil, true
		}
		if imp.Name.Name == "_" || imp.Name.Name == "." {
			return "", nil, false
		}
		return imp.Name.Name, nil, true
	}
	if file.Scope.Lookup("io") != nil || pass.Pkg.Scope().Lookup("io") != nil {
		return "", nil, false
	}
	for _, d := range file.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		if gd.Lparen.IsValid() {
			return "io", &analysis.TextEdit{Pos: gd.Lparen + 1, End: gd.Lparen + 1, NewText: []byte("\n\t\"io\"")}, true
		}
		return "io", &analysis.TextEdit{Pos: gd.Pos(), End: gd.Pos(), NewText: []byte("import \"io\"\n")}, true
	}
	end := file.Name.End()
	return "io", &analysis.TextEdit{Pos: end, End: end, NewText: []byte("\n\nimport \"io\"")}, true
}
