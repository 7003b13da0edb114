package vet

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/ast/inspector"
)

// Analyzers are faya's checks, in the order docs/vet.md explains them.
var Analyzers = []*analysis.Analyzer{TransportPerCall, BodyNotDrained, RespBeforeErr, IdlePoolSmall, DefaultClientTimeout}

// ignoreDirective is the comment that exempts a line from checks.
const ignoreDirective = "faya:ignore"

// reporter reports a check's diagnostics, leaving out the lines that a
// "// faya:ignore <check>" comment exempts (on the line or the one
// above).
type reporter struct {
	pass    *analysis.Pass
	check   string
	ignored map[*token.File]map[int]bool // lines exempt from this check
}

func newReporter(pass *analysis.Pass) *reporter {
	return &reporter{pass: pass, check: CheckName(pass.Analyzer)}
}

// CheckName returns the name of a check as messages, suppressions and
// faya vet's flags spell it: "body-not-drained". (An Analyzer's own name
// must be a Go identifier, which go vet's flags use: -body_not_drained.)
func CheckName(a *analysis.Analyzer) string { return strings.ReplaceAll(a.Name, "_", "-") }

// lines returns the lines of f's file exempt from r's check.
func (r *reporter) lines(tf *token.File) map[int]bool {
	if r.ignored == nil {
		r.ignored = map[*token.File]map[int]bool{}
	}
	if m, ok := r.ignored[tf]; ok {
		return m
	}
	m := map[int]bool{}
	for _, f := range r.pass.Files {
		if r.pass.Fset.File(f.FileStart) != tf {
			continue
		}
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if ignores(c.Text, r.check) {
					line := tf.Line(c.Slash)
					m[line] = true
					m[line+1] = true
				}
			}
		}
	}
	r.ignored[tf] = m
	return m
}

// ignores reports whether the comment text exempts check: the directive
// followed by check names (separated by commas or spaces; "all" for
// every check), then, optionally, a reason after "--".
func ignores(text, check string) bool {
	text = strings.TrimPrefix(strings.TrimPrefix(text, "//"), "/*")
	text = strings.TrimSpace(strings.TrimSuffix(text, "*/"))
	rest, ok := strings.CutPrefix(text, ignoreDirective)
	if !ok {
		return false
	}
	rest, _, _ = strings.Cut(rest, "--")
	for name := range strings.FieldsFuncSeq(rest, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if name == check || strings.ReplaceAll(name, "_", "-") == check || name == "all" {
			return true
		}
	}
	return false
}

// report reports msg at rng unless the line is exempt.
func (r *reporter) report(rng analysis.Range, msg string, fixes ...analysis.SuggestedFix) {
	tf := r.pass.Fset.File(rng.Pos())
	if tf != nil && r.lines(tf)[tf.Line(rng.Pos())] {
		return
	}
	r.pass.Report(analysis.Diagnostic{
		Pos:            rng.Pos(),
		End:            rng.End(),
		Category:       r.check,
		Message:        r.check + ": " + msg,
		SuggestedFixes: fixes,
	})
}

// isNamed reports whether t is the named type pkg.name, or a pointer to it.
func isNamed(t types.Type, pkg, name string) bool {
	if t == nil {
		return false
	}
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return false
	}
	obj := n.Obj()
	return obj.Name() == name && obj.Pkg() != nil && obj.Pkg().Path() == pkg
}

func isTransport(t types.Type) bool { return isNamed(t, "net/http", "Transport") }
func isClient(t types.Type) bool    { return isNamed(t, "net/http", "Client") }

// isResponse reports whether t is *http.Response.
func isResponse(t types.Type) bool {
	p, ok := types.Unalias(t).(*types.Pointer)
	return ok && isNamed(p.Elem(), "net/http", "Response")
}

// calleeFunc returns the function or method a call calls, or nil.
func calleeFunc(info *types.Info, call *ast.CallExpr) *types.Func {
	var id *ast.Ident
	switch fun := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		id = fun
	case *ast.SelectorExpr:
		id = fun.Sel
	case *ast.IndexExpr: // generic instantiation
		return calleeFunc(info, &ast.CallExpr{Fun: fun.X})
	default:
		return nil
	}
	fn, _ := info.Uses[id].(*types.Func)
	return fn
}

