package receiver

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/prometheus/alertmanager/template"
)

// decodePayload decodes an Alertmanager webhook body into n, exactly as
// encoding/json's Unmarshal would (FuzzDecodePayload holds it to that:
// the same documents refused, the same values for the rest), in a quarter
// of the time: it knows the payload's fields, so it neither reflects nor
// validates the document in a separate pass. Unknown fields are skipped,
// field names match case-insensitively, a repeated field decodes again
// into what the first left, and strings get invalid UTF-8 replaced, all
// as encoding/json does.
func decodePayload(data []byte, n *Notification) error {
	d := &payloadDecoder{data: data, text: string(data)}
	d.space()
	if d.literal("null") {
		// encoding/json leaves the target as it is.
	} else if err := d.notification(n); err != nil {
		return err
	}
	d.space()
	if d.pos < len(d.data) {
		return d.syntaxError("after top-level value")
	}
	return nil
}

// payloadDecoder reads one JSON document.
type payloadDecoder struct {
	data []byte
	// text is data as a string, copied once: a string value or key without
	// escapes is a substring of it (see own) rather than an allocation of
	// its own. Nothing the receiver keeps past a request holds one.
	text  string
	pos   int
	depth int
	// typeErr is the first value of the wrong type: like encoding/json,
	// decoding goes on (the document must still be valid JSON) and the
	// error is returned at the end.
	typeErr error
}

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

func (d *payloadDecoder) syntaxError(context string) error {
	if d.pos >= len(d.data) {
		return errors.New("unexpected end of JSON input")
	}
	return fmt.Errorf("invalid character %q %s at offset %d", d.data[d.pos], context, d.pos)
}

func (d *payloadDecoder) wrongType(field, want string) {
	if d.typeErr == nil {
		d.typeErr = fmt.Errorf("cannot decode a JSON %s into %s (%s)", d.kind(), field, want)
	}
}

// kind names the JSON value at pos, for errors.
func (d *payloadDecoder) kind() string {
	if d.pos >= len(d.data) {
		return "value"
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	case c == 't' || c == 'f':
		return "bool"
	case c == 'n':
		return "null"
	default:
		return "number"
	}
}

func (d *payloadDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// literal consumes lit (true, false, null) when it is next.
func (d *payloadDecoder) literal(lit string) bool {
	if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
		d.pos += len(lit)
		return true
	}
	return false
}

func (d *payloadDecoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// object decodes an object, calling field for each member with the
// decoder at the member's value, which field must consume. name is only
// valid during the call.
func (d *payloadDecoder) object(field func(name []byte) error) error {
	if d.depth++; d.depth > maxDepth {
		return errors.New("exceeded max depth")
	}
	d.pos++ // '{'
	d.space()
	if d.peek() == '}' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		d.space()
		if d.peek() != '"' {
			return d.syntaxError("looking for beginning of object key string")
		}
		name, err := d.stringBytes()
		if err != nil {
			return err
		}
		d.space()
		if d.peek() != ':' {
			return d.syntaxError("after object key")
		}
		d.pos++
		d.space()
		if err := field(name); err != nil {
			return err
		}
		d.space()
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			d.depth--
			return nil
		default:
			return d.syntaxError("after object key:value pair")
		}
	}
}

// array decodes an array, calling elem for each element with the decoder
// at it, which elem must consume.
func (d *payloadDecoder) array(elem func(i int) error) error {
	if d.depth++; d.depth > maxDepth {
		return errors.New("exceeded max depth")
	}
	d.pos++ // '['
	d.space()
	if d.peek() == ']' {
		d.pos++
		d.depth--
		return nil
	}
	for i := 0; ; i++ {
		d.space()
		if err := elem(i); err != nil {
			return err
		}
		d.space()
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			return nil
		default:
			return d.syntaxError("after array element")
		}
	}
}

// skip consumes any value.
func (d *payloadDecoder) skip() error {
	switch c := d.peek(); {
	case c == '{':
		return d.object(func([]byte) error { return d.skip() })
	case c == '[':
		return d.array(func(int) error { return d.skip() })
	case c == '"':
		_, err := d.stringBytes()
		return err
	case c == 't':
		return d.expectLiteral("true")
	case c == 'f':
		return d.expectLiteral("false")
	case c == 'n':
		return d.expectLiteral("null")
	case c == '-' || c >= '0' && c <= '9':
		_, err := d.number()
		return err
	}
	return d.syntaxError("looking for beginning of value")
}

func (d *payloadDecoder) expectLiteral(lit string) error {
	if d.literal(lit) {
		return nil
	}
	// Point at the first byte that differs.
	for i := 0; i < len(lit) && d.pos < len(d.data) && d.data[d.pos] == lit[i]; i++ {
		d.pos++
	}
	return d.syntaxError("in literal " + lit)
}

