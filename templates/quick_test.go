package templates

import (
	"bytes"
	"errors"
	tmplhtml "html/template"
	"reflect"
	"strings"
	"testing"
	tmpltext "text/template"
	"unsafe"

	"github.com/prometheus/alertmanager/template"
)

// TestQuickRendersTheDefaults renders every default message over every
// real payload, and over data that takes their other branches, both ways:
// quickRender must render them all, as text/template does.
func TestQuickRendersTheDefaults(t *testing.T) {
	tmpl := mustLoad(t)
	var texts []string
	for _, lang := range []string{"en", "zh"} {
		for _, msgtype := range []string{"markdown", "markdown_v2", "text"} {
			texts = append(texts, DefaultMessage(msgtype, lang), DigestMessage(msgtype, lang))
		}
		texts = append(texts, MentionMessage(lang))
	}
	variants := map[string]func(d *Data){
		"as is": func(*Data) {},
		"left out, no responders, UTC": func(d *Data) {
			d.TruncatedAlerts, d.Mentions, d.InlineMentions, d.TimeZone = 3, "", nil, ""
		},
		"no common labels, annotations or URL": func(d *Data) {
			d.CommonLabels, d.CommonAnnotations, d.ExternalURL = nil, nil, ""
			d.FiringTotal = 7
		},
	}
	for _, p := range payloads {
		for variant, change := range variants {
			for _, text := range texts {
				d := testData(loadPayload(t, p))
				change(d)
				c, err := tmpl.compile(text)
				if err != nil {
					t.Fatal(err)
				}
				var quick, slow bytes.Buffer
				if !quickRender(&quick, c.tmpl, renderFuncs, d) {
					t.Errorf("%s, %s, %s: quickRender left it to text/template", p, variant, text)
					continue
				}
				if err := c.tmpl.Execute(&slow, d); err != nil {
					t.Fatal(err)
				}
				if quick.String() != slow.String() {
					t.Errorf("%s, %s, %s:\nquick %q\ntext/template %q", p, variant, text, quick.String(), slow.String())
				}
			}
		}
	}
}