// isPkgFunc reports whether fn is one of the functions pkg.names.
func isPkgFunc(fn *types.Func, pkg string, names ...string) bool {
	if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != pkg {
		return false
	}
	if sig, ok := fn.Type().(*types.Signature); ok && sig.Recv() != nil {
		return false
	}
	for _, n := range names {
		if fn.Name() == n {
			return true
		}
	}
	return false
}

// isMethod reports whether fn is a method named one of names of the type
// pkg.typ (value or pointer receiver, or an interface).
func isMethod(fn *types.Func, pkg, typ string, names ...string) bool {
	if fn == nil {
		return false
	}
	sig, ok := fn.Type().(*types.Signature)
	if !ok || sig.Recv() == nil || !isNamed(sig.Recv().Type(), pkg, typ) {
		return false
	}
	for _, n := range names {
		if fn.Name() == n {
			return true
		}
	}
	return false
}

// sendMethods are the methods of http.Client that send a request.
var sendMethods = []string{"Do", "Get", "Head", "Post", "PostForm"}

// defaultClientFuncs are net/http's functions that send through
// http.DefaultClient.
var defaultClientFuncs = []string{"Get", "Head", "Post", "PostForm"}

// returnsResponse reports whether call returns (*http.Response, error): a
// request sent (Client.Do and friends, RoundTrip, or a wrapper of them).
// http.ReadResponse is left out: it reads a connection the caller owns.
func returnsResponse(info *types.Info, call *ast.CallExpr) bool {
	tv, ok := info.Types[call]
	if !ok {
		return false
	}
	tup, ok := tv.Type.(*types.Tuple)
	if !ok || tup.Len() != 2 || !isResponse(tup.At(0).Type()) {
		return false
	}
	if !types.Identical(tup.At(1).Type(), types.Universe.Lookup("error").Type()) {
		return false
	}
	return !isPkgFunc(calleeFunc(info, call), "net/http", "ReadResponse")
}

// isHandler reports whether a function with this signature serves HTTP:
// (http.ResponseWriter, *http.Request).
func isHandler(sig *types.Signature) bool {
	if sig == nil || sig.Params().Len() != 2 {
		return false
	}
	return isNamed(sig.Params().At(0).Type(), "net/http", "ResponseWriter") &&
		isNamed(sig.Params().At(1).Type(), "net/http", "Request")
}

// refersTo reports whether n mentions v.
func refersTo(info *types.Info, n ast.Node, v types.Object) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if found {
			return false
		}
		if id, ok := n.(*ast.Ident); ok && info.Uses[id] == v {
			found = true
		}
		return true
	})
	return found
}

// isTestFile reports whether the file holding pos is a _test.go file.
func isTestFile(pass *analysis.Pass, pos token.Pos) bool {
	return strings.HasSuffix(pass.Fset.File(pos).Name(), "_test.go")
}

// loopAround returns the innermost for or range loop whose body holds
// the node at cur, or nil. With own set, only loops of the function
// around cur count (a loop around a function literal does not).
func loopAround(cur inspector.Cursor, own bool) ast.Stmt {
	n := cur.Node()
	for c := range cur.Enclosing() {
		switch x := c.Node().(type) {
		case *ast.FuncDecl:
			return nil
		case *ast.FuncLit:
			if own && x != n {
				return nil
			}
		case *ast.ForStmt:
			if isWithin(n, x.Body) {
				return x
			}
		case *ast.RangeStmt:
			if isWithin(n, x.Body) {
				return x
			}
		}
	}
	return nil
}

// enclosingFunc returns the innermost function (declaration or literal)
// around cur, and the declaration at the top.
func enclosingFunc(cur inspector.Cursor) (inner, decl ast.Node) {
	for c := range cur.Enclosing((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		if inner == nil {
			inner = c.Node()
		}
		decl = c.Node()
	}
	return inner, decl
}

func isWithin(n, outer ast.Node) bool {
	return outer != nil && n.Pos() >= outer.Pos() && n.End() <= outer.End()
}
