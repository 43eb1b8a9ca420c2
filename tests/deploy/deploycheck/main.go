// deploycheck tests Earshot's deployment files (deploy/, helm/earshot) with the real parts: the
// chart is rendered by the real Helm and decoded by Kubernetes' and Strimzi's own types
// (tests/deploy/kubedecode, tests/deploy/strimzi), the rules by promtool, the metrics by a real
// Prometheus. It is a Go module built by tests/deploy/CMakeLists.txt and run by ctest:
//
//	deploycheck chart   helm lint and render helm/earshot for every ci/*-values.yaml, decode
//	                    and check the objects; every ci/reject/*-values.yaml must be refused
//	deploycheck chart-run  start the real earshot with the config the chart generates
//	deploycheck rules   promtool check/test the Prometheus rules; every alert has a unit test
//	                    and a runbook section; the dashboard is well formed
//	deploycheck scrape  start earshot --target=all and the real Prometheus on loopback, send
//	                    traffic, and check that every metric the rules and the dashboard use
//	                    exists
//	deploycheck docker  static checks of deploy/Dockerfile and .dockerignore
//	deploycheck names   print the metric names the rules and the dashboard use
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: deploycheck chart|chart-run|rules|scrape|docker|names [flags]")
		os.Exit(2)
	}
	var code int
	switch os.Args[1] {
	case "chart":
		code = runChart(os.Args[2:])
	case "chart-run":
		code = runChartRun(os.Args[2:])
	case "rules":
		code = runRules(os.Args[2:])
	case "scrape":
		code = runScrape(os.Args[2:])
	case "docker":
		code = runDocker(os.Args[2:])
	case "names":
		code = runNames(os.Args[2:])
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", os.Args[1])
		code = 2
	}
	os.Exit(code)
}

// checker prints one line a check, "ok" or "FAIL" with the details indented below it, and counts
// the failures.
type checker struct{ failures int }

func (c *checker) check(ok bool, what string, detail ...string) {
	if ok {
		fmt.Printf("ok    %s\n", what)
		return
	}
	c.failures++
	fmt.Printf("FAIL  %s\n", what)
	for _, d := range detail {
		fmt.Printf("        %s\n", strings.ReplaceAll(strings.TrimSpace(d), "\n", "\n        "))
	}
}
