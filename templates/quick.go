package templates

import (
	"bytes"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	tmpltext "text/template"
	"text/template/parse"
)

// quickRender renders tmpl with data into buf as text/template's Execute
// would, without its costs per action: text/template looks every field up
// by name (and first as a method) on every use, and prints every value
// through fmt, which made it a quarter of the receiver's time per
// notification. quickRender finds a field's index once per type and writes
// strings and numbers as they are.
//
// It walks only what text/template does the same way for it: text, fields
// of structs (no methods), `.`, `$`, if, with, range over a slice,
// template calls, `not`, and calls of funcs of at most four arguments, none
// variadic, string constants only where a string is expected, in pipelines
// of one command (no `|`) and without variables; and prints only strings,
// integers and booleans of types without methods. Where data or a value
// is a reflect.Value, which text/template unwraps, it gives up. At anything
// else, and at any error or panic, it leaves buf as it found it and
// reports false: the caller then renders with text/template, which gives
// the same output, or its own error; functions quickRender called before
// it gave up are then called again. The default templates never leave it
// (TestQuickRendersTheDefaults); TestQuickMatchesTextTemplate and
// FuzzQuickRender (templates from a grammar, over five kinds of data) hold
// it to text/template's output.
func quickRender(buf *bytes.Buffer, tmpl *tmpltext.Template, funcs map[string]reflect.Value, data any) (ok bool) {
	if tmpl.Tree == nil || tmpl.Root == nil {
		return false
	}
	start := buf.Len()
	defer func() {
		if recover() != nil {
			buf.Truncate(start)
			ok = false
		}
	}()
	dot := reflect.ValueOf(data)
	q := quick{set: tmpl, funcs: funcs, buf: buf}
	q.walk(dot, dot, tmpl.Root)
	return true
}

// quick is the state of one quickRender.
type quick struct {
	set   *tmpltext.Template // where template calls look names up
	funcs map[string]reflect.Value
	buf   *bytes.Buffer
	depth int // of template calls
}

// notQuick is what quick panics with where text/template must render.
type notQuick struct{}

// maxQuickDepth bounds nested template calls; text/template's own bound
// (100,000) is for it to report.
const maxQuickDepth = 1000

// quickFuncs returns the functions of maps, later maps overriding earlier
// ones as Template.Funcs does, as quickRender calls them.
func quickFuncs(maps ...map[string]any) map[string]reflect.Value {
	funcs := map[string]reflect.Value{}
	for _, m := range maps {
		for name, fn := range m {
			funcs[name] = reflect.ValueOf(fn)
		}
	}
	return funcs
}

// walk renders node; dot is `.` and root `$`.
func (q *quick) walk(dot, root reflect.Value, node parse.Node) {
	switch node := node.(type) {
	case *parse.ListNode:
		for _, n := range node.Nodes {
			q.walk(dot, root, n)
		}
	case *parse.TextNode:
		q.buf.Write(node.Text)
	case *parse.CommentNode:
	case *parse.ActionNode:
		q.print(q.pipeline(dot, root, node.Pipe))
	case *parse.IfNode:
		q.ifOrWith(false, dot, root, &node.BranchNode)
	case *parse.WithNode:
		q.ifOrWith(true, dot, root, &node.BranchNode)
	case *parse.RangeNode:
		q.rangeOver(dot, root, node)
	case *parse.TemplateNode:
		q.template(dot, root, node)
	default:
		panic(notQuick{})
	}
}

// ifOrWith renders an if (with false) or a with (true).
func (q *quick) ifOrWith(with bool, dot, root reflect.Value, b *parse.BranchNode) {
	v := q.pipeline(dot, root, b.Pipe)
	switch {
	case truth(v) && with:
		q.walk(v, root, b.List)
	case truth(v):
		q.walk(dot, root, b.List)
	case b.ElseList != nil:
		q.walk(dot, root, b.ElseList)
	}
}

// rangeOver renders a range over a slice or an array; over anything else,
// text/template renders.
func (q *quick) rangeOver(dot, root reflect.Value, r *parse.RangeNode) {
	v := indirect(q.pipeline(dot, root, r.Pipe))
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		if v.Len() > 0 {
			for i := 0; i < v.Len(); i++ { // as text/template: a func may grow the slice
				q.walk(v.Index(i), root, r.List)
			}
			return
		}
	case reflect.Invalid:
	default:
		panic(notQuick{})
	}
	if r.ElseList != nil {
		q.walk(dot, root, r.ElseList)
	}
}

