package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// maxFileBytes bounds a file the configuration names.
const maxFileBytes = 64 << 20

// readFile reads the file at path, a file the configuration names, and
// adds it to FilesDigest. A byte order mark it starts with, which Windows
// tools and Excel's "CSV UTF-8" write, is dropped.
func (c *Config) readFile(path string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO would otherwise wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, &os.PathError{Op: "read", Path: path, Err: errors.New("not a regular file")}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileBytes {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("over %d MiB", maxFileBytes>>20)}
	}
	if c.files == nil {
		c.files = sha256.New()
	}
	fmt.Fprintf(c.files, "%s\x00%d\x00", path, len(b))
	c.files.Write(b)
	return bytes.TrimPrefix(b, []byte("\ufeff")), nil
}

// readCSV reads a UTF-8 CSV file whose first row is header, calling row
// for each further row; errors name the file and line.
func (c *Config) readCSV(path string, header []string, row func(line int, fields []string) error) error {
	b, err := c.readFile(path)
	if err != nil {
		return err
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = len(header)
	r.TrimLeadingSpace = true
	r.Comment = '#'
	first, err := r.Read()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: empty file: want the header %s", path, strings.Join(header, ","))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for i := range first {
		first[i] = strings.ToLower(strings.TrimSpace(first[i]))
	}
	if !slices.Equal(first, header) {
		return fmt.Errorf("%s:1: header is %q, want %q", path, strings.Join(first, ","), strings.Join(header, ","))
	}
	for {
		fields, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for i := range fields {
			if !utf8.ValidString(fields[i]) {
				// Excel's plain "CSV" is in the system's code page: GBK
				// names would reach WeCom as U+FFFD.
				return fmt.Errorf("%s:%d: not UTF-8: save the file as \"CSV UTF-8\"", path, line)
			}
			fields[i] = strings.TrimSpace(fields[i])
		}
		if err := row(line, fields); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
	}
}

func (c *Config) validateSchedules() error {
	for _, name := range slices.Sorted(maps.Keys(c.Schedules)) {
		s := c.Schedules[name]
		field := "schedules." + name
		if s == nil {
			return fmt.Errorf("%s: empty schedule", field)
		}
		if err := c.validateSchedule(s); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	return nil
}

func (c *Config) validateSchedule(s *Schedule) error {
	switch {
	case len(s.Members) > 0 && s.Team != "":
		return errors.New("at most one of members, team")
	case s.Team != "":
		team, ok := c.Teams[s.Team]
		if !ok {
			return fmt.Errorf("unknown team %q", s.Team)
		}
		s.rotation = team
	default:
		for _, email := range s.Members {
			norm := normalizeEmail(email)
			if _, ok := c.members[norm]; !ok {
				return fmt.Errorf("unknown member %q", email)
			}
			s.rotation = append(s.rotation, norm)
		}
	}
	if len(s.rotation) == 0 {
		return errors.New("nobody to rotate: set members or team")
	}
	if s.Shift <= 0 {
		return fmt.Errorf("shift %s must be positive", s.Shift)
	}
	zone := s.TimeZone
	if zone == "" {
		zone = c.Global.TimeZone
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return fmt.Errorf("unknown time zone %q", zone)
	}
	s.loc = loc
	if s.Handoff == "" {
		s.Handoff = "09:00"
	}
	handoff, err := time.Parse("15:04", s.Handoff)
	if err != nil {
		return fmt.Errorf("handoff %q is not a time of day HH:MM", s.Handoff)
	}
	// The date is parsed in UTC, where every midnight exists.
	if s.startDay, err = time.Parse("2006-01-02", s.Start); err != nil {
		return fmt.Errorf("start %q is not a date YYYY-MM-DD", s.Start)
	}
	s.handoffHour, s.handoffMinute = handoff.Hour(), handoff.Minute()
	s.first = s.handoffOn(s.startDay)
	for i := range s.Overrides {
		o := &s.Overrides[i]
		norm := normalizeEmail(o.Member)
		if _, ok := c.members[norm]; !ok {
			return fmt.Errorf("overrides[%d]: unknown member %q", i, o.Member)
		}
		o.Member = norm
		if o.Covers != "" {
			o.Covers = normalizeEmail(o.Covers)
			if !slices.Contains(s.rotation, o.Covers) {
				return fmt.Errorf("overrides[%d]: covers %q, who is not in the rotation", i, o.Covers)
			}
		}
		if o.from, err = parseOverrideTime(o.From, loc); err != nil {
			return fmt.Errorf("overrides[%d]: from %w", i, err)
		}
		if o.to, err = parseOverrideTime(o.To, loc); err != nil {
			return fmt.Errorf("overrides[%d]: to %w", i, err)
		}
		if !o.to.After(o.from) {
			return fmt.Errorf("overrides[%d]: to %s is not after from %s", i, o.to.Format(time.RFC3339), o.from.Format(time.RFC3339))
		}
	}
	return nil
}

// localLayouts are the forms an override time may take without an offset.
var localLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"}

// parseOverrideTime reads s as an RFC 3339 time or, without an offset, as a
// time in loc, the schedule's zone. It is not left to YAML, whose timestamps
// without an offset are in UTC.
func parseOverrideTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want RFC 3339 with an offset, or YYYY-MM-DD[ HH:MM[:SS]] in the schedule's time zone", s)
}

