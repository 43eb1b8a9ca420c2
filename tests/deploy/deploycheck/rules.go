package main

// `deploycheck rules`: the Prometheus rules pass promtool, every alert has a firing and a quiet
// unit test and a runbook section, every recording rule has a unit test, and the Grafana
// dashboard is well formed. `deploycheck names`: the metrics the rules and dashboard use.

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	yaml3 "gopkg.in/yaml.v3"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(file string) (*ruleFile, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var rf ruleFile
	if err := yaml3.Unmarshal(raw, &rf); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return &rf, nil
}

func ruleNamesOf(file string) ([]string, error) {
	rf, err := loadRules(file)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert+r.Record)
		}
	}
	return names, nil
}

// dashboardExprs returns every PromQL expression of a Grafana dashboard (panel targets, nested
// row panels, and query variables), keyed by where it is.
func dashboardExprs(file string) (map[string]string, map[string]interface{}, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	var d map[string]interface{}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, nil, fmt.Errorf("%s: invalid JSON: %v", file, err)
	}
	out := map[string]string{}
	var walk func(panels []interface{})
	walk = func(panels []interface{}) {
		for _, p := range panels {
			for _, t := range listOf(p, "targets") {
				if e := str(t, "expr"); e != "" {
					out[fmt.Sprintf("panel %q target %s", str(p, "title"), str(t, "refId"))] = e
				}
			}
			walk(listOf(p, "panels"))
		}
	}
	walk(listOf(d, "panels"))
	labelValues := regexp.MustCompile(`^label_values\(\s*(.*),\s*[a-zA-Z_]+\s*\)$`)
	for _, v := range listOf(d, "templating", "list") {
		if str(v, "type") != "query" {
			continue
		}
		q := str(v, "query", "query")
		if q == "" {
			q = str(v, "query")
		}
		if m := labelValues.FindStringSubmatch(q); m != nil {
			q = m[1]
		}
		out[fmt.Sprintf("variable %q", str(v, "name"))] = q
	}
	return out, d, nil
}

// UsedMetrics maps every metric name used by the rules and the dashboard to where it is used;
// recorded is the set of names the rule file itself records.
func UsedMetrics(rulesFile, dashboardFile string) (used map[string][]string, recorded map[string]bool, err error) {
	used = map[string][]string{}
	recorded = map[string]bool{}
	rf, err := loadRules(rulesFile)
	if err != nil {
		return nil, nil, err
	}
	add := func(expr, where string) error {
		names, err := MetricNames(expr)
		if err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		if len(names) == 0 {
			return fmt.Errorf("%s: no metric in %q", where, expr)
		}
		for _, n := range names {
			used[n] = append(used[n], where)
		}
		return nil
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
			if err := add(r.Expr, "rule "+r.Alert+r.Record); err != nil {
				return nil, nil, err
			}
		}
	}
	exprs, _, err := dashboardExprs(dashboardFile)
	if err != nil {
		return nil, nil, err
	}
	for where, e := range exprs {
		if err := add(e, "dashboard "+where); err != nil {
			return nil, nil, err
		}
	}
	return used, recorded, nil
}

