package vet

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"path/filepath"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// IdlePoolSmall reports an http.Transport literal whose pool is too
// small for the goroutines of its package that use it: MaxIdleConnsPerHost
// unset (Go keeps 2 idle connections per host) or below MaxConnsPerHost,
// or MaxConnsPerHost unset beside a fixed MaxIdleConnsPerHost. Past the
// idle limit, every connection returned by a request in flight is closed
// and the next request dials again. Whether the goroutines really run
// that many requests at once cannot be seen in the code: this check is a
// heuristic, and its message says so.
var IdlePoolSmall = &analysis.Analyzer{
	Name:     "idle_pool_small",
	Doc:      "report an http.Transport literal whose idle pool is smaller than the goroutines using it need (a heuristic)",
	URL:      "https://github.com/faya-load/faya/blob/main/docs/vet.md#idle-pool-small",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runIdlePoolSmall,
}

// limitField is a pool limit of a Transport literal.
type limitField struct {
	set   bool
	known bool // a constant
	value int64
	kv    *ast.KeyValueExpr
}

func runIdlePoolSmall(pass *analysis.Pass) (any, error) {
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	info := pass.TypesInfo
	rep := newReporter(pass)
	goBodies := goroutineBodies(pass, ins)
	if len(goBodies) == 0 {
		return nil, nil
	}
	for cur := range ins.Root().Preorder((*ast.CompositeLit)(nil)) {
		lit := cur.Node().(*ast.CompositeLit)
		if !isTransport(info.TypeOf(lit)) || isTestFile(pass, lit.Pos()) {
			continue
		}
		fields := map[string]*limitField{}
		keepAlivesOff := false
		for _, el := range lit.Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			k, _ := kv.Key.(*ast.Ident)
			if k == nil {
				continue
			}
			f := &limitField{set: true, kv: kv}
			if tv, ok := info.Types[kv.Value]; ok && tv.Value != nil {
				switch tv.Value.Kind() {
				case constant.Int:
					f.value, f.known = constant.Int64Val(tv.Value)
				case constant.Bool:
					if k.Name == "DisableKeepAlives" && constant.BoolVal(tv.Value) {
						keepAlivesOff = true
					}
				}
			}
			fields[k.Name] = f
		}
		if keepAlivesOff {
			continue
		}
		holders := holdersOf(pass, cur)
		if len(holders) == 0 {
			continue
		}
		for _, h := range holders {
			if setLater(pass, ins, h, "MaxIdleConnsPerHost") {
				fields["MaxIdleConnsPerHost"] = &limitField{set: true}
			}
			if setLater(pass, ins, h, "MaxConnsPerHost") {
				fields["MaxConnsPerHost"] = &limitField{set: true}
			}
		}
		gsite := usedIn(pass, goBodies, holders)
		if gsite == "" {
			continue
		}
		idle, conns := fields["MaxIdleConnsPerHost"], fields["MaxConnsPerHost"]
		if idle == nil {
			idle = &limitField{}
		}
		if conns == nil {
			conns = &limitField{}
		}
		heuristic := fmt.Sprintf("goroutines use this Transport (%s; a heuristic: how many requests they run at once cannot be seen in the code)", gsite)
		switch {
		case !idle.set:
			msg := fmt.Sprintf("MaxIdleConnsPerHost is unset, so this Transport keeps at most 2 idle connections per host (http.DefaultMaxIdleConnsPerHost) and %s: with more than 2 requests in flight, each connection returned beyond 2 is closed and the next request dials a new one (a TCP/TLS handshake, a socket in TIME_WAIT); set MaxIdleConnsPerHost (and MaxIdleConns) to the number of requests run at once", heuristic)
			var fixes []analysis.SuggestedFix
			if conns.known && conns.value > 0 {
				msg += fmt.Sprintf(", here MaxConnsPerHost (%d)", conns.value)
				fixes = addFieldFix(pass, lit, conns.kv, fmt.Sprintf("MaxIdleConnsPerHost: %d", conns.value))
			} else if !conns.set {
				msg += ", and MaxConnsPerHost to the same to cap the dials"
			}
			rep.report(lit, msg, fixes...)
		case idle.known && idle.value > 0 && conns.known && idle.value < conns.value:
			rep.report(idle.kv, fmt.Sprintf("MaxIdleConnsPerHost (%d) is below MaxConnsPerHost (%d) and %s: up to %d of the connections in use are closed when they are returned, then dialed again (churn, sockets in TIME_WAIT); set MaxIdleConnsPerHost: %d",
				idle.value, conns.value, heuristic, conns.value-idle.value, conns.value),
				analysis.SuggestedFix{Message: "Keep as many idle connections as MaxConnsPerHost allows", TextEdits: []analysis.TextEdit{{
					Pos: idle.kv.Value.Pos(), End: idle.kv.Value.End(), NewText: fmt.Appendf(nil, "%d", conns.value)}}})
		case idle.known && idle.value > 0 && !conns.set:
			rep.report(lit, fmt.Sprintf("MaxConnsPerHost is unset and %s: beyond %d requests in flight (MaxIdleConnsPerHost) this Transport dials connections it cannot keep and closes each after its request (churn, sockets in TIME_WAIT); set MaxIdleConnsPerHost and MaxConnsPerHost both to the number of requests run at once (MaxConnsPerHost: %d makes the extra requests wait for a pooled connection instead)",
				heuristic, idle.value, idle.value))
		}
	}
	return nil, nil
}

