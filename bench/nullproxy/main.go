// Command nullproxy is the ceiling of the load program's throughput mode on
// the machine it runs on: a stand-in for the receiver that does no work of
// its own. For each POST it reads the body, sends one fixed markdown message
// to the fake WeCom with the receiver's WeCom client and answers 200: the
// receiver's HTTP on both sides, without its decode, match and render. It
// takes the receiver's flags, so that the load program can start it in the
// receiver's place:
//
//	go build -o /tmp/nullproxy ./bench/nullproxy && go run ./bench/load -bin /tmp/nullproxy -mode throughput
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

func main() {
	configFile := flag.String("config.file", "", "the receiver's configuration; only its robots' webhook URLs are used")
	listen := flag.String("web.listen-address", "127.0.0.1:9096", "address to listen on")
	flag.String("log.level", "", "ignored")
	flag.Parse()
	if err := run(*configFile, *listen); err != nil {
		fmt.Fprintln(os.Stderr, "nullproxy:", err)
		os.Exit(1)
	}
}

func run(configFile, listen string) error {
	cfg, err := config.LoadFile(configFile)
	if err != nil {
		return err
	}
	message := wecom.NewMessage(wecom.MsgTypeMarkdown, "## [FIRING:2] MySQLReplicationLag\n<@alice_wecom> <@bob_wecom>")
	client := wecom.NewClient(time.Duration(cfg.Global.Timeout))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/ready", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("POST /robots/{robot}/send", func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		robot, ok := cfg.Robots[req.PathValue("robot")]
		if !ok {
			http.Error(w, "unknown robot", http.StatusNotFound)
			return
		}
		webhook, ok := robot.WebhookURLFor("")
		if !ok {
			http.Error(w, "the robot takes its key from the request", http.StatusUnauthorized)
			return
		}
		if err := client.Send(req.Context(), webhook, message); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return http.ListenAndServe(listen, mux)
}
