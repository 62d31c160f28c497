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
	"regexp"
	"time"

	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

func main() {
	configFile := flag.String("config.file", "", "the load program's receiver configuration; only global.api_url and the robot key are read")
	listen := flag.String("web.listen-address", "127.0.0.1:9096", "address to listen on")
	flag.String("log.level", "", "ignored")
	flag.Parse()
	if err := run(*configFile, *listen); err != nil {
		fmt.Fprintln(os.Stderr, "nullproxy:", err)
		os.Exit(1)
	}
}

var (
	apiURLRE = regexp.MustCompile(`api_url: (\S+)`)
	keyRE    = regexp.MustCompile(`key: ([^,}\s]+)`)
)

func run(configFile, listen string) error {
	config, err := os.ReadFile(configFile)
	if err != nil {
		return err
	}
	apiURL, key := apiURLRE.FindSubmatch(config), keyRE.FindSubmatch(config)
	if apiURL == nil || key == nil {
		return fmt.Errorf("%s: no api_url or robot key", configFile)
	}
	webhook := string(apiURL[1]) + "?key=" + string(key[1])
	message := wecom.NewMessage(wecom.MsgTypeMarkdown, "## [FIRING:2] MySQLReplicationLag\n<@alice_wecom> <@bob_wecom>")
	client := wecom.NewClient(10 * time.Second)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/ready", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("POST /robots/{robot}/send", func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		if err := client.Send(req.Context(), webhook, message); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return http.ListenAndServe(listen, mux)
}
