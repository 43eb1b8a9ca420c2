package main

// The chart is rendered by the real Helm binary (built from the Go module proxy at a pinned
// version by scripts/install-deps.sh, into build/tools), never by code of ours; what comes back
// is split by its "# Source:" lines for the checks.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
)

// Release names the release a rendering is made for.
type Release struct {
	Name      string
	Namespace string
}

// Rendered is the output of one template file.
type Rendered struct {
	Name string // "earshot/templates/x.yaml"
	Text string
}

// Rendering is what `helm install --dry-run=client -o json` returns for one release.
type Rendering struct {
	Manifest string     // every rendered object, as Helm would apply them
	Files    []Rendered // the manifest split by template
	Notes    string     // NOTES.txt, rendered
	Values   map[string]interface{}
}

// Helm runs one helm binary.
type Helm struct{ Bin string }

// run runs helm with args; the error carries what helm printed on stderr.
func (h Helm) run(args ...string) ([]byte, error) {
	cmd := exec.Command(h.Bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return out, fmt.Errorf("helm %s: %s", args[0], msg)
	}
	return out, nil
}

// Lint runs `helm lint --strict` with the given extra arguments (values files, --kube-version).
func (h Helm) Lint(chart string, extra ...string) (string, error) {
	out, err := h.run(append([]string{"lint", "--strict", chart}, extra...)...)
	return string(out), err
}

// Install renders a first install without a cluster: `helm install --dry-run=client -o json`,
// with the given extra arguments (-f, --set, --kube-version).
func (h Helm) Install(chart string, rel Release, extra ...string) (*Rendering, error) {
	args := append([]string{"install", rel.Name, chart, "--namespace", rel.Namespace,
		"--dry-run=client", "--output", "json"}, extra...)
	out, err := h.run(args...)
	if err != nil {
		return nil, err
	}
	var r struct {
		Manifest string `json:"manifest"`
		Info     struct {
			Notes string `json:"notes"`
		} `json:"info"`
		Config map[string]interface{} `json:"config"`
		Chart  struct {
			Values map[string]interface{} `json:"values"`
		} `json:"chart"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("helm install -o json: %v", err)
	}
	return &Rendering{Manifest: r.Manifest, Files: SplitSources(r.Manifest), Notes: r.Info.Notes,
		Values: Coalesce(r.Config, r.Chart.Values)}, nil
}

// Render is Install at a given Kubernetes release ("1.24"): the notes and values of a dry-run
// install, the objects of `helm template --kube-version` with the same arguments (a dry-run
// install takes no --kube-version).
func (h Helm) Render(chart string, rel Release, kubeVersion string, extra ...string) (*Rendering, error) {
	r, err := h.Install(chart, rel, extra...)
	if err != nil {
		return nil, err
	}
	args := append([]string{rel.Name, chart, "--namespace", rel.Namespace, "--kube-version", kubeVersion + ".0"}, extra...)
	if r.Manifest, err = h.Template(args...); err != nil {
		return nil, err
	}
	r.Files = SplitSources(r.Manifest)
	return r, nil
}

// Template runs `helm template` (for the commands Install cannot stand for, such as an
// upgrade's --is-upgrade) and returns the manifest.
func (h Helm) Template(args ...string) (string, error) {
	out, err := h.run(append([]string{"template"}, args...)...)
	return string(out), err
}

// SplitSources cuts a manifest into the outputs of its templates by the "# Source:" line Helm
// writes before each document.
func SplitSources(manifest string) []Rendered {
	var out []Rendered
	for _, doc := range strings.Split("\n"+manifest, "\n---\n") {
		name := ""
		if i := strings.Index(doc, "# Source: "); i >= 0 {
			rest := doc[i+len("# Source: "):]
			if j := strings.IndexByte(rest, '\n'); j >= 0 {
				rest = rest[:j]
			}
			name = strings.TrimSpace(rest)
		}
		if strings.TrimSpace(doc) == "" {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Name == name {
			out[n-1].Text += "\n---\n" + doc
		} else {
			out = append(out, Rendered{Name: name, Text: doc})
		}
	}
	return out
}

// Coalesce merges the chart's defaults under the user's values the way Helm does (maps merge,
// a user's null deletes the default, anything else the user gives wins), so that the checks
// can compare the objects with the values they were made from.
func Coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range user {
		out[k] = v
	}
	for k, dv := range defaults {
		uv, ok := out[k]
		switch {
		case !ok:
			out[k] = dv
		case uv == nil:
			delete(out, k)
		default:
			um, uIsMap := uv.(map[string]interface{})
			dm, dIsMap := dv.(map[string]interface{})
			if uIsMap && dIsMap {
				out[k] = Coalesce(um, dm)
			}
		}
	}
	return out
}
