package vet

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// TransportPerCall reports an http.Transport built for one request: in
// a loop, or in a function that sends one request with it, and not kept
// (in a field, a package variable, a closure that outlives the call) nor
// returned. A Transport owns the connection pool; a new one per request
// means a new TCP (and TLS) connection per request, each left in
// TIME_WAIT when it closes, until the ephemeral ports run out. A function
// that returns a new Transport or a Client with one (a constructor) is
// followed into its callers in the same package.
//
// main, init and _test.go files are not checked: they run once, and tests
// build a Transport per test on purpose.
var TransportPerCall = &analysis.Analyzer{
	Name:     "transport_per_call",
	Doc:      "report an http.Transport (or a Client with its own Transport) built per request and not kept",
	URL:      "https://github.com/faya-load/faya/blob/main/docs/vet.md#transport-per-call",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runTransportPerCall,
}

type perCall struct {
	pass     *analysis.Pass
	ctors    map[*types.Func]string // constructors known in this package
	visiting map[types.Object]bool  // variables being followed by fresh
}

func runTransportPerCall(pass *analysis.Pass) (any, error) {
	pc := &perCall{pass: pass, ctors: map[*types.Func]string{}}
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	var decls []*ast.FuncDecl
	for n := range ins.PreorderSeq((*ast.FuncDecl)(nil)) {
		if fd := n.(*ast.FuncDecl); fd.Body != nil {
			decls = append(decls, fd)
		}
	}
	// Constructors, to a fixed point (one may call another).
	for changed := true; changed; {
		changed = false
		for _, fd := range decls {
			fn, _ := pass.TypesInfo.Defs[fd.Name].(*types.Func)
			if fn == nil || pc.ctors[fn] != "" {
				continue
			}
			if site := pc.returnsFresh(fd); site != "" {
				pc.ctors[fn] = site
				changed = true
			}
		}
	}

	callers := loopCallers(pass, ins)
	rep := newReporter(pass)
	for cur := range ins.Root().Preorder((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		if isTestFile(pass, cur.Node().Pos()) {
			continue
		}
		var body *ast.BlockStmt
		var name string
		once := false
		switch fn := cur.Node().(type) {
		case *ast.FuncDecl:
			body, name = fn.Body, fn.Name.Name
			once = fn.Recv == nil && (name == "main" && pass.Pkg.Name() == "main" || name == "init")
		case *ast.FuncLit:
			body, name = fn.Body, "this function literal"
		}
		if body == nil {
			continue
		}
		pc.checkFunc(rep, cur, body, name, once, callers)
	}
	return nil, nil
}

// returnsFresh returns where fd builds the Transport it returns, when
// every call returns a new one; "" otherwise.
func (pc *perCall) returnsFresh(fd *ast.FuncDecl) string {
	if fd.Type.Results == nil {
		return ""
	}
	site := ""
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			for _, e := range n.Results {
				if s := pc.fresh(fd.Body, e); s != "" && site == "" {
					site = s
				}
			}
		}
		return true
	})
	return site
}

// fresh returns where e builds a new Transport ("file.go:12"), when e is
// one: a Transport literal or new(http.Transport), a Clone, a call of a
// constructor, a Client literal over one, or a local variable of body
// assigned one. "" otherwise.
func (pc *perCall) fresh(body *ast.BlockStmt, e ast.Expr) string {
	info := pc.pass.TypesInfo
	e = ast.Unparen(e)
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		e = ast.Unparen(u.X)
	}
	switch x := e.(type) {
	case *ast.CompositeLit:
		t := info.TypeOf(x)
		if isTransport(t) {
			return pc.site(x.Pos())
		}
		if isClient(t) {
			for _, el := range x.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Transport" {
						return pc.fresh(body, kv.Value)
					}
				}
			}
		}
	case *ast.CallExpr:
		if id, ok := ast.Unparen(x.Fun).(*ast.Ident); ok && id.Name == "new" && len(x.Args) == 1 && isTransport(info.TypeOf(x.Args[0])) {
			return pc.site(x.Pos())
		}
		fn := calleeFunc(info, x)
		if isMethod(fn, "net/http", "Transport", "Clone") {
			return pc.site(x.Pos())
		}
		if fn != nil {
			if s := pc.ctors[fn]; s != "" {
				return s
			}
		}
	case *ast.Ident:
		v, ok := info.Uses[x].(*types.Var)
		if !ok || body == nil || !isLocal(v, body) || pc.visiting[v] {
			return ""
		}
		if pc.visiting == nil {
			pc.visiting = map[types.Object]bool{}
		}
		pc.visiting[v] = true
		defer delete(pc.visiting, v)
		site := ""
		ast.Inspect(body, func(n ast.Node) bool {
			if _, ok := n.(*ast.FuncLit); ok {
				return false
			}
			if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
				for i, l := range as.Lhs {
					if lhsObject(info, l) == v && site == "" {
						if rhs, ok := ast.Unparen(as.Rhs[i]).(*ast.Ident); ok && info.Uses[rhs] == v {
							continue
						}
						site = pc.fresh(body, as.Rhs[i])
					}
				}
			}
			return true
		})
		return site
	}
	return ""
}

