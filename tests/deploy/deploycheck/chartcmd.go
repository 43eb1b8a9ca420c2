package main

// `deploycheck chart`: the chart as users get it, checked by the real parts.
//   - `helm lint --strict` and a dry-run `helm install` of helm/earshot for every
//     ci/*-values.yaml, with a short and a long release name, at the oldest and the newest
//     Kubernetes release the chart supports;
//   - every rendered object decoded strictly with the Kubernetes API's own Go types of the
//     release it was rendered for (kubedecode), and every KafkaTopic with Strimzi's own types;
//   - on top of that, the checks of chart.go (names, selectors, ports, probes, mounts, config
//     keys, security, PDBs, HPA, NetworkPolicies, monitoring, topics);
//   - every ci/reject/*-values.yaml (and the defaults alone) refused for its stated reason, and
//     a release older than the chart's kubeVersion refused;
//   - the helm commands the documentation gives render and pass the same checks;
//   - a fixture chart with planted mistakes fails the decoding, each mistake by name.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	yaml3 "gopkg.in/yaml.v3"
)

// decoder is one build of tests/deploy/kubedecode and the Kubernetes release of its types.
type decoder struct {
	bin     string
	release string // "1.24"
}

// typeChecks decodes rendered manifests with Kubernetes' and Strimzi's types.
type typeChecks struct {
	oldest, newest decoder
	strimzi        []string // the command that checks KafkaTopics; the files are appended
}

// Custom resources do not change with the Kubernetes release: the newest build decodes the
// Prometheus Operator's, Strimzi's are decoded by Strimzi's Java types.
// cert-manager's Certificate is not decoded: no types of it are pinned (the chart renders one
// only with grpcTls.certManager).
var (
	skipNewest = []string{"--skip-group", "kafka.strimzi.io", "--skip-group", "cert-manager.io"}
	skipOldest = []string{"--skip-group", "kafka.strimzi.io", "--skip-group", "monitoring.coreos.com",
		"--skip-group", "cert-manager.io"}
)

// run runs a command and returns its output (stdout and stderr) and whether it exited 0.
func run(argv []string) (string, bool) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err == nil
}

func (d decoder) decode(skip []string, files ...string) (string, bool) {
	return run(append(append([]string{d.bin}, skip...), files...))
}

// failures keeps the lines of a checker's output that say what failed, and its summary.
func failures(out string) []string {
	var keep []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "ok ") && !strings.HasPrefix(line, "skip ") && line != "" {
			keep = append(keep, line)
		}
	}
	return keep
}

// kubeVersionFloor reads the oldest release a chart admits from Chart.yaml's kubeVersion
// (">=1.24.0-0" gives "1.24").
func kubeVersionFloor(chartDir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return "", err
	}
	var meta struct {
		KubeVersion string `yaml:"kubeVersion"`
	}
	if err := yaml3.Unmarshal(raw, &meta); err != nil {
		return "", err
	}
	m := regexp.MustCompile(`>=\s*v?(\d+)\.(\d+)`).FindStringSubmatch(meta.KubeVersion)
	if m == nil {
		return "", fmt.Errorf("Chart.yaml: kubeVersion %q has no lower bound >=1.N", meta.KubeVersion)
	}
	return m[1] + "." + m[2], nil
}

// previousRelease is the release before "1.N".
func previousRelease(rel string) string {
	minor, _ := strconv.Atoi(strings.TrimPrefix(rel, "1."))
	return fmt.Sprintf("1.%d", minor-1)
}

// shellWords splits a documented command line into words (plain words, '...' and "...").
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// documentedHelmCommands returns the `helm install` and `helm upgrade` commands of a Markdown
// file's sh code blocks, continuation lines joined and comments dropped.
func documentedHelmCommands(file string) ([][]string, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var cmds [][]string
	inBlock := false
	pending := ""
	for _, line := range strings.Split(string(raw), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "```") {
			inBlock = !inBlock && (t == "```sh" || t == "```bash" || t == "```shell")
			pending = ""
			continue
		}
		if !inBlock {
			continue
		}
		if i := strings.Index(t, " #"); i >= 0 {
			t = strings.TrimSpace(t[:i])
		}
		if strings.HasSuffix(t, "\\") {
			pending += strings.TrimSuffix(t, "\\") + " "
			continue
		}
		t = pending + t
		pending = ""
		w := shellWords(t)
		if len(w) >= 4 && w[0] == "helm" && (w[1] == "install" || w[1] == "upgrade") {
			cmds = append(cmds, w)
		}
	}
	return cmds, nil
}