// OnCall returns the email of who is on call at t, and why: the rotation's
// shift, or the override that put them there. An override with covers
// applies when the rotation puts that member on call; where overrides
// overlap, the one listed last wins. Before its first handoff the rotation
// puts nobody on call: unless an override without covers does, the email
// is empty and why says when the rotation starts.
func (s *Schedule) OnCall(t time.Time) (email, why string) {
	if shift := s.shiftAt(t); shift >= 0 {
		n := int64(len(s.rotation))
		email = s.rotation[shift%n]
		why = fmt.Sprintf("shift %d of the rotation", shift+1)
	} else {
		why = fmt.Sprintf("nobody on call, the rotation starts %s %02d:%02d %s", s.Start, s.handoffHour, s.handoffMinute, s.loc)
	}
	rotating := email
	for i, o := range s.Overrides {
		if !t.Before(o.from) && t.Before(o.to) && (o.Covers == "" || o.Covers == rotating) {
			email, why = o.Member, fmt.Sprintf("override %d", i)
		}
	}
	return email, why
}

// shiftAt returns the number of the shift at t, counted from 0 at the first
// handoff; it is negative before the first handoff. Shifts of whole days,
// and shifts a day holds a whole number of (12h, 8h), hand off at the same
// wall-clock times every day, daylight-saving changes or not; other shifts
// (36h, 5h) follow elapsed time from the first handoff.
func (s *Schedule) shiftAt(t time.Time) int64 {
	shift := time.Duration(s.Shift)
	day := 24 * time.Hour
	if shift%day != 0 && day%shift != 0 {
		return floorDiv(int64(t.Sub(s.first)), int64(shift))
	}
	// Count calendar days since the start date in the schedule's zone.
	local := t.In(s.loc)
	days := civilDays(s.startDay, local)
	if local.Before(s.handoffOn(local)) {
		days-- // the day's first shift has not begun: still the previous day's
	}
	if shift >= day {
		return floorDiv(days, int64(shift/day))
	}
	// A day's later shifts begin at wall-clock times too: count them on
	// the wall clock from the handoff of the day days stands for.
	perDay := int64(day / shift)
	d := s.startDay.AddDate(0, 0, int(days))
	handoff := time.Date(d.Year(), d.Month(), d.Day(), s.handoffHour, s.handoffMinute, 0, 0, time.UTC)
	wall := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), local.Nanosecond(), time.UTC)
	k := min(max(int64(wall.Sub(handoff)/shift), 0), perDay-1)
	return days*perDay + k
}

// handoffOn returns the handoff on the date of day, in the schedule's zone.
// A handoff in the hour a daylight-saving change skips happens as the
// clocks jump past it.
func (s *Schedule) handoffOn(day time.Time) time.Time {
	h := time.Date(day.Year(), day.Month(), day.Day(), s.handoffHour, s.handoffMinute, 0, 0, s.loc)
	// moved is how many minutes time.Date moved a missing time, to one side
	// of the jump, maybe across midnight.
	moved := (h.Hour()*60+h.Minute()-s.handoffHour*60-s.handoffMinute+36*60)%(24*60) - 12*60
	if moved == 0 {
		return h
	}
	start, end := h.ZoneBounds()
	if moved < 0 {
		return end
	}
	return start
}

// civilDays is the number of calendar days from a's date to b's date.
func civilDays(a, b time.Time) int64 {
	ua := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	ub := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int64(ub.Sub(ua) / (24 * time.Hour))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Rotation returns the emails of everyone the schedule can put on call:
// the rotation, then anyone an override adds.
func (s *Schedule) Rotation() []string {
	out := slices.Clone(s.rotation)
	for _, o := range s.Overrides {
		if !slices.Contains(out, o.Member) {
			out = append(out, o.Member)
		}
	}
	return out
}
