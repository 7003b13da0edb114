package vet

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/cfg"
)

// response is a response received in a function: resp, err := call.
type response struct {
	assign *ast.AssignStmt
	call   *ast.CallExpr
	resp   types.Object // nil when the response is discarded
	err    types.Object // nil when the error is discarded (_)
	block  *cfg.Block   // the CFG block holding assign
	index  int          // assign's index in block.Nodes
	body   *ast.BlockStmt
	// once is set when the function runs once per program or test
	// (main, init, a Test, Example or Fuzz function, or a literal in one
	// that is not a handler): a connection it drops is not needed again,
	// unless in a loop of its own.
	once  bool
	loops []ast.Node // the bodies of the function's own loops
}

// inLoop reports whether n is in one of the function's own loops.
func (r *response) inLoop(n ast.Node) bool {
	for _, l := range r.loops {
		if isWithin(n, l) {
			return true
		}
	}
	return false
}

// name is the response variable's name.
func (r *response) name() string { return r.resp.Name() }

// what names the call that returned the response, for messages:
// "client.Get", "http.Get", "Do".
func (r *response) what() string {
	switch fun := ast.Unparen(r.call.Fun).(type) {
	case *ast.SelectorExpr:
		if id, ok := fun.X.(*ast.Ident); ok {
			return id.Name + "." + fun.Sel.Name
		}
		return fun.Sel.Name
	case *ast.Ident:
		return fun.Name
	}
	return "the call"
}

// responses calls f for each response received in a function of the
// package, with the function's CFG.
func responses(pass *analysis.Pass, f func(r *response, g *cfg.CFG)) {
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	mayReturn := func(call *ast.CallExpr) bool { return !noReturn(pass.TypesInfo, call) }
	for cur := range ins.Root().Preorder((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		var g *cfg.CFG
		var body *ast.BlockStmt
		once := false
		switch fn := cur.Node().(type) {
		case *ast.FuncDecl:
			if fn.Body == nil {
				continue
			}
			g, body = cfg.New(fn.Body, mayReturn), fn.Body
			once = runsOnce(pass, fn)
		case *ast.FuncLit:
			g, body = cfg.New(fn.Body, mayReturn), fn.Body
			_, decl := enclosingFunc(cur)
			sig, _ := pass.TypesInfo.TypeOf(fn).(*types.Signature)
			fd, _ := decl.(*ast.FuncDecl)
			once = runsOnce(pass, fd) && !isHandler(sig) && loopAround(cur, false) == nil
		}
		var loops []ast.Node
		ast.Inspect(body, func(n ast.Node) bool {
			switch l := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ForStmt:
				loops = append(loops, l.Body)
			case *ast.RangeStmt:
				loops = append(loops, l.Body)
			}
			return true
		})
		if g == nil {
			continue
		}
		for _, b := range g.Blocks {
			if !b.Live {
				continue
			}
			for i, node := range b.Nodes {
				as, ok := node.(*ast.AssignStmt)
				if !ok || len(as.Lhs) != 2 || len(as.Rhs) != 1 {
					continue
				}
				call, ok := ast.Unparen(as.Rhs[0]).(*ast.CallExpr)
				if !ok || !returnsResponse(pass.TypesInfo, call) {
					continue
				}
				r := &response{assign: as, call: call, block: b, index: i, body: body,
					resp: lhsObject(pass.TypesInfo, as.Lhs[0]), err: lhsObject(pass.TypesInfo, as.Lhs[1]),
					once: once, loops: loops}
				f(r, g)
			}
		}
	}
}

// noReturn reports whether call never returns: panic, os.Exit,
// runtime.Goexit, log.Fatal and log.Panic (and their f and ln forms, on
// the package or a Logger), and a test's Fatal, FailNow and Skip. (The
// checks need no facts of other packages: they load fast.)
func noReturn(info *types.Info, call *ast.CallExpr) bool {
	if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok && id.Name == "panic" {
		_, builtin := info.Uses[id].(*types.Builtin)
		return builtin
	}
	fn := calleeFunc(info, call)
	switch {
	case fn == nil:
		return false
	case isPkgFunc(fn, "os", "Exit"), isPkgFunc(fn, "runtime", "Goexit"),
		isPkgFunc(fn, "log", "Fatal", "Fatalf", "Fatalln", "Panic", "Panicf", "Panicln"),
		isMethod(fn, "log", "Logger", "Fatal", "Fatalf", "Fatalln", "Panic", "Panicf", "Panicln"):
		return true
	}
	sig, ok := fn.Type().(*types.Signature)
	if !ok || sig.Recv() == nil || fn.Pkg() == nil || fn.Pkg().Path() != "testing" {
		return false
	}
	switch fn.Name() {
	case "Fatal", "Fatalf", "FailNow", "Skip", "Skipf", "SkipNow":
		return true
	}
	return false
}

