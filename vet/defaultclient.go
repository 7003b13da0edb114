package vet

import (
	"fmt"
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// DefaultClientTimeout reports http.DefaultClient (http.Get, http.Post,
// http.Head, http.PostForm, or http.DefaultClient itself) sending in a
// loop or an HTTP handler: it has no timeout at all, so one server that
// accepts the connection and never answers holds the goroutine (and its
// connection) forever. A request whose context the caller made
// (NewRequestWithContext, WithContext) is left alone: the context may
// carry the deadline. _test.go files are not checked: go test has its own
// timeout.
var DefaultClientTimeout = &analysis.Analyzer{
	Name:     "default_client_timeout",
	Doc:      "report http.DefaultClient (http.Get and friends) used in a loop or an HTTP handler: no timeout at all",
	URL:      "https://github.com/faya-load/faya/blob/main/docs/vet.md#default-client-timeout",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runDefaultClientTimeout,
}

func runDefaultClientTimeout(pass *analysis.Pass) (any, error) {
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	info := pass.TypesInfo
	rep := newReporter(pass)
	for cur := range ins.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		if isTestFile(pass, call.Pos()) {
			continue
		}
		fn := calleeFunc(info, call)
		var what string
		switch {
		case isPkgFunc(fn, "net/http", defaultClientFuncs...):
			what = "http." + fn.Name() + " sends through http.DefaultClient, which"
		case isMethod(fn, "net/http", "Client", sendMethods...) && isDefaultClient(info, call):
			if fn.Name() == "Do" && len(call.Args) == 1 && hasOwnContext(pass, cur, call.Args[0]) {
				continue
			}
			what = "http.DefaultClient"
		default:
			continue
		}
		var where string
		if loop := loopAround(cur, false); loop != nil {
			where = fmt.Sprintf("in the loop at line %d", pass.Fset.Position(loop.Pos()).Line)
		} else if h := handlerAround(pass, cur); h != "" {
			where = "in " + h
		} else {
			continue
		}
		rep.report(call, fmt.Sprintf("%s has no timeout at all, %s: a server that accepts the connection and never answers holds this goroutine and its connection forever; send through a Client with a Timeout, built once (var client = &http.Client{Timeout: 10 * time.Second}), or give the request a context with a deadline",
			what, where))
	}
	return nil, nil
}

// isDefaultClient reports whether call's receiver is http.DefaultClient.
func isDefaultClient(info *types.Info, call *ast.CallExpr) bool {
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := ast.Unparen(sel.X).(*ast.SelectorExpr)
	if !ok || x.Sel.Name != "DefaultClient" {
		return false
	}
	v, ok := info.Uses[x.Sel].(*types.Var)
	return ok && v.Pkg() != nil && v.Pkg().Path() == "net/http"
}

// hasOwnContext reports whether the request e was given a context by the
// caller: req.WithContext(ctx), or a variable assigned
// http.NewRequestWithContext(ctx, ...) with a ctx other than
// context.Background() or context.TODO().
func hasOwnContext(pass *analysis.Pass, cur inspector.Cursor, e ast.Expr) bool {
	info := pass.TypesInfo
	withCtx := func(e ast.Expr) bool {
		call, ok := ast.Unparen(e).(*ast.CallExpr)
		if !ok {
			return false
		}
		fn := calleeFunc(info, call)
		switch {
		case isMethod(fn, "net/http", "Request", "WithContext", "Clone"):
			return len(call.Args) == 1 && !isBackground(info, call.Args[0])
		case isPkgFunc(fn, "net/http", "NewRequestWithContext"):
			return len(call.Args) > 0 && !isBackground(info, call.Args[0])
		}
		return false
	}
	if withCtx(e) {
		return true
	}
	id, ok := ast.Unparen(e).(*ast.Ident)
	if !ok {
		return false
	}
	v := info.Uses[id]
	_, decl := enclosingFunc(cur)
	if decl == nil || v == nil {
		return false
	}
	found := false
	ast.Inspect(decl, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok && !found {
			for i, l := range as.Lhs {
				if lhsObject(info, l) == v && i < len(as.Rhs) && withCtx(as.Rhs[i]) {
					found = true
				}
				if lhsObject(info, l) == v && len(as.Rhs) == 1 && len(as.Lhs) == 2 && withCtx(as.Rhs[0]) {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

// isBackground reports whether e is context.Background() or context.TODO().
func isBackground(info *types.Info, e ast.Expr) bool {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	return ok && isPkgFunc(calleeFunc(info, call), "context", "Background", "TODO")
}

// handlerAround names the HTTP handler the node at cur is in: a function
// with the signature (http.ResponseWriter, *http.Request), or a ServeHTTP
// method. "" if none.
func handlerAround(pass *analysis.Pass, cur inspector.Cursor) string {
	for c := range cur.Enclosing((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		switch fn := c.Node().(type) {
		case *ast.FuncDecl:
			if sig, ok := pass.TypesInfo.Defs[fn.Name].Type().(*types.Signature); ok && isHandler(sig) {
				return "the HTTP handler " + fn.Name.Name
			}
		case *ast.FuncLit:
			if sig, ok := pass.TypesInfo.TypeOf(fn).(*types.Signature); ok && isHandler(sig) {
				return "an HTTP handler"
			}
		}
	}
	return ""
}
