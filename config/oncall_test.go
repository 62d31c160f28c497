package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHandoffInDSTGap: a whole-day rotation that starts on a spring-forward
// day with its handoff in the skipped hour hands off at the configured time
// on every later day, not an hour early.
func TestHandoffInDSTGap(t *testing.T) {
	newYork, _ := time.LoadLocation("America/New_York")
	s := loadSchedule(t, `{members: [alice@corp.com, bob@corp.com], start: "2026-03-08", shift: 1d, handoff: "02:30", timezone: America/New_York}`)
	for _, tc := range []struct {
		name string
		at   time.Time
		want string
	}{
		{"the first day, as the clocks jump past the handoff", time.Date(2026, 3, 8, 3, 0, 0, 0, newYork), "alice@corp.com"},
		{"the first day, before the clocks jump", time.Date(2026, 3, 8, 1, 59, 0, 0, newYork), ""},
		{"the day after the gap, just before the handoff", time.Date(2026, 3, 9, 2, 29, 0, 0, newYork), "alice@corp.com"},
		{"the day after the gap, at the handoff", time.Date(2026, 3, 9, 2, 30, 0, 0, newYork), "bob@corp.com"},
		{"summer, an hour before the handoff", time.Date(2026, 6, 15, 1, 30, 0, 0, newYork), "alice@corp.com"},
		{"summer, just before the handoff", time.Date(2026, 6, 15, 2, 29, 0, 0, newYork), "alice@corp.com"},
		{"summer, at the handoff", time.Date(2026, 6, 15, 2, 30, 0, 0, newYork), "bob@corp.com"},
		{"winter, just before the handoff", time.Date(2026, 12, 15, 2, 29, 0, 0, newYork), "bob@corp.com"},
		{"winter, at the handoff", time.Date(2026, 12, 15, 2, 30, 0, 0, newYork), "alice@corp.com"},
		{"a later gap day, before the clocks jump", time.Date(2027, 3, 14, 1, 59, 0, 0, newYork), "alice@corp.com"},
		{"a later gap day, as the clocks jump", time.Date(2027, 3, 14, 3, 0, 0, 0, newYork), "bob@corp.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, why := s.OnCall(tc.at); got != tc.want {
				t.Errorf("OnCall(%s) = %s (%s), want %s", tc.at, got, why, tc.want)
			}
		})
	}
	// Santiago skips from 00:00 to 01:00: time.Date moves 00:30 back
	// across midnight, to 23:30 the day before.
	santiago, _ := time.LoadLocation("America/Santiago")
	midnight := loadSchedule(t, `{members: [alice@corp.com, bob@corp.com], start: "2026-01-01", shift: 1d, handoff: "00:30", timezone: America/Santiago}`)
	checkOnCall(t, midnight, map[time.Time]string{
		time.Date(2026, 9, 5, 23, 59, 0, 0, santiago): "bob@corp.com",
		time.Date(2026, 9, 6, 1, 0, 0, 0, santiago):   "alice@corp.com",
		time.Date(2026, 9, 7, 0, 29, 0, 0, santiago):  "alice@corp.com",
		time.Date(2026, 9, 7, 0, 30, 0, 0, santiago):  "bob@corp.com",
	})
}

// TestNobodyOnCallBeforeTheRotationStarts: a schedule configured ahead of
// time puts nobody on call before its first handoff, and says when it
// starts; an override without covers may still put its member on call then.
func TestNobodyOnCallBeforeTheRotationStarts(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	s := loadSchedule(t, `{team: dba, start: "2026-12-01", shift: 1w, timezone: Asia/Shanghai,
    overrides: [{member: carol@corp.com, from: "2026-11-20 09:00", to: "2026-11-21 09:00"},
                {member: bob@corp.com, covers: alice@corp.com, from: "2026-11-25", to: "2026-11-26"}]}`)
	const notStarted = "nobody on call, the rotation starts 2026-12-01 09:00 Asia/Shanghai"
	for _, tc := range []struct {
		name      string
		at        time.Time
		want, why string
	}{
		{"long before the start", time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai), "", notStarted},
		{"a minute before the first handoff", time.Date(2026, 12, 1, 8, 59, 0, 0, shanghai), "", notStarted},
		{"at the first handoff", time.Date(2026, 12, 1, 9, 0, 0, 0, shanghai), "alice@corp.com", "shift 1 of the rotation"},
		{"an override without covers before the start", time.Date(2026, 11, 20, 12, 0, 0, 0, shanghai), "carol@corp.com", "override 0"},
		{"an override that covers someone before the start", time.Date(2026, 11, 25, 12, 0, 0, 0, shanghai), "", notStarted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, why := s.OnCall(tc.at); got != tc.want || why != tc.why {
				t.Errorf("OnCall(%s) = %q (%s), want %q (%s)", tc.at, got, why, tc.want, tc.why)
			}
		})
	}
	halfDay := loadSchedule(t, `{members: [alice@corp.com, bob@corp.com], start: "2026-11-01", shift: 12h, handoff: "00:00", timezone: UTC}`)
	if got, why := halfDay.OnCall(time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC)); got != "" {
		t.Errorf("12h shifts before the start: OnCall = %q (%s), want nobody", got, why)
	}
}

