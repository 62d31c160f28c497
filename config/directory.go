package config

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// readCSV reads a CSV file whose first row is header, calling row for each
// further row; errors name the file and line.
func readCSV(path string, header []string, row func(line int, fields []string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = len(header)
	r.TrimLeadingSpace = true
	r.Comment = '#'
	first, err := r.Read()
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
	start, err := time.ParseInLocation("2006-01-02", s.Start, loc)
	if err != nil {
		return fmt.Errorf("start %q is not a date YYYY-MM-DD", s.Start)
	}
	s.first = time.Date(start.Year(), start.Month(), start.Day(), handoff.Hour(), handoff.Minute(), 0, 0, loc)
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
// shift, or the override that put them there.
func (s *Schedule) OnCall(t time.Time) (email, why string) {
	var shift int64
	day := 24 * time.Hour
	if d := time.Duration(s.Shift); d%day == 0 {
		// Whole days: count calendar days since the first handoff in the
		// schedule's zone, so a handoff stays at its wall-clock time.
		local := t.In(s.loc)
		date := time.Date(local.Year(), local.Month(), local.Day(), s.first.Hour(), s.first.Minute(), 0, 0, s.loc)
		if local.Before(date) {
			date = date.AddDate(0, 0, -1)
		}
		days := civilDays(s.first, date)
		shift = floorDiv(days, int64(d/day))
	} else {
		shift = floorDiv(int64(t.Sub(s.first)), int64(d))
	}
	n := int64(len(s.rotation))
	email = s.rotation[(shift%n+n)%n]
	why = fmt.Sprintf("shift %d of the rotation", shift+1)
	for i, o := range s.Overrides {
		if !t.Before(o.from) && t.Before(o.to) && (o.Covers == "" || o.Covers == email) {
			email, why = o.Member, fmt.Sprintf("override %d", i)
		}
	}
	return email, why
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
