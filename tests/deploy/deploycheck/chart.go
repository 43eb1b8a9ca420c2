package main

// The checks of the rendered objects beyond their schemas (which kubedecode and the Strimzi
// check apply): names, labels, selectors, ports, probes, mounts, config keys, security context,
// PDBs, HPA, NetworkPolicies, monitoring and topics.

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	yaml3 "gopkg.in/yaml.v3"
)

// Object is one rendered Kubernetes object.
type Object struct {
	File string // template that produced it
	M    map[string]interface{}
}

func (o Object) Kind() string      { return str(o.M, "kind") }
func (o Object) Name() string      { return str(o.M, "metadata", "name") }
func (o Object) Namespace() string { return str(o.M, "metadata", "namespace") }
func (o Object) ID() string        { return o.Kind() + "/" + o.Name() }

// Helpers to walk decoded YAML.
func get(v interface{}, keys ...string) interface{} {
	for _, k := range keys {
		m, ok := v.(map[string]interface{})
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
func str(v interface{}, keys ...string) string {
	s, _ := get(v, keys...).(string)
	return s
}
func mapOf(v interface{}, keys ...string) map[string]interface{} {
	m, _ := get(v, keys...).(map[string]interface{})
	return m
}
func listOf(v interface{}, keys ...string) []interface{} {
	l, _ := get(v, keys...).([]interface{})
	return l
}
func intOf(v interface{}, keys ...string) (int, bool) {
	switch n := get(v, keys...).(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), n == float64(int(n))
	}
	return 0, false
}
func labels(v interface{}, keys ...string) map[string]string {
	out := map[string]string{}
	for k, val := range mapOf(v, keys...) {
		s, ok := val.(string)
		if !ok {
			s = fmt.Sprint(val)
		}
		out[k] = s
	}
	return out
}

// selects: a matchLabels selector selects a label set.
func selects(selector, lbls map[string]string) bool {
	for k, v := range selector {
		if lbls[k] != v {
			return false
		}
	}
	return true
}

// ParseObjects splits rendered templates into objects; YAML errors are reported by file.
func ParseObjects(rendered []Rendered) ([]Object, []string) {
	var objs []Object
	var errs []string
	for _, r := range rendered {
		if strings.HasSuffix(r.Name, "NOTES.txt") {
			continue
		}
		dec := yaml3.NewDecoder(strings.NewReader(r.Text))
		for i := 0; ; i++ {
			var m map[string]interface{}
			err := dec.Decode(&m)
			if err != nil {
				if err.Error() == "EOF" {
					break
				}
				errs = append(errs, fmt.Sprintf("%s: document %d: invalid YAML: %v", r.Name, i, err))
				break
			}
			if m == nil {
				continue
			}
			objs = append(objs, Object{File: r.Name, M: m})
		}
	}
	return objs, errs
}

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// A number printed by Go's %v of a float64 in exponent form: the classic Helm mistake of
	// printing a big number from values without int/int64.
	exponentNumber = regexp.MustCompile(`(?m)[:\-]\s+"?[0-9](\.[0-9]+)?e[+-][0-9]+"?\s*$`)
)

// CheckContext carries what the object checks need besides the objects.
type CheckContext struct {
	Release   Release
	Values    map[string]interface{}
	RuleNames []string // alert and record names of deploy/prometheus/earshot-rules.yaml
	Rendered  []Rendered
	// Config keys the services read (from their sources); nil: not checked.
	ConfigKeys *ConfigKeys
}

// ConfigKeys are the config keys the C++ services read: Get*("key") calls and tables of
// {"key", "setting"} pairs give exact keys,
// Node("key") and ChildKeys("key") calls whole subtrees, and "prefix." + name + ".rest"
// concatenations a pattern with one free segment.
type ConfigKeys struct {
	exact    map[string]bool
	subtrees []string
	patterns []*regexp.Regexp
}

// LoadConfigKeys scans the C++ sources under dir.
func LoadConfigKeys(dir string) (*ConfigKeys, error) {
	ck := &ConfigKeys{exact: map[string]bool{}}
	get := regexp.MustCompile(`\b(?:Get(?:String|Int|IntList|Double|Bool|Duration|List)|Has)\(\s*"([a-z0-9_.\-]+)"\s*[,)]`)
	table := regexp.MustCompile(`\{\s*"([a-z0-9_]+\.[a-z0-9_.]+)",\s*"[a-z0-9_.]+"\s*\}`)
	sub := regexp.MustCompile(`\b(?:Node|ChildKeys)\(\s*"([a-z0-9_.\-]+)"\s*\)`)
	concat := regexp.MustCompile(`\bGet(?:String|Int|IntList|Double|Bool|Duration|List)\(\s*"([a-z0-9_.\-]+\.)"\s*\+\s*[A-Za-z_]+\s*\+\s*"(\.[a-z0-9_.\-]+)"`)
	// Settings the stateful runtime reads in the router's and the SLA monitor's sections:
	// Get*(service + ".session_timeout_ms").
	sectioned := regexp.MustCompile(`\bGet(?:String|Int|IntList|Double|Bool|Duration|List)\(\s*[a-z_]+\s*\+\s*"(\.[a-z0-9_.\-]+)"`)
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(p, ".cc") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range get.FindAllStringSubmatch(string(data), -1) {
			ck.exact[m[1]] = true
		}
		// Tables of {"config.key", "library.setting"} pairs (kafka/options.cc).
		for _, m := range table.FindAllStringSubmatch(string(data), -1) {
			ck.exact[m[1]] = true
		}
		for _, m := range sub.FindAllStringSubmatch(string(data), -1) {
			ck.subtrees = append(ck.subtrees, m[1]+".")
		}
		for _, m := range concat.FindAllStringSubmatch(string(data), -1) {
			ck.patterns = append(ck.patterns, regexp.MustCompile("^"+regexp.QuoteMeta(m[1])+`[^.]+`+regexp.QuoteMeta(m[2])+"$"))
		}
		for _, m := range sectioned.FindAllStringSubmatch(string(data), -1) {
			ck.patterns = append(ck.patterns, regexp.MustCompile("^(router|sla)"+regexp.QuoteMeta(m[1])+"$"))
		}
		return nil
	})
	if err == nil && len(ck.exact) == 0 {
		err = fmt.Errorf("no config keys found under %s", dir)
	}
	return ck, err
}

