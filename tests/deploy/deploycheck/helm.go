package main

// A Helm 3 chart renderer for tests, built from Go's text/template, Sprig and the few Helm
// functions the chart uses, because no helm binary can be installed here. It follows Helm's
// engine where the chart can tell the difference:
//   - values are read the way sigs.k8s.io/yaml reads them (YAML -> JSON), so numbers are
//     float64, as in Helm: {{ .Values.big }} of 1000000 prints 1e+06 there and here;
//   - the chart's values.yaml is coalesced under the user's values (maps merge, null deletes);
//   - the coalesced values are validated against values.schema.json (JSON Schema draft-07,
//     gojsonschema, the library Helm itself used for it);
//   - every file of templates/ is parsed into one template set (partials included), each
//     non-partial file is executed with missingkey=zero and "<no value>" removed;
//   - toYaml is sigs.k8s.io/yaml's Marshal (JSON, then YAML v2, keys sorted) without the last
//     newline; include, tpl, required, fromYaml, toJson, fromJson, lookup as in Helm.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	sprig "github.com/Masterminds/sprig"
	"github.com/xeipuuv/gojsonschema"
	yaml2 "gopkg.in/yaml.v2"
)

// ChartMeta is what templates see as .Chart (Helm's chart.Metadata, the fields used here).
type ChartMeta struct {
	Name        string
	Version     string
	AppVersion  string
	Description string
	KubeVersion string
	Type        string
}

// Files is .Files: the chart's files outside templates/.
type Files map[string][]byte

// Get returns a file's content, or "" (as Helm does) when there is none.
func (f Files) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's content as bytes.
func (f Files) GetBytes(name string) []byte { return f[name] }

// Chart is a chart directory loaded for rendering.
type Chart struct {
	Dir       string
	Meta      ChartMeta
	Defaults  map[string]interface{}
	Schema    []byte
	Templates map[string]string // "earshot/templates/x.yaml" -> text
	Files     Files
}

// LoadChart reads Chart.yaml, values.yaml, values.schema.json, templates/ and the other files.
func LoadChart(dir string) (*Chart, error) {
	c := &Chart{Dir: dir, Templates: map[string]string{}, Files: Files{}}
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	meta, err := ReadValues(raw)
	if err != nil {
		return nil, fmt.Errorf("Chart.yaml: %v", err)
	}
	str := func(k string) string { s, _ := meta[k].(string); return s }
	c.Meta = ChartMeta{Name: str("name"), Version: str("version"), AppVersion: str("appVersion"),
		Description: str("description"), KubeVersion: str("kubeVersion"), Type: str("type")}
	if str("apiVersion") != "v2" || c.Meta.Name == "" || c.Meta.Version == "" {
		return nil, fmt.Errorf("Chart.yaml: apiVersion v2, name and version are required")
	}
	if raw, err = os.ReadFile(filepath.Join(dir, "values.yaml")); err != nil {
		return nil, err
	}
	if c.Defaults, err = ReadValues(raw); err != nil {
		return nil, fmt.Errorf("values.yaml: %v", err)
	}
	if c.Schema, err = os.ReadFile(filepath.Join(dir, "values.schema.json")); err != nil &&
		!os.IsNotExist(err) {
		return nil, err
	}
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "templates/") {
			c.Templates[path.Join(c.Meta.Name, rel)] = string(data)
		} else {
			c.Files[rel] = data
		}
		return nil
	})
	return c, err
}

// ReadValues parses YAML the way Helm does (sigs.k8s.io/yaml: YAML -> JSON -> Go), so that
// maps are map[string]interface{} and numbers float64. Duplicate keys are an error.
func ReadValues(data []byte) (map[string]interface{}, error) {
	var v interface{}
	if err := yaml2.UnmarshalStrict(data, &v); err != nil {
		return nil, err
	}
	j, err := json.Marshal(jsonable(v))
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if string(j) == "null" {
		return out, nil
	}
	if err := json.Unmarshal(j, &out); err != nil {
		return nil, fmt.Errorf("the top level must be a map: %v", err)
	}
	return out, nil
}

// jsonable turns yaml.v2's map[interface{}]interface{} into map[string]interface{}.
func jsonable(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, val := range t {
			m[fmt.Sprint(k)] = jsonable(val)
		}
		return m
	case []interface{}:
		for i := range t {
			t[i] = jsonable(t[i])
		}
	}
	return v
}