// TestTeamNamesIgnoreCase: Team finds a team whatever the case of its name,
// as an owner label may write it; two teams whose names differ only in case
// are refused.
func TestTeamNamesIgnoreCase(t *testing.T) {
	cfg, err := Load([]byte("members: [{email: alice@corp.com}]\nteams: {DBA-Oncall: [alice@corp.com]}\n"+robotsOnly), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"DBA-Oncall", "dba-oncall", "DBA-ONCALL"} {
		if emails, ok := cfg.Team(name); !ok || len(emails) != 1 || emails[0] != "alice@corp.com" {
			t.Errorf("Team(%q) = %v, %v, want [alice@corp.com]", name, emails, ok)
		}
	}
	_, err = Load([]byte("members: [{email: alice@corp.com}]\nteams: {dba: [alice@corp.com], DBA: [alice@corp.com]}\n"+robotsOnly), t.TempDir())
	want := `teams.dba: same name as teams.DBA but for letter case; a from_label label names teams in any case, so give them names that differ in more than case`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// TestPhoneTrunkPrefixRefused: a phone with the trunk prefix "(0)" after a
// country code, the usual way to write a UK or German number, is refused
// with the number to write instead, in members and in a members file; the
// (0) is not dialled after a country code, so the number would never match.
func TestPhoneTrunkPrefixRefused(t *testing.T) {
	const want = `phone "+44 (0)20 7946 0000" of a@corp.com holds the trunk prefix (0), which is not dialled after a country code: leave it out, as in +44 20 7946 0000`
	_, err := Load([]byte("members: [{email: a@corp.com, phone: \"+44 (0)20 7946 0000\"}]\n"+robotsOnly), t.TempDir())
	if err == nil || err.Error() != "members[0]: "+want {
		t.Errorf("members: error = %v, want %q", err, "members[0]: "+want)
	}
	dir := writeFiles(t, map[string]string{"p.csv": "email,name,phone\na@corp.com,A,+44 (0)20 7946 0000\n", "c.yml": "members_file: p.csv\n" + robotsOnly})
	if _, err := LoadFile(filepath.Join(dir, "c.yml")); err == nil || !strings.HasSuffix(err.Error(), "p.csv:2: "+want) {
		t.Errorf("members_file: error = %v, want it to end with %q", err, "p.csv:2: "+want)
	}
	_, err = Load([]byte("members: [{email: a@corp.com, phone: \"+49 ( 0 ) 30-1234567\"}]\n"+robotsOnly), t.TempDir())
	if want := "leave it out, as in +49 30-1234567"; err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("( 0 ): error = %v, want it to end with %q", err, want)
	}
	for phone, norm := range map[string]string{"+44 20 7946 0000": "+442079460000", "(010) 6552 9988": "01065529988", "+86 (10) 6552 9988": "+861065529988"} {
		cfg, err := Load([]byte("members: [{email: a@corp.com, phone: \""+phone+"\"}]\n"+robotsOnly), t.TempDir())
		if err != nil {
			t.Errorf("%s: %v", phone, err)
			continue
		}
		if m, _ := cfg.Member("a@corp.com"); m.Phone != norm {
			t.Errorf("%s normalised to %q, want %q", phone, m.Phone, norm)
		}
	}
}

// TestCSVWithByteOrderMark: a members file or mapping-table file saved by
// Excel as "CSV UTF-8" starts with a byte order mark, which is dropped.
func TestCSVWithByteOrderMark(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"people.csv": "\ufeffemail,name,phone\nalice@corp.com,张三,13800001111\n",
		"users.csv":  "\ufeff\"email\",\"wecom_userid\"\nalice@corp.com,alice_wecom\n",
		"c.yml":      "members_file: people.csv\nmapping_tables: {users: {file: users.csv}}\n" + robotsOnly,
	})
	cfg, err := LoadFile(filepath.Join(dir, "c.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := cfg.Member("alice@corp.com"); !ok || m.Name != "张三" {
		t.Errorf("alice = %+v, %v", m, ok)
	}
	if id, _ := cfg.UserID("users", "alice@corp.com"); id != "alice_wecom" {
		t.Errorf("UserID(alice) = %q, want alice_wecom", id)
	}
}