// Known tells whether a service reads the dotted key.
func (ck *ConfigKeys) Known(key string) bool { return ck.known(key) }

func (ck *ConfigKeys) known(key string) bool {
	if ck.exact[key] {
		return true
	}
	for _, s := range ck.subtrees {
		if strings.HasPrefix(key, s) {
			return true
		}
	}
	for _, p := range ck.patterns {
		if p.MatchString(key) {
			return true
		}
	}
	return false
}

// CheckObjects runs every check on the objects of one rendering; it returns the problems.
func CheckObjects(ctx CheckContext, objs []Object) []string {
	var errs []string
	fail := func(o *Object, format string, args ...interface{}) {
		where := ""
		if o != nil {
			where = fmt.Sprintf("%s: %s: ", path.Base(o.File), o.ID())
		}
		errs = append(errs, where+fmt.Sprintf(format, args...))
	}
	for _, r := range ctx.Rendered {
		if m := exponentNumber.FindString(r.Text); m != "" {
			errs = append(errs, fmt.Sprintf("%s: a number printed in exponent notation (%q): use int or int64", r.Name, strings.TrimSpace(m)))
		}
		if strings.Contains(r.Text, "%!") {
			errs = append(errs, fmt.Sprintf("%s: a printf formatting error in the output", r.Name))
		}
	}

	seen := map[string]bool{}
	byKind := map[string][]*Object{}
	for i := range objs {
		o := &objs[i]
		if str(o.M, "apiVersion") == "" || o.Kind() == "" || o.Name() == "" {
			fail(o, "apiVersion, kind and metadata.name are required")
			continue
		}
		key := o.Kind() + "/" + o.Namespace() + "/" + o.Name()
		if seen[key] {
			fail(o, "defined twice")
		}
		seen[key] = true
		byKind[o.Kind()] = append(byKind[o.Kind()], o)
		if !dns1123Subdomain.MatchString(o.Name()) || len(o.Name()) > 253 {
			fail(o, "name %q is not a DNS-1123 subdomain", o.Name())
		}
		if (o.Kind() == "Service" || o.Kind() == "StatefulSet" || o.Kind() == "Deployment") &&
			(!dns1123Label.MatchString(o.Name()) || len(o.Name()) > 63) {
			fail(o, "name %q is not a DNS-1123 label of at most 63 characters", o.Name())
		}
		if o.Kind() == "StatefulSet" && len(o.Name()) > 52 {
			fail(o, "StatefulSet name longer than 52: pods' controller-revision-hash labels exceed 63")
		}
		if o.Namespace() == "" {
			fail(o, "metadata.namespace is missing")
		}
		l := labels(o.M, "metadata", "labels")
		for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance",
			"app.kubernetes.io/managed-by", "helm.sh/chart", "app.kubernetes.io/part-of"} {
			if l[k] == "" {
				fail(o, "label %s is missing", k)
			}
		}
		if l["app.kubernetes.io/instance"] != "" && l["app.kubernetes.io/instance"] != ctx.Release.Name {
			fail(o, "label app.kubernetes.io/instance=%s, want the release name %s", l["app.kubernetes.io/instance"], ctx.Release.Name)
		}
		for k, v := range l {
			if len(v) > 63 {
				fail(o, "label %s value longer than 63 characters", k)
			}
		}
	}

	configMaps := map[string]*Object{}
	for _, o := range byKind["ConfigMap"] {
		configMaps[o.Name()] = o
	}
	services := map[string]*Object{}
	for _, o := range byKind["Service"] {
		services[o.Name()] = o
	}

	// Workloads and their pods.
	type workload struct {
		obj       *Object
		podLabels map[string]string
		pod       map[string]interface{}
	}
	var workloads []workload
	deployments := map[string]*Object{}
	for _, kind := range []string{"Deployment", "StatefulSet"} {
		for _, o := range byKind[kind] {
			if kind == "Deployment" {
				deployments[o.Name()] = o
			}
			sel := labels(o.M, "spec", "selector", "matchLabels")
			podLabels := labels(o.M, "spec", "template", "metadata", "labels")
			if len(sel) == 0 {
				fail(o, "spec.selector.matchLabels is empty")
			}
			if !selects(sel, podLabels) {
				fail(o, "selector %v does not select its own pod template labels %v", sel, podLabels)
			}
			workloads = append(workloads, workload{o, podLabels, mapOf(o.M, "spec", "template", "spec")})
			errs = append(errs, checkPod(ctx, o, kind, podLabels, configMaps)...)
		}
	}
	for i, a := range workloads {
		for _, b := range workloads[i+1:] {
			if selects(labels(a.obj.M, "spec", "selector", "matchLabels"), b.podLabels) ||
				selects(labels(b.obj.M, "spec", "selector", "matchLabels"), a.podLabels) {
				fail(a.obj, "selector overlaps the pods of %s", b.obj.ID())
			}
		}
	}
	selected := func(sel map[string]string) []workload {
		var out []workload
		for _, w := range workloads {
			if selects(sel, w.podLabels) {
				out = append(out, w)
			}
		}
		return out
	}
	containerPorts := func(pod map[string]interface{}) map[string]int {
		out := map[string]int{}
		for _, c := range listOf(pod, "containers") {
			for _, p := range listOf(c, "ports") {
				n, _ := intOf(p, "containerPort")
				out[str(p, "name")] = n
			}
		}
		return out
	}
	workloadReplicas := func(w workload) int {
		if n, ok := intOf(w.obj.M, "spec", "replicas"); ok {
			return n
		}
		for _, h := range byKind["HorizontalPodAutoscaler"] {
			if str(h.M, "spec", "scaleTargetRef", "name") == w.obj.Name() {
				n, _ := intOf(h.M, "spec", "minReplicas")
				return n
			}
		}
		return 1
	}

	for _, o := range byKind["Service"] {
		sel := labels(o.M, "spec", "selector")
		ws := selected(sel)
		if len(sel) == 0 || len(ws) != 1 {
			fail(o, "selector %v selects %d workloads, want exactly 1", sel, len(ws))
			continue
		}
		cports := containerPorts(ws[0].pod)
		for _, p := range listOf(o.M, "spec", "ports") {
			target := get(p, "targetPort")
			port, _ := intOf(p, "port")
			name, isName := target.(string)
			if !isName {
				fail(o, "port %s: targetPort should name a container port", str(p, "name"))
				continue
			}
			n, ok := cports[name]
			if !ok {
				fail(o, "port %s: targetPort %q is not a port of %s's containers", str(p, "name"), name, ws[0].obj.ID())
			} else if n != port {
				fail(o, "port %s: %d but the container's %s port is %d", str(p, "name"), port, name, n)
			}
			if str(p, "name") != name {
				fail(o, "port name %q differs from its targetPort %q", str(p, "name"), name)
			}
		}
	}
	for _, o := range byKind["StatefulSet"] {
		svc := services[str(o.M, "spec", "serviceName")]
		if svc == nil {
			fail(o, "serviceName %q is not a Service of the release", str(o.M, "spec", "serviceName"))
		} else {
			if str(svc.M, "spec", "clusterIP") != "None" {
				fail(o, "serviceName %s is not headless (clusterIP: None)", svc.Name())
			}
			if !selects(labels(svc.M, "spec", "selector"), labels(o.M, "spec", "template", "metadata", "labels")) {
				fail(o, "its governing Service %s does not select its pods", svc.Name())
			}
		}
	}
	for _, o := range byKind["HorizontalPodAutoscaler"] {
		ref := mapOf(o.M, "spec", "scaleTargetRef")
		d := deployments[str(ref, "name")]
		if str(ref, "kind") != "Deployment" || d == nil {
			fail(o, "scaleTargetRef %s/%s is not a Deployment of the release", str(ref, "kind"), str(ref, "name"))
		} else if _, has := mapOf(d.M, "spec")["replicas"]; has {
			fail(o, "%s sets spec.replicas although an HPA scales it (every upgrade would reset it)", d.ID())
		}
		min, _ := intOf(o.M, "spec", "minReplicas")
		max, _ := intOf(o.M, "spec", "maxReplicas")
		if min < 1 || max < min {
			fail(o, "minReplicas %d, maxReplicas %d", min, max)
		}
		if len(listOf(o.M, "spec", "metrics")) == 0 {
			fail(o, "no metrics")
		}
	}
	for _, o := range byKind["PodDisruptionBudget"] {
		ws := selected(labels(o.M, "spec", "selector", "matchLabels"))
		if len(ws) != 1 {
			fail(o, "selects %d workloads, want exactly 1", len(ws))
			continue
		}
		_, hasMin := mapOf(o.M, "spec")["minAvailable"]
		_, hasMax := mapOf(o.M, "spec")["maxUnavailable"]
		if hasMin == hasMax {
			fail(o, "needs exactly one of minAvailable and maxUnavailable")
		}
		if n, ok := intOf(o.M, "spec", "minAvailable"); ok && hasMin && n >= workloadReplicas(ws[0]) {
			fail(o, "minAvailable %d with %d replicas: no pod may ever be evicted (node drains hang)", n, workloadReplicas(ws[0]))
		}
	}
	for _, o := range byKind["NetworkPolicy"] {
		ws := selected(labels(o.M, "spec", "podSelector", "matchLabels"))
		if len(ws) == 0 {
			fail(o, "podSelector selects no workload of the release")
			continue
		}
		for _, w := range ws {
			cports := containerPorts(w.pod)
			for _, rule := range listOf(o.M, "spec", "ingress") {
				for _, p := range listOf(rule, "ports") {
					if name, ok := get(p, "port").(string); ok {
						if _, ok := cports[name]; !ok {
							fail(o, "ingress port %q is not a container port of %s", name, w.obj.ID())
						}
					}
				}
			}
			for _, p := range checkNetworkPolicy(ctx.Values, o, w.podLabels, cports, func(l map[string]string) bool {
				for _, x := range workloads {
					if selects(l, x.podLabels) && x.podLabels["app.kubernetes.io/component"] != "router" {
						return false
					}
				}
				return len(selected(l)) > 0
			}) {
				fail(o, "%s", p)
			}
		}
	}
	if get(ctx.Values, "networkPolicy", "enabled") == true && len(byKind["NetworkPolicy"]) != len(workloads) {
		fail(nil, "%d NetworkPolicies for %d workloads: each component needs its own", len(byKind["NetworkPolicy"]), len(workloads))
	}
	// cert-manager Certificates (not decoded by types of their own): the names the clients and the
	// router peers expect, client and server use, and a Secret the pods mount.
	for _, o := range byKind["Certificate"] {
		names := listOf(o.M, "spec", "dnsNames")
		for _, svc := range byKind["Service"] {
			hasGrpc := false
			for _, p := range listOf(svc.M, "spec", "ports") {
				hasGrpc = hasGrpc || str(p, "name") == "grpc"
			}
			if want := svc.Name() + "." + ctx.Release.Namespace + ".svc"; hasGrpc && !slices.Contains(names, interface{}(want)) {
				fail(o, "dnsNames lack %s (Service %s serves gRPC)", want, svc.Name())
			}
		}
		for _, u := range []string{"server auth", "client auth"} {
			if !slices.Contains(listOf(o.M, "spec", "usages"), interface{}(u)) {
				fail(o, "usages lack %q", u)
			}
		}
		if str(o.M, "spec", "issuerRef", "name") == "" {
			fail(o, "no issuerRef.name")
		}
		used := false
		for _, w := range workloads {
			for _, v := range listOf(w.pod, "volumes") {
				used = used || str(v, "secret", "secretName") == str(o.M, "spec", "secretName")
			}
		}
		if !used {
			fail(o, "its Secret %s is mounted by no pod", str(o.M, "spec", "secretName"))
		}
	}
	for _, o := range byKind["Ingress"] {
		rules := listOf(o.M, "spec", "rules")
		if len(rules) == 0 {
			fail(o, "no rules")
		}
		for _, r := range rules {
			for _, p := range listOf(r, "http", "paths") {
				if !strings.HasPrefix(str(p, "path"), "/webhooks") {
					fail(o, "path %q exposes more than the webhook routes", str(p, "path"))
				}
				svc := services[str(p, "backend", "service", "name")]
				port := str(p, "backend", "service", "port", "name")
				if svc == nil {
					fail(o, "backend Service %q does not exist", str(p, "backend", "service", "name"))
					continue
				}
				found := false
				for _, sp := range listOf(svc.M, "spec", "ports") {
					found = found || str(sp, "name") == port
				}
				if !found {
					fail(o, "backend port %q is not a port of Service %s", port, svc.Name())
				}
			}
		}
	}
	for _, o := range byKind["ServiceMonitor"] {
		sel := labels(o.M, "spec", "selector", "matchLabels")
		matched := 0
		for _, svc := range byKind["Service"] {
			if !selects(sel, labels(svc.M, "metadata", "labels")) {
				if labels(svc.M, "metadata", "labels")["earshot.dev/metrics"] == "true" {
					fail(o, "does not select %s, which is labelled for scraping", svc.ID())
				}
				continue
			}
			matched++
			for _, ep := range listOf(o.M, "spec", "endpoints") {
				found := false
				for _, sp := range listOf(svc.M, "spec", "ports") {
					found = found || str(sp, "name") == str(ep, "port")
				}
				if !found {
					fail(o, "endpoint port %q is not a port of %s", str(ep, "port"), svc.ID())
				}
				if str(ep, "path") != "/metrics" {
					fail(o, "endpoint path %q, want /metrics", str(ep, "path"))
				}
			}
		}
		if matched == 0 {
			fail(o, "selects no Service")
		}
		ns := listOf(o.M, "spec", "namespaceSelector", "matchNames")
		if len(ns) != 1 || ns[0] != ctx.Release.Namespace {
			fail(o, "namespaceSelector should name the release namespace only")
		}
	}
	for _, o := range byKind["PrometheusRule"] {
		var names []string
		for _, g := range listOf(o.M, "spec", "groups") {
			for _, r := range listOf(g, "rules") {
				n := str(r, "alert") + str(r, "record")
				names = append(names, n)
				if str(r, "alert") != "" && str(r, "annotations", "runbook_url") == "" {
					fail(o, "alert %s has no runbook_url", n)
				}
				if str(r, "expr") == "" {
					fail(o, "rule %s has no expr", n)
				}
			}
		}
		sort.Strings(names)
		want := append([]string(nil), ctx.RuleNames...)
		sort.Strings(want)
		if strings.Join(names, ",") != strings.Join(want, ",") {
			fail(o, "rules %v differ from deploy/prometheus/earshot-rules.yaml %v", names, want)
		}
	}
	// Strimzi topics: the six, named as the config names them, and the two state changelogs,
	// compacted, with their inputs' partitions.
	if topics := byKind["KafkaTopic"]; len(topics) > 0 {
		want := map[string]bool{}
		for _, t := range mapOf(ctx.Values, "kafka", "topics") {
			want[str(t, "name")] = true
		}
		changelogInput := map[string]string{
			str(ctx.Values, "kafka", "changelogs", "router", "name"): "events",
			str(ctx.Values, "kafka", "changelogs", "sla", "name"):    "routed",
		}
		for n := range changelogInput {
			want[n] = true
		}
		cluster := str(ctx.Values, "kafka", "strimzi", "clusterName")
		for _, o := range topics {
			tn := str(o.M, "spec", "topicName")
			if !want[tn] {
				fail(o, "topicName %q is not one of kafka.topics or kafka.changelogs", tn)
			}
			delete(want, tn)
			input, isChangelog := changelogInput[tn]
			if isChangelog {
				if str(o.M, "spec", "config", "cleanup.policy") != "compact" {
					fail(o, "a state changelog must be compacted (cleanup.policy=compact)")
				}
				pin, _ := intOf(ctx.Values, "kafka", "topics", input, "partitions")
				if n, _ := intOf(o.M, "spec", "partitions"); n != pin {
					fail(o, "a state changelog needs the partitions of kafka.topics.%s (%d), has %d", input, pin, n)
				}
			}
			if labels(o.M, "metadata", "labels")["strimzi.io/cluster"] != cluster {
				fail(o, "label strimzi.io/cluster is not %q", cluster)
			}
			for _, f := range []string{"partitions", "replicas"} {
				if n, ok := intOf(o.M, "spec", f); !ok || n < 1 {
					fail(o, "spec.%s must be a positive integer", f)
				}
			}
			if _, ok := intOf(o.M, "spec", "config", "retention.ms"); !ok && !isChangelog {
				fail(o, "spec.config.retention.ms must be an integer")
			}
			// earshot refuses to start on a topic that cannot take a whole webhook body.
			body := int64(4194304)
			if n, ok := intOf(ctx.Values, "config", "http", "body_limit_bytes"); ok {
				body = int64(n)
			}
			if n, ok := intOf(o.M, "spec", "config", "max.message.bytes"); !ok || int64(n) < body+65536 {
				fail(o, "spec.config.max.message.bytes must be at least http.body_limit_bytes + 65536 (%d)", body+65536)
			}
		}
		for tn := range want {
			fail(nil, "no KafkaTopic for topic %s", tn)
		}
	}
	// Static group membership: every router and SLA pod joins under its own stable name, so a
	// restart within the session moves no partition.
	for _, o := range byKind["StatefulSet"] {
		for _, c := range listOf(o.M, "spec", "template", "spec", "containers") {
			found := false
			for _, e := range listOf(c, "env") {
				found = found || (strings.HasSuffix(str(e, "name"), "_INSTANCE_ID") &&
					str(e, "valueFrom", "fieldRef", "fieldPath") == "metadata.name")
			}
			if !found {
				fail(o, "container %s: no EARSHOT_*_INSTANCE_ID from the pod's name (static membership)", str(c, "name"))
			}
		}
	}
	for _, o := range byKind["ConfigMap"] {
		for k, v := range mapOf(o.M, "data") {
			s, ok := v.(string)
			if !ok {
				fail(o, "data.%s is not a string", k)
				continue
			}
			switch {
			case strings.HasSuffix(k, ".json"):
				var x interface{}
				if err := json.Unmarshal([]byte(s), &x); err != nil {
					fail(o, "data.%s is not valid JSON: %v", k, err)
				}
			case strings.HasSuffix(k, ".yaml"):
				var x interface{}
				if err := yaml3.Unmarshal([]byte(s), &x); err != nil {
					fail(o, "data.%s is not valid YAML: %v", k, err)
				}
			}
		}
	}
	return errs
}