// splitHelmArgs separates a helm install/upgrade command's positional arguments (release,
// chart) from its flags.
func splitHelmArgs(words []string) (positional, flags []string) {
	boolFlags := map[string]bool{"--create-namespace": true, "--install": true, "-i": true,
		"--wait": true, "--atomic": true, "--rollback-on-failure": true, "--reset-values": true,
		"--reuse-values": true, "--debug": true}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case !strings.HasPrefix(w, "-"):
			positional = append(positional, w)
		case strings.Contains(w, "=") || boolFlags[w]:
			flags = append(flags, w)
		case i+1 < len(words):
			flags = append(flags, w, words[i+1])
			i++
		default:
			flags = append(flags, w)
		}
	}
	return positional, flags
}

// setValues returns the --set path=value pairs of a flag list.
func setValues(flags []string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(flags); i++ {
		kv := ""
		if flags[i] == "--set" && i+1 < len(flags) {
			kv = flags[i+1]
		} else if s, ok := strings.CutPrefix(flags[i], "--set="); ok {
			kv = s
		}
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

// generatedData is the data of a Secret the chart generates on the first install (the router
// peers' token: randAlphaNum, then kept by lookup, which a dry run cannot do).
var generatedData = regexp.MustCompile(`(?m)^(  [-._a-zA-Z0-9]+: )"[A-Za-z0-9+/=]+"$`)

func documents(manifest string) []string {
	var docs []string
	for _, r := range SplitSources(manifest) {
		for _, d := range strings.Split(r.Text, "\n---\n") {
			if strings.Contains(d, "\nkind: Secret\n") && strings.Contains(r.Name, "secret-router-peers") {
				d = generatedData.ReplaceAllString(d, "${1}<generated>")
			}
			if d = strings.TrimSpace(d); d != "" && d != "---" {
				docs = append(docs, d)
			}
		}
	}
	sort.Strings(docs)
	return docs
}

func runChart(args []string) int {
	fs := flag.NewFlagSet("chart", flag.ExitOnError)
	chartDir := fs.String("chart", "helm/earshot", "chart directory")
	helmBin := fs.String("helm", "build/tools/bin/helm", "the helm binary")
	kubeNewest := fs.String("kubedecode", "", "kubedecode built with the newest Kubernetes types")
	kubeOldest := fs.String("kubedecode-oldest", "", "kubedecode built with the oldest release the chart admits")
	java := fs.String("java", "java", "java, for the Strimzi check")
	strimziCheck := fs.String("strimzi-check", "tests/deploy/strimzi/KafkaTopicCheck.java", "the Strimzi KafkaTopic check")
	strimziCP := fs.String("strimzi-classpath", "", "file holding the Strimzi check's class path")
	rulesFile := fs.String("rules", "deploy/prometheus/earshot-rules.yaml", "Prometheus rule file the PrometheusRule must carry")
	dashboard := fs.String("dashboard", "deploy/grafana/earshot.json", "Grafana dashboard the dashboard ConfigMap must carry")
	outDir := fs.String("out", "", "write each rendering here")
	sources := fs.String("sources", "services", "C++ sources whose config keys the chart's config file may use")
	docs := fs.String("docs", "", "Markdown files (comma-separated) whose helm install/upgrade commands must render")
	docsValues := fs.String("docs-values", "", "NAME=PATH: the values file the documented commands name, and the case it stands for")
	badChart := fs.String("bad-chart", "", "fixture chart with planted mistakes, listed in its file `expect`")
	fs.Parse(args)

	failed := 0
	report := func(ok bool, name, detail string, lines ...string) {
		if ok {
			fmt.Printf("ok    %s%s\n", name, detail)
		} else {
			failed++
			fmt.Printf("FAIL  %s%s\n", name, detail)
		}
		for _, l := range lines {
			fmt.Printf("        %s\n", strings.ReplaceAll(l, "\n", "\n        "))
		}
	}
	configKeys, err := LoadConfigKeys(*sources)
	if err != nil {
		report(false, "config keys", ": "+err.Error())
		return 1
	}
	helm := Helm{Bin: *helmBin}
	if out, err := helm.run("version", "--short"); err != nil {
		report(false, "helm", ": "+err.Error())
		return 1
	} else {
		fmt.Printf("helm  %s", out)
	}
	cp, err := os.ReadFile(*strimziCP)
	if err != nil {
		report(false, "strimzi check", ": class path: "+err.Error())
		return 1
	}
	tc := typeChecks{strimzi: []string{*java, "-cp", strings.TrimSpace(string(cp)), *strimziCheck}}
	for _, d := range []struct {
		bin string
		to  *decoder
	}{{*kubeNewest, &tc.newest}, {*kubeOldest, &tc.oldest}} {
		out, ok := run([]string{d.bin, "--release"})
		if !ok {
			report(false, "kubedecode", ": "+d.bin+": "+out)
			return 1
		}
		*d.to = decoder{bin: d.bin, release: strings.TrimSpace(out)}
	}
	floor, err := kubeVersionFloor(*chartDir)
	report(err == nil && floor == tc.oldest.release, "kubeVersion",
		fmt.Sprintf(": the chart admits Kubernetes %s and later; its objects are decoded with the types of %s and %s",
			floor, tc.oldest.release, tc.newest.release))
	if err != nil || floor != tc.oldest.release {
		fmt.Printf("        tests/deploy/kubedecode/k8s-min.mod must name the k8s.io modules of the chart's lowest release (%v)\n", err)
	}
	if *outDir == "" {
		*outDir, _ = os.MkdirTemp("", "earshot-chart-")
	}
	os.RemoveAll(*outDir)
	os.MkdirAll(*outDir, 0o755)

	// The chart carries byte-identical copies of the rules and the dashboard.
	for _, pair := range [][2]string{{*rulesFile, "files/earshot-rules.yaml"}, {*dashboard, "files/earshot-dashboard.json"}} {
		want, err1 := os.ReadFile(pair[0])
		have, err2 := os.ReadFile(filepath.Join(*chartDir, pair[1]))
		detail := ""
		if err1 != nil || err2 != nil || !bytes.Equal(want, have) {
			detail = fmt.Sprintf(": differs from %s (cp %s %s)", pair[0], pair[0], filepath.Join(*chartDir, pair[1]))
		}
		report(detail == "", "copy "+pair[1], detail)
	}
	ruleNames, err := ruleNamesOf(*rulesFile)
	if err != nil {
		report(false, "rules", ": "+err.Error())
	}

	var strimziFiles []string
	// checkRendering decodes one rendering with the types of its release and runs the checks
	// on its objects; it returns the problems.
	checkRendering := func(r *Rendering, rel Release, d decoder, file string) []string {
		os.WriteFile(file, []byte(r.Manifest), 0o644)
		var errs []string
		skip := skipNewest
		if d == tc.oldest {
			skip = skipOldest
		}
		if out, ok := d.decode(skip, file); !ok {
			errs = append(errs, failures(out)...)
		}
		if strings.Contains(r.Manifest, "\nkind: KafkaTopic") {
			strimziFiles = append(strimziFiles, file)
		}
		objs, perrs := ParseObjects(r.Files)
		errs = append(errs, perrs...)
		errs = append(errs, CheckObjects(CheckContext{Release: rel, Values: r.Values, RuleNames: ruleNames,
			Rendered: r.Files, ConfigKeys: configKeys}, objs)...)
		if strings.TrimSpace(r.Notes) == "" {
			errs = append(errs, "NOTES.txt renders empty")
		}
		return errs
	}
	summary := func(r *Rendering) string {
		objs, _ := ParseObjects(r.Files)
		kinds := map[string]int{}
		for _, o := range objs {
			kinds[o.Kind()]++
		}
		var ks []string
		for k, n := range kinds {
			ks = append(ks, fmt.Sprintf("%s x%d", k, n))
		}
		sort.Strings(ks)
		return fmt.Sprintf("%d objects (%s)", len(objs), strings.Join(ks, ", "))
	}

	cases, _ := filepath.Glob(filepath.Join(*chartDir, "ci", "*-values.yaml"))
	if len(cases) < 2 {
		report(false, "ci cases", ": fewer than two ci/*-values.yaml")
	}
	releases := []Release{{Name: "earshot", Namespace: "care"},
		{Name: "care-prod-earshot-with-a-rather-long-release-name", Namespace: "care"}}
	for _, file := range cases {
		name := "ci/" + filepath.Base(file)
		base := strings.TrimSuffix(filepath.Base(file), ".yaml")
		extra := []string{"-f", file}
		for _, d := range []decoder{tc.oldest, tc.newest} {
			kv := "--kube-version=" + d.release + ".0"
			out, err := helm.Lint(*chartDir, append(extra, kv)...)
			var lines []string
			if err != nil {
				lines = []string{err.Error(), out}
			}
			report(err == nil, name, fmt.Sprintf(": helm lint --strict (Kubernetes %s)", d.release), lines...)
			for _, rel := range releases {
				label := fmt.Sprintf("%s (Kubernetes %s", name, d.release)
				if rel.Name != releases[0].Name {
					label += ", long release name"
				}
				label += ")"
				r, err := helm.Render(*chartDir, rel, d.release, extra...)
				if err != nil {
					report(false, label, ": "+err.Error())
					continue
				}
				out := filepath.Join(*outDir, fmt.Sprintf("%s-%s-k8s%s.yaml", base, rel.Name, d.release))
				errs := checkRendering(r, rel, d, out)
				report(len(errs) == 0, label, ": "+summary(r), errs...)
			}
		}
	}
	// Rules, SLA policies and stream teams are reloaded in place (reload.watch_interval): an edit
	// of them must not roll the pods (which would move partitions); an edit of the config file
	// must.
	checksums := func(extra ...string) ([]string, string, error) {
		args := append([]string{"earshot", *chartDir, "-n", "care", "-f", cases[0]}, extra...)
		out, err := helm.Template(args...)
		if err != nil {
			return nil, "", err
		}
		var sums []string
		for _, m := range regexp.MustCompile(`checksum/config: (\S+)`).FindAllStringSubmatch(out, -1) {
			sums = append(sums, m[1])
		}
		return sums, out, nil
	}
	rules := func(queue string) []string {
		return []string{"--set-json",
			`router.rules={"rules":[{"name":"everything","then":{"queue":"` + queue + `"}}]}`}
	}
	baseSums, baseOut, err1 := checksums(rules("first")...)
	rulesSums, rulesOut, err2 := checksums(rules("edited")...)
	configSums, _, err3 := checksums(append(rules("first"), "--set", "config.router.dedup_window=3d")...)
	if err := errors.Join(err1, err2, err3); err != nil {
		report(false, "reload in place", ": "+err.Error())
	} else {
		report(len(baseSums) > 0 && slices.Equal(baseSums, rulesSums) && baseOut != rulesOut,
			"reload in place", ": editing router.rules changes the ConfigMap but no pod template",
			fmt.Sprint(baseSums, rulesSums))
		report(len(configSums) == len(baseSums) && !slices.Equal(baseSums, configSums),
			"config roll", ": editing the config file rolls every pod (checksum/config)",
			fmt.Sprint(baseSums, configSums))
	}

	below := previousRelease(tc.oldest.release)
	_, err = helm.Template("earshot", *chartDir, "-n", "care", "-f", cases[0], "--kube-version="+below+".0")
	report(err != nil && strings.Contains(err.Error(), "kubeVersion"), "Kubernetes "+below,
		": refused by the chart's kubeVersion", fmt.Sprint(err))

	// gRPC certificates from cert-manager: helm install and lint cannot be told the cluster's
	// APIs, so the first case is rendered by helm template with cert-manager.io/v1 served and
	// grpcTls.certManager.issuerRef set, and checked as the cases are.
	if len(cases) == 0 {
		report(false, "cert-manager", ": no ci case to render")
	} else if r, err := helm.Render(*chartDir, releases[0], tc.newest.release, "-f", cases[0]); err != nil {
		report(false, "cert-manager", ": "+err.Error())
	} else {
		args := []string{releases[0].Name, *chartDir, "-n", releases[0].Namespace, "-f", cases[0],
			"--kube-version", tc.newest.release + ".0", "--api-versions", "cert-manager.io/v1",
			"--set", "grpcTls.secretName=", "--set", "grpcTls.certManager.issuerRef.name=care-ca",
			"--set", "grpcTls.certManager.issuerRef.kind=ClusterIssuer"}
		manifest, err := helm.Template(args...)
		if err != nil {
			report(false, "cert-manager", ": "+err.Error())
		} else {
			r.Manifest, r.Files = manifest, SplitSources(manifest)
			errs := checkRendering(r, releases[0], tc.newest, filepath.Join(*outDir, "cert-manager.yaml"))
			if !strings.Contains(manifest, "\nkind: Certificate\n") {
				errs = append(errs, "no Certificate rendered")
			}
			report(len(errs) == 0, "cert-manager", ": grpcTls.certManager.issuerRef renders a Certificate the pods mount", errs...)
		}
	}

	// Cases that must be refused: the chart's defaults alone (no Kafka), and ci/reject/*.
	type rejectCase struct{ name, file, text string }
	rejects := []rejectCase{{"defaults alone", "", "# expect: at '/kafka/bootstrap'\n"}}
	files, _ := filepath.Glob(filepath.Join(*chartDir, "ci", "reject", "*-values.yaml"))
	if len(files) == 0 {
		report(false, "ci/reject", ": no cases")
	}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		rejects = append(rejects, rejectCase{"ci/reject/" + filepath.Base(f), f, string(raw)})
	}
	expectRe := regexp.MustCompile(`(?m)^# expect: (.+)$`)
	for _, rc := range rejects {
		var wants []string
		for _, m := range expectRe.FindAllStringSubmatch(rc.text, -1) {
			wants = append(wants, strings.TrimSpace(m[1]))
		}
		if len(wants) == 0 {
			report(false, rc.name, ": no '# expect: <part of the error>' line")
			continue
		}
		args := []string{"earshot", *chartDir, "-n", "care"}
		if rc.file != "" {
			args = append(args, "-f", rc.file)
		}
		_, err := helm.Template(args...)
		if err == nil {
			report(false, rc.name, ": accepted, but it must be refused")
			continue
		}
		var missing []string
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			report(false, rc.name, fmt.Sprintf(": refused, but the error lacks %q:", missing), err.Error())
		} else {
			report(true, rc.name, fmt.Sprintf(": refused (%s)", strings.Join(wants, "; ")))
		}
	}

	for i, f := range strings.Split(*docs, ",") {
		if f != "" {
			checkDocumentedCommands(helm, f, *docsValues, filepath.Join(*outDir, fmt.Sprintf("docs%d", i)),
				tc.newest, checkRendering, report)
		}
	}

	if len(strimziFiles) == 0 {
		report(false, "KafkaTopic", ": no case renders Strimzi topics (set kafka.strimzi.enabled in one)")
	} else {
		out, ok := run(append(append([]string{}, tc.strimzi...), strimziFiles...))
		report(ok, "KafkaTopic", ": decoded with Strimzi's types", failures(out)...)
	}

	if *badChart != "" {
		checkBadChart(helm, *badChart, *outDir, tc, report)
	}

	if failed > 0 {
		fmt.Printf("chart: %d failed (renderings in %s)\n", failed, *outDir)
		return 1
	}
	fmt.Printf("chart: all checks passed (renderings in %s)\n", *outDir)
	return 0
}