// addFieldFix adds a field to a literal, after the field kv.
func addFieldFix(pass *analysis.Pass, lit *ast.CompositeLit, after *ast.KeyValueExpr, field string) []analysis.SuggestedFix {
	if after == nil {
		return nil
	}
	multiline := pass.Fset.Position(lit.Lbrace).Line != pass.Fset.Position(lit.Rbrace).Line
	text := ", " + field
	if multiline {
		indent := ""
		for range max(pass.Fset.Position(after.Pos()).Column-1, 0) {
			indent += "\t"
		}
		text = ",\n" + indent + field
	}
	return []analysis.SuggestedFix{{Message: "Keep as many idle connections as MaxConnsPerHost allows",
		TextEdits: []analysis.TextEdit{{Pos: after.End(), End: after.End(), NewText: []byte(text)}}}}
}

// holdersOf returns what holds the Transport built by the literal at cur:
// the variable or field it is assigned to, through a Client literal; for
// a literal returned by a function, the function (its calls hold it) and
// the variables assigned its result.
func holdersOf(pass *analysis.Pass, cur inspector.Cursor) []types.Object {
	info := pass.TypesInfo
	c := cur
	for {
		parent := c.Parent()
		switch p := parent.Node().(type) {
		case *ast.ParenExpr:
			c = parent
			continue
		case *ast.UnaryExpr:
			if p.Op == token.AND {
				c = parent
				continue
			}
		case *ast.KeyValueExpr:
			if lit, ok := parent.Parent().Node().(*ast.CompositeLit); ok {
				if k, ok := p.Key.(*ast.Ident); ok && isClient(info.TypeOf(lit)) && k.Name == "Transport" {
					c = parent.Parent()
					continue
				}
				// A field of a struct literal.
				if k, ok := p.Key.(*ast.Ident); ok {
					if obj := info.Uses[k]; obj != nil {
						return []types.Object{obj}
					}
				}
			}
		case *ast.AssignStmt:
			for i, r := range p.Rhs {
				if r == c.Node() && i < len(p.Lhs) {
					if obj := lhsTarget(info, p.Lhs[i]); obj != nil {
						return append([]types.Object{obj}, derived(pass, obj)...)
					}
				}
			}
		case *ast.ValueSpec:
			for i, r := range p.Values {
				if r == c.Node() && i < len(p.Names) {
					if obj := info.Defs[p.Names[i]]; obj != nil {
						return append([]types.Object{obj}, derived(pass, obj)...)
					}
				}
			}
		case *ast.ReturnStmt:
			for fc := range parent.Enclosing((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
				if fd, ok := fc.Node().(*ast.FuncDecl); ok {
					if fn := info.Defs[fd.Name]; fn != nil {
						return append([]types.Object{fn}, derived(pass, fn)...)
					}
				}
				break
			}
		}
		return nil
	}
}

// lhsTarget returns the variable or field an assignment's left side
// names: v, or the field f of x.f.
func lhsTarget(info *types.Info, e ast.Expr) types.Object {
	switch x := ast.Unparen(e).(type) {
	case *ast.Ident:
		return lhsObject(info, x)
	case *ast.SelectorExpr:
		return info.Uses[x.Sel]
	}
	return nil
}

// derived returns the variables (and fields) assigned a value built from
// h: a call of h (a constructor), or a Client literal over h.
func derived(pass *analysis.Pass, h types.Object) []types.Object {
	info := pass.TypesInfo
	var out []types.Object
	from := func(e ast.Expr) bool {
		e = ast.Unparen(e)
		if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
			e = ast.Unparen(u.X)
		}
		switch x := e.(type) {
		case *ast.CallExpr:
			if fn := calleeFunc(info, x); fn != nil && types.Object(fn) == h {
				return true
			}
		case *ast.CompositeLit:
			if isClient(info.TypeOf(x)) {
				for _, el := range x.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok && refersTo(info, kv.Value, h) {
						return true
					}
				}
			}
		}
		return false
	}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch s := n.(type) {
			case *ast.AssignStmt:
				for i, r := range s.Rhs {
					if i < len(s.Lhs) && from(r) {
						if obj := lhsTarget(info, s.Lhs[i]); obj != nil {
							out = append(out, obj)
						}
					}
				}
			case *ast.ValueSpec:
				for i, r := range s.Values {
					if i < len(s.Names) && from(r) {
						if obj := info.Defs[s.Names[i]]; obj != nil {
							out = append(out, obj)
						}
					}
				}
			}
			return true
		})
	}
	return out
}