var addrEnv = map[string]string{"EARSHOT_HTTP_ADDR": "http", "EARSHOT_GRPC_ADDR": "grpc", "EARSHOT_ADMIN_ADDR": "admin"}

// checkPod checks one workload's pod template: security, ports, probes, mounts, config paths.
func checkPod(ctx CheckContext, o *Object, kind string, podLabels map[string]string, configMaps map[string]*Object) []string {
	var errs []string
	fail := func(format string, args ...interface{}) {
		errs = append(errs, fmt.Sprintf("%s: %s: ", path.Base(o.File), o.ID())+fmt.Sprintf(format, args...))
	}
	pod := mapOf(o.M, "spec", "template", "spec")
	if get(pod, "securityContext", "runAsNonRoot") != true {
		fail("pod securityContext.runAsNonRoot is not true")
	}
	if n, ok := intOf(pod, "securityContext", "runAsUser"); ok && n == 0 {
		fail("pod runs as user 0")
	}
	if get(pod, "automountServiceAccountToken") != false {
		fail("automountServiceAccountToken should be false (the pods never call the API)")
	}
	if _, ok := intOf(pod, "terminationGracePeriodSeconds"); !ok {
		fail("terminationGracePeriodSeconds is not set")
	}

	// Volumes: name -> volume; StatefulSets add their claim templates.
	volumes := map[string]map[string]interface{}{}
	for _, v := range listOf(pod, "volumes") {
		volumes[str(v, "name")] = v.(map[string]interface{})
	}
	for _, t := range listOf(o.M, "spec", "volumeClaimTemplates") {
		volumes[str(t, "metadata", "name")] = map[string]interface{}{"name": str(t, "metadata", "name"), "pvc": true}
		if len(listOf(t, "spec", "accessModes")) == 0 || str(t, "spec", "resources", "requests", "storage") == "" {
			fail("volumeClaimTemplate %s needs accessModes and a storage request", str(t, "metadata", "name"))
		}
	}
	mounted := map[string]bool{}
	type mount struct {
		path     string
		volume   map[string]interface{}
		readOnly bool
	}
	var mounts []mount

	containers := listOf(pod, "containers")
	if len(containers) == 0 {
		fail("no containers")
	}
	for _, c := range containers {
		cname := str(c, "name")
		sc := mapOf(c, "securityContext")
		if get(sc, "readOnlyRootFilesystem") != true {
			fail("container %s: readOnlyRootFilesystem is not true", cname)
		}
		if get(sc, "allowPrivilegeEscalation") != false {
			fail("container %s: allowPrivilegeEscalation is not false", cname)
		}
		if get(sc, "privileged") == true {
			fail("container %s: privileged", cname)
		}
		drop := false
		for _, d := range listOf(sc, "capabilities", "drop") {
			drop = drop || d == "ALL"
		}
		if !drop || len(listOf(sc, "capabilities", "add")) > 0 {
			fail("container %s: capabilities must drop ALL and add none", cname)
		}
		image := str(c, "image")
		if image == "" || strings.HasSuffix(image, ":latest") || strings.HasSuffix(image, ":") {
			fail("container %s: image %q has no pinned tag", cname, image)
		}
		if len(mapOf(c, "resources", "requests")) == 0 {
			fail("container %s: no resource requests", cname)
		}

		ports := map[string]int{}
		numbers := map[int]bool{}
		for _, p := range listOf(c, "ports") {
			n, _ := intOf(p, "containerPort")
			name := str(p, "name")
			if name == "" || ports[name] != 0 || numbers[n] {
				fail("container %s: port %q/%d is unnamed or duplicated", cname, name, n)
			}
			ports[name] = n
			numbers[n] = true
		}
		// Listener addresses agree with the declared ports.
		env := map[string]string{}
		for _, e := range listOf(c, "env") {
			env[str(e, "name")] = str(e, "value")
		}
		for name, portName := range addrEnv {
			addr, has := env[name]
			want, declared := ports[portName]
			switch {
			case has && !declared:
				fail("container %s: %s is set but no container port is named %s", cname, name, portName)
			case declared && !has:
				fail("container %s: port %s is declared but %s is not set (the default may differ)", cname, portName, name)
			case has:
				i := strings.LastIndex(addr, ":")
				n, err := strconv.Atoi(addr[i+1:])
				if i < 0 || err != nil || n != want {
					fail("container %s: %s=%q does not listen on the %s port %d", cname, name, addr, portName, want)
				}
			}
		}
		// Probes name real ports.
		for _, probe := range []string{"startupProbe", "livenessProbe", "readinessProbe"} {
			p := mapOf(c, probe)
			if p == nil {
				fail("container %s: no %s", cname, probe)
				continue
			}
			switch {
			case mapOf(p, "httpGet") != nil:
				port := get(p, "httpGet", "port")
				if name, ok := port.(string); ok {
					if _, ok := ports[name]; !ok {
						fail("container %s: %s port %q is not a container port", cname, probe, name)
					}
				} else if n, _ := intOf(p, "httpGet", "port"); !numbers[n] {
					fail("container %s: %s port %v is not a container port", cname, probe, port)
				}
				if probe == "livenessProbe" && str(p, "httpGet", "path") != "/healthz" {
					fail("container %s: livenessProbe should GET /healthz", cname)
				}
				if probe == "readinessProbe" && str(p, "httpGet", "path") != "/readyz" {
					fail("container %s: readinessProbe should GET /readyz", cname)
				}
			case mapOf(p, "grpc") != nil:
				n, ok := intOf(p, "grpc", "port")
				if !ok || n != ports["grpc"] {
					fail("container %s: %s gRPC port %v is not the grpc container port %d", cname, probe, get(p, "grpc", "port"), ports["grpc"])
				}
			default:
				fail("container %s: %s has no httpGet or grpc handler", cname, probe)
			}
		}
		// Mounts.
		for _, m := range listOf(c, "volumeMounts") {
			v := volumes[str(m, "name")]
			if v == nil {
				fail("container %s: volumeMount %s names no volume", cname, str(m, "name"))
				continue
			}
			mounted[str(m, "name")] = true
			mounts = append(mounts, mount{str(m, "mountPath"), v, get(m, "readOnly") == true})
		}
		// Arguments: the component, the config file, a writable data folder.
		args := map[string]string{}
		for _, a := range listOf(c, "args") {
			s, _ := a.(string)
			if i := strings.Index(s, "="); strings.HasPrefix(s, "--") && i > 0 {
				args[s[2:i]] = s[i+1:]
			}
		}
		if comp := podLabels["app.kubernetes.io/component"]; args["target"] != comp {
			fail("container %s: --target=%s but the component label is %q", cname, args["target"], comp)
		}
		if kind == "StatefulSet" {
			found := false
			for _, m := range mounts {
				if m.volume["pvc"] == true && m.path == args["data-dir"] {
					found = true
				}
			}
			if !found {
				fail("container %s: --data-dir=%s is not the PersistentVolumeClaim's mount", cname, args["data-dir"])
			}
		}
		// Every file the container is told about exists in a mount that provides it.
		resolve := func(what, file string) {
			var best *mount
			for i := range mounts {
				m := &mounts[i]
				if strings.HasPrefix(file, m.path+"/") && (best == nil || len(m.path) > len(best.path)) {
					best = m
				}
			}
			if best == nil {
				fail("container %s: %s %s is in no mounted volume (read-only root filesystem)", cname, what, file)
				return
			}
			rel := strings.TrimPrefix(file, best.path+"/")
			if what == "--data-dir" {
				if best.readOnly {
					fail("container %s: --data-dir %s is on a read-only mount", cname, file)
				}
				return
			}
			if files := volumeFiles(best.volume, configMaps); files != nil && !files[rel] {
				keys := make([]string, 0, len(files))
				for k := range files {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				fail("container %s: %s %s: volume %s provides no %q (it has %v)", cname, what, file, str(best.volume, "name"), rel, keys)
			}
		}
		// A data dir that is itself a mount point is fine.
		dataOK := false
		for _, m := range mounts {
			if m.path == args["data-dir"] && !m.readOnly {
				dataOK = true
			}
		}
		if !dataOK {
			resolve("--data-dir", args["data-dir"])
		}
		resolve("--config", args["config"])
		for name, val := range env {
			if strings.HasSuffix(name, "_FILE") {
				resolve(name, val)
			}
		}
		// Paths inside the config file.
		cfgText := ""
		for _, m := range mounts {
			if cm := configMaps[str(m.volume, "configMap", "name")]; cm != nil && path.Dir(args["config"]) == m.path {
				cfgText, _ = mapOf(cm.M, "data")[path.Base(args["config"])].(string)
			}
		}
		if cfgText == "" {
			fail("container %s: the config file %s is not in a mounted ConfigMap", cname, args["config"])
		} else {
			var cfg map[string]interface{}
			if err := yaml3.Unmarshal([]byte(cfgText), &cfg); err != nil {
				fail("config %s: %v", args["config"], err)
			}
			walkLeaves(cfg, "", func(key string, v interface{}) {
				s, ok := v.(string)
				// A service's own section is read only by that service (the one config file
				// is shared): the router's rules file need not be mounted in the gateway.
				section := strings.SplitN(key, ".", 2)[0]
				switch section {
				case "gateway", "router", "sla", "stream":
					if section != args["target"] {
						return
					}
				}
				if ok && (strings.HasSuffix(key, "_file") || strings.HasSuffix(key, "_location")) && s != "" {
					resolve("config "+key, s)
					// Files of the config folder are YAML too: check the paths they name
					// (the stream's teams file names its token files).
					if path.Dir(s) == path.Dir(args["config"]) {
						for _, m := range mounts {
							cm := configMaps[str(m.volume, "configMap", "name")]
							if cm == nil || m.path != path.Dir(s) {
								continue
							}
							var inner interface{}
							text, _ := mapOf(cm.M, "data")[path.Base(s)].(string)
							if err := yaml3.Unmarshal([]byte(text), &inner); err != nil {
								fail("%s: %v", s, err)
							}
							walkLeaves(inner, path.Base(s), func(k string, v interface{}) {
								// "<x>_file", and the principals' tokens: [{file: ...}]
								if f, ok := v.(string); ok && (strings.HasSuffix(k, "_file") || strings.HasSuffix(k, ".file")) {
									resolve(path.Base(s)+" "+k, f)
								}
							})
						}
					}
				}
				if strings.HasSuffix(key, ".addr") {
					fail("config sets %s; listener addresses come from EARSHOT_*_ADDR", key)
				}
				if ctx.ConfigKeys != nil && !ctx.ConfigKeys.Known(key) {
					fail("config key %s is read by no service (a typo?)", key)
				}
			})
			// Principals: every component's gRPC listener needs them (issue 19).
			pfile := str(cfg, "auth", "principals_file")
			ptext := ""
			for _, m := range mounts {
				if cm := configMaps[str(m.volume, "configMap", "name")]; cm != nil && m.path == path.Dir(pfile) {
					ptext, _ = mapOf(cm.M, "data")[path.Base(pfile)].(string)
				}
			}
			for _, p := range checkPrincipals(args["target"], cfg, pfile, ptext, ctx.Values) {
				fail("container %s: %s", cname, p)
			}
			if str(cfg, "kafka", "bootstrap") != str(ctx.Values, "kafka", "bootstrap") {
				fail("config kafka.bootstrap %q is not the value %q", str(cfg, "kafka", "bootstrap"), str(ctx.Values, "kafka", "bootstrap"))
			}
		}
	}
	for name, v := range volumes {
		if !mounted[name] {
			fail("volume %s is never mounted", name)
		}
		if cm := str(v, "configMap", "name"); cm != "" && configMaps[cm] == nil {
			fail("volume %s: ConfigMap %s is not part of the release", name, cm)
		}
	}
	return errs
}

// volumeFiles lists the files a volume provides, or nil when that cannot be known (a whole
// Secret mounted without items, an emptyDir, a claim).
func volumeFiles(v map[string]interface{}, configMaps map[string]*Object) map[string]bool {
	files := map[string]bool{}
	addItems := func(items []interface{}) {
		for _, it := range items {
			files[str(it, "path")] = true
		}
	}
	switch {
	case mapOf(v, "configMap") != nil:
		if items := listOf(v, "configMap", "items"); len(items) > 0 {
			addItems(items)
			return files
		}
		cm := configMaps[str(v, "configMap", "name")]
		if cm == nil {
			return files
		}
		for k := range mapOf(cm.M, "data") {
			files[k] = true
		}
		return files
	case mapOf(v, "secret") != nil:
		items := listOf(v, "secret", "items")
		if len(items) == 0 {
			return nil
		}
		addItems(items)
		return files
	case mapOf(v, "projected") != nil:
		for _, src := range listOf(v, "projected", "sources") {
			for _, kind := range []string{"secret", "configMap"} {
				if mapOf(src, kind) == nil {
					continue
				}
				items := listOf(src, kind, "items")
				if len(items) == 0 {
					return nil
				}
				addItems(items)
			}
		}
		return files
	}
	return nil
}

func walkLeaves(v interface{}, prefix string, fn func(string, interface{})) {
	if l, ok := v.([]interface{}); ok {
		for i, item := range l {
			walkLeaves(item, fmt.Sprintf("%s[%d]", prefix, i), fn)
		}
		return
	}
	if m, ok := v.(map[string]interface{}); ok {
		for k, val := range m {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			walkLeaves(val, key, fn)
		}
		return
	}
	fn(prefix, v)
}

// peersPrincipal is the principal the chart adds for the router replicas' calls to each other.
const peersPrincipal = "earshot-router-peers"

// checkPrincipals checks one component's principals: the config names a principals file (earshot
// refuses to start a gRPC listener on a pod address without principals), the file is in the
// mounted ConfigMap and lists at least one principal, each with a token file or a certificate
// identity and known scopes; with the router enabled it lists the router peers' principal,
// holding threads:forward on every queue and nothing else, whose token file is the router's
// router.peers_token_file. It returns the problems.
func checkPrincipals(target string, cfg map[string]interface{}, file, text string, values map[string]interface{}) []string {
	var errs []string
	if file == "" {
		return []string{"the config has no auth.principals_file (earshot refuses to listen on gRPC without principals)"}
	}
	if text == "" {
		return []string{fmt.Sprintf("auth.principals_file %s is not in a mounted ConfigMap", file)}
	}
	var doc struct {
		Principals []struct {
			Name   string `yaml:"name"`
			Tokens []struct {
				File string `yaml:"file"`
			} `yaml:"tokens"`
			Certificate map[string]string   `yaml:"certificate"`
			Scopes      map[string][]string `yaml:"scopes"`
		} `yaml:"principals"`
	}
	if err := yaml3.Unmarshal([]byte(text), &doc); err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	if len(doc.Principals) == 0 {
		errs = append(errs, file+" lists no principal")
	}
	known := []string{"stream:read", "threads:read", "threads:resolve", "threads:erase", "ingest:publish", "threads:forward"}
	var peer *struct {
		file   string
		scopes map[string][]string
	}
	for _, p := range doc.Principals {
		if len(p.Tokens) == 0 && len(p.Certificate) == 0 {
			errs = append(errs, fmt.Sprintf("%s: principal %s has neither a token nor a certificate", file, p.Name))
		}
		for _, t := range p.Tokens {
			if t.File == "" {
				errs = append(errs, fmt.Sprintf("%s: principal %s has a token without a file", file, p.Name))
			}
		}
		if len(p.Scopes) == 0 {
			errs = append(errs, fmt.Sprintf("%s: principal %s has no scope", file, p.Name))
		}
		for sc := range p.Scopes {
			if !slices.Contains(known, sc) {
				errs = append(errs, fmt.Sprintf("%s: principal %s: unknown scope %s", file, p.Name, sc))
			}
		}
		if p.Name == peersPrincipal && len(p.Tokens) > 0 {
			peer = &struct {
				file   string
				scopes map[string][]string
			}{p.Tokens[0].File, p.Scopes}
		}
	}
	if get(values, "router", "enabled") == true {
		switch {
		case peer == nil:
			errs = append(errs, fmt.Sprintf("%s lists no principal %s (the router replicas' calls to each other)", file, peersPrincipal))
		case len(peer.scopes) != 1 || fmt.Sprint(peer.scopes["threads:forward"]) != "[*]":
			errs = append(errs, fmt.Sprintf("%s: principal %s must hold threads:forward on [*] and nothing else, has %v", file, peersPrincipal, peer.scopes))
		case target == "router" && str(cfg, "router", "peers_token_file") != peer.file:
			errs = append(errs, fmt.Sprintf("router.peers_token_file %q is not the token of principal %s (%s)",
				str(cfg, "router", "peers_token_file"), peersPrincipal, peer.file))
		}
	}
	return errs
}

// checkNetworkPolicy checks that one component's NetworkPolicy is closed as the values say
// (networkPolicy in values.yaml): every ingress rule names its peers, none of them open to every
// namespace or address; webhooks only from the ingress controller's namespace (and webhookFrom),
// the admin port only from the monitoring namespace (and metricsFrom), gRPC only from grpcFrom,
// the router's also from the router pods (routerOnly tells a podSelector that selects router pods
// and nothing else), and no gRPC rule at all while grpcFrom is empty elsewhere; with egress
// restricted, egress only to DNS (53), the Kafka peers on the bootstrap's ports, Alertmanager
// (the SLA monitor), the router pods' gRPC port (the router) and networkPolicy.egress.to, each of
// them present. It returns the problems.
func checkNetworkPolicy(values map[string]interface{}, o *Object, podLabels map[string]string, cports map[string]int,
	routerOnly func(map[string]string) bool) []string {
	var errs []string
	errf := func(format string, args ...interface{}) { errs = append(errs, fmt.Sprintf(format, args...)) }
	component := podLabels["app.kubernetes.io/component"]
	np := mapOf(values, "networkPolicy")
	same := func(a, b interface{}) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
	matchLabels := func(v interface{}, keys ...string) map[string]string {
		return labels(v, append(keys, "matchLabels")...)
	}
	openPeer := func(p interface{}) string {
		m, _ := p.(map[string]interface{})
		switch {
		case len(m) == 0:
			return "an empty peer (every pod of the namespace)"
		case mapOf(m, "namespaceSelector") != nil && len(mapOf(m, "namespaceSelector")) == 0:
			return "namespaceSelector {} (every namespace)"
		case str(m, "ipBlock", "cidr") == "0.0.0.0/0" || str(m, "ipBlock", "cidr") == "::/0":
			return "ipBlock " + str(m, "ipBlock", "cidr") + " (every address)"
		}
		return ""
	}
	// Ingress: port name -> the peers allowed on it.
	from := map[string][]interface{}{}
	for _, rule := range listOf(o.M, "spec", "ingress") {
		peers := listOf(rule, "from")
		if len(peers) == 0 {
			errf("an ingress rule without from admits every peer: %v", rule)
		}
		for _, p := range peers {
			if why := openPeer(p); why != "" {
				errf("ingress from %s", why)
			}
		}
		if len(listOf(rule, "ports")) == 0 {
			errf("an ingress rule without ports admits every port: %v", rule)
		}
		for _, p := range listOf(rule, "ports") {
			name, _ := get(p, "port").(string)
			from[name] = append(from[name], peers...)
		}
	}
	hasPeer := func(port string, want func(interface{}) bool) bool {
		for _, p := range from[port] {
			if want(p) {
				return true
			}
		}
		return false
	}
	nsPeer := func(sel interface{}, pods interface{}) func(interface{}) bool {
		return func(p interface{}) bool {
			return same(matchLabels(p, "namespaceSelector"), labels(sel)) && same(matchLabels(p, "podSelector"), labels(pods))
		}
	}
	extra := func(key string) int { return len(listOf(np, key)) }
	for name := range cports {
		switch name {
		case "http":
			if !hasPeer(name, nsPeer(get(np, "ingressNamespaceSelector"), nil)) {
				errf("webhooks (port http) are not admitted from the ingress controller's namespace %v", get(np, "ingressNamespaceSelector"))
			}
			if len(from[name]) != 1+extra("webhookFrom") {
				errf("port http admits %d peers, want the ingress namespace and networkPolicy.webhookFrom (%d)", len(from[name]), 1+extra("webhookFrom"))
			}
		case "admin":
			if !hasPeer(name, nsPeer(get(np, "monitoringNamespaceSelector"), get(np, "monitoringPodSelector"))) {
				errf("the admin port is not admitted from the monitoring namespace %v", get(np, "monitoringNamespaceSelector"))
			}
			if len(from[name]) != 1+extra("metricsFrom") {
				errf("port admin admits %d peers, want the monitoring namespace and networkPolicy.metricsFrom (%d)", len(from[name]), 1+extra("metricsFrom"))
			}
		case "grpc":
			want := extra("grpcFrom")
			if component == "router" {
				want++
				if !hasPeer(name, func(p interface{}) bool {
					return mapOf(p, "namespaceSelector") == nil && routerOnly(matchLabels(p, "podSelector"))
				}) {
					errf("the router's gRPC port is not admitted from the other router pods (peers)")
				}
			}
			if len(from[name]) != want {
				errf("port grpc admits %d peers, want %d (networkPolicy.grpcFrom%s)", len(from[name]), want,
					map[bool]string{true: " and the router pods", false: ""}[component == "router"])
			}
		default:
			if len(from[name]) == 0 {
				errf("container port %q has no ingress rule", name)
			}
		}
	}
	types := fmt.Sprint(listOf(o.M, "spec", "policyTypes"))
	if get(np, "egress", "enabled") != true {
		return errs
	}
	if !strings.Contains(types, "Egress") {
		errf("policyTypes %s: egress is not restricted", types)
	}
	// Egress: every rule names peers and ports, and is one of the expected ones.
	var kafkaPorts []int
	for _, hp := range strings.Split(str(values, "kafka", "bootstrap"), ",") {
		if i := strings.LastIndex(hp, ":"); i >= 0 {
			if n, err := strconv.Atoi(strings.TrimSpace(hp[i+1:])); err == nil && !slices.Contains(kafkaPorts, n) {
				kafkaPorts = append(kafkaPorts, n)
			}
		}
	}
	grpcPort, _ := intOf(values, "ports", "grpc")
	amSelector := get(np, "alertmanagerNamespaceSelector")
	if len(labels(amSelector)) == 0 {
		amSelector = get(np, "monitoringNamespaceSelector")
	}
	found := map[string]bool{}
	for _, rule := range listOf(o.M, "spec", "egress") {
		if slices.ContainsFunc(listOf(np, "egress", "to"), func(x interface{}) bool { return same(x, rule) }) {
			continue
		}
		to, ports := listOf(rule, "to"), listOf(rule, "ports")
		if len(to) == 0 || len(ports) == 0 {
			errf("an egress rule without to or ports: %v", rule)
			continue
		}
		for _, p := range to {
			if why := openPeer(p); why != "" {
				errf("egress to %s", why)
			}
		}
		var nums []string
		for _, p := range ports {
			n, _ := intOf(p, "port")
			nums = append(nums, fmt.Sprintf("%d/%s", n, str(p, "protocol")))
		}
		sort.Strings(nums)
		var kafka []string
		for _, n := range kafkaPorts {
			kafka = append(kafka, fmt.Sprintf("%d/TCP", n))
		}
		sort.Strings(kafka)
		switch {
		case same(nums, []string{"53/TCP", "53/UDP"}):
			if !same(matchLabels(to[0], "namespaceSelector"), labels(np, "dns", "namespaceSelector")) || len(to) != 1 {
				errf("DNS egress goes to %v, not networkPolicy.dns", to)
			}
			found["dns"] = true
		case component == "sla" && str(values, "alertmanager", "url") != "" && len(ports) == 1 && len(to) == 1 &&
			same(matchLabels(to[0], "namespaceSelector"), labels(amSelector)):
			found["alertmanager"] = true
		case component == "router" && same(nums, []string{fmt.Sprintf("%d/TCP", grpcPort)}) && len(to) == 1 &&
			mapOf(to[0], "namespaceSelector") == nil && routerOnly(matchLabels(to[0], "podSelector")):
			found["peers"] = true
		case same(nums, kafka):
			found["kafka"] = true
		default:
			errf("egress rule to %v on %v is none of DNS, Kafka (ports %v), Alertmanager, router peers or networkPolicy.egress.to", to, nums, kafkaPorts)
		}
	}
	want := []string{"dns", "kafka"}
	if component == "router" {
		want = append(want, "peers")
	}
	if component == "sla" && str(values, "alertmanager", "url") != "" {
		want = append(want, "alertmanager")
	}
	for _, w := range want {
		if !found[w] {
			errf("no egress rule for %s", w)
		}
	}
	return errs
}
