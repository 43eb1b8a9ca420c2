package main

// `deploycheck chart-run`: the config the chart generates is one the real earshot accepts.
// For every ci/*-values.yaml, the chart's ConfigMap (earshot.yaml, rules.yaml, sla.yaml,
// principals.yaml) is written to a temporary folder in place of /etc/earshot, every file the
// pods get from Secrets (EARSHOT_*_FILE, Kafka and gRPC certificates, principals' tokens) is made
// up (gRPC TLS with a fresh self-signed certificate), and `earshot --target=all` must start
// and become ready with it. Only Kafka is swapped for the embedded broker (EARSHOT_KAFKA_*
// overrides): routing rules, SLA policies and calendars, principals, gRPC TLS and every
// other key are the chart's.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	yaml3 "gopkg.in/yaml.v3"
)

// selfSigned returns a PEM certificate (usable as its own CA) and its PEM key.
func selfSigned() ([]byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "earshot-test"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

func runChartRun(args []string) int {
	fs := flag.NewFlagSet("chart-run", flag.ExitOnError)
	chartDir := fs.String("chart", "helm/earshot", "chart directory")
	helm := Helm{}
	fs.StringVar(&helm.Bin, "helm", "build/tools/bin/helm", "the helm binary")
	earshotBin := fs.String("earshot", "build/services/earshot/earshot", "earshot binary")
	work := fs.String("work", "", "work folder (default: a new temporary folder)")
	kafkaScript := fs.String("kafka-script", "",
		"scripts/kafka.sh: run each case on a fresh one-node Apache Kafka instead of the embedded broker")
	fs.Parse(args)

	root := *work
	if root == "" {
		root, _ = os.MkdirTemp("", "earshot-chart-run-")
	}
	os.RemoveAll(root)
	cert, key, err := selfSigned()
	if err != nil {
		fmt.Printf("FAIL certificate: %v\n", err)
		return 1
	}
	failures := 0
	cases, _ := filepath.Glob(filepath.Join(*chartDir, "ci", "*-values.yaml"))
	for _, file := range cases {
		name := "ci/" + filepath.Base(file)
		fail := func(format string, a ...interface{}) {
			failures++
			fmt.Printf("FAIL  %s: %s\n", name, fmt.Sprintf(format, a...))
		}
		r, err := helm.Install(*chartDir, Release{Name: "earshot", Namespace: "care"}, "-f", file)
		if err != nil {
			fail("%v", err)
			continue
		}
		objs, errs := ParseObjects(r.Files)
		if len(errs) > 0 {
			fail("%v", errs)
			continue
		}
		dir := filepath.Join(root, strings.TrimSuffix(filepath.Base(file), ".yaml"))
		etc := filepath.Join(dir, "etc", "earshot")
		remap := func(p string) string { return strings.Replace(p, "/etc/earshot/", etc+"/", 1) }
		// The ConfigMap's files, with the pods' paths moved under the work folder.
		var configFile string
		env := map[string]string{}
		for _, o := range objs {
			if o.Kind() == "ConfigMap" && strings.HasSuffix(o.Name(), "-config") {
				for k, v := range mapOf(o.M, "data") {
					p := filepath.Join(etc, "config", k)
					os.MkdirAll(filepath.Dir(p), 0o755)
					os.WriteFile(p, []byte(strings.ReplaceAll(v.(string), "/etc/earshot/", etc+"/")), 0o644)
					if k == "earshot.yaml" {
						configFile = p
					}
				}
			}
			if o.Kind() != "Deployment" && o.Kind() != "StatefulSet" {
				continue
			}
			for _, c := range listOf(o.M, "spec", "template", "spec", "containers") {
				for _, e := range listOf(c, "env") {
					n, v := str(e, "name"), str(e, "value")
					if strings.HasSuffix(n, "_FILE") {
						env[n] = remap(v)
					} else if !strings.HasSuffix(n, "_ADDR") {
						env[n] = v
					}
				}
			}
		}
		if configFile == "" {
			fail("no earshot.yaml in the ConfigMap")
			continue
		}
		generic := map[string]bool{}
		for n, p := range env {
			if strings.HasPrefix(n, "EARSHOT_GENERIC_SOURCES_") {
				generic[p] = true
			}
		}
		// Made-up contents for every file the pods would get from Secrets.
		secret := func(p string) []byte {
			base := filepath.Base(p)
			switch {
			case strings.HasSuffix(base, ".crt") || base == "ca.crt":
				return cert
			case strings.HasSuffix(base, ".key"):
				return key
			case generic[p]:
				return []byte("whsec_ZHVtbXktZ2VuZXJpYy1zZWNyZXQ=")
			}
			// One per file: principals refuse a token that two of them share.
			rel, _ := filepath.Rel(etc, p)
			return []byte("made-up-secret-" + strings.ReplaceAll(rel, "/", "-"))
		}
		var paths []string
		for _, p := range env {
			if strings.HasPrefix(p, etc) {
				paths = append(paths, p)
			}
		}
		cfgRaw, _ := os.ReadFile(configFile)
		var cfg interface{}
		yaml3.Unmarshal(cfgRaw, &cfg)
		walkLeaves(cfg, "", func(k string, v interface{}) {
			if s, ok := v.(string); ok && strings.HasPrefix(s, etc) && !strings.HasPrefix(s, filepath.Join(etc, "config")) {
				paths = append(paths, s)
			}
		})
		// The principals' token files (tokens: [{file: ...}]).
		principalsRaw, _ := os.ReadFile(filepath.Join(etc, "config", "principals.yaml"))
		var principals interface{}
		yaml3.Unmarshal(principalsRaw, &principals)
		walkLeaves(principals, "", func(k string, v interface{}) {
			if s, ok := v.(string); ok && (strings.HasSuffix(k, "token_file") || strings.HasSuffix(k, ".file")) {
				paths = append(paths, s)
			}
		})
		for _, p := range paths {
			os.MkdirAll(filepath.Dir(p), 0o755)
			// gRPC TLS files are named by the chart: tls.crt, tls.key, ca.crt.
			data := secret(p)
			if strings.HasSuffix(p, "/tls.key") {
				data = key
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				fail("%v", err)
			}
		}

		ports := [2]int{}
		for i := range ports {
			ports[i], _ = freePort()
		}
		// Each case on a cluster of its own: a case's topics are created with its body limit,
		// which another case's may exceed (earshot then refuses to start, as it should).
		bootstrap := ""
		if *kafkaScript != "" {
			kdir := filepath.Join(dir, "kafka")
			out, err := exec.Command(*kafkaScript, "start", "--dir="+kdir,
				fmt.Sprintf("--owner=%d", os.Getpid())).Output()
			if err != nil {
				fail("scripts/kafka.sh start: %v", err)
				continue
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			bootstrap = lines[len(lines)-1]
			defer exec.Command(*kafkaScript, "stop", "--dir="+kdir).Run()
		}
		envList := []string{"PATH=" + os.Getenv("PATH"),
			"EARSHOT_HTTP_ADDR=127.0.0.1:0", "EARSHOT_GRPC_ADDR=127.0.0.1:" + fmt.Sprint(ports[0]),
			"EARSHOT_ADMIN_ADDR=127.0.0.1:" + fmt.Sprint(ports[1]),
			// Kafka: the embedded broker instead of the chart's cluster, or the case's own.
			"EARSHOT_KAFKA_BOOTSTRAP=" + bootstrap,
			"EARSHOT_KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
			"EARSHOT_KAFKA_SASL_MECHANISM=PLAIN", "EARSHOT_KAFKA_EMBEDDED_PARTITIONS=2"}
		for k, v := range env {
			if k != "EARSHOT_KAFKA_SASL_PASSWORD_FILE" {
				envList = append(envList, k+"="+v)
			}
		}
		p, err := start("earshot", filepath.Join(dir, "earshot.log"), envList, *earshotBin,
			"--target=all", "--config="+configFile, "--data-dir="+filepath.Join(dir, "data"))
		if err != nil {
			fail("%v", err)
			continue
		}
		admin := fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[1])
		ready := waitFor(30*time.Second, 100*time.Millisecond, func() bool { return p.exited() || httpStatus(admin) == 200 }) && !p.exited()
		p.stop()
		if !ready {
			fail("earshot did not start with the chart's config; its log:\n%s", p.tail())
			continue
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			fail("earshot exited %d after SIGTERM; its log:\n%s", code, p.tail())
			continue
		}
		fmt.Printf("ok    %s: earshot --target=all starts and becomes ready with the chart's config\n", name)
	}
	if failures > 0 {
		fmt.Printf("chart-run: %d failed (work folder %s)\n", failures, root)
		return 1
	}
	fmt.Println("chart-run: all cases passed")
	return 0
}
