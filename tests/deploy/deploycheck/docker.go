package main

// `deploycheck docker`: static checks of deploy/Dockerfile and .dockerignore (no container
// engine can build the image here): every file it copies from the context exists and is not
// excluded by .dockerignore; the build stage installs only packages scripts/install-deps.sh
// knows and builds CMake targets that exist; the runtime stage installs the Debian package of
// every shared library the built binaries load; non-root user, tini, health check, volume.

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

type instruction struct {
	cmd  string // upper case
	args string
	line int
}

type stage struct {
	from, name string
	ins        []instruction
}

func parseDockerfile(text string) ([]stage, map[string]string) {
	var stages []stage
	argDefaults := map[string]string{}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		start := i
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		for strings.HasSuffix(l, "\\") && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			if strings.HasPrefix(next, "#") {
				continue
			}
			l = strings.TrimSuffix(l, "\\") + " " + next
		}
		f := strings.SplitN(l, " ", 2)
		in := instruction{cmd: strings.ToUpper(f[0]), line: start + 1}
		if len(f) > 1 {
			in.args = strings.TrimSpace(f[1])
		}
		switch {
		case in.cmd == "FROM":
			w := strings.Fields(in.args)
			s := stage{from: w[0]}
			if len(w) == 3 && strings.EqualFold(w[1], "AS") {
				s.name = w[2]
			}
			stages = append(stages, s)
		case in.cmd == "ARG" && len(stages) == 0:
			if kv := strings.SplitN(in.args, "=", 2); len(kv) == 2 {
				argDefaults[kv[0]] = kv[1]
			}
		case len(stages) > 0:
			stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
		}
	}
	return stages, argDefaults
}

// dockerignored tells whether .dockerignore excludes a context path (Docker's rules: the last
// matching pattern wins; a pattern matches a path or any of its parent folders).
func dockerignored(patterns []string, p string) bool {
	excluded := false
	parts := strings.Split(p, "/")
	for _, pat := range patterns {
		neg := strings.HasPrefix(pat, "!")
		pat = strings.TrimPrefix(pat, "!")
		pat = strings.TrimSuffix(strings.TrimPrefix(pat, "/"), "/")
		for i := 1; i <= len(parts); i++ {
			prefix := strings.Join(parts[:i], "/")
			ok, _ := filepath.Match(pat, prefix)
			if !ok && strings.HasPrefix(pat, "**/") {
				ok, _ = filepath.Match(strings.TrimPrefix(pat, "**/"), parts[i-1])
			}
			if ok {
				excluded = !neg
				break
			}
		}
	}
	return excluded
}

func aptPackages(run string) []string {
	i := strings.Index(run, "apt-get install")
	if i < 0 {
		return nil
	}
	var out []string
	for _, w := range strings.Fields(run[i+len("apt-get install"):]) {
		if w == "&&" {
			break
		}
		if strings.HasPrefix(w, "-") || w == "\\" {
			continue
		}
		out = append(out, w)
	}
	return out
}

// libCandidates are the paths under which dpkg may know a shared library (usr-merge).
func libCandidates(lib string) []string {
	candidates := []string{lib}
	if real, err := filepath.EvalSymlinks(lib); err == nil {
		candidates = append(candidates, real)
	}
	for _, c := range append([]string(nil), candidates...) {
		if strings.HasPrefix(c, "/usr/lib/") {
			candidates = append(candidates, strings.TrimPrefix(c, "/usr"))
		} else if strings.HasPrefix(c, "/lib/") {
			candidates = append(candidates, "/usr"+c)
		}
	}
	return candidates
}

// packagesOf asks dpkg once which package ships each path ("pkg[:arch]: path" lines; paths
// it does not know are reported on stderr and left out).
func packagesOf(paths []string) map[string]string {
	out := map[string]string{}
	if len(paths) == 0 {
		return out
	}
	text, _ := exec.Command("dpkg", append([]string{"-S"}, paths...)...).Output()
	for _, l := range strings.Split(string(text), "\n") {
		i := strings.Index(l, ": ")
		if i < 0 {
			continue
		}
		pkg := strings.SplitN(l[:i], ":", 2)[0]
		for _, p := range strings.Split(l[i+2:], ", ") {
			out[strings.TrimSpace(p)] = pkg
		}
	}
	return out
}