// githubAnchor is the anchor GitHub gives a Markdown heading.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func runRules(args []string) int {
	fs := flag.NewFlagSet("rules", flag.ExitOnError)
	rulesFile := fs.String("rules", "deploy/prometheus/earshot-rules.yaml", "rule file")
	testsGlob := fs.String("tests", "deploy/prometheus/tests/*.yaml", "promtool unit test files")
	runbook := fs.String("runbook", "deploy/RUNBOOK.md", "runbook")
	dashboard := fs.String("dashboard", "deploy/grafana/earshot.json", "Grafana dashboard")
	promtool := fs.String("promtool", "promtool", "promtool binary")
	fs.Parse(args)

	var c checker
	check := c.check
	check(selfTestMetricNames() == nil, "PromQL name lexer self-test", fmt.Sprint(selfTestMetricNames()))

	out, err := exec.Command(*promtool, "check", "rules", *rulesFile).CombinedOutput()
	check(err == nil, "promtool check rules "+*rulesFile, string(out))
	tests, _ := filepath.Glob(*testsGlob)
	check(len(tests) > 0, "unit test files "+*testsGlob)
	if len(tests) > 0 {
		out, err = exec.Command(*promtool, append([]string{"test", "rules"}, tests...)...).CombinedOutput()
		check(err == nil, "promtool test rules "+strings.Join(tests, " "), string(out))
	}

	rf, err := loadRules(*rulesFile)
	if err != nil {
		check(false, "parse rules", err.Error())
		return 1
	}
	// Runbook anchors.
	rb, err := os.ReadFile(*runbook)
	check(err == nil, "read "+*runbook, fmt.Sprint(err))
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(rb), "\n") {
		if strings.HasPrefix(line, "#") {
			anchors[githubAnchor(strings.TrimLeft(line, "#"))] = true
		}
	}
	// What the unit tests cover.
	firing, quiet, exprTested := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, t := range tests {
		raw, _ := os.ReadFile(t)
		var tf struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string        `yaml:"alertname"`
					ExpAlerts []interface{} `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
				PromqlExprTest []struct {
					Expr string `yaml:"expr"`
				} `yaml:"promql_expr_test"`
			} `yaml:"tests"`
		}
		if err := yaml3.Unmarshal(raw, &tf); err != nil {
			check(false, "parse "+t, err.Error())
			continue
		}
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					firing[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
			for _, e := range tc.PromqlExprTest {
				names, _ := MetricNames(e.Expr)
				for _, n := range names {
					exprTested[n] = true
				}
			}
		}
	}
	alerts := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				check(exprTested[r.Record], "recording rule "+r.Record+" has a promql_expr_test")
				continue
			}
			alerts++
			var problems []string
			if !firing[r.Alert] {
				problems = append(problems, "no unit test where it fires")
			}
			if !quiet[r.Alert] {
				problems = append(problems, "no unit test where it must stay quiet")
			}
			url := r.Annotations["runbook_url"]
			const prefix = "deploy/RUNBOOK.md#"
			if !strings.HasPrefix(url, prefix) || !anchors[strings.TrimPrefix(url, prefix)] {
				problems = append(problems, fmt.Sprintf("runbook_url %q is not a section of %s", url, *runbook))
			} else if strings.TrimPrefix(url, prefix) != strings.ToLower(r.Alert) {
				problems = append(problems, fmt.Sprintf("runbook section %q is not the alert's own", url))
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				problems = append(problems, "summary and description annotations are required")
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				problems = append(problems, fmt.Sprintf("severity %q (want warning or critical)", s))
			}
			check(len(problems) == 0, "alert "+r.Alert, problems...)
		}
	}
	check(alerts >= 10, fmt.Sprintf("%d alerts", alerts))

	// The dashboard.
	_, d, err := dashboardExprs(*dashboard)
	check(err == nil, "dashboard "+*dashboard+" is valid JSON", fmt.Sprint(err))
	if d != nil {
		var problems []string
		if str(d, "uid") == "" || str(d, "title") == "" {
			problems = append(problems, "uid and title are required")
		}
		ids := map[int]bool{}
		rows := map[string]bool{}
		type rect struct{ x, y, w, h int }
		var rects []rect
		dsVar := false
		for _, v := range listOf(d, "templating", "list") {
			dsVar = dsVar || (str(v, "type") == "datasource" && str(v, "name") == "datasource")
		}
		if !dsVar {
			problems = append(problems, "no datasource variable named datasource")
		}
		for _, p := range listOf(d, "panels") {
			id, _ := intOf(p, "id")
			if ids[id] {
				problems = append(problems, fmt.Sprintf("panel id %d used twice", id))
			}
			ids[id] = true
			x, _ := intOf(p, "gridPos", "x")
			y, _ := intOf(p, "gridPos", "y")
			w, _ := intOf(p, "gridPos", "w")
			h, _ := intOf(p, "gridPos", "h")
			if w < 1 || h < 1 || x < 0 || x+w > 24 {
				problems = append(problems, fmt.Sprintf("panel %q: gridPos out of the 24-column grid", str(p, "title")))
			}
			for _, r := range rects {
				if x < r.x+r.w && r.x < x+w && y < r.y+r.h && r.y < y+h {
					problems = append(problems, fmt.Sprintf("panel %q overlaps another", str(p, "title")))
				}
			}
			rects = append(rects, rect{x, y, w, h})
			if str(p, "type") == "row" {
				rows[str(p, "title")] = true
				continue
			}
			if str(p, "datasource", "uid") != "${datasource}" {
				problems = append(problems, fmt.Sprintf("panel %q does not use the ${datasource} variable", str(p, "title")))
			}
			if len(listOf(p, "targets")) == 0 {
				problems = append(problems, fmt.Sprintf("panel %q has no query", str(p, "title")))
			}
		}
		for _, want := range []string{"SLA overview", "Gateway", "Router", "SLA monitor", "Stream"} {
			if !rows[want] {
				problems = append(problems, fmt.Sprintf("no row %q", want))
			}
		}
		check(len(problems) == 0, "dashboard layout: rows per service, panels, ids, data source", problems...)
	}
	used, recorded, err := UsedMetrics(*rulesFile, *dashboard)
	check(err == nil, "every expression of the rules and the dashboard names its metrics", fmt.Sprint(err))
	var foreign []string
	for n, where := range used {
		// up: Prometheus's own series of each scrape (the services-down rules).
		if !strings.HasPrefix(n, "earshot_") && !recorded[n] && n != "up" {
			foreign = append(foreign, fmt.Sprintf("%s (%s)", n, where[0]))
		}
	}
	sort.Strings(foreign)
	check(len(foreign) == 0, "every metric is an earshot_* metric, up, or recorded by the rules", foreign...)
	if c.failures > 0 {
		fmt.Printf("rules: %d failed\n", c.failures)
		return 1
	}
	fmt.Println("rules: all checks passed")
	return 0
}

func runNames(args []string) int {
	fs := flag.NewFlagSet("names", flag.ExitOnError)
	rulesFile := fs.String("rules", "deploy/prometheus/earshot-rules.yaml", "rule file")
	dashboard := fs.String("dashboard", "deploy/grafana/earshot.json", "Grafana dashboard")
	fs.Parse(args)
	used, recorded, err := UsedMetrics(*rulesFile, *dashboard)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		tag := ""
		if recorded[n] {
			tag = "  (recorded by the rules)"
		}
		fmt.Printf("%s%s\n", n, tag)
	}
	return 0
}