// Coalesce merges the chart's defaults under the user's values as Helm does: maps merge
// recursively, a user's null deletes the default, anything else the user gives wins.
func Coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := deepCopyMap(user)
	for k, dv := range defaults {
		uv, ok := out[k]
		switch {
		case !ok:
			out[k] = deepCopy(dv)
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

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		return deepCopyMap(t)
	case []interface{}:
		c := make([]interface{}, len(t))
		for i := range t {
			c[i] = deepCopy(t[i])
		}
		return c
	}
	return v
}

func deepCopyMap(m map[string]interface{}) map[string]interface{} {
	c := make(map[string]interface{}, len(m))
	for k, v := range m {
		c[k] = deepCopy(v)
	}
	return c
}

// ValidateSchema checks values against the chart's values.schema.json; the error lists every
// violation, one a line, as Helm prints them.
func (c *Chart) ValidateSchema(values map[string]interface{}) error {
	if len(c.Schema) == 0 {
		return nil
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(c.Schema),
		gojsonschema.NewGoLoader(values))
	if err != nil {
		return fmt.Errorf("values.schema.json: %v", err)
	}
	if res.Valid() {
		return nil
	}
	var b strings.Builder
	b.WriteString("values don't meet the specifications of the schema(s):")
	for _, e := range res.Errors() {
		fmt.Fprintf(&b, "\n- %s", e)
	}
	return fmt.Errorf("%s", b.String())
}

// Release is what templates see as .Release.
type Release struct {
	Name      string
	Namespace string
	Service   string
	IsInstall bool
	IsUpgrade bool
	Revision  int
}

// Rendered is the output of one template file.
type Rendered struct {
	Name string // "earshot/templates/x.yaml"
	Text string
}

const recursionMaxNums = 1000

// Render renders every template with the given user values (already parsed). It returns the
// outputs of the non-partial templates (NOTES.txt included) sorted by name.
func (c *Chart) Render(user map[string]interface{}, rel Release) ([]Rendered, map[string]interface{}, error) {
	values := Coalesce(user, c.Defaults)
	if err := c.ValidateSchema(values); err != nil {
		return nil, values, err
	}
	top := map[string]interface{}{
		"Values":  values,
		"Release": rel,
		"Chart":   c.Meta,
		"Files":   c.Files,
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": "v1.29.0", "Major": "1", "Minor": "29"},
			"APIVersions": []string{"v1", "apps/v1", "autoscaling/v2", "policy/v1",
				"networking.k8s.io/v1", "monitoring.coreos.com/v1", "kafka.strimzi.io/v1beta2"},
		},
		"Template": map[string]interface{}{"Name": "", "BasePath": path.Join(c.Meta.Name, "templates")},
	}

	t := template.New("gotpl").Option("missingkey=zero")
	includedNames := map[string]int{}
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["toJson"] = toJSON
	funcs["fromJson"] = fromJSON
	funcs["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, fmt.Errorf("%s", warn)
		}
		if s, ok := val.(string); ok && s == "" {
			return val, fmt.Errorf("%s", warn)
		}
		return val, nil
	}
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil // helm template: no cluster, empty result
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if includedNames[name] > recursionMaxNums {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includedNames[name]++
		defer func() { includedNames[name]-- }()
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := t.Clone()
		if err != nil {
			return "", err
		}
		nt, err := clone.New("tpl").Option("missingkey=zero").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var buf bytes.Buffer
		if err := nt.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %v", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	t.Funcs(funcs)

	names := make([]string, 0, len(c.Templates))
	for n := range c.Templates {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := t.New(n).Parse(c.Templates[n]); err != nil {
			return nil, values, fmt.Errorf("parse error: %v", err)
		}
	}
	var out []Rendered
	for _, n := range names {
		base := path.Base(n)
		if strings.HasPrefix(base, "_") {
			continue
		}
		data := deepCopyMap(top)
		data["Template"] = map[string]interface{}{"Name": n, "BasePath": path.Join(c.Meta.Name, "templates")}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, n, data); err != nil {
			return nil, values, fmt.Errorf("render error: %v", err)
		}
		out = append(out, Rendered{Name: n, Text: strings.ReplaceAll(buf.String(), "<no value>", "")})
	}
	return out, values, nil
}

// toYAML is Helm's toYaml: sigs.k8s.io/yaml.Marshal (JSON first, then YAML with sorted keys),
// without the trailing newline; "" on error, as in Helm.
func toYAML(v interface{}) string {
	j, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var obj interface{}
	if err := yaml2.Unmarshal(j, &obj); err != nil {
		return ""
	}
	data, err := yaml2.Marshal(obj)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m, err := ReadValues([]byte(s))
	if err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	return m
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}