// number consumes a number and returns its text.
func (d *payloadDecoder) number() (string, error) {
	start := d.pos
	if d.peek() == '-' {
		d.pos++
	}
	switch c := d.peek(); {
	case c == '0':
		d.pos++
	case c >= '1' && c <= '9':
		d.digits()
	default:
		return "", d.syntaxError("in numeric literal")
	}
	if d.peek() == '.' {
		d.pos++
		if c := d.peek(); c < '0' || c > '9' {
			return "", d.syntaxError("after decimal point in numeric literal")
		}
		d.digits()
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.pos++
		if c := d.peek(); c == '+' || c == '-' {
			d.pos++
		}
		if c := d.peek(); c < '0' || c > '9' {
			return "", d.syntaxError("in exponent of numeric literal")
		}
		d.digits()
	}
	return string(d.data[start:d.pos]), nil
}

func (d *payloadDecoder) digits() {
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
}

// string consumes a string and returns its value: escapes resolved, a lone
// surrogate and each byte of invalid UTF-8 replaced by U+FFFD.
func (d *payloadDecoder) string() (string, error) {
	b, err := d.stringBytes()
	return d.own(b), err
}

// own returns b as a string: a substring of text when b is bytes of the
// document itself (as stringBytes returns a string without escapes), a
// copy otherwise.
func (d *payloadDecoder) own(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(d.data))))
	if off >= 0 && off+len(b) <= len(d.data) && &d.data[off] == &b[0] {
		return d.text[off : off+len(b)]
	}
	return string(b)
}

// stringBytes is string without the copy where the string needs no change:
// the bytes returned may be the document's own.
func (d *payloadDecoder) stringBytes() ([]byte, error) {
	d.pos++ // '"'
	start := d.pos
	// The common case: no escapes, ASCII or valid UTF-8.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			d.pos++
			return d.data[start : d.pos-1], nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c < utf8.RuneSelf {
			d.pos++
			continue
		}
		r, size := utf8.DecodeRune(d.data[d.pos:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		d.pos += size
	}
	b := make([]byte, d.pos-start, d.pos-start+16)
	copy(b, d.data[start:d.pos])
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return b, nil
		case c < 0x20:
			return nil, d.syntaxError("in string literal")
		case c == '\\':
			d.pos++
			if d.pos >= len(d.data) {
				return nil, d.syntaxError("in string escape code")
			}
			switch e := d.data[d.pos]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := d.hex4(d.pos + 1)
				if !ok {
					return nil, d.syntaxError("in \\u hexadecimal character escape")
				}
				d.pos += 4
				if utf16.IsSurrogate(r) {
					// A pair makes one rune; anything else leaves U+FFFD and
					// is read on its own.
					if d.pos+2 < len(d.data) && d.data[d.pos+1] == '\\' && d.data[d.pos+2] == 'u' {
						if r2, ok := d.hex4(d.pos + 3); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								d.pos += 6
								b = utf8.AppendRune(b, dec)
								break
							}
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
			default:
				return nil, d.syntaxError("in string escape code")
			}
			d.pos++
		case c < utf8.RuneSelf:
			b = append(b, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, d.data[d.pos:d.pos+size]...)
			}
			d.pos += size
		}
	}
	return nil, d.syntaxError("in string literal")
}

// hex4 reads the four hex digits of a \u escape at i.
func (d *payloadDecoder) hex4(i int) (rune, bool) {
	if i+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// stringField decodes a string into dst; null leaves dst as it is.
func (d *payloadDecoder) stringField(dst *string, field string) error {
	switch d.peek() {
	case '"':
		s, err := d.string()
		if err != nil {
			return err
		}
		*dst = s
		return nil
	case 'n':
		return d.expectLiteral("null")
	}
	d.wrongType(field, "string")
	return d.skip()
}

// kv decodes an object of strings into dst, adding to the map already
// there; null empties dst.
func (d *payloadDecoder) kv(dst *template.KV, field string) error {
	switch d.peek() {
	case '{':
		if *dst == nil {
			*dst = template.KV{}
		}
		m := *dst
		return d.object(func(name []byte) error {
			var value string
			if err := d.stringField(&value, field); err != nil {
				return err
			}
			m[d.own(name)] = value
			return nil
		})
	case 'n':
		*dst = nil
		return d.expectLiteral("null")
	}
	d.wrongType(field, "object")
	return d.skip()
}

// timeField decodes an RFC 3339 time as time.Time's UnmarshalJSON does.
func (d *payloadDecoder) timeField(dst *time.Time, field string) error {
	switch d.peek() {
	case '"':
		start := d.pos
		if _, err := d.stringBytes(); err != nil {
			return err
		}
		if err := dst.UnmarshalJSON(d.data[start:d.pos]); err != nil && d.typeErr == nil {
			d.typeErr = fmt.Errorf("%s: %w", field, err)
		}
		return nil
	case 'n':
		return d.expectLiteral("null")
	}
	d.wrongType(field, "time")
	return d.skip()
}

// uintField decodes an unsigned integer.
func (d *payloadDecoder) uintField(dst *uint64, field string) error {
	switch c := d.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		lit, err := d.number()
		if err != nil {
			return err
		}
		v, err := strconv.ParseUint(lit, 10, 64)
		if err != nil {
			if d.typeErr == nil {
				d.typeErr = fmt.Errorf("cannot decode number %s into %s (uint64)", lit, field)
			}
			return nil
		}
		*dst = v
		return nil
	case c == 'n':
		return d.expectLiteral("null")
	}
	d.wrongType(field, "uint64")
	return d.skip()
}