// template renders a template call: the template named, with the
// pipeline's value as both `.` and `$`.
func (q *quick) template(dot, root reflect.Value, t *parse.TemplateNode) {
	tmpl := q.set.Lookup(t.Name)
	if tmpl == nil || tmpl.Tree == nil || tmpl.Root == nil || q.depth == maxQuickDepth {
		panic(notQuick{})
	}
	v := q.pipeline(dot, root, t.Pipe)
	q.depth++
	q.walk(v, v, tmpl.Root)
	q.depth--
}

// pipeline evaluates a pipeline of one command that declares no variable.
// Like text/template, it returns what an empty interface holds, not the
// interface.
func (q *quick) pipeline(dot, root reflect.Value, pipe *parse.PipeNode) reflect.Value {
	if pipe == nil {
		return reflect.Value{}
	}
	if len(pipe.Decl) > 0 || len(pipe.Cmds) != 1 {
		panic(notQuick{})
	}
	cmd := pipe.Cmds[0]
	var v reflect.Value
	if fn, ok := cmd.Args[0].(*parse.IdentifierNode); ok {
		v = q.call(dot, root, fn.Ident, cmd.Args[1:])
	} else if len(cmd.Args) == 1 {
		v = q.operand(dot, root, cmd.Args[0])
	} else {
		panic(notQuick{}) // a method call, or arguments to what is not a function
	}
	if v.Kind() == reflect.Interface && v.Type().NumMethod() == 0 {
		v = v.Elem()
	}
	return v
}

// operand evaluates `.`, a field chain of `.` or of `$`, or a
// parenthesized pipeline. A reflect.Value it leaves to text/template,
// which passes what it holds to functions.
func (q *quick) operand(dot, root reflect.Value, n parse.Node) reflect.Value {
	var v reflect.Value
	switch n := n.(type) {
	case *parse.DotNode:
		v = dot
	case *parse.FieldNode:
		v = fields(dot, n.Ident)
	case *parse.VariableNode:
		if n.Ident[0] != "$" {
			panic(notQuick{})
		}
		v = fields(root, n.Ident[1:])
	case *parse.PipeNode:
		v = q.pipeline(dot, root, n)
	default:
		panic(notQuick{})
	}
	if v.IsValid() && v.Type() == reflectValueType {
		panic(notQuick{})
	}
	return v
}

// call calls the function name with args: text/template's not, or a func
// of the template's, which returns one value or a value and a nil error.
func (q *quick) call(dot, root reflect.Value, name string, args []parse.Node) reflect.Value {
	fn, ok := q.funcs[name]
	if !ok {
		if name == "not" && len(args) == 1 {
			return reflect.ValueOf(!truth(q.operand(dot, root, args[0])))
		}
		panic(notQuick{})
	}
	t := fn.Type()
	if t.IsVariadic() || t.NumIn() != len(args) || t.NumOut() == 0 || t.NumOut() > 2 ||
		t.NumOut() == 2 && t.Out(1) != errorType || t.Out(0) == reflectValueType {
		panic(notQuick{})
	}
	var in [4]reflect.Value
	if len(args) > len(in) {
		panic(notQuick{})
	}
	for i, arg := range args {
		want := t.In(i)
		var v reflect.Value
		if s, ok := arg.(*parse.StringNode); ok && want.Kind() == reflect.String {
			v = reflect.New(want).Elem()
			v.SetString(s.Text)
		} else {
			v = q.operand(dot, root, arg)
		}
		if !v.IsValid() || !v.Type().AssignableTo(want) {
			panic(notQuick{})
		}
		in[i] = v
	}
	out := fn.Call(in[:len(args)])
	if len(out) == 2 && !out[1].IsNil() {
		panic(notQuick{}) // text/template reports the error
	}
	return out[0]
}

