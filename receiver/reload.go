package receiver

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/responders"
)

// Reloader loads the configuration file into a receiver: a complete new
// state, templates and key files included, swapped in only when all of it is
// valid. SIGHUP and POST /-/reload both call Reload.
type Reloader struct {
	path   string
	recv   *Receiver
	logger *slog.Logger

	mu             sync.Mutex
	lastOK         bool
	lastErr        error
	lastSuccess    time.Time
	hash           float64
	successGauge   prometheus.Gauge
	timestampGauge prometheus.Gauge
	hashGauge      prometheus.Gauge
	unreachable    *prometheus.GaugeVec
}

// NewReloader returns a reloader of the configuration file at path whose
// metrics are registered with reg, if not nil.
func NewReloader(path string, recv *Receiver, reg prometheus.Registerer, logger *slog.Logger) *Reloader {
	rl := &Reloader{
		path:   path,
		recv:   recv,
		logger: logger,
		successGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		timestampGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
		hashGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_hash",
			Help: "Hash of the currently loaded configuration file and the files it names (members_file, mapping table files, key_file, url_file).",
		}),
		unreachable: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "unmentionable_members",
			Help: "Members the robot's rules can reach that it could not mention (no phone, not in its mapping table, toggle off).",
		}, []string{"robot"}),
	}
	if reg != nil {
		reg.MustRegister(rl.successGauge, rl.timestampGauge, rl.hashGauge, rl.unreachable)
	}
	return rl
}

// LoadState loads the configuration file at path into a complete state.
func LoadState(path string) (*State, error) {
	state, _, err := loadStateFile(path)
	return state, err
}

// loadStateFile is LoadState that also returns the file's bytes, read once,
// so that what is hashed is what was loaded.
func loadStateFile(path string) (*State, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := config.LoadFileData(path, raw)
	if err != nil {
		return nil, nil, err
	}
	state, err := NewState(cfg)
	return state, raw, err
}

// Reload loads the configuration file and, when all of it is valid, makes
// the receiver serve it; otherwise the running configuration keeps serving
// and the error says why. At startup, with nothing serving, the caller
// exits: the log line says so.
func (rl *Reloader) Reload() error {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	state, raw, err := loadStateFile(rl.path)
	rl.lastOK, rl.lastErr = err == nil, err
	if err != nil {
		rl.successGauge.Set(0)
		if rl.recv.State() == nil {
			// The first load, at startup: nothing serves.
			rl.logger.Error("Cannot load configuration; exiting", "file", rl.path, "err", err)
		} else {
			rl.logger.Error("Configuration reload failed; the running configuration keeps serving", "file", rl.path, "err", err)
		}
		return err
	}
	rl.recv.SetState(state)
	// The files the configuration names hold people and keys too.
	sum := sha256.Sum256(append(raw, state.Config.FilesDigest()...))
	rl.hash = float64(binary.BigEndian.Uint64(sum[:8]) >> 11) // exact in a float64
	rl.lastSuccess = time.Now()
	rl.successGauge.Set(1)
	rl.timestampGauge.Set(float64(rl.lastSuccess.Unix()))
	rl.hashGauge.Set(rl.hash)
	rl.logger.Info("Configuration loaded", "file", rl.path, "robots", len(state.Config.Robots))
	rl.reportCoverage(state)
	return nil
}

// reportCoverage logs, once a load, the members each robot's rules can
// reach but the robot could not mention, and sets the gauge.
func (rl *Reloader) reportCoverage(state *State) {
	rl.unreachable.Reset()
	for _, name := range slices.Sorted(maps.Keys(state.Config.Robots)) {
		missing := responders.Unreachable(state.Config, state.Config.Robots[name])
		rl.unreachable.WithLabelValues(name).Set(float64(len(missing)))
		if len(missing) == 0 {
			continue
		}
		who := make([]string, len(missing))
		for i, m := range missing {
			who[i] = fmt.Sprintf("%s (%s)", m.Email, m.Reason)
		}
		rl.logger.Warn("Robot cannot mention some members its rules reach", "robot", name, "members", strings.Join(who, "; "))
	}
}

// Status is the reload state, for the status page.
type Status struct {
	LastReloadSuccessful bool      `json:"lastReloadSuccessful"`
	LastReloadError      string    `json:"lastReloadError,omitempty"`
	LastReloadSuccess    time.Time `json:"lastReloadSuccess"`
	Hash                 float64   `json:"hash"`
}

// Status returns the outcome of the last reload.
func (rl *Reloader) Status() Status {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	s := Status{LastReloadSuccessful: rl.lastOK, LastReloadSuccess: rl.lastSuccess, Hash: rl.hash}
	if rl.lastErr != nil {
		s.LastReloadError = rl.lastErr.Error()
	}
	return s
}

// ServeHTTP reloads on POST /-/reload, answering 500 with the reason when
// the new configuration is refused.
func (rl *Reloader) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "only POST is allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := rl.Reload(); err != nil {
		http.Error(w, fmt.Sprintf("failed to reload config: %v", err), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// RobotStatus is what the status page says of a robot: no key, no URL.
type RobotStatus struct {
	Name           string           `json:"name"`
	MsgType        string           `json:"msgtype"`
	Language       string           `json:"language"`
	MentionEnabled bool             `json:"mentionEnabled"`
	Strategy       string           `json:"strategy"`
	MappingTable   string           `json:"mappingTable,omitempty"`
	OnResolved     bool             `json:"onResolved"`
	RateLimit      config.RateLimit `json:"rateLimit"`
	Overflow       string           `json:"overflow,omitempty"`
}

// Robots describes the robots of the state served now, sorted by name.
func (r *Receiver) Robots() []RobotStatus {
	state := r.State()
	if state == nil {
		return nil
	}
	var out []RobotStatus
	for _, name := range slices.Sorted(maps.Keys(state.Config.Robots)) {
		robot := state.Config.Robots[name]
		out = append(out, RobotStatus{
			Name: name, MsgType: robot.MsgType, Language: robot.Language,
			MentionEnabled: robot.MentionEnabled(), Strategy: robot.Mention.Strategy,
			MappingTable: robot.Mention.MappingTable, OnResolved: robot.Mention.OnResolved,
			RateLimit: state.Config.Limit(robot), Overflow: robot.Overflow,
		})
	}
	return out
}

// StatusHandler serves GET /api/v1/status: version, reload status and robots.
func StatusHandler(recv *Receiver, rl *Reloader, versionInfo map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{
			"version": versionInfo,
			"config":  rl.Status(),
			"robots":  recv.Robots(),
		})
	})
}