func (d *payloadDecoder) notification(n *Notification) error {
	if d.peek() != '{' {
		kind := d.kind()
		if err := d.skip(); err != nil {
			return err
		}
		return fmt.Errorf("cannot decode a JSON %s into a notification, an object", kind)
	}
	err := d.object(func(name []byte) error {
		switch fold(name) {
		case "version":
			return d.stringField(&n.Version, "version")
		case "groupkey":
			return d.stringField(&n.GroupKey, "groupKey")
		case "truncatedalerts":
			return d.uintField(&n.TruncatedAlerts, "truncatedAlerts")
		case "receiver":
			return d.stringField(&n.Receiver, "receiver")
		case "status":
			return d.stringField(&n.Status, "status")
		case "notification_reason":
			return d.stringField(&n.NotificationReason, "notification_reason")
		case "externalurl":
			return d.stringField(&n.ExternalURL, "externalURL")
		case "grouplabels":
			return d.kv(&n.GroupLabels, "groupLabels")
		case "commonlabels":
			return d.kv(&n.CommonLabels, "commonLabels")
		case "commonannotations":
			return d.kv(&n.CommonAnnotations, "commonAnnotations")
		case "routelabels":
			return d.kv(&n.RouteLabels, "routeLabels")
		case "alerts":
			return d.alerts(&n.Alerts)
		}
		return d.skip()
	})
	if err != nil {
		return err
	}
	return d.typeErr
}

// alerts decodes the alerts array into dst the way encoding/json decodes
// into a slice: into the elements already there, growing it as needed.
func (d *payloadDecoder) alerts(dst *template.Alerts) error {
	switch d.peek() {
	case '[':
	case 'n':
		*dst = nil
		return d.expectLiteral("null")
	default:
		d.wrongType("alerts", "array")
		return d.skip()
	}
	alerts := *dst
	n := 0
	err := d.array(func(i int) error {
		if i >= cap(alerts) {
			grown := make(template.Alerts, len(alerts), max(4, cap(alerts)+cap(alerts)/2))
			copy(grown, alerts)
			alerts = grown
		}
		if i >= len(alerts) {
			alerts = alerts[:i+1]
		}
		n = i + 1
		return d.alert(&alerts[i])
	})
	if err != nil {
		return err
	}
	alerts = alerts[:n]
	if n == 0 && alerts == nil {
		alerts = template.Alerts{}
	}
	*dst = alerts
	return nil
}

func (d *payloadDecoder) alert(a *template.Alert) error {
	switch d.peek() {
	case '{':
	case 'n':
		return d.expectLiteral("null")
	default:
		d.wrongType("alerts[]", "object")
		return d.skip()
	}
	return d.object(func(name []byte) error {
		switch fold(name) {
		case "status":
			return d.stringField(&a.Status, "alerts[].status")
		case "labels":
			return d.kv(&a.Labels, "alerts[].labels")
		case "annotations":
			return d.kv(&a.Annotations, "alerts[].annotations")
		case "startsat":
			return d.timeField(&a.StartsAt, "alerts[].startsAt")
		case "endsat":
			return d.timeField(&a.EndsAt, "alerts[].endsAt")
		case "generatorurl":
			return d.stringField(&a.GeneratorURL, "alerts[].generatorURL")
		case "fingerprint":
			return d.stringField(&a.Fingerprint, "alerts[].fingerprint")
		}
		return d.skip()
	})
}

// fold returns the lower-cased name of the payload field that name
// matches case-insensitively, as encoding/json matches names, or "" if it
// matches none. A name spelled as Alertmanager spells it is one map lookup.
func fold(name []byte) string {
	if lower, ok := payloadNames[string(name)]; ok {
		return lower
	}
	for _, lower := range payloadNames {
		if strings.EqualFold(string(name), lower) {
			return lower
		}
	}
	return ""
}

// payloadNames are the names of the fields decoded, as Alertmanager spells
// them, and lower-cased.
var payloadNames = map[string]string{
	"status": "status", "labels": "labels", "annotations": "annotations", "startsAt": "startsat",
	"endsAt": "endsat", "generatorURL": "generatorurl", "fingerprint": "fingerprint",
	"version": "version", "groupKey": "groupkey", "truncatedAlerts": "truncatedalerts",
	"receiver": "receiver", "notification_reason": "notification_reason", "externalURL": "externalurl",
	"groupLabels": "grouplabels", "commonLabels": "commonlabels", "commonAnnotations": "commonannotations",
	"routeLabels": "routelabels", "alerts": "alerts",
}
