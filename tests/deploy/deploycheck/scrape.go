package main

// `deploycheck scrape`: starts `earshot --target=all` (embedded broker) and the real
// Prometheus on free loopback ports, with the rules loaded; sends webhooks that answer one
// conversation in time, one late and leave one waiting, a badly signed one, and opens a stream
// subscription (and a refused one); then asks Prometheus for every metric the rules and the
// dashboard use and for every series the rules record, and fails naming each one missing.
// Also runs deploy/healthcheck.sh (the image's HEALTHCHECK) against the running earshot.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http2"
)

const (
	genericKey    = "scrape-test-generic-key"
	streamToken   = "scrape-test-token"
	metaAppSecret = "scrape-test-meta-secret"
)

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// process is a child process with its output in a log file, ended by SIGTERM then SIGKILL.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(name, logFile string, env []string, bin string, args ...string) (*process, error) {
	out, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = out, out, env
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() { cmd.Wait(); out.Close(); close(p.done) }()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) stop() {
	if p == nil || p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		fmt.Printf("%s did not stop within 15 s of SIGTERM; killing it\n", p.name)
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) tail() string {
	data, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// waitFor polls cond every interval until it holds or timeout passes.
func waitFor(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(interval)
	}
	return cond()
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func httpStatus(u string) int {
	resp, err := httpClient.Get(u)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// exportedNames: the sample names of a Prometheus text exposition (histograms as their
// _bucket, _sum and _count series), or none when it does not answer.
func exportedNames(u string) map[string]bool {
	names := map[string]bool{}
	resp, err := httpClient.Get(u)
	if err != nil {
		return names
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// postGeneric sends one Standard Webhooks-signed event to /webhooks/generic/reviews.
func postGeneric(httpPort int, id string, event map[string]interface{}, badSignature bool) (int, error) {
	body, _ := json.Marshal(event)
	ts := fmt.Sprint(time.Now().Unix())
	mac := hmac.New(sha256.New, []byte(genericKey))
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	sig := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if badSignature {
		sig = "v1,AAAA"
	}
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/webhooks/generic/reviews", httpPort), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", sig)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// subscribe opens earshot.v1.Stream/Subscribe over plaintext HTTP/2 with an empty
// SubscribeRequest (routed events and alerts, from now on). It returns a cancel function and
// the gRPC status once the call ends (or "" while it is open).
func subscribe(grpcPort int, token string) (context.CancelFunc, func() string) {
	tr := &http2.Transport{AllowHTTP: true, DialTLS: func(network, addr string, _ *tls.Config) (net.Conn, error) {
		return net.Dial(network, addr)
	}}
	ctx, cancel := context.WithCancel(context.Background())
	status := make(chan string, 1)
	go func() {
		frame := []byte{0, 0, 0, 0, 0} // uncompressed, length 0: SubscribeRequest{}
		req, _ := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("http://127.0.0.1:%d/earshot.v1.Stream/Subscribe", grpcPort), bytes.NewReader(frame))
		req.Header.Set("content-type", "application/grpc")
		req.Header.Set("te", "trailers")
		if token != "" {
			req.Header.Set("authorization", "Bearer "+token)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			status <- "transport: " + err.Error()
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s := resp.Trailer.Get("grpc-status")
		if s == "" {
			s = resp.Header.Get("grpc-status") // trailers-only answer
		}
		status <- "grpc-status " + s + " " + resp.Trailer.Get("grpc-message") + resp.Header.Get("grpc-message")
	}()
	last := ""
	return cancel, func() string {
		select {
		case last = <-status:
		default:
		}
		return last
	}
}

type promResponse struct {
	Status string          `json:"status"`
	Data   json.RawMessage `json:"data"`
	Error  string          `json:"error"`
}

func promGet(base, path string, params url.Values) (json.RawMessage, error) {
	resp, err := httpClient.Get(base + path + "?" + params.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var pr promResponse
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		return nil, err
	}
	if pr.Status != "success" {
		return nil, fmt.Errorf("%s: %s", path, pr.Error)
	}
	return pr.Data, nil
}

func runScrape(args []string) int {
	fs := flag.NewFlagSet("scrape", flag.ExitOnError)
	earshotBin := fs.String("earshot", "build/services/earshot/earshot", "earshot binary")
	prometheusBin := fs.String("prometheus", "prometheus", "prometheus binary")
	rulesFile := fs.String("rules", "deploy/prometheus/earshot-rules.yaml", "rule file")
	dashboard := fs.String("dashboard", "deploy/grafana/earshot.json", "Grafana dashboard")
	healthcheck := fs.String("healthcheck", "deploy/healthcheck.sh", "the image's health check script")
	work := fs.String("work", "", "work folder (default: a new temporary folder)")
	fs.Parse(args)

	used, recorded, err := UsedMetrics(*rulesFile, *dashboard)
	if err != nil {
		fmt.Printf("FAIL metric names: %v\n", err)
		return 1
	}
	for r := range recorded {
		used[r] = append(used[r], "recorded by "+*rulesFile)
	}
	dir := *work
	if dir == "" {
		dir, _ = os.MkdirTemp("", "earshot-scrape-")
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Printf("FAIL %v\n", err)
		return 1
	}
	// The rules as they are, but evaluated every second like the scrapes: a group's own
	// `interval:` (30 s for the recording rules) would make the test wait for it.
	rulesText, err := os.ReadFile(*rulesFile)
	if err != nil {
		fmt.Printf("FAIL %v\n", err)
		return 1
	}
	rulesAbs := filepath.Join(dir, "earshot-rules.yaml")
	os.WriteFile(rulesAbs, regexp.MustCompile(`(?m)^\s+interval:\s*\S+\s*\n`).ReplaceAll(rulesText, nil), 0o644)
	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			fmt.Printf("FAIL free port: %v\n", err)
			return 1
		}
	}
	httpPort, grpcPort, adminPort, promPort := ports[0], ports[1], ports[2], ports[3]

	// earshot: every service, embedded broker, short SLA targets so that warnings, breaches,
	// late and timely answers all happen within seconds.
	files := map[string]string{
		"sla.yaml":   "policies:\n  default: {first_response: 2s, next_response: 2s, warn_at: 50%}\n",
		"teams.yaml": fmt.Sprintf("teams:\n  - {name: scrape, token: %s, queues: [\"*\"]}\n", streamToken),
		"earshot.yaml": fmt.Sprintf(`http: {addr: "127.0.0.1:%d"}
grpc: {addr: "127.0.0.1:%d"}
admin: {addr: "127.0.0.1:%d"}
kafka:
  bootstrap: ""
  embedded: {brokers: 1, partitions: 2}
  delivery_timeout: 5s
meta: {app_secret: %s, verify_token: scrape}
generic: {sources: {reviews: {secret: "whsec_%s"}}}
sla: {policies_file: %s}
stream: {tokens_file: %s, heartbeat: 1s}
`, httpPort, grpcPort, adminPort, metaAppSecret, base64.StdEncoding.EncodeToString([]byte(genericKey)),
			filepath.Join(dir, "sla.yaml"), filepath.Join(dir, "teams.yaml")),
		"prometheus.yml": fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: earshot
    static_configs: [{targets: ["127.0.0.1:%d"]}]
`, rulesAbs, adminPort),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			fmt.Printf("FAIL %v\n", err)
			return 1
		}
	}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "EARSHOT_") {
			env = append(env, e)
		}
	}
	// On a real Kafka when tests/deploy/with_real_kafka.sh started one; else the embedded broker.
	if b := os.Getenv("EARSHOT_TEST_KAFKA_BOOTSTRAP"); b != "" {
		env = append(env, "EARSHOT_KAFKA_BOOTSTRAP="+b)
	}
	t0 := time.Now()
	earshot, err := start("earshot", filepath.Join(dir, "earshot.log"), env, *earshotBin,
		"--target=all", "--config="+filepath.Join(dir, "earshot.yaml"), "--data-dir="+filepath.Join(dir, "data"))
	if err != nil {
		fmt.Printf("FAIL %v\n", err)
		return 1
	}
	defer earshot.stop()
	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	if !waitFor(60*time.Second, 100*time.Millisecond, func() bool { return earshot.exited() || httpStatus(admin+"/readyz") == 200 }) || earshot.exited() {
		fmt.Printf("FAIL earshot did not become ready within 60 s; its log:\n%s\n", earshot.tail())
		return 1
	}
	fmt.Printf("ok    earshot --target=all ready in %.1f s (http %d, grpc %d, admin %d)\n", time.Since(t0).Seconds(), httpPort, grpcPort, adminPort)

	prom, err := start("prometheus", filepath.Join(dir, "prometheus.log"), env, *prometheusBin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort),
		"--log.level=warn")
	if err != nil {
		fmt.Printf("FAIL %v\n", err)
		return 1
	}
	defer prom.stop()

	var c checker
	check := c.check

	// Before any traffic: every earshot metric the rules and the dashboard use is exported, its
	// known label values at 0, so that panels and rules show 0 instead of "no data".
	var idle []string
	exported := exportedNames(admin + "/metrics")
	for n, where := range used {
		if strings.HasPrefix(n, "earshot_") && !recorded[n] && !exported[n] {
			idle = append(idle, fmt.Sprintf("%s (used by %s)", n, strings.Join(where, "; ")))
		}
	}
	sort.Strings(idle)
	check(len(idle) == 0, "every earshot metric the rules and the dashboard use is exported before any traffic", idle...)

	// The image's HEALTHCHECK script, against this earshot and against a closed port.
	hcEnv := append(append([]string(nil), env...), fmt.Sprintf("EARSHOT_ADMIN_ADDR=0.0.0.0:%d", adminPort))
	out, err := (&exec.Cmd{Path: "/bin/sh", Args: []string{"sh", *healthcheck}, Env: hcEnv}).CombinedOutput()
	check(err == nil, "deploy/healthcheck.sh passes against the running earshot", strings.TrimSpace(string(out)))
	closed, _ := freePort()
	hcEnv[len(hcEnv)-1] = fmt.Sprintf("EARSHOT_ADMIN_ADDR=0.0.0.0:%d", closed)
	out, err = (&exec.Cmd{Path: "/bin/sh", Args: []string{"sh", *healthcheck}, Env: hcEnv}).CombinedOutput()
	check(err != nil, "deploy/healthcheck.sh fails against a closed port", strings.TrimSpace(string(out)))

	// A subscriber with a valid token, one without.
	cancelSub, subStatus := subscribe(grpcPort, streamToken)
	defer cancelSub()
	cancelBad, badStatus := subscribe(grpcPort, "wrong-token")
	defer cancelBad()

	// Traffic: thread late (answered after its 2 s target), thread quick (answered at once,
	// then a second wait answered at once: a next response), thread waiting (never answered),
	// and a badly signed request.
	now := time.Now()
	ev := func(id, thread, direction string, at time.Time) map[string]interface{} {
		return map[string]interface{}{"id": id, "thread_id": thread, "kind": "comment", "direction": direction,
			"text": "scrape test " + id, "created_at": at.UTC().Format(time.RFC3339), "author": map[string]interface{}{"id": "u-" + thread}}
	}
	send := func(id string, e map[string]interface{}, bad bool, want int) {
		code, err := postGeneric(httpPort, id, e, bad)
		check(err == nil && code == want, fmt.Sprintf("webhook %s answered %d", id, want), fmt.Sprintf("got %d, %v", code, err))
	}
	send("late-1", ev("late-1", "late", "inbound", now), false, 200)
	send("quick-1", ev("quick-1", "quick", "inbound", now), false, 200)
	send("quick-2", ev("quick-2", "quick", "outbound", now.Add(500*time.Millisecond)), false, 200)
	send("wait-1", ev("wait-1", "waiting", "inbound", now), false, 200)
	send("forged", ev("forged", "forged", "inbound", now), true, 401)
	time.Sleep(3500 * time.Millisecond) // past the 2 s target: warnings and breaches fire
	now = time.Now()
	send("late-2", ev("late-2", "late", "outbound", now), false, 200)
	send("quick-3", ev("quick-3", "quick", "inbound", now), false, 200)
	send("quick-4", ev("quick-4", "quick", "outbound", now.Add(time.Second)), false, 200)

	// Prometheus: ready, scraping, rules loaded; then every used metric must have series.
	base := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	if !waitFor(60*time.Second, 200*time.Millisecond, func() bool { return prom.exited() || httpStatus(base+"/-/ready") == 200 }) || prom.exited() {
		fmt.Printf("FAIL prometheus did not become ready within 60 s; its log:\n%s\n", prom.tail())
		return 1
	}
	upOK := waitFor(30*time.Second, 500*time.Millisecond, func() bool {
		data, err := promGet(base, "/api/v1/query", url.Values{"query": {`up{job="earshot"} == 1`}})
		var r struct{ Result []interface{} }
		return err == nil && json.Unmarshal(data, &r) == nil && len(r.Result) == 1
	})
	check(upOK, "prometheus scrapes earshot (up == 1)", prom.tail())

	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	missing := map[string]bool{}
	present := func(name string) bool {
		data, err := promGet(base, "/api/v1/series", url.Values{"match[]": {name},
			"start": {fmt.Sprint(time.Now().Add(-10 * time.Minute).Unix())}, "end": {fmt.Sprint(time.Now().Unix())}})
		var series []map[string]string
		return err == nil && json.Unmarshal(data, &series) == nil && len(series) > 0
	}
	// Bounded: the recording rules need an evaluation after the first scrapes.
	waitFor(30*time.Second, time.Second, func() bool {
		for _, n := range names {
			missing[n] = !present(n)
		}
		for _, m := range missing {
			if m {
				return false
			}
		}
		return true
	})
	var absent []string
	for _, n := range names {
		if missing[n] {
			absent = append(absent, fmt.Sprintf("%s (used by %s)", n, strings.Join(used[n], "; ")))
		}
	}
	check(len(absent) == 0, fmt.Sprintf("all %d metrics used by the rules and the dashboard exist in Prometheus", len(names)), absent...)

	// Every rule evaluates without error against the real data.
	data, err := promGet(base, "/api/v1/rules", url.Values{})
	var rules struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	var bad []string
	count := 0
	if err == nil {
		err = json.Unmarshal(data, &rules)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			count++
			if r.Health == "err" {
				bad = append(bad, r.Name+": "+r.LastError)
			}
		}
	}
	check(err == nil && count > 0 && len(bad) == 0, fmt.Sprintf("prometheus loaded and evaluates %d rules without error", count), append(bad, fmt.Sprint(err))...)

	// A breach happened and was answered late; an alert fired to Kafka: the SLA path worked.
	q := func(expr string) float64 {
		data, err := promGet(base, "/api/v1/query", url.Values{"query": {expr}})
		var r struct {
			Result []struct{ Value [2]interface{} } `json:"result"`
		}
		if err != nil || json.Unmarshal(data, &r) != nil || len(r.Result) == 0 {
			return -1
		}
		var v float64
		fmt.Sscan(fmt.Sprint(r.Result[0].Value[1]), &v)
		return v
	}
	check(q(`sum(earshot_sla_answered_total{result="breached"})`) >= 1, "a late answer is counted as breached")
	check(q(`sum(earshot_sla_alerts_total{name="ResponseTimeBreached", state="firing"})`) >= 1, "a breach alert was published")
	check(q(`sum(earshot_gateway_signature_failures_total)`) >= 1, "the forged webhook is counted as a signature failure")

	st := subStatus()
	check(st == "", "the stream subscription with a valid token stays open", st)
	waitFor(5*time.Second, 100*time.Millisecond, func() bool { return badStatus() != "" })
	st = badStatus()
	check(strings.HasPrefix(st, "grpc-status 16"), "the stream refuses a wrong token with UNAUTHENTICATED", st)
	if c.failures > 0 {
		fmt.Printf("earshot log (%s):\n%s\n", earshot.log, earshot.tail())
		fmt.Printf("scrape: %d failed (work folder %s)\n", c.failures, dir)
		return 1
	}
	fmt.Printf("scrape: all checks passed in %.1f s\n", time.Since(t0).Seconds())
	return 0
}
