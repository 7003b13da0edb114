package vet

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/printer"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/cfg"
)

// RespBeforeErr reports a response used, or its Body's Close deferred,
// before the error of the call that returned it is checked. On a network
// error the response is nil, so such code panics on the first failed
// dial. go vet's httpresponse reports one form of it (a defer
// resp.Body.Close() on the line after the call); this check also reports
// a deferred closure (defer func() { _ = resp.Body.Close() }()), any other
// use before the check (resp.StatusCode) and a discarded error.
var RespBeforeErr = &analysis.Analyzer{
	Name:     "resp_before_err",
	Doc:      "report a response used, or its Close deferred, before the error of the call that returned it is checked",
	URL:      "https://github.com/faya-load/faya/blob/main/docs/vet.md#resp-before-err",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runRespBeforeErr,
}

func runRespBeforeErr(pass *analysis.Pass) (any, error) {
	rep := newReporter(pass)
	reported := map[token.Pos]bool{}
	responses(pass, func(r *response, g *cfg.CFG) {
		if r.resp == nil {
			return
		}
		seen := map[*cfg.Block]bool{}
		var walk func(b *cfg.Block, from int)
		walk = func(b *cfg.Block, from int) {
			for i := from; i < len(b.Nodes); i++ {
				n := b.Nodes[i]
				if r.err != nil && refersTo(pass.TypesInfo, n, r.err) || hasNilCompare(pass.TypesInfo, n, r.resp) || assigns(pass.TypesInfo, n, r.resp) {
					return // checked (or a new response)
				}
				if use := firstUse(pass.TypesInfo, n, r.resp); use != nil {
					if !reported[use.Pos()] {
						reported[use.Pos()] = true
						reportRespBeforeErr(pass, rep, r, n, use)
					}
					return
				}
			}
			for _, s := range b.Succs {
				if !seen[s] {
					seen[s] = true
					walk(s, 0)
				}
			}
		}
		walk(r.block, r.index+1)
	})
	return nil, nil
}

// firstUse returns the first dereference of v in n (v.Field, v.Method()),
// looking into deferred and go'd function literals (they run later, but
// with v as it is: nil on an error path) unless they compare v with nil.
// Other function literals are left alone.
func firstUse(info *types.Info, n ast.Node, v types.Object) ast.Node {
	var use ast.Node
	ast.Inspect(n, func(x ast.Node) bool {
		if use != nil {
			return false
		}
		switch x := x.(type) {
		case *ast.FuncLit:
			return x == deferredLit(n) && !hasNilCompare(info, x, v)
		case *ast.SelectorExpr:
			if id, ok := ast.Unparen(x.X).(*ast.Ident); ok && info.Uses[id] == v {
				use = x
				return false
			}
		}
		return true
	})
	return use
}

// deferredLit returns the function literal a defer or go statement calls.
func deferredLit(n ast.Node) *ast.FuncLit {
	var call *ast.CallExpr
	switch s := n.(type) {
	case *ast.DeferStmt:
		call = s.Call
	case *ast.GoStmt:
		call = s.Call
	default:
		return nil
	}
	lit, _ := ast.Unparen(call.Fun).(*ast.FuncLit)
	return lit
}

func reportRespBeforeErr(pass *analysis.Pass, rep *reporter, r *response, stmt, use ast.Node) {
	name := r.name()
	used := types.ExprString(use.(ast.Expr))
	if r.err == nil {
		rep.report(use, fmt.Sprintf("%s is used but the error of %s is discarded: on a network error (a refused or reset connection, a timeout) %s is nil and this line panics; check the error first: if err != nil { return err }",
			used, r.what(), name))
		return
	}
	errName := r.err.Name()
	if ds, ok := stmt.(*ast.DeferStmt); ok {
		msg := fmt.Sprintf("the Close of %s.Body is deferred before %s from %s is checked: on a network error %s is nil and the deferred call panics (a nil pointer dereference when the function returns); defer it after if %s != nil { ... }",
			name, errName, r.what(), name, errName)
		rep.report(ds, msg, moveDeferFix(pass, r, ds)...)
		return
	}
	rep.report(use, fmt.Sprintf("%s is used before %s from %s is checked: on a network error %s is nil and this line panics; check %s first: if %s != nil { return %s }",
		used, errName, r.what(), name, errName, errName, errName))
}

// moveDeferFix moves a defer placed before the error check to just after
// it, when the check is the if statement that follows.
func moveDeferFix(pass *analysis.Pass, r *response, ds *ast.DeferStmt) []analysis.SuggestedFix {
	next, _ := nextStmt(r.body, ds)
	ifs, ok := next.(*ast.IfStmt)
	if !ok || ifs.Init != nil || errBranch(pass.TypesInfo, ifs.Cond, r.err) < 0 || ifs.Else != nil {
		return nil
	}
	var buf bytes.Buffer
	if err := printer.Fprint(&buf, pass.Fset, ds); err != nil {
		return nil
	}
	indent := strings.Repeat("\t", max(pass.Fset.Position(ds.Pos()).Column-1, 0))
	text := strings.ReplaceAll(buf.String(), "\n", "\n"+indent)
	return []analysis.SuggestedFix{{
		Message: "Defer the Close after the error check",
		TextEdits: []analysis.TextEdit{
			{Pos: ds.Pos(), End: ifs.Pos()},
			{Pos: ifs.End(), End: ifs.End(), NewText: []byte("\n" + indent + text)},
		},
	}}
}
