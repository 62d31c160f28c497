// Command alertmanager-wecom receives Prometheus Alertmanager's webhook
// notifications and posts them to WeCom group robots, @mentioning the
// people responsible for each alert.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // /debug/pprof/, as Alertmanager serves it
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/alertmanager-wecom/alertmanager-wecom/receiver"
)

const name = "alertmanager-wecom"

func main() {
	tuneGC()
	fillVersion()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// tuneGC trades a little memory for CPU: the receiver's heap is small and
// short-lived, and Go's default collects it so often that collection costs
// more than rendering. A soft memory limit keeps the larger target bounded.
// GOGC and GOMEMLIMIT in the environment win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(64 << 20)
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New(name, "Receives Prometheus Alertmanager webhook notifications and posts them to WeCom group robots, @mentioning the responders.")
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)

	configFile := app.Flag("config.file", "Configuration file.").Default("config.yml").String()
	dryRun := app.Flag("dry-run", "Render and log the WeCom messages instead of sending them.").Bool()
	maxRequest := app.Flag("web.max-request-bytes", "Largest notification body accepted; larger ones get 413, which Alertmanager does not retry.").
		Default("32MiB").Bytes()
	readTimeout := app.Flag("web.read-timeout", "Longest a client may take to send a request, headers and body: slow clients are cut off.").
		Default("1m").Duration()
	shutdownTimeout := app.Flag("web.shutdown-timeout", "How long messages being sent may take to finish on SIGTERM; notifications waiting for budget or a retry are answered 503 at once.").
		Default("30s").Duration()
	webFlags := kingpinflag.AddFlags(app, ":9096")
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)

	app.Command("serve", "Run the receiver (the default).").Default()
	check := app.Command("check-config", "Validate a configuration file (the file argument, or --config.file) and print what each robot will do.")
	checkFile := check.Arg("file", "Configuration file; default --config.file.").String()
	render := app.Command("render", "Print the exact WeCom requests a robot would send for an Alertmanager webhook payload (with --config.file), and who is mentioned how.")
	renderRobot := render.Flag("robot", "Robot name.").Required().String()
	renderPayload := render.Arg("payload", "Alertmanager webhook payload (JSON file).").Required().String()

	explain := app.Command("explain", "Explain who an alert with these labels mentions on a robot, and why (or why not), with --config.file.")
	explainRobot := explain.Flag("robot", "Robot name.").Required().String()
	explainLabels := explain.Flag("labels", `The alert's labels: team=dba,severity=critical,owner="a@corp.com,b@corp.com".`).Required().String()
	explainAt := explain.Flag("at", "When the notification is rendered (RFC 3339); default now.").String()
	explainFor := explain.Flag("firing-for", "How long the alert has been firing, for escalation steps.").Default("0s").Duration()
	explainResolved := explain.Flag("resolved", "Explain a resolved notification.").Bool()

	health := app.Command("healthcheck", "Exit 0 when the receiver answers /-/healthy; for container HEALTHCHECKs and probes.")
	healthURL := health.Flag("url", "Health endpoint to ask; default http://127.0.0.1:PORT/-/healthy, PORT from the first --web.listen-address.").String()
	healthHTTPConfig := health.Flag("http.config.file", "HTTP client configuration file to connect to the receiver (basic_auth with password_file, tls_config), as amtool's.").
		PlaceHolder("<filename>").String()

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	switch cmd {
	case check.FullCommand():
		if *checkFile == "" {
			return checkConfig(stdout, stderr, *configFile)
		}
		return checkConfig(stdout, stderr, *checkFile)
	case explain.FullCommand():
		return explainCommand(stdout, stderr, *configFile, *explainRobot, *explainLabels, *explainAt, *explainFor, *explainResolved)
	case health.FullCommand():
		return healthcheck(stderr, *healthURL, *healthHTTPConfig, *webFlags.WebListenAddresses)
	case render.FullCommand():
		return renderPayloadFile(stdout, stderr, *configFile, *renderRobot, *renderPayload)
	}

	logConfig.Writer = stderr
	return serve(serveOptions{
		configFile: *configFile, dryRun: *dryRun, maxRequestBytes: int64(*maxRequest),
		readTimeout: *readTimeout, shutdownTimeout: *shutdownTimeout, web: webFlags,
	}, promslog.New(logConfig))
}