// TestExecuteLeavesToTextTemplate: a template quickRender cannot render
// renders through text/template, from then on without trying quickRender
// again; the defaults stay on quickRender.
func TestExecuteLeavesToTextTemplate(t *testing.T) {
	tmpl := mustLoad(t)
	d := testData(loadPayload(t, "firing-two-alerts"))
	for _, tc := range []struct {
		text, want string
		slow       bool
	}{
		{DefaultMessage("markdown", "en"), "## <font color=\"warning\">[FIRING:2] MySQLReplicationLag</font>", false},
		{`{{ .CommonLabels.alertname }} {{ len .Alerts }}`, "MySQLReplicationLag 2", true},
	} {
		for range 2 {
			got, err := tmpl.Execute(tc.text, d)
			if err != nil || !strings.HasPrefix(got, tc.want) {
				t.Errorf("%s: got %q, %v; want it to start %q", tc.text, got, err, tc.want)
			}
		}
		c, err := tmpl.compile(tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if c.slow.Load() != tc.slow {
			t.Errorf("%s: left to text/template %v, want %v", tc.text, c.slow.Load(), tc.slow)
		}
	}
}

// TestRenderFuncsAsAlertmanagerAddsThem: where a function of Funcs and
// one of Alertmanager's have the same name, Alertmanager's template
// calls Alertmanager's, and renderFuncs must too.
func TestRenderFuncsAsAlertmanagerAddsThem(t *testing.T) {
	mine := map[string]any{"toUpper": func(string) string { return "mine" }}
	var text *tmpltext.Template
	if _, err := template.New(func(tt *tmpltext.Template, ht *tmplhtml.Template) {
		text = tt
		tt.Funcs(mine)
		ht.Funcs(mine)
	}); err != nil {
		t.Fatal(err)
	}
	tmpl := tmpltext.Must(text.New("").Parse(`{{ toUpper "a" }}`))
	var slow, quick bytes.Buffer
	if err := tmpl.Execute(&slow, nil); err != nil {
		t.Fatal(err)
	}
	if !quickRender(&quick, tmpl, quickFuncs(mine, template.DefaultFuncs), nil) || quick.String() != slow.String() {
		t.Errorf("quick %q, text/template %q", quick.String(), slow.String())
	}
	for name, fn := range template.DefaultFuncs {
		if renderFuncs[name].Pointer() != reflect.ValueOf(fn).Pointer() {
			t.Errorf("renderFuncs[%q] is not Alertmanager's", name)
		}
	}
}

// TestQuickCacheKeepsNoTemplateText: the field names quickRender caches
// are copies, not substrings of a template's source, which would keep the
// file of every reload that named a new field.
func TestQuickCacheKeepsNoTemplateText(t *testing.T) {
	source := "{{ .Name }}" + strings.Repeat(" ", 1<<16)
	tmpl := tmpltext.Must(tmpltext.New("").Parse(source))
	type fresh struct{ Name string } // a type of this test's alone: not cached yet
	var buf bytes.Buffer
	if !quickRender(&buf, tmpl, nil, fresh{Name: "x"}) {
		t.Fatal("not rendered")
	}
	start := uintptr(unsafe.Pointer(unsafe.StringData(source)))
	for key := range known.Load().fields {
		if key.t == reflect.TypeFor[fresh]() {
			if at := uintptr(unsafe.Pointer(unsafe.StringData(key.name))); at >= start && at < start+uintptr(len(source)) {
				t.Errorf("the cached name %q is in the template's source", key.name)
			}
			return
		}
	}
	t.Error("the field was not cached")
}

// quickData has a field for each case quickRender renders or leaves to
// text/template.
type quickData struct {
	S, Empty   string
	Label      quickLabel
	Str        quickStringer
	PtrStr     quickPtrStringer
	N, Zero    int
	U          uint8
	I8         int8
	F          float64
	B, NotB    bool
	Items      []quickItem
	NoItems    []quickItem
	Arr        [2]quickItem
	P, NilP    *quickItem
	PItems     *[]quickItem
	Any        any
	AnyItem    any
	NilAny     any
	Err        error
	M          map[string]string
	Fn         func() string
	Complex    complex128
	RV         reflect.Value
	RVs        []reflect.Value
	O          quickOuter
	PL         quickPtrLabel
	quickEmbed // Deep
	*quickGone // nil: Gone
	hidden     string
}

type quickItem struct {
	Name string
	N    int
	On   bool
	Tags []string
}

type quickEmbed struct{ Deep string }

// quickOuter has a method Name and, promoted from quickInner, a field
// Name: text/template calls the method.
type quickOuter struct{ quickInner }

type quickInner struct{ Name string }

func (quickOuter) Name() string { return "method" }

// quickPtrLabel prints by its String method when addressable, as a field
// of data passed by pointer is.
type quickPtrLabel string

func (p *quickPtrLabel) String() string { return "P" }

type quickGone struct{ Gone string }

// quickLabel prints as a string: it has no methods.
type quickLabel string

// quickStringer prints by its String method.
type quickStringer string

func (s quickStringer) String() string { return "S(" + string(s) + ")" }

// quickPtrStringer prints by its String method when addressable.
type quickPtrStringer struct{ X string }

func (p *quickPtrStringer) String() string { return "P(" + p.X + ")" }

func (quickData) Method() string     { return "method" }
func (*quickData) PtrMethod() string { return "ptr method" }

func newQuickData() *quickData {
	items := []quickItem{{Name: "a", N: 1, On: true, Tags: []string{"x", "y"}}, {Name: "b"}}
	return &quickData{
		S: "s<@x>", Label: "label", Str: "str", PtrStr: quickPtrStringer{"p"},
		N: 42, U: 7, I8: -3, F: 1.5, B: true,
		Items: items, Arr: [2]quickItem{{Name: "arr0"}, {Name: "arr1", On: true}},
		P: &quickItem{Name: "pointed", N: -1}, PItems: &items,
		Any: "any", AnyItem: quickItem{Name: "in any"}, Err: nil,
		M: map[string]string{"k": "v"}, Fn: func() string { return "fn" }, Complex: 1i,
		RV: reflect.ValueOf(""), RVs: []reflect.Value{{}, reflect.ValueOf(0)},
		O: quickOuter{quickInner{Name: "field"}}, PL: "raw",
		quickEmbed: quickEmbed{Deep: "deep"}, hidden: "hidden",
	}
}

// quickVariants are the data FuzzQuickRender renders templates over.
var quickVariants = []func() any{
	func() any { return newQuickData() },
	func() any { d := newQuickData(); return *d }, // a struct, not addressable
	func() any { // nil and empty where newQuickData has values
		return &quickData{Items: []quickItem{{}}, Any: (*quickItem)(nil), AnyItem: []quickItem{}, Err: errors.New("err")}
	},
	func() any { return reflect.ValueOf(newQuickData()) },
	func() any { return nil },
}

// quickFuncMap has a func for each kind of call.
var quickFuncMap = tmpltext.FuncMap{
	"up":    strings.ToUpper,
	"pair":  func(a, b string) string { return a + "+" + b },
	"label": func(l quickLabel) string { return "L:" + string(l) },
	"item":  func(d *quickData) quickItem { return d.Items[0] },
	"nth": func(items []quickItem, n int) (*quickItem, error) {
		if n < 0 || n >= len(items) {
			return nil, errors.New("no such item")
		}
		return &items[n], nil
	},
	"fail":       func() (string, error) { return "", errors.New("failed") },
	"boom":       func() string { panic("boom") },
	"any":        func(v any) string { return "any" },
	"many":       func(s ...string) string { return strings.Join(s, ",") },
	"value":      func() reflect.Value { return reflect.ValueOf("value") },
	"emptyValue": func() reflect.Value { return reflect.ValueOf("") },
	"five":       func(a, b, c, d, e string) string { return a + b + c + d + e },
	"grow": func(d *quickData) string { // changes the data it renders
		if len(d.Items) < 4 {
			d.Items = append(d.Items, quickItem{Name: "grown"})
		}
		return ""
	},
}

// quickCases are templates for quickData, and whether quickRender renders
// them (the rest it must leave to text/template).
var quickCases = []struct {
	text  string
	quick bool
}{
	{`{{ .S }}|{{ .Empty }}|{{ .Label }}|{{ .N }}|{{ .Zero }}|{{ .U }}|{{ .I8 }}|{{ .B }}|{{ .NotB }}`, true},
	{`{{ .P.Name }}{{ .P.N }}{{ .Deep }}{{ .Any }}{{ .AnyItem.Name }}{{ $.P.Name }}`, true},
	{`{{ if .S }}yes{{ else }}no{{ end }}{{ if .Empty }}yes{{ else if .N }}n{{ end }}`, true},
	{`{{ if .Items }}i{{ end }}{{ if .NoItems }}n{{ end }}{{ if .P }}p{{ end }}{{ if .NilP }}np{{ end }}{{ if .Any }}a{{ end }}{{ if .NilAny }}na{{ end }}{{ if .Err }}e{{ end }}{{ if .Arr }}arr{{ end }}{{ if .PtrStr }}s{{ end }}{{ if .M }}m{{ end }}{{ if .Fn }}f{{ end }}{{ if .F }}fl{{ end }}{{ if .Complex }}c{{ end }}{{ if .U }}u{{ end }}`, true},
	{`{{ with .P }}{{ .Name }}{{ $.S }}{{ end }}{{ with .Empty }}x{{ else }}empty{{ end }}{{ with .NilP }}{{ else with .S }}{{ . }}{{ end }}`, true},
	{`{{ range .Items }}[{{ .Name }}{{ range .Tags }}{{ . }}{{ end }}{{ $.N }}]{{ else }}none{{ end }}{{ range .NoItems }}x{{ else }}none{{ end }}`, true},
	{`{{ range .Arr }}{{ .Name }}{{ end }}{{ range .PItems }}{{ .Name }}{{ end }}{{ range .NilAny }}x{{ else }}nothing{{ end }}`, true},
	{`{{ not .S }}{{ not .Empty }}{{ not .Items }}{{ not .NilAny }}{{ not .P }}{{ not (up .Empty) }}`, true},
	{`{{ up .S }}{{ pair .S "b" }}{{ label .Label }}{{ label "lit" }}{{ any .S }}{{ any .Label }}`, true},
	{`{{ define "t" }}<{{ .Name }}>{{ end }}{{ template "t" .P }}{{ range .Items }}{{ template "t" . }}{{ end }}{{ template "t" (item .) }}`, true},
	{`{{ define "r" }}{{ with .Tags }}{{ template "r" $ }}{{ end }}{{ end }}{{ define "s" }}{{ range .Items }}{{ template "s2" . }}{{ end }}{{ end }}{{ define "s2" }}{{ .Name }}{{ end }}{{ template "s" . }}`, true},
	{`{{- /* a comment */ -}} text {{- .S -}} text`, true},
	{`{{ range .Items }}{{ .Name }}{{ grow $ }}{{ end }}`, true}, // the range sees the slice grow
	// Values fmt prints by a method or in its own way.
	{`{{ .Str }}`, false}, {`{{ .PtrStr }}`, false}, {`{{ .F }}`, false}, {`{{ .Complex }}`, false},
	{`{{ . }}`, false}, {`{{ $ }}`, false}, {`{{ .P }}`, false}, {`{{ .Items }}`, false}, {`{{ .NilAny }}`, false},
	{`{{ .Err }}`, false}, {`{{ .M }}`, false}, {`{{ .Fn }}`, false}, {`{{ value }}`, false},
	// reflect.Values, which text/template unwraps as it passes them.
	{`{{ not .RV }}`, false}, {`{{ range .RVs }}{{ not . }}{{ end }}`, false}, {`{{ if .RV }}x{{ end }}`, false},
	{`{{ if emptyValue }}yes{{ else }}no{{ end }}`, false},
	// A method that shadows a promoted field; a String method of the pointer.
	{`{{ .O.Name }}`, false}, {`{{ .PL }}`, false},
	// Methods, maps, unexported or missing fields, nil pointers.
	{`{{ .Method }}`, false}, {`{{ .PtrMethod }}`, false}, {`{{ .M.k }}`, false}, {`{{ .hidden }}`, false},
	{`{{ if .quickEmbed }}s{{ end }}`, false}, {`{{ .Missing }}`, false}, {`{{ not .Missing }}`, false},
	{`{{ .NilP.Name }}`, false}, {`{{ .Gone }}`, false}, {`{{ .Str.X }}`, false},
	// Ranges over what is not a slice, and with variables or break.
	{`{{ range .M }}{{ . }}{{ end }}`, false}, {`{{ range .N }}{{ . }}{{ end }}`, false}, {`{{ range .NilP }}{{ end }}`, false},
	{`{{ range $i, $e := .Items }}{{ $i }}{{ end }}`, false}, {`{{ range .Items }}{{ break }}{{ end }}`, false},
	// Calls quickRender leaves to text/template, or that fail.
	{`{{ not "s" }}`, false}, {`{{ (nth .Items 1).Name }}`, false}, {`{{ with (nth .Items 1) }}{{ .Name }}{{ end }}`, false}, {`{{ nth .Items 5 }}`, false},
	{`{{ fail }}`, false}, {`{{ boom }}`, false}, {`{{ many "a" "b" }}`, false}, {`{{ five "a" "b" "c" "d" "e" }}`, false},
	{`{{ up .N }}`, false}, {`{{ up }}`, false}, {`{{ pair .S }}`, false}, {`{{ up nil }}`, false}, {`{{ label .S }}`, false},
	{`{{ index .Items 0 }}`, false}, {`{{ len .Items }}`, false}, {`{{ printf "%d" .N }}`, false}, {`{{ and .S .N }}`, false},
	// Pipelines, variables, constants, chains.
	{`{{ .S | up }}`, false}, {`{{ $x := .S }}{{ $x }}`, false}, {`{{ "lit" }}`, false}, {`{{ 1 }}`, false},
	{`{{ true }}`, false}, {`{{ nil }}`, false}, {`{{ (.P).Name }}`, false},
	// Template calls.
	{`{{ define "n" }}{{ . }}{{ end }}{{ template "n" }}`, false}, {`{{ template "undefined" . }}`, false},
	{`{{ define "loop" }}{{ template "loop" . }}{{ end }}{{ template "loop" . }}`, false},
}

// TestQuickMatchesTextTemplate renders quickCases both ways: what
// quickRender renders, text/template must render the same, without error;
// the rest quickRender must leave as it found it.
func TestQuickMatchesTextTemplate(t *testing.T) {
	for _, tc := range quickCases {
		if got := quickMatchesOver(t, tc.text, func() any { return newQuickData() }); got != tc.quick {
			t.Errorf("%s: quickRender rendered it: %v, want %v", tc.text, got, tc.quick)
		}
	}
}

// quickMatchesOver renders text both ways over the data newData returns,
// anew for each rendering, failing t if they differ, and reports whether
// quickRender rendered it.
func quickMatchesOver(t *testing.T, text string, newData func() any) bool {
	tmpl, err := tmpltext.New("").Option("missingkey=zero").Funcs(quickFuncMap).Parse(text)
	if err != nil {
		return false
	}
	var slow bytes.Buffer
	slowErr := func() (err error) {
		defer func() {
			if r := recover(); r != nil { // a stack overflow is fatal; text/template panics on little else
				err = errors.New("panic")
			}
		}()
		return tmpl.Execute(&slow, newData())
	}()
	quick := bytes.NewBufferString("before|")
	ok := quickRender(quick, tmpl, quickFuncs(quickFuncMap), newData())
	switch {
	case !ok && quick.String() != "before|":
		t.Errorf("%s: quickRender gave up but left %q", text, quick.String())
	case ok && slowErr != nil:
		t.Errorf("%s: quickRender rendered %q, text/template failed: %v", text, quick.String(), slowErr)
	case ok && quick.String() != "before|"+slow.String():
		t.Errorf("%s:\nquick %q\ntext/template %q", text, strings.TrimPrefix(quick.String(), "before|"), slow.String())
	}
	return ok
}

// FuzzQuickRender holds quickRender to text/template on templates built
// from the fuzzer's bytes (see quickTemplate), over each of quickVariants.
func FuzzQuickRender(f *testing.F) {
	for _, seed := range []string{"", "\x01\x02\x03", "\x02\x04\x05\x06\x07\x08", "\x03\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10",
		"\x00\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a", "\x04\x05\x05\x05\x05\x05\x05"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, program []byte) {
		variant := 0
		if len(program) > 0 {
			variant, program = int(program[0])%len(quickVariants), program[1:]
		}
		quickMatchesOver(t, quickTemplate(program), quickVariants[variant])
	})
}

