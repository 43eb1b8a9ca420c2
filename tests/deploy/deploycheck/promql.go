package main

// Metric names used by PromQL expressions, found by a small PromQL lexer (no PromQL parser is
// packaged by Debian). An identifier is a metric name unless it is a function (followed by
// "("), a keyword or aggregation operator, a label name (inside {...} or the label list of
// by/without/on/ignoring/group_left/group_right), or a Grafana variable ($x, ${x}, [[x]]).
// Strings, numbers and durations are skipped.

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
)

var promKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true,
	"ignoring": true, "group_left": true, "group_right": true, "bool": true, "offset": true,
	"atan2": true, "sum": true, "min": true, "max": true, "avg": true, "group": true,
	"stddev": true, "stdvar": true, "count": true, "count_values": true, "bottomk": true,
	"topk": true, "quantile": true, "inf": true, "nan": true, "Inf": true, "NaN": true,
}

var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// MetricNames returns the metric names an expression selects, or an error for text the lexer
// cannot read (so a mistake here fails loudly instead of hiding a metric).
func MetricNames(expr string) ([]string, error) {
	rs := []rune(expr)
	n := len(rs)
	names := map[string]bool{}
	braceDepth := 0
	labelList := false // inside the (...) of by/without/on/...
	expectLabelList := false
	isIdentStart := func(r rune) bool { return r == '_' || r == ':' || unicode.IsLetter(r) }
	isIdent := func(r rune) bool { return isIdentStart(r) || unicode.IsDigit(r) }
	for i := 0; i < n; {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '#': // comment to end of line
			for i < n && rs[i] != '\n' {
				i++
			}
		case r == '"' || r == '\'' || r == '`':
			q := r
			i++
			for i < n && rs[i] != q {
				if rs[i] == '\\' && q != '`' {
					i++
				}
				i++
			}
			if i >= n {
				return nil, fmt.Errorf("unterminated string in %q", expr)
			}
			i++
		case r == '$': // Grafana variables: $x, ${x}, $__rate_interval
			i++
			if i < n && rs[i] == '{' {
				for i < n && rs[i] != '}' {
					i++
				}
				i++
			} else {
				for i < n && isIdent(rs[i]) {
					i++
				}
			}
		case r == '[': // range or subquery: [5m], [$__rate_interval], [1h:5m], [[var]]
			for i < n && rs[i] != ']' {
				i++
			}
			for i < n && rs[i] == ']' {
				i++
			}
		case r == '{':
			braceDepth++
			i++
		case r == '}':
			braceDepth--
			i++
		case r == '(':
			if expectLabelList {
				labelList = true
				expectLabelList = false
			}
			i++
		case r == ')':
			labelList = false
			i++
		case unicode.IsDigit(r) || (r == '.' && i+1 < n && unicode.IsDigit(rs[i+1])):
			// numbers, durations (5m), exponents (1e3), hex
			for i < n && (isIdent(rs[i]) || rs[i] == '.' || ((rs[i] == '+' || rs[i] == '-') && (rs[i-1] == 'e' || rs[i-1] == 'E'))) {
				i++
			}
		case isIdentStart(r):
			j := i
			for j < n && isIdent(rs[j]) {
				j++
			}
			word := string(rs[i:j])
			k := j
			for k < n && unicode.IsSpace(rs[k]) {
				k++
			}
			nextIsParen := k < n && rs[k] == '('
			switch {
			case braceDepth > 0 || labelList:
				// a label name (inside {...}) or a label in by (...)
			case labelListKeywords[word]:
				expectLabelList = true
			case promKeywords[word]:
			case nextIsParen:
				// a function call
			default:
				names[word] = true
			}
			i = j
		case strings.ContainsRune("+-*/%^=!~<>,:@;", r) || r == ']':
			i++
		default:
			return nil, fmt.Errorf("unexpected %q at %d in %q", r, i, expr)
		}
	}
	if braceDepth != 0 {
		return nil, fmt.Errorf("unbalanced braces in %q", expr)
	}
	out := make([]string, 0, len(names))
	for k := range names {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// selfTestMetricNames guards the lexer against regressions on the shapes the files use.
func selfTestMetricNames() error {
	cases := map[string]string{
		`histogram_quantile(0.99, sum by (queue, le) (rate(earshot_x_bucket{queue=~"$queue"}[$__rate_interval])))`: "earshot_x_bucket",
		`label_replace(sum by (namespace) (rate(a_total[5m])), "service", "gw", "", "") > 0 or b == 0`:             "a_total,b",
		`sum(rate(c{code=~"5.."}[5m])) / sum without (instance) (d) > 0.05 and on (ns) group_left (x) e offset 1h`: "c,d,e",
		`max(earshot_sla_oldest_wait_seconds) > 7200 unless count by (a) (f) * 1e3`:                                "earshot_sla_oldest_wait_seconds,f",
		`queue:earshot_sla_first_response_seconds:p50_30m{queue="a,b"} + sum(increase(g[${__range}]))`:             "g,queue:earshot_sla_first_response_seconds:p50_30m",
	}
	for expr, want := range cases {
		got, err := MetricNames(expr)
		if err != nil {
			return err
		}
		if strings.Join(got, ",") != want {
			return fmt.Errorf("MetricNames(%q) = %v, want %s", expr, got, want)
		}
	}
	return nil
}