// TestSubDayShiftsHandOffAtWallClockTimes: day and night shifts (12h from
// 08:00) and three 8h shifts hand off at the same local times after a
// daylight-saving change as before it; they followed elapsed time and
// moved by an hour, paging the wrong person for an hour a day.
func TestSubDayShiftsHandOffAtWallClockTimes(t *testing.T) {
	for _, tc := range []struct {
		zone, start, shift string
		day                [3]int   // a date after a change
		handoffs           []string // local times of the day's handoffs
	}{
		{"Asia/Shanghai", "2026-03-01", "12h", [3]int{2026, 3, 10}, []string{"08:00", "20:00"}},
		{"America/New_York", "2026-03-01", "12h", [3]int{2026, 3, 10}, []string{"08:00", "20:00"}},  // DST from 2026-03-08
		{"Europe/Berlin", "2026-03-01", "12h", [3]int{2026, 4, 2}, []string{"08:00", "20:00"}},      // DST from 2026-03-29
		{"America/New_York", "2026-10-20", "12h", [3]int{2026, 11, 10}, []string{"08:00", "20:00"}}, // DST ended 2026-11-01
		{"Europe/Berlin", "2026-03-01", "8h", [3]int{2026, 4, 2}, []string{"08:00", "16:00", "00:00"}},
	} {
		t.Run(tc.zone+" "+tc.shift+" from "+tc.start, func(t *testing.T) {
			loc, _ := time.LoadLocation(tc.zone)
			s := loadSchedule(t, `{members: [alice@corp.com, bob@corp.com, carol@corp.com], start: "`+tc.start+`", shift: `+tc.shift+`, handoff: "08:00", timezone: `+tc.zone+`}`)
			for _, hm := range tc.handoffs {
				at, _ := time.ParseInLocation("2006-01-02 15:04", fmt.Sprintf("%d-%02d-%02d %s", tc.day[0], tc.day[1], tc.day[2], hm), loc)
				before, _ := s.OnCall(at.Add(-time.Minute))
				after, why := s.OnCall(at)
				if before == after {
					t.Errorf("%s: %s on call a minute before and at %s (%s): no handoff", at.Format(time.RFC3339), before, hm, why)
				}
				if later, _ := s.OnCall(at.Add(59 * time.Minute)); later != after {
					t.Errorf("%s: %s on call, and %s 59 minutes later", at.Format(time.RFC3339), after, later)
				}
			}
		})
	}
}

// TestOverlappingOverrides: where overrides overlap, the one listed last
// wins, with covers or without; covers names the member the rotation puts
// on call. A one-day swap listed after a week-long cover was ignored.
func TestOverlappingOverrides(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	at := time.Date(2026, 11, 4, 12, 0, 0, 0, shanghai) // alice's week
	for _, tc := range []struct {
		name, overrides, want string
	}{
		{"without covers",
			`[{member: bob@corp.com, from: "2026-11-02 09:00", to: "2026-11-06 09:00"},
			  {member: carol@corp.com, from: "2026-11-04 09:00", to: "2026-11-05 09:00"}]`, "carol@corp.com"},
		{"with covers",
			`[{member: bob@corp.com, covers: alice@corp.com, from: "2026-11-02 09:00", to: "2026-11-06 09:00"},
			  {member: carol@corp.com, covers: alice@corp.com, from: "2026-11-04 09:00", to: "2026-11-05 09:00"}]`, "carol@corp.com"},
		{"covers names the rotation's member, not an override's",
			`[{member: bob@corp.com, covers: alice@corp.com, from: "2026-11-02 09:00", to: "2026-11-06 09:00"},
			  {member: carol@corp.com, covers: bob@corp.com, from: "2026-11-04 09:00", to: "2026-11-05 09:00"}]`, "bob@corp.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := loadSchedule(t, `{members: [alice@corp.com, bob@corp.com], start: "2026-11-02", shift: 1w, handoff: "09:00", timezone: Asia/Shanghai, overrides: `+tc.overrides+`}`)
			if got, why := s.OnCall(at); got != tc.want {
				t.Errorf("OnCall = %s (%s), want %s", got, why, tc.want)
			}
		})
	}
}