// quickOperands are what quickTemplate's actions evaluate: those
// quickRender evaluates, and those it leaves to text/template.
var quickOperands = struct{ quick, slow []string }{
	quick: []string{".", "$", ".S", ".Empty", ".Label", ".N", ".Zero", ".U", ".I8", ".B", ".NotB", ".Items",
		".NoItems", ".Arr", ".P", ".NilP", ".P.Name", ".PItems", ".Any", ".AnyItem", ".AnyItem.Name",
		".NilAny", ".Err", ".Deep", ".Name", ".Tags", ".On", "$.S", "$.Items", "$.N", "$.P.N", "(item .)",
		"(up .S)", "(up .Name)", "(not .)", "(not .Items)", "(label .Label)", "(any .)", `(pair .S "b")`, "(grow $)"},
	slow: []string{".Str", ".PtrStr", ".F", ".M", ".M.k", ".Fn", ".Missing", ".Method", ".PtrMethod",
		".RV", ".RVs", ".Complex", ".Gone", ".NilP.Name", `"lit"`, "1", "nil", "(fail)", "(.P)", ".S | up",
		"(nth .Items 9)", "(value)", "(boom)", "(many .S)", "(index .Items 0)"},
}

// quickTemplate writes the template the bytes of program choose: text,
// actions, if, with and range (with else, else if, else with), not,
// calls, variables, break, and calls of a template "sub", over operands
// mostly of those quickRender evaluates, so that most templates parse and
// many render to their end.
func quickTemplate(program []byte) string {
	var b strings.Builder
	i := 0
	next := func(n int) int {
		if i >= len(program) {
			return 0
		}
		i++
		return int(program[i-1]) % n
	}
	operand := func(declared bool) string {
		switch next(8) {
		case 0:
			return quickOperands.slow[next(len(quickOperands.slow))]
		case 1:
			if declared {
				return "$x"
			}
		}
		return quickOperands.quick[next(len(quickOperands.quick))]
	}
	// block writes a list of nodes; "sub" calls no template, so that
	// nothing recurses, and break stands only in a range.
	var block func(depth int, inSub, inRange, declared bool)
	block = func(depth int, inSub, inRange, declared bool) {
		for n := next(4) + 1; n > 0 && i < len(program); n-- {
			switch next(12) {
			case 0:
				b.WriteString("t")
			case 1, 2:
				b.WriteString("{{ " + operand(declared) + " }}")
			case 3, 4, 5:
				kind := []string{"if", "with", "range"}[next(3)]
				b.WriteString("{{ " + kind + " " + operand(declared) + " }}")
				if depth < 3 {
					block(depth+1, inSub, inRange || kind == "range", declared)
				}
				switch next(4) {
				case 1:
					b.WriteString("{{ else }}")
					block(depth+1, inSub, inRange, declared)
				case 2:
					if kind != "range" {
						b.WriteString("{{ else " + kind + " " + operand(declared) + " }}")
						block(depth+1, inSub, inRange, declared)
					}
				}
				b.WriteString("{{ end }}")
			case 6:
				if !inSub {
					b.WriteString(`{{ template "sub" ` + []string{"", operand(declared)}[next(2)] + ` }}`)
				}
			case 7:
				b.WriteString("{{ not " + operand(declared) + " }}")
			case 8:
				b.WriteString("{{ $x := " + operand(declared) + " }}")
				declared = true
			case 9:
				b.WriteString("{{ " + []string{"up", "label", "any", "item", "grow"}[next(5)] + " " + operand(declared) + " }}")
			case 10:
				if inRange {
					b.WriteString([]string{"{{ break }}", "{{ continue }}"}[next(2)])
				}
			case 11:
				b.WriteString("\n")
			}
		}
	}
	b.WriteString(`{{ define "sub" }}`)
	block(0, true, false, false)
	b.WriteString(`{{ end }}`)
	block(0, false, false, false)
	return b.String()
}

// BenchmarkQuickRender renders the default markdown message both ways.
// Run: go test -run '^$' -bench Render -benchmem ./templates
func BenchmarkQuickRender(b *testing.B) {
	tmpl := mustLoad(b)
	d := testData(loadPayload(b, "firing-two-alerts"))
	c, err := tmpl.compile(DefaultMessage("markdown", "en"))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.Run("quick", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if !quickRender(&buf, c.tmpl, renderFuncs, d) {
				b.Fatal("not rendered")
			}
		}
	})
	b.Run("text/template", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := c.tmpl.Execute(&buf, d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