type reportFunc func(ok bool, name, detail string, lines ...string)

// checkDocumentedCommands renders every helm install and upgrade command of the docs: an
// install as Helm would install it (dry run), an upgrade with `helm template --is-upgrade`,
// which must give the same objects as the install with the same values. The values file the
// commands name is replaced by the case it stands for (NAME=PATH).
func checkDocumentedCommands(helm Helm, docs, docsValues, outDir string, d decoder,
	check func(*Rendering, Release, decoder, string) []string, report reportFunc) {
	os.MkdirAll(outDir, 0o755)
	cmds, err := documentedHelmCommands(docs)
	if err != nil || len(cmds) == 0 {
		report(false, docs, fmt.Sprintf(": no helm install or upgrade command (%v)", err))
		return
	}
	from, to, _ := strings.Cut(docsValues, "=")
	for i, words := range cmds {
		label := fmt.Sprintf("%s: %s", docs, strings.Join(words, " "))
		for j := range words {
			if from != "" && words[j] == from {
				words[j] = to
			}
		}
		pos, flags := splitHelmArgs(words[2:])
		if len(pos) != 2 {
			report(false, label, ": want a release name and a chart")
			continue
		}
		rel := Release{Name: pos[0], Namespace: "default"}
		for k := 0; k+1 < len(flags); k++ {
			if flags[k] == "-n" || flags[k] == "--namespace" {
				rel.Namespace = flags[k+1]
			}
		}
		var installFlags []string
		for _, f := range flags {
			if f != "--install" && f != "-i" {
				installFlags = append(installFlags, f)
			}
		}
		r, err := helm.Render(pos[1], rel, d.release, installFlags...)
		if err != nil {
			report(false, label, ": "+err.Error())
			continue
		}
		errs := check(r, rel, d, filepath.Join(outDir, fmt.Sprintf("docs-%d.yaml", i)))
		for k, v := range setValues(flags) {
			var at interface{} = r.Values
			for _, p := range strings.Split(k, ".") {
				at = get(at, p)
			}
			if fmt.Sprint(at) != v {
				errs = append(errs, fmt.Sprintf("--set %s=%s: the release's value is %v", k, v, at))
			}
		}
		if words[1] == "upgrade" {
			manifest, err := helm.Template(append(append([]string{pos[0], pos[1]}, installFlags...),
				"--kube-version="+d.release+".0", "--is-upgrade")...)
			if err != nil {
				errs = append(errs, err.Error())
			} else if strings.Join(documents(manifest), "\n") != strings.Join(documents(r.Manifest), "\n") {
				errs = append(errs, "the upgrade renders other objects than an install with the same values")
			}
		}
		report(len(errs) == 0, label, "", errs...)
	}
}

