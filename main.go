// Command alertmanager-wecom receives Prometheus Alertmanager's webhook
// notifications and posts them to WeCom group robots, @mentioning the
// people responsible for each alert.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/receiver"
)

const name = "alertmanager-wecom"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	app := kingpin.New(name, "Receives Prometheus Alertmanager webhook notifications and posts them to WeCom group robots, @mentioning the responders.")
	configFile := app.Flag("config.file", "Configuration file.").Default("config.yml").String()
	dryRun := app.Flag("dry-run", "Render and log the WeCom messages instead of sending them.").Bool()
	maxRequest := app.Flag("web.max-request-bytes", "Largest notification body accepted; larger ones get 413.").
		Default("4MiB").Bytes()
	shutdownTimeout := app.Flag("web.shutdown-timeout", "How long deliveries in flight may take to finish on SIGTERM.").
		Default("30s").Duration()
	webFlags := kingpinflag.AddFlags(app, ":9096")
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}

	logger := promslog.New(logConfig)
	logger.Info("Starting "+name, "version", version.Info(), "build_context", version.BuildContext())

	cfg, err := config.LoadFile(*configFile)
	if err != nil {
		logger.Error("Cannot load configuration", "file", *configFile, "err", err)
		return 1
	}
	state, err := receiver.NewState(cfg)
	if err != nil {
		logger.Error("Cannot load configuration", "file", *configFile, "err", err)
		return 1
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("alertmanager_wecom"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	recv := receiver.New(state, receiver.Options{
		Logger:          logger,
		Registerer:      reg,
		DryRun:          *dryRun,
		MaxRequestBytes: int64(*maxRequest),
	})
	if *dryRun {
		logger.Warn("Dry run: messages are logged, not sent to WeCom")
	}

	router := mux.NewRouter()
	recv.Register(router)
	router.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	router.HandleFunc("/-/healthy", okHandler).Methods(http.MethodGet, http.MethodHead)
	router.HandleFunc("/-/ready", okHandler).Methods(http.MethodGet, http.MethodHead)

	server := &http.Server{
		Handler:           router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- web.ListenAndServe(server, webFlags, logger) }()

	term := make(chan os.Signal, 1)
	signal.Notify(term, os.Interrupt, syscall.SIGTERM)
	select {
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			logger.Error("Cannot serve", "err", err)
			return 1
		}
	case sig := <-term:
		logger.Info("Shutting down: finishing deliveries in flight", "signal", sig.String(), "timeout", *shutdownTimeout)
		ctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
		defer cancel()
		if err := server.Shutdown(ctx); err != nil {
			logger.Error("Deliveries did not finish in time", "err", err)
			return 1
		}
	}
	return 0
}

func okHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "OK")
}