// print writes v as text/template's fmt.Fprint would: strings, integers
// and booleans of types without methods (no String or Error to call).
func (q *quick) print(v reflect.Value) {
	if !v.IsValid() || !printsPlainly(v.Type()) {
		panic(notQuick{})
	}
	switch v.Kind() {
	case reflect.String:
		q.buf.WriteString(v.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		q.buf.Write(strconv.AppendInt(q.buf.AvailableBuffer(), v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		q.buf.Write(strconv.AppendUint(q.buf.AvailableBuffer(), v.Uint(), 10))
	case reflect.Bool:
		q.buf.WriteString(strconv.FormatBool(v.Bool()))
	default:
		panic(notQuick{})
	}
}

// truth is text/template's truth of an if, with or not: empty values are
// false, structs true.
func truth(v reflect.Value) bool {
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return false
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Invalid:
		return false
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() > 0
	case reflect.Bool:
		return v.Bool()
	case reflect.Chan, reflect.Func, reflect.Pointer, reflect.UnsafePointer, reflect.Interface:
		return !v.IsNil()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() != 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() != 0
	case reflect.Float32, reflect.Float64:
		return v.Float() != 0
	case reflect.Complex64, reflect.Complex128:
		return v.Complex() != 0
	case reflect.Struct:
		return true
	}
	panic(notQuick{}) // text/template reports it
}

// indirect follows pointers and interfaces to the value they hold; a nil
// one is for text/template to report.
func indirect(v reflect.Value) reflect.Value {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			panic(notQuick{})
		}
		v = v.Elem()
	}
	return v
}

// fields evaluates the field chain names of v.
func fields(v reflect.Value, names []string) reflect.Value {
	for _, name := range names {
		v = indirect(v)
		if v.Kind() != reflect.Struct {
			panic(notQuick{}) // a map, a method of a non-struct, or an error
		}
		for _, i := range fieldIndex(v.Type(), name) {
			v = indirect(v).Field(i)
		}
	}
	return v
}

// typeName is a name looked up in a type.
type typeName struct {
	t    reflect.Type
	name string
}

// typeFacts is what quickRender learned of types, kept for the life of the
// process: a few entries for each field name the templates read.
type typeFacts struct {
	// fields are fieldIndex's answers; nil where quickRender reads no field.
	fields map[typeName][]int
	// plain are printsPlainly's answers.
	plain map[reflect.Type]bool
}

// known holds the typeFacts, replaced whole under knownMu when a render
// learns something, so that renders read it without a lock.
var (
	known   atomic.Pointer[typeFacts]
	knownMu sync.Mutex
)

// fieldIndex returns the index path of the exported field name of the
// struct type t, which neither t nor *t has a method of that name (text/
// template would call it). Where there is none, text/template renders.
func fieldIndex(t reflect.Type, name string) []int {
	index, ok := known.Load().fields[typeName{t, name}]
	if !ok {
		_, method := reflect.PointerTo(t).MethodByName(name)
		if f, found := t.FieldByName(name); found && f.IsExported() && !method {
			index = f.Index
		}
		// A name is a substring of its template's source: copied, so that
		// the cache does not keep a template file of an old reload.
		learn(func(f *typeFacts) { f.fields[typeName{t, strings.Clone(name)}] = index })
	}
	if index == nil {
		panic(notQuick{})
	}
	return index
}

// printsPlainly reports whether neither t nor *t has methods, so that fmt
// prints a t by its kind alone.
func printsPlainly(t reflect.Type) bool {
	switch t {
	case stringType, intType, boolType:
		return true
	}
	plain, ok := known.Load().plain[t]
	if !ok {
		plain = reflect.PointerTo(t).NumMethod() == 0
		learn(func(f *typeFacts) { f.plain[t] = plain })
	}
	return plain
}

// learn replaces known with a copy that add changed.
func learn(add func(*typeFacts)) {
	knownMu.Lock()
	defer knownMu.Unlock()
	old := known.Load()
	f := &typeFacts{fields: maps.Clone(old.fields), plain: maps.Clone(old.plain)}
	add(f)
	known.Store(f)
}

func init() {
	known.Store(&typeFacts{fields: map[typeName][]int{}, plain: map[reflect.Type]bool{}})
}

var (
	errorType        = reflect.TypeFor[error]()
	reflectValueType = reflect.TypeFor[reflect.Value]()
	stringType       = reflect.TypeFor[string]()
	intType          = reflect.TypeFor[int]()
	boolType         = reflect.TypeFor[bool]()
)