// checkBadChart renders a fixture chart with planted mistakes and checks that the decoding
// names each one. Its file `expect` has lines "<checker>: <part of the message>", the checker
// being newest, oldest or strimzi.
func checkBadChart(helm Helm, dir, outDir string, tc typeChecks, report reportFunc) {
	raw, err := os.ReadFile(filepath.Join(dir, "expect"))
	if err != nil {
		report(false, dir, ": "+err.Error())
		return
	}
	manifest, err := helm.Template("bad", dir, "-n", "care", "--kube-version="+tc.newest.release+".0")
	if err != nil {
		report(false, dir, ": "+err.Error())
		return
	}
	file := filepath.Join(outDir, "bad-chart.yaml")
	os.WriteFile(file, []byte(manifest), 0o644)
	outputs := map[string]string{}
	passed := map[string]bool{}
	outputs["newest"], passed["newest"] = tc.newest.decode(skipNewest, file)
	// The oldest types see the built-in kinds only.
	outputs["oldest"], passed["oldest"] = tc.oldest.decode(skipOldest, file)
	outputs["strimzi"], passed["strimzi"] = run(append(append([]string{}, tc.strimzi...), file))
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		who, want, _ := strings.Cut(line, ": ")
		out, known := outputs[who]
		ok := known && !passed[who] && strings.Contains(out, want)
		var lines []string
		if !ok {
			lines = failures(out)
		}
		report(ok, filepath.Base(dir), fmt.Sprintf(": the %s check finds %s", who, want), lines...)
	}
}
