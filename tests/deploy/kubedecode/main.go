// kubedecode decodes rendered Kubernetes manifests with the Kubernetes API's own Go types, the
// way the API server reads them: strictly, so that an unknown or misspelled field, a duplicate
// field or a value of the wrong type is an error, and a kind or apiVersion this Kubernetes
// release does not serve is an error too.
//
// It is built twice from the same source (tests/deploy/CMakeLists.txt): with go.mod, at the
// newest Kubernetes release the chart supports, and with -modfile=k8s-min.mod -tags k8s_min, at
// the oldest (the chart's kubeVersion), so that a field added after the oldest release is
// caught as well.
//
//	kubedecode [--skip-group G]... FILE...
//	kubedecode --release      the Kubernetes release of the types, such as 1.37
//
// Each FILE is `helm template` output: YAML documents, each after a "# Source: <template>"
// line. One line a document is printed; the exit status is 1 if any document failed.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

// document is one YAML document of a rendered file, with the template it came from.
type document struct {
	source string
	body   []byte
}

// split cuts helm template output into documents; empty ones (a template that rendered
// nothing) are dropped.
func split(data []byte) ([]document, error) {
	var docs []document
	r := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		body, err := r.Read()
		if err != nil {
			if err.Error() == "EOF" {
				return docs, nil
			}
			return docs, err
		}
		d := document{body: body}
		empty := true
		for _, line := range strings.Split(string(body), "\n") {
			t := strings.TrimSpace(line)
			if s, ok := strings.CutPrefix(t, "# Source: "); ok && d.source == "" {
				d.source = s
			} else if t != "" && t != "---" && !strings.HasPrefix(t, "#") {
				empty = false
			}
		}
		if !empty {
			docs = append(docs, d)
		}
	}
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var skip multiFlag
	flag.Var(&skip, "skip-group", "API group checked elsewhere (repeatable)")
	printRelease := flag.Bool("release", false, "print the Kubernetes release of the types and exit")
	flag.Parse()
	release := kubernetesRelease()
	if *printRelease {
		fmt.Println(release)
		return
	}

	s := runtime.NewScheme()
	if err := addToScheme(s); err != nil {
		fmt.Fprintln(os.Stderr, "kubedecode:", err)
		os.Exit(2)
	}
	// Strict: unknown and duplicate fields are errors, as with kubectl's and the API server's
	// strict field validation.
	codec := json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s,
		json.SerializerOptions{Yaml: true, Strict: true})

	failed, decoded := 0, 0
	for _, file := range flag.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Printf("FAIL  %s: %v\n", file, err)
			failed++
			continue
		}
		docs, err := split(data)
		if err != nil {
			fmt.Printf("FAIL  %s: %v\n", file, err)
			failed++
		}
		for _, d := range docs {
			var tm struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(d.body, &tm); err != nil {
				fmt.Printf("FAIL  %s (%s): not a Kubernetes object: %v\n", d.source, file, err)
				failed++
				continue
			}
			id := fmt.Sprintf("%s %s/%s (%s)", tm.APIVersion, tm.Kind, tm.Metadata.Name, d.source)
			gv, err := schema.ParseGroupVersion(tm.APIVersion)
			if err == nil && contains(skip, gv.Group) {
				fmt.Printf("skip  %s: group %s is checked elsewhere\n", id, gv.Group)
				continue
			}
			if !s.Recognizes(gv.WithKind(tm.Kind)) {
				fmt.Printf("FAIL  %s: %s is not served by Kubernetes %s\n", id, gv.WithKind(tm.Kind), release)
				failed++
				continue
			}
			if _, _, err := codec.Decode(d.body, nil, nil); err != nil {
				fmt.Printf("FAIL  %s: %v\n", id, err)
				failed++
				continue
			}
			decoded++
			fmt.Printf("ok    %s\n", id)
		}
	}
	fmt.Printf("kubedecode (Kubernetes %s types): %d objects decoded, %d failed\n", release, decoded, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// addToScheme registers client-go's scheme (every built-in group and version of the release
// this binary is built with) and the custom resources the build knows.
func addToScheme(s *runtime.Scheme) error {
	if err := scheme.AddToScheme(s); err != nil {
		return err
	}
	return addCustom(s)
}

// kubernetesRelease is the Kubernetes release of the k8s.io/api module this binary is built
// with: k8s.io/api v0.N.x holds the types of Kubernetes 1.N.
func kubernetesRelease() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "k8s.io/api" {
				parts := strings.Split(strings.TrimPrefix(d.Version, "v"), ".")
				if len(parts) >= 2 && parts[0] == "0" {
					return "1." + parts[1]
				}
				return d.Version
			}
		}
	}
	return "(unknown)"
}