// isLocal reports whether v is declared inside body.
func isLocal(v *types.Var, body *ast.BlockStmt) bool {
	return v.Pos() >= body.Pos() && v.Pos() < body.End()
}

func (pc *perCall) site(pos token.Pos) string {
	p := pc.pass.Fset.Position(pos)
	return fmt.Sprintf("%s:%d", filepath.Base(p.Filename), p.Line)
}

// flow is what a function does with a Transport it built.
type flow struct {
	escapes     bool // kept or handed on: not per call
	sends       int  // requests sent with it
	sendInLoop  bool // one of them in a loop: the Transport serves many
	firstSendAt token.Pos
}

// checkFunc reports the Transports that fn (with body) builds per call.
func (pc *perCall) checkFunc(rep *reporter, cur inspector.Cursor, body *ast.BlockStmt, name string, once bool, callers map[*types.Func]string) {
	info := pc.pass.TypesInfo
	cur.Inspect([]ast.Node{(*ast.FuncLit)(nil), (*ast.CompositeLit)(nil), (*ast.CallExpr)(nil)}, func(c inspector.Cursor) bool {
		n := c.Node()
		if lit, ok := n.(*ast.FuncLit); ok {
			return lit == cur.Node() // a literal is a function of its own
		}
		root, ok := n.(ast.Expr)
		if !ok || !pc.isRoot(root) {
			return true
		}
		site := pc.fresh(body, root)
		fl := pc.follow(body, c)
		if fl.escapes {
			return false
		}
		loop := loopAround(c, true)
		var msg string
		what := "a new http.Transport is built"
		if call, ok := root.(*ast.CallExpr); ok {
			if fn := calleeFunc(info, call); fn != nil && !isMethod(fn, "net/http", "Transport", "Clone") {
				what = fmt.Sprintf("%s builds a new http.Transport (at %s)", fn.Name(), site)
			}
		}
		cost := "its connection pool goes with it, so each request dials a new TCP (and TLS) connection and leaves a socket in TIME_WAIT when it closes, until the ephemeral ports run out"
		fix := "build the Client and its Transport once (in main, or a package variable) and pass it down"
		switch {
		case loop != nil:
			msg = fmt.Sprintf("%s on every iteration of the loop at line %d, and it is not kept: %s; %s", what, pc.pass.Fset.Position(loop.Pos()).Line, cost, fix)
		case fl.sends == 1 && !fl.sendInLoop && !once:
			where := "every call of " + name
			if fd, ok := cur.Node().(*ast.FuncDecl); ok {
				if fn, _ := info.Defs[fd.Name].(*types.Func); fn != nil && callers[fn] != "" {
					where += " (" + callers[fn] + ")"
				}
				if isHandler(info.Defs[fd.Name].Type().(*types.Signature)) || fd.Name.Name == "ServeHTTP" {
					where += " (an HTTP handler: once per request it serves)"
				}
			} else if isHandler(info.TypeOf(cur.Node().(*ast.FuncLit)).(*types.Signature)) {
				where = "every request this handler serves"
			}
			msg = fmt.Sprintf("%s for %s, and it serves one request: %s; %s", what, where, cost, fix)
		default:
			return false
		}
		rep.report(root, msg)
		return false
	})
}

// isRoot reports whether e builds a Transport itself: a Transport
// literal, new, Clone or a constructor call (a Client literal is followed
// from the Transport inside it).
func (pc *perCall) isRoot(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.CompositeLit:
		return isTransport(pc.pass.TypesInfo.TypeOf(x))
	case *ast.CallExpr:
		return pc.fresh(nil, x) != ""
	}
	return false
}