// setLater reports whether the package assigns h.field (or x.Transport
// fields through h) anywhere: the literal's limit is then set elsewhere.
func setLater(pass *analysis.Pass, ins *inspector.Inspector, h types.Object, field string) bool {
	for n := range ins.PreorderSeq((*ast.AssignStmt)(nil)) {
		for _, l := range n.(*ast.AssignStmt).Lhs {
			sel, ok := ast.Unparen(l).(*ast.SelectorExpr)
			if ok && sel.Sel.Name == field && refersTo(pass.TypesInfo, sel.X, h) {
				return true
			}
		}
	}
	return false
}

// goBody is the code a goroutine runs: a go statement's call, or a
// function literal handed to errgroup.Group.Go or sync.WaitGroup.Go.
type goBody struct {
	node ast.Node
	at   string
}

func goroutineBodies(pass *analysis.Pass, ins *inspector.Inspector) []goBody {
	var out []goBody
	at := func(pos token.Pos) string {
		p := pass.Fset.Position(pos)
		return fmt.Sprintf("%s:%d", filepath.Base(p.Filename), p.Line)
	}
	for n := range ins.PreorderSeq((*ast.GoStmt)(nil), (*ast.CallExpr)(nil)) {
		switch n := n.(type) {
		case *ast.GoStmt:
			out = append(out, goBody{n.Call, "go statement at " + at(n.Pos())})
		case *ast.CallExpr:
			fn := calleeFunc(pass.TypesInfo, n)
			if isMethod(fn, "golang.org/x/sync/errgroup", "Group", "Go") || isMethod(fn, "sync", "WaitGroup", "Go") {
				for _, a := range n.Args {
					out = append(out, goBody{a, fn.Name() + " at " + at(n.Pos())})
				}
			}
		}
	}
	return out
}

// usedIn returns the first goroutine whose code mentions one of the
// holders, directly or in a function of the package it calls; "" if none.
func usedIn(pass *analysis.Pass, bodies []goBody, holders []types.Object) string {
	info := pass.TypesInfo
	decls := map[*types.Func]*ast.FuncDecl{}
	for _, f := range pass.Files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				if fn, ok := info.Defs[fd.Name].(*types.Func); ok {
					decls[fn] = fd
				}
			}
		}
	}
	mentions := func(n ast.Node) bool {
		for _, h := range holders {
			if refersTo(info, n, h) {
				return true
			}
			if fn, ok := h.(*types.Func); ok {
				found := false
				ast.Inspect(n, func(x ast.Node) bool {
					if c, ok := x.(*ast.CallExpr); ok && calleeFunc(info, c) == fn {
						found = true
					}
					return !found
				})
				if found {
					return true
				}
			}
		}
		return false
	}
	for _, b := range bodies {
		if mentions(b.node) {
			return b.at
		}
		found := false
		ast.Inspect(b.node, func(x ast.Node) bool {
			if c, ok := x.(*ast.CallExpr); ok && !found {
				if fd := decls[calleeFunc(info, c)]; fd != nil && mentions(fd.Body) {
					found = true
				}
			}
			return !found
		})
		if found {
			return b.at
		}
	}
	return ""
}