// runsOnce reports whether fd runs once per program or test: main (of
// package main), init, and the Test, Example and Fuzz functions of a
// _test.go file.
func runsOnce(pass *analysis.Pass, fd *ast.FuncDecl) bool {
	if fd == nil || fd.Recv != nil {
		return false
	}
	name := fd.Name.Name
	if name == "init" || name == "main" && pass.Pkg.Name() == "main" {
		return true
	}
	if !isTestFile(pass, fd.Pos()) {
		return false
	}
	for _, p := range []string{"Test", "Example", "Fuzz"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// lhsObject returns the variable an assignment's left side names, or nil
// for _ and anything but a plain name.
func lhsObject(info *types.Info, e ast.Expr) types.Object {
	id, ok := ast.Unparen(e).(*ast.Ident)
	if !ok || id.Name == "_" {
		return nil
	}
	if obj := info.Defs[id]; obj != nil {
		return obj
	}
	return info.Uses[id]
}

// isNilCompare reports whether e is v == nil or v != nil.
func isNilCompare(info *types.Info, e ast.Node, v types.Object) bool {
	be, ok := e.(*ast.BinaryExpr)
	if !ok || (be.Op != token.EQL && be.Op != token.NEQ) {
		return false
	}
	is := func(x ast.Expr) bool {
		id, ok := ast.Unparen(x).(*ast.Ident)
		return ok && info.Uses[id] == v
	}
	isNil := func(x ast.Expr) bool {
		id, ok := ast.Unparen(x).(*ast.Ident)
		return ok && id.Name == "nil" && info.Uses[id] == types.Universe.Lookup("nil")
	}
	return is(be.X) && isNil(be.Y) || is(be.Y) && isNil(be.X)
}

// hasNilCompare reports whether n compares v with nil anywhere.
func hasNilCompare(info *types.Info, n ast.Node, v types.Object) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if found {
			return false
		}
		if e, ok := n.(ast.Expr); ok && isNilCompare(info, e, v) {
			found = true
		}
		return true
	})
	return found
}

// assigns reports whether n assigns to v (v = ..., v, err = ...).
func assigns(info *types.Info, n ast.Node, v types.Object) bool {
	as, ok := n.(*ast.AssignStmt)
	if !ok {
		return false
	}
	for _, l := range as.Lhs {
		if lhsObject(info, l) == v {
			return true
		}
	}
	return false
}

// errBranch says which successor of an if on cond follows when err is
// nil: 0 (true), 1 (false), or -1 when cond does not test err that way.
func errBranch(info *types.Info, cond ast.Expr, err types.Object) int {
	if err == nil {
		return -1
	}
	be, ok := ast.Unparen(cond).(*ast.BinaryExpr)
	if !ok {
		return -1
	}
	switch be.Op {
	case token.NEQ:
		if isNilCompare(info, be, err) {
			return 1
		}
	case token.EQL:
		if isNilCompare(info, be, err) {
			return 0
		}
	case token.LOR: // err != nil || ...: false only when err is nil
		if errBranch(info, be.X, err) == 1 || errBranch(info, be.Y, err) == 1 {
			return 1
		}
	case token.LAND: // err == nil && ...: true only when err is nil
		if errBranch(info, be.X, err) == 0 || errBranch(info, be.Y, err) == 0 {
			return 0
		}
	}
	return -1
}

// isCondOf reports whether node i of b is the condition of b's branch.
func isCondOf(b *cfg.Block, i int) bool {
	_, isExpr := b.Nodes[i].(ast.Expr)
	return i == len(b.Nodes)-1 && len(b.Succs) == 2 && isExpr
}

// nextStmt returns the statement after s in the block that holds it.
func nextStmt(body *ast.BlockStmt, s ast.Stmt) (ast.Stmt, *ast.BlockStmt) {
	var next ast.Stmt
	var in *ast.BlockStmt
	ast.Inspect(body, func(n ast.Node) bool {
		if in != nil {
			return false
		}
		var list []ast.Stmt
		switch b := n.(type) {
		case *ast.BlockStmt:
			list = b.List
		case *ast.CaseClause:
			list = b.Body
		case *ast.CommClause:
			list = b.Body
		default:
			return true
		}
		for i, x := range list {
			if x == s {
				if bs, ok := n.(*ast.BlockStmt); ok {
					in = bs
				} else {
					in = &ast.BlockStmt{List: list}
				}
				if i+1 < len(list) {
					next = list[i+1]
				}
				return false
			}
		}
		return true
	})
	return next, in
}
