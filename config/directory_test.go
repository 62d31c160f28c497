package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFiles writes files into a new folder and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const robotsOnly = "robots: {ops: {key: k}}\n"

func TestDirectoryFiles(t *testing.T) {
	good := map[string]string{
		"people.csv": "email,name,phone\n# the DBAs\nalice@corp.com,Alice Zhang,13800001111\nBob@corp.com, Bob Li ,+86 139-0000-2222\ncarol@corp.com,Carol Wu,\n",
		"users.csv":  "email,wecom_userid\nalice@corp.com,alice_wecom\nBOB@corp.com,bob_wecom\n",
		"cfg.yml":    "members_file: people.csv\nmembers: [{email: dave@corp.com}]\nmapping_tables: {users: {file: users.csv}, inline: {dave@corp.com: dave_wecom}}\n" + robotsOnly,
	}
	cfg, err := LoadFile(filepath.Join(writeFiles(t, good), "cfg.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if bob, ok := cfg.Member("bob@corp.com"); !ok || bob.Name != "Bob Li" || bob.Phone != "+8613900002222" {
		t.Errorf("bob from the file = %+v, %v", bob, ok)
	}
	if len(cfg.Members) != 4 {
		t.Errorf("%d members, want 4", len(cfg.Members))
	}
	for table, want := range map[[2]string]string{{"users", "bob@corp.com"}: "bob_wecom", {"inline", "dave@corp.com"}: "dave_wecom"} {
		if got, _ := cfg.UserID(table[0], table[1]); got != want {
			t.Errorf("UserID%v = %q, want %q", table, got, want)
		}
	}

	for name, tc := range map[string]struct {
		files map[string]string
		want  string
	}{
		"bad phone row": {map[string]string{"p.csv": "email,name,phone\na@corp.com,A,13800001111\nb@corp.com,B,not-a-phone\n", "c.yml": "members_file: p.csv\n" + robotsOnly},
			`p.csv:3: phone "not-a-phone" of b@corp.com is not a phone number`},
		"duplicate across file and inline": {map[string]string{"p.csv": "email,name,phone\nA@corp.com,A,\n", "c.yml": "members: [{email: a@corp.com}]\nmembers_file: p.csv\n" + robotsOnly},
			`p.csv:2: email "A@corp.com" appears twice`},
		"wrong header": {map[string]string{"p.csv": "mail,name,phone\n", "c.yml": "members_file: p.csv\n" + robotsOnly},
			`p.csv:1: header is "mail,name,phone", want "email,name,phone"`},
		"short row": {map[string]string{"p.csv": "email,name,phone\na@corp.com,A\n", "c.yml": "members_file: p.csv\n" + robotsOnly},
			"p.csv: record on line 2: wrong number of fields"},
		"bad user_id row": {map[string]string{"u.csv": "email,wecom_userid\na@corp.com,ok\nb@corp.com,-bad\n", "c.yml": "mapping_tables: {u: {file: u.csv}}\n" + robotsOnly},
			`mapping_tables.u: `},
		"missing table file": {map[string]string{"c.yml": "mapping_tables: {u: {file: nope.csv}}\n" + robotsOnly},
			"mapping_tables.u: open "},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadFile(filepath.Join(writeFiles(t, tc.files), "c.yml"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func loadSchedule(t *testing.T, schedule string) *Schedule {
	t.Helper()
	yml := `members:
  - {email: alice@corp.com}
  - {email: bob@corp.com}
  - {email: carol@corp.com}
teams: {dba: [alice@corp.com, bob@corp.com, carol@corp.com]}
schedules:
  s: ` + schedule + "\n" + robotsOnly
	cfg, err := Load([]byte(yml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Schedules["s"]
}

func TestOnCall(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	newYork, _ := time.LoadLocation("America/New_York")
	weekly := loadSchedule(t, `{team: dba, start: "2026-11-02", shift: 1w, handoff: "09:00", timezone: Asia/Shanghai,
    overrides: [{member: carol@corp.com, covers: bob@corp.com, from: "2026-11-12T00:00:00+08:00", to: "2026-11-17T00:00:00+08:00"}]}`)
	daily := loadSchedule(t, `{members: [alice@corp.com, bob@corp.com], start: "2026-03-06", shift: 1d, handoff: "08:30", timezone: America/New_York}`)
	halfDay := loadSchedule(t, `{members: [alice@corp.com, bob@corp.com, carol@corp.com], start: "2026-11-01", shift: 12h, handoff: "00:00", timezone: UTC}`)
	for _, tc := range []struct {
		name  string
		s     *Schedule
		at    time.Time
		want  string
		wantW string
	}{
		{"first shift starts at the handoff", weekly, time.Date(2026, 11, 2, 9, 0, 0, 0, shanghai), "alice@corp.com", "shift 1 of the rotation"},
		{"a minute before the first handoff: nobody yet", weekly, time.Date(2026, 11, 2, 8, 59, 0, 0, shanghai), "", "nobody on call, the rotation starts 2026-11-02 09:00 Asia/Shanghai"},
		{"second week", weekly, time.Date(2026, 11, 9, 9, 0, 0, 0, shanghai), "bob@corp.com", "shift 2 of the rotation"},
		{"override covers bob inside his week", weekly, time.Date(2026, 11, 12, 10, 0, 0, 0, shanghai), "carol@corp.com", "override 0"},
		{"an override covering bob does not apply in carol's week", weekly, time.Date(2026, 11, 16, 10, 0, 0, 0, shanghai), "carol@corp.com", "shift 3 of the rotation"},
		{"override ended", weekly, time.Date(2026, 11, 17, 0, 0, 0, 0, shanghai), "carol@corp.com", "shift 3 of the rotation"},
		{"fourth week wraps to alice", weekly, time.Date(2026, 11, 23, 9, 0, 0, 0, shanghai), "alice@corp.com", "shift 4 of the rotation"},
		{"daily, before DST starts", daily, time.Date(2026, 3, 7, 8, 30, 0, 0, newYork), "bob@corp.com", "shift 2 of the rotation"},
		{"daily, the day DST starts: handoff still 08:30 local", daily, time.Date(2026, 3, 8, 8, 29, 0, 0, newYork), "bob@corp.com", "shift 2 of the rotation"},
		{"daily, after DST starts", daily, time.Date(2026, 3, 8, 8, 30, 0, 0, newYork), "alice@corp.com", "shift 3 of the rotation"},
		{"daily, a week after DST", daily, time.Date(2026, 3, 15, 8, 31, 0, 0, newYork), "bob@corp.com", "shift 10 of the rotation"},
		{"12h shifts", halfDay, time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC), "alice@corp.com", "shift 4 of the rotation"},
		{"12h, before start: nobody yet", halfDay, time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC), "", "nobody on call, the rotation starts 2026-11-01 00:00 UTC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := tc.s.OnCall(tc.at)
			if got != tc.want || why != tc.wantW {
				t.Errorf("OnCall(%s) = %s (%s), want %s (%s)", tc.at, got, why, tc.want, tc.wantW)
			}
		})
	}
}

func TestScheduleErrors(t *testing.T) {
	for schedule, want := range map[string]string{
		`{start: "2026-11-02", shift: 1w}`:                                       "schedules.s: nobody to rotate: set members or team",
		`{team: dbx, start: "2026-11-02", shift: 1w}`:                            `schedules.s: unknown team "dbx"`,
		`{members: [zed@corp.com], start: "2026-11-02", shift: 1w}`:              `schedules.s: unknown member "zed@corp.com"`,
		`{team: dba, start: "11/02/2026", shift: 1w}`:                            `schedules.s: start "11/02/2026" is not a date YYYY-MM-DD`,
		`{team: dba, start: "2026-11-02", shift: 1w, handoff: "9am"}`:            `schedules.s: handoff "9am" is not a time of day HH:MM`,
		`{team: dba, start: "2026-11-02", shift: 1w, timezone: Mars/Ok}`:         `schedules.s: unknown time zone "Mars/Ok"`,
		`{team: dba, start: "2026-11-02"}`:                                       "schedules.s: shift 0s must be positive",
		`{team: dba, members: [alice@corp.com], start: "2026-11-02", shift: 1d}`: "schedules.s: at most one of members, team",
		`{team: dba, start: "2026-11-02", shift: 1d, overrides: [{member: bob@corp.com, covers: zed@corp.com, from: "2026-11-03T00:00:00Z", to: "2026-11-04T00:00:00Z"}]}`: `schedules.s: overrides[0]: covers "zed@corp.com", who is not in the rotation`,
		`{team: dba, start: "2026-11-02", shift: 1d, overrides: [{member: bob@corp.com, from: "2026-11-04T00:00:00Z", to: "2026-11-03T00:00:00Z"}]}`:                       "schedules.s: overrides[0]: to 2026-11-03T00:00:00Z is not after from 2026-11-04T00:00:00Z",
		`{team: dba, start: "2026-11-02", shift: 1d, timezone: Asia/Shanghai, overrides: [{member: bob@corp.com, from: 2026-11-04 09:00, to: 2026-11-04}]}`:                "schedules.s: overrides[0]: to 2026-11-04T00:00:00+08:00 is not after from 2026-11-04T09:00:00+08:00",
		`{team: dba, start: "2026-11-02", shift: 1d, overrides: [{member: bob@corp.com, from: next tuesday, to: "2026-11-04"}]}`:                                           `schedules.s: overrides[0]: from "next tuesday" is not a time: want RFC 3339 with an offset, or YYYY-MM-DD[ HH:MM[:SS]] in the schedule's time zone`,
		`{team: dba, start: "2026-11-02", shift: 1d, overrides: [{member: bob@corp.com, from: "2026-11-03", to: "2026-11-04 09:00+08:00"}]}`:                               `schedules.s: overrides[0]: to "2026-11-04 09:00+08:00" is not a time: want RFC 3339 with an offset, or YYYY-MM-DD[ HH:MM[:SS]] in the schedule's time zone`,
		`{team: dba, start: "2026-11-02", shift: 1d, overrides: [{member: bob@corp.com, to: "2026-11-04"}]}`:                                                               `schedules.s: overrides[0]: from "" is not a time: want RFC 3339 with an offset, or YYYY-MM-DD[ HH:MM[:SS]] in the schedule's time zone`,
	} {
		yml := "members: [{email: alice@corp.com}, {email: bob@corp.com}]\nteams: {dba: [alice@corp.com, bob@corp.com]}\nschedules:\n  s: " + schedule + "\n" + robotsOnly
		if _, err := Load([]byte(yml), t.TempDir()); err == nil || err.Error() != want {
			t.Errorf("%s: error = %v, want %q", schedule, err, want)
		}
	}
}

// TestOverrideTimesInScheduleZone: an override's time without an offset is
// read in the schedule's time zone, not in UTC (as YAML timestamps are).
func TestOverrideTimesInScheduleZone(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	for _, tc := range []struct{ from, to string }{
		{"2026-11-03 09:00:00", "2026-11-03 18:00:00"},
		{`"2026-11-03 09:00:00"`, `"2026-11-03 18:00:00"`},
		{"2026-11-03T09:00:00", "2026-11-03T18:00:00"},
		{"2026-11-03 09:00", "2026-11-03 18:00"},
		{"2026-11-03T09:00:00+08:00", "2026-11-03T10:00:00Z"},
	} {
		t.Run(tc.from, func(t *testing.T) {
			s := loadSchedule(t, `{team: dba, start: "2026-11-02", shift: 1w, timezone: Asia/Shanghai,
    overrides: [{member: carol@corp.com, from: `+tc.from+`, to: `+tc.to+`}]}`)
			checkOnCall(t, s, map[time.Time]string{
				time.Date(2026, 11, 3, 8, 59, 0, 0, shanghai):  "alice@corp.com",
				time.Date(2026, 11, 3, 9, 0, 0, 0, shanghai):   "carol@corp.com",
				time.Date(2026, 11, 3, 17, 59, 0, 0, shanghai): "carol@corp.com",
				time.Date(2026, 11, 3, 18, 0, 0, 0, shanghai):  "alice@corp.com",
			})
		})
	}
	s := loadSchedule(t, `{team: dba, start: "2026-11-02", shift: 1w, timezone: Asia/Shanghai,
    overrides: [{member: carol@corp.com, from: 2026-11-04, to: 2026-11-05}]}`)
	checkOnCall(t, s, map[time.Time]string{
		time.Date(2026, 11, 3, 23, 59, 0, 0, shanghai): "alice@corp.com",
		time.Date(2026, 11, 4, 0, 0, 0, 0, shanghai):   "carol@corp.com",
		time.Date(2026, 11, 4, 23, 59, 0, 0, shanghai): "carol@corp.com",
		time.Date(2026, 11, 5, 0, 0, 0, 0, shanghai):   "alice@corp.com",
	})
}

// checkOnCall checks who s puts on call at each time.
func checkOnCall(t *testing.T, s *Schedule, want map[time.Time]string) {
	t.Helper()
	for at, email := range want {
		if got, why := s.OnCall(at); got != email {
			t.Errorf("OnCall(%s) = %s (%s), want %s", at, got, why, email)
		}
	}
}

// TestDirectoryFilesAreUTF8: Excel on a Chinese-locale Windows saves plain
// "CSV" in GBK, whose names reached WeCom as U+FFFD; such a file, and an
// empty one, is refused with a reason.
func TestDirectoryFilesAreUTF8(t *testing.T) {
	for _, tc := range []struct{ name, csv, wantErr string }{
		{"GBK", "email,name,phone\nalice@corp.com,\xd5\xc5\xc8\xfd,13800001111\n", `p.csv:2: not UTF-8: save the file as "CSV UTF-8"`},
		{"empty", "", "p.csv: empty file: want the header email,name,phone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"p.csv": tc.csv, "c.yml": "members_file: p.csv\n" + robotsOnly})
			_, err := LoadFile(filepath.Join(dir, "c.yml"))
			if err == nil || !strings.HasSuffix(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want one ending %q", err, tc.wantErr)
			}
		})
	}
}

// TestFilesDigest: the digest changes with a directory file's contents, so
// that config_hash shows a reload that read new directory data.
func TestFilesDigest(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.csv": "email,name,phone\nalice@corp.com,Alice,13800001111\n",
		"c.yml": "members_file: p.csv\n" + robotsOnly,
	})
	digest := func() []byte {
		cfg, err := LoadFile(filepath.Join(dir, "c.yml"))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.FilesDigest()
	}
	first := digest()
	if again := digest(); !bytes.Equal(first, again) {
		t.Error("the digest differs between two loads of the same files")
	}
	if err := os.WriteFile(filepath.Join(dir, "p.csv"), []byte("email,name,phone\nalice@corp.com,Alice,13800002222\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed := digest(); bytes.Equal(first, changed) {
		t.Error("a new phone in members_file leaves the digest as it was")
	}
}