func runDocker(args []string) int {
	fs := flag.NewFlagSet("docker", flag.ExitOnError)
	dockerfile := fs.String("dockerfile", "deploy/Dockerfile", "Dockerfile")
	ignore := fs.String("dockerignore", ".dockerignore", ".dockerignore of the build context (the repository root)")
	installDeps := fs.String("install-deps", "scripts/install-deps.sh", "the project's package list")
	earshotBin := fs.String("earshot", "build/services/earshot/earshot", "built earshot binary")
	earshotctlBin := fs.String("earshotctl", "", "built earshotctl binary (default: next to earshot's build folder)")
	fs.Parse(args)
	if *earshotctlBin == "" {
		*earshotctlBin = filepath.Join(filepath.Dir(filepath.Dir(*earshotBin)), "earshotctl", "earshotctl")
	}

	var c checker
	check := c.check
	raw, err := os.ReadFile(*dockerfile)
	if err != nil {
		check(false, "read "+*dockerfile, err.Error())
		return 1
	}
	stages, argDefaults := parseDockerfile(string(raw))
	if len(stages) < 2 {
		check(false, "a multi-stage build", fmt.Sprintf("%d stages", len(stages)))
		return 1
	}
	check(true, fmt.Sprintf("multi-stage build (%d stages)", len(stages)))
	for _, s := range stages {
		from := s.from
		for k, v := range argDefaults {
			from = strings.ReplaceAll(from, "${"+k+"}", v)
		}
		check(strings.HasPrefix(from, "debian:bookworm"), "stage "+s.name+" is Debian bookworm", from)
	}

	var ignorePatterns []string
	if data, err := os.ReadFile(*ignore); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				ignorePatterns = append(ignorePatterns, l)
			}
		}
	}
	check(len(ignorePatterns) > 0, *ignore+" exists")
	check(dockerignored(ignorePatterns, "build/services/earshot/earshot") && dockerignored(ignorePatterns, ".git/HEAD") &&
		dockerignored(ignorePatterns, "data/kafka.bootstrap"), *ignore+" keeps build output, data and .git out of the context")

	projectPkgs := map[string]bool{}
	if data, err := os.ReadFile(*installDeps); err == nil {
		text := regexp.MustCompile(`(?m)#.*$`).ReplaceAllString(string(data), "")
		if m := regexp.MustCompile(`(?s)PACKAGES=\((.*?)\)`).FindStringSubmatch(text); m != nil {
			for _, p := range strings.Fields(m[1]) {
				projectPkgs[p] = true
			}
		}
	}
	check(len(projectPkgs) > 0, "package list of "+*installDeps)

	cmakeTargets := map[string]bool{}
	filepath.Walk(".", func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() && (strings.HasPrefix(info.Name(), "build") || info.Name() == ".git" || info.Name() == "data") && p != "." {
			if info != nil && info.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if info.Name() == "CMakeLists.txt" {
			data, _ := os.ReadFile(p)
			for _, m := range regexp.MustCompile(`add_executable\(\s*([A-Za-z0-9_]+)`).FindAllStringSubmatch(string(data), -1) {
				cmakeTargets[m[1]] = true
			}
		}
		return nil
	})

	final := stages[len(stages)-1]
	var user, entrypoint, healthcheck string
	volumes := ""
	runtimePkgs := map[string]bool{}
	copied := map[string]bool{}
	for si, s := range stages {
		for _, in := range s.ins {
			where := fmt.Sprintf("%s:%d", *dockerfile, in.line)
			switch in.cmd {
			case "COPY", "ADD":
				w := strings.Fields(in.args)
				fromStage := false
				var srcs []string
				for _, x := range w[:len(w)-1] {
					if strings.HasPrefix(x, "--from=") {
						fromStage = true
					} else if !strings.HasPrefix(x, "--") {
						srcs = append(srcs, x)
					}
				}
				for _, src := range srcs {
					if fromStage {
						continue
					}
					src = strings.TrimSuffix(src, "/")
					matches, _ := filepath.Glob(src)
					check(len(matches) > 0 && !dockerignored(ignorePatterns, src),
						fmt.Sprintf("%s: COPY %s exists in the context and is not excluded by %s", where, src, *ignore))
					if si == len(stages)-1 {
						copied[src] = true
					}
				}
			case "RUN":
				pkgs := aptPackages(in.args)
				for _, p := range pkgs {
					if si == len(stages)-1 {
						runtimePkgs[p] = true
					} else {
						check(projectPkgs[p], fmt.Sprintf("%s: build package %s is one scripts/install-deps.sh installs", where, p))
					}
				}
				if m := regexp.MustCompile(`--target ((?:[A-Za-z0-9_]+ ?)+)`).FindStringSubmatch(in.args); m != nil {
					for _, t := range strings.Fields(m[1]) {
						check(cmakeTargets[t], fmt.Sprintf("%s: CMake target %s exists (add_executable)", where, t))
					}
				}
			case "USER":
				user = in.args
			case "ENTRYPOINT":
				entrypoint = in.args
			case "HEALTHCHECK":
				healthcheck = in.args
			case "VOLUME":
				volumes += in.args
			}
		}
	}
	_ = final
	uid := strings.SplitN(user, ":", 2)[0]
	check(uid != "" && uid != "0" && uid != "root" && regexp.MustCompile(`^[0-9]+$`).MatchString(uid),
		"the image runs as a numeric non-root user (runAsNonRoot can verify it)", "USER "+user)
	check(strings.Contains(entrypoint, "/usr/bin/tini") && runtimePkgs["tini"], "tini is PID 1 and installed", "ENTRYPOINT "+entrypoint)
	check(strings.Contains(healthcheck, "earshot-healthcheck") && copied["deploy/healthcheck.sh"], "HEALTHCHECK runs the copied deploy/healthcheck.sh", "HEALTHCHECK "+healthcheck)
	check(strings.Contains(volumes, "/var/lib/earshot"), "the data folder /var/lib/earshot is a volume")

	// Every shared library of the built binaries comes from a package the runtime installs.
	base := map[string]bool{"libc6": true, "libgcc-s1": true}
	for _, bin := range []string{*earshotBin, *earshotctlBin} {
		out, err := exec.Command("ldd", bin).Output()
		if err != nil {
			check(false, "ldd "+bin+" (is it built?)", err.Error())
			continue
		}
		// Only the libraries the binary itself names (DT_NEEDED): theirs come with their
		// packages' dependencies.
		needed := map[string]bool{}
		if dyn, err := exec.Command("objdump", "-p", bin).Output(); err == nil {
			for _, m := range regexp.MustCompile(`(?m)^\s*NEEDED\s+(\S+)`).FindAllStringSubmatch(string(dyn), -1) {
				needed[m[1]] = true
			}
		}
		type lib struct{ soname, path string }
		var libs []lib
		var paths []string
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			if len(f) < 3 || f[1] != "=>" || !strings.HasPrefix(f[2], "/") || !needed[f[0]] {
				continue
			}
			libs = append(libs, lib{f[0], f[2]})
			paths = append(paths, libCandidates(f[2])...)
		}
		owner := packagesOf(paths)
		var missing []string
		for _, l := range libs {
			pkg := ""
			for _, c := range libCandidates(l.path) {
				if pkg = owner[c]; pkg != "" {
					break
				}
			}
			if pkg == "" {
				if !regexp.MustCompile(`/(libc|libm|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*)\.so`).MatchString(l.path) {
					missing = append(missing, l.soname+" (no Debian package found)")
				}
				continue
			}
			if !runtimePkgs[pkg] && !base[pkg] {
				missing = append(missing, fmt.Sprintf("%s from %s", l.soname, pkg))
			}
		}
		sort.Strings(missing)
		check(len(libs) > 0 && len(missing) == 0, fmt.Sprintf("the runtime stage installs the packages of the %d libraries %s links", len(libs), filepath.Base(bin)), missing...)
	}
	if c.failures > 0 {
		fmt.Printf("docker: %d failed\n", c.failures)
		return 1
	}
	fmt.Println("docker: all checks passed")
	return 0
}