// follow tracks the value built at c through the function: into the
// variables and Client literals that hold it, to the requests sent with
// it, or out of the function.
func (pc *perCall) follow(body *ast.BlockStmt, c inspector.Cursor) flow {
	info := pc.pass.TypesInfo
	var fl flow
	var holders []types.Object
	// Climb from the expression to what receives it.
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
			// Transport: x in an http.Client literal: follow the Client.
			lit, ok := parent.Parent().Node().(*ast.CompositeLit)
			if k, isID := p.Key.(*ast.Ident); ok && isID && k.Name == "Transport" && isClient(info.TypeOf(lit)) {
				c = parent.Parent()
				continue
			}
		case *ast.SelectorExpr:
			// NewClient().Get(url): sent once, not kept.
			if call, ok := parent.Parent().Node().(*ast.CallExpr); ok && call.Fun == p && isSend(info, call) {
				fl.sends++
				fl.sendInLoop = loopAround(parent, true) != nil
				return fl
			}
		case *ast.AssignStmt:
			for i, r := range p.Rhs {
				if r != c.Node() || len(p.Lhs) != len(p.Rhs) {
					continue
				}
				v, ok := lhsObject(info, p.Lhs[i]).(*types.Var)
				if !ok || !isLocal(v, body) {
					fl.escapes = true
					return fl
				}
				holders = append(holders, v)
			}
		case *ast.ValueSpec:
			for i, r := range p.Values {
				if r == c.Node() && i < len(p.Names) {
					if v, ok := info.Defs[p.Names[i]].(*types.Var); ok && isLocal(v, body) {
						holders = append(holders, v)
					}
				}
			}
		}
		break
	}
	if len(holders) == 0 {
		fl.escapes = true
		return fl
	}
	// Follow the holders' uses; a Client literal over a holder is a
	// holder too.
	for i := 0; i < len(holders); i++ {
		h := holders[i]
		for cur := range c.Inspector().Root().Preorder((*ast.Ident)(nil)) {
			id := cur.Node().(*ast.Ident)
			if info.Uses[id] != h {
				continue
			}
			pc.use(body, cur, &fl, &holders)
			if fl.escapes {
				return fl
			}
		}
	}
	return fl
}

// use classifies one use of a holder.
func (pc *perCall) use(body *ast.BlockStmt, cur inspector.Cursor, fl *flow, holders *[]types.Object) {
	info := pc.pass.TypesInfo
	// A closure that mentions it must run within the call (deferred,
	// go'd, or called at once); one that is kept or handed on keeps it.
	for c := range cur.Enclosing((*ast.FuncLit)(nil)) {
		lit := c.Node().(*ast.FuncLit)
		if !isWithin(lit, body) || lit.Body == body {
			break
		}
		p := c.Parent()
		call, ok := p.Node().(*ast.CallExpr)
		if !ok || call.Fun != lit {
			fl.escapes = true
			return
		}
	}
	parent := cur.Parent()
	switch p := parent.Node().(type) {
	case *ast.SelectorExpr:
		if call, ok := parent.Parent().Node().(*ast.CallExpr); ok && call.Fun == p {
			if isSend(info, call) {
				if fl.sends == 0 {
					fl.firstSendAt = call.Pos()
				}
				fl.sends++
				if loopAround(parent, true) != nil {
					fl.sendInLoop = true
				}
			}
			return // other methods: CloseIdleConnections
		}
		if as, ok := parent.Parent().Node().(*ast.AssignStmt); ok {
			for _, r := range as.Rhs {
				if r == p {
					fl.escapes = true // its fields handed on
					return
				}
			}
		}
		return // a field read or set: c.Timeout = ...
	case *ast.KeyValueExpr:
		lit, ok := parent.Parent().Node().(*ast.CompositeLit)
		if k, isID := p.Key.(*ast.Ident); ok && isID && k.Name == "Transport" && isClient(info.TypeOf(lit)) {
			sub := pc.follow(body, parent.Parent())
			fl.escapes = fl.escapes || sub.escapes
			fl.sends += sub.sends
			fl.sendInLoop = fl.sendInLoop || sub.sendInLoop
			return
		}
	case *ast.AssignStmt:
		for _, l := range p.Lhs {
			if l == cur.Node() {
				return // assigned (the construction itself, or another value)
			}
		}
	case *ast.BinaryExpr:
		if p.Op == token.EQL || p.Op == token.NEQ {
			return
		}
	}
	fl.escapes = true
}

// isSend reports whether call sends a request: a Client's Do, Get, Head,
// Post or PostForm, or a RoundTrip.
func isSend(info *types.Info, call *ast.CallExpr) bool {
	fn := calleeFunc(info, call)
	return isMethod(fn, "net/http", "Client", sendMethods...) ||
		isMethod(fn, "net/http", "Transport", "RoundTrip") ||
		isMethod(fn, "net/http", "RoundTripper", "RoundTrip")
}

// loopCallers finds, for each function of the package, one place where
// it is called repeatedly: in a loop or in a goroutine ("called in a loop
// at main.go:30").
func loopCallers(pass *analysis.Pass, ins *inspector.Inspector) map[*types.Func]string {
	out := map[*types.Func]string{}
	for cur := range ins.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		fn := calleeFunc(pass.TypesInfo, call)
		if fn == nil || fn.Pkg() != pass.Pkg || out[fn] != "" {
			continue
		}
		p := pass.Fset.Position(call.Pos())
		at := fmt.Sprintf("%s:%d", filepath.Base(p.Filename), p.Line)
		if loopAround(cur, false) != nil {
			out[fn] = "called in a loop at " + at
			continue
		}
		for c := range cur.Enclosing((*ast.GoStmt)(nil)) {
			_ = c
			out[fn] = "called from a goroutine at " + at
			break
		}
	}
	return out
}