// serveOptions are the command line's settings of the receiver's server.
type serveOptions struct {
	configFile                   string
	dryRun                       bool
	maxRequestBytes              int64
	readTimeout, shutdownTimeout time.Duration
	web                          *web.FlagConfig
}

// serve runs the receiver until SIGTERM or SIGINT, reloading on SIGHUP,
// and returns the exit code.
func serve(opts serveOptions, logger *slog.Logger) int {
	logger.Info("Starting "+name, "version", version.Info(), "build_context", version.BuildContext())

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("alertmanager_wecom"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	recv := receiver.New(nil, receiver.Options{
		Logger:          logger,
		Registerer:      reg,
		DryRun:          opts.dryRun,
		MaxRequestBytes: opts.maxRequestBytes,
	})
	reloader := receiver.NewReloader(opts.configFile, recv, reg, logger)
	if err := reloader.Reload(); err != nil {
		return 1
	}
	if opts.dryRun {
		logger.Warn("Dry run: messages are logged, not sent to WeCom")
	}

	router := http.NewServeMux()
	recv.Register(router)
	router.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	router.Handle("/-/reload", reloader)
	router.Handle("/debug/pprof/", http.DefaultServeMux)
	router.Handle("GET /api/v1/status", receiver.StatusHandler(recv, reloader, map[string]string{
		"version": version.Version, "revision": version.GetRevision(), "branch": version.Branch,
		"buildDate": version.BuildDate, "goVersion": version.GoVersion,
	}))
	router.Handle("GET /api/v1/explain", receiver.ExplainHandler(recv))
	router.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "OK")
	})
	router.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !recv.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "OK")
	})

	server := &http.Server{
		// Browsers' cross-origin POSTs (text/plain needs no preflight) refused:
		// Alertmanager, curl and probes send no Origin or Sec-Fetch-Site.
		Handler:           http.NewCrossOriginProtection().Handler(router),
		ReadHeaderTimeout: min(10*time.Second, opts.readTimeout),
		ReadTimeout:       opts.readTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- web.ListenAndServe(server, opts.web, logger) }()

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	for {
		select {
		case err := <-serveErr:
			logger.Error("Cannot serve", "err", err)
			return 1
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				_ = reloader.Reload()
				continue
			}
			logger.Info("Shutting down: finishing messages being sent, answering 503 to notifications waiting for budget or a retry", "signal", sig.String(), "timeout", opts.shutdownTimeout)
			ctx, cancel := context.WithTimeout(context.Background(), opts.shutdownTimeout)
			defer cancel()
			recv.Shutdown()
			if err := server.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("Deliveries did not finish in time", "err", err)
				return 1
			}
			logger.Info("Stopped")
			return 0
		}
	}
}

// defaultHealthURL is the health endpoint of a receiver listening on the
// first of listen, asked over loopback when it listens on every address,
// with scheme (http, or https when the client has a TLS configuration).
func defaultHealthURL(scheme string, listen []string) string {
	addr := ":9096"
	if len(listen) > 0 {
		addr = listen[0]
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://" + addr + "/-/healthy"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/-/healthy"
}

// fillVersion completes the build metadata that -ldflags did not set, as in
// a plain go build: the version becomes the one Go stamps from version
// control, and what stays unknown says so instead of showing empty in
// --version, build_info and the status page.
func fillVersion() {
	if version.Version == "" {
		version.Version = stampedVersion()
	}
	if version.Branch == "" {
		version.Branch = "unknown"
	}
}

// stampedVersion is the main module's version as Go stamped it, or else
// the first 12 digits of the VCS revision version.GetRevision read from
// the build info, or "unknown".
func stampedVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	rev := version.GetRevision()
	return rev[:min(len(rev), 12)]
}
