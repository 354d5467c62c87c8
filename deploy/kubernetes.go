package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sever-ir/sever/config"
)

// imageWorkdir is the working directory of the image (deploy/Dockerfile): a relative
// data_dir is under it.
const imageWorkdir = "/var/lib/sever"

// Object is one Kubernetes object, as much of it as the check reads.
type Object struct {
	File       string `yaml:"-"`
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec PodSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
	// serviceSelector is a Service's spec.selector, a plain label map.
	serviceSelector map[string]string
}

// PodSpec is the part of a pod template the check reads.
type PodSpec struct {
	SecurityContext SecurityContext `yaml:"securityContext"`
	Containers      []Container     `yaml:"containers"`
	Volumes         []struct {
		Name      string    `yaml:"name"`
		ConfigMap *struct{} `yaml:"configMap"`
		Secret    *struct {
			SecretName string `yaml:"secretName"`
		} `yaml:"secret"`
		EmptyDir              *struct{} `yaml:"emptyDir"`
		PersistentVolumeClaim *struct{} `yaml:"persistentVolumeClaim"`
		Projected             *struct{} `yaml:"projected"`
		CSI                   *struct{} `yaml:"csi"`
	} `yaml:"volumes"`
}

// SecurityContext holds the settings the check asks for, on the pod or the container.
type SecurityContext struct {
	RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
	ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
}

// Container is the part of a container the check reads.
type Container struct {
	Name       string   `yaml:"name"`
	Image      string   `yaml:"image"`
	Command    []string `yaml:"command"`
	Args       []string `yaml:"args"`
	WorkingDir string   `yaml:"workingDir"`
	Env        []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	EnvFrom []struct {
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
		ConfigMapRef *struct {
			Name string `yaml:"name"`
		} `yaml:"configMapRef"`
	} `yaml:"envFrom"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *Probe `yaml:"readinessProbe"`
	LivenessProbe  *Probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext SecurityContext `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

// Probe is an HTTP probe; Port is a number or a port name.
type Probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// ParseManifests parses a stream of YAML documents into objects; empty documents are
// skipped. name is the file the objects are from, for problems.
func ParseManifests(name string, data []byte) ([]*Object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*Object
	for i := 0; ; i++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: document %d: %w", name, i+1, err)
		}
		if len(node.Content) == 0 || node.Content[0].Kind == 0 {
			continue
		}
		o := &Object{File: name}
		if err := node.Decode(o); err != nil {
			return nil, fmt.Errorf("parse %s: document %d: %w", name, i+1, err)
		}
		if o.Kind == "" {
			continue
		}
		if o.Kind == "Service" {
			var svc struct {
				Spec struct {
					Selector map[string]string `yaml:"selector"`
				} `yaml:"spec"`
			}
			if err := node.Decode(&svc); err != nil {
				return nil, fmt.Errorf("parse %s: document %d: %w", name, i+1, err)
			}
			o.serviceSelector = svc.Spec.Selector
		}
		out = append(out, o)
	}
}

// loadManifests parses every .yaml and .yml file in dir.
func loadManifests(dir string) ([]*Object, []Problem) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []Problem{{dir, fmt.Sprintf("read manifests: %v", err)}}
	}
	var objs []*Object
	var probs []Problem
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			probs = append(probs, Problem{p, err.Error()})
			continue
		}
		o, err := ParseManifests(p, data)
		if err != nil {
			probs = append(probs, Problem{p, err.Error()})
			continue
		}
		objs = append(objs, o...)
	}
	return objs, probs
}

// role is the sever command a container runs: its first argument that is not a flag
// (after the binary, when command names it).
func (c *Container) role() string {
	argv := append(slices.Clone(c.Command), c.Args...)
	for _, a := range argv {
		if strings.HasPrefix(a, "-") || strings.HasSuffix(a, "sever") {
			continue
		}
		return a
	}
	return ""
}

// flag returns the value of --name (as "--name v" or "--name=v") in the container's
// arguments.
func (c *Container) flag(name string) string {
	argv := append(slices.Clone(c.Command), c.Args...)
	for i, a := range argv {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
		if a == "--"+name && i+1 < len(argv) {
			return argv[i+1]
		}
	}
	return ""
}

func (c *Container) envNames() map[string]bool {
	out := map[string]bool{}
	for _, e := range c.Env {
		out[e.Name] = true
	}
	return out
}

// CheckKubernetes checks the manifests in dir against cfg: a Deployment each for
// `sever serve` and `sever worker`; in each, every env: and file: secret reference the
// process resolves provided (env from a Secret, files from a Secret volume), probes on
// the real health endpoints, resources, a non-root, read-only, no-escalation security
// context and a writable data dir; a PodDisruptionBudget for each; a Service for serve;
// the keys each secretKeyRef names present in its Secret when the Secret is among the
// manifests.
func CheckKubernetes(dir string, cfg *config.Config) []Problem {
	objs, probs := loadManifests(dir)
	add := func(file, format string, args ...any) {
		probs = append(probs, Problem{file, fmt.Sprintf(format, args...)})
	}
	byKind := map[string]map[string]*Object{}
	for _, o := range objs {
		if byKind[o.Kind] == nil {
			byKind[o.Kind] = map[string]*Object{}
		}
		byKind[o.Kind][o.Metadata.Name] = o
	}
	roles := map[string]bool{}
	refs := secretRefs(cfg)
	var deployments []*Object
	for _, o := range objs {
		if o.Kind == "Deployment" || o.Kind == "StatefulSet" {
			deployments = append(deployments, o)
		}
	}
	sort.Slice(deployments, func(i, j int) bool { return deployments[i].Metadata.Name < deployments[j].Metadata.Name })
	for _, d := range deployments {
		pod := &d.Spec.Template.Spec
		for ci := range pod.Containers {
			c := &pod.Containers[ci]
			role := c.role()
			if role != RoleServe && role != RoleWorker {
				continue
			}
			roles[role] = true
			where := fmt.Sprintf("%s %s, container %s (sever %s)", d.Kind, d.Metadata.Name, c.Name, role)
			checkContainer(d, pod, c, role, where, cfg, refs, byKind, add)
		}
		if !hasPDB(d, byKind["PodDisruptionBudget"]) && podRunsSever(pod) {
			add(d.File, "%s %s has no PodDisruptionBudget selecting its pods: a node drain may stop every replica at once", d.Kind, d.Metadata.Name)
		}
	}
	for _, role := range []string{RoleServe, RoleWorker} {
		if !roles[role] {
			add(dir, "no Deployment runs `sever %s`", role)
		}
	}
	return probs
}

func podRunsSever(pod *PodSpec) bool {
	for i := range pod.Containers {
		if r := pod.Containers[i].role(); r == RoleServe || r == RoleWorker {
			return true
		}
	}
	return false
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func hasPDB(d *Object, pdbs map[string]*Object) bool {
	for _, p := range pdbs {
		if subset(p.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels) {
			return true
		}
	}
	return false
}

func checkContainer(d *Object, pod *PodSpec, c *Container, role, where string, cfg *config.Config,
	refs []secretRef, byKind map[string]map[string]*Object, add func(string, string, ...any)) {
	file := d.File
	env := c.envNames()
	// envFrom brings every key of the named object: known only when it is among the
	// manifests, else any name is taken to be there.
	envFromUnknown := false
	for _, ef := range c.EnvFrom {
		var o *Object
		switch {
		case ef.SecretRef != nil:
			o = byKind["Secret"][ef.SecretRef.Name]
		case ef.ConfigMapRef != nil:
			o = byKind["ConfigMap"][ef.ConfigMapRef.Name]
		}
		if o == nil {
			envFromUnknown = true
			continue
		}
		for k := range o.Data {
			env[k] = true
		}
		for k := range o.StringData {
			env[k] = true
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if s := byKind["Secret"][ref.Name]; s != nil {
			if _, ok := s.Data[ref.Key]; !ok {
				if _, ok := s.StringData[ref.Key]; !ok {
					add(file, "%s: env %s takes key %s of Secret %s, which %s does not have", where, e.Name, ref.Key, ref.Name, s.File)
				}
			}
		}
	}

	// Secret references.
	for _, r := range refs {
		if !neededBy(role, r.Path) {
			continue
		}
		scheme, target := refTarget(r.Ref)
		switch scheme {
		case config.SchemeEnv:
			if !env[target] && !envFromUnknown {
				add(file, "%s: %s is %s, but the container has no environment variable %s", where, r.Path, r.Ref, target)
			}
		case config.SchemeFile:
			v, ok := mountFor(pod, c, target)
			switch {
			case !ok:
				add(file, "%s: %s is %s, but no volume is mounted at or above %s", where, r.Path, r.Ref, path.Dir(target))
			case v == "configMap":
				add(file, "%s: %s is %s, which is mounted from a ConfigMap; put secrets in a Secret", where, r.Path, r.Ref)
			case v == "emptyDir":
				add(file, "%s: %s is %s, which is on an emptyDir: nothing puts the secret there", where, r.Path, r.Ref)
			}
		}
	}

	// Probes on the endpoints sever serves.
	wantPath, wantPort := "/healthz", ""
	if role == RoleServe {
		var host string
		host, wantPort, _ = net.SplitHostPort(cfg.HTTP.Listen)
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			add(file, "%s: http.listen is %s, a loopback address: the Service and the probes cannot reach it; listen on 0.0.0.0", where, cfg.HTTP.Listen)
		}
	} else {
		// The worker's metrics listener also answers /healthz (alive) and /readyz
		// (its Temporal worker polls and the frontend answers).
		wantPath = ""
		m := c.flag("metrics")
		if m == "" {
			add(file, "%s: a worker has no HTTP endpoint without --metrics HOST:PORT, so it cannot be probed", where)
		} else {
			_, wantPort, _ = net.SplitHostPort(m)
		}
	}
	for name, p := range map[string]*Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
		wantPath := wantPath
		if role != RoleServe {
			wantPath = map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"}[name]
		}
		if p == nil || p.HTTPGet == nil {
			add(file, "%s: no %s (httpGet %s)", where, name, wantPath)
			continue
		}
		if p.HTTPGet.Path != wantPath {
			add(file, "%s: %s asks %s; sever %s answers health on %s", where, name, p.HTTPGet.Path, role, wantPath)
		}
		if port := c.portNumber(p.HTTPGet.Port); wantPort != "" && port != wantPort {
			add(file, "%s: %s asks port %s, but sever %s listens on %s", where, name, p.HTTPGet.Port, role, wantPort)
		}
	}

	// Resources.
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" {
			add(file, "%s: no resources.requests.%s", where, r)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		add(file, "%s: no resources.limits.memory", where)
	}

	// Security context: the container's setting wins over the pod's.
	isTrue := func(b ...*bool) bool {
		for _, v := range b {
			if v != nil {
				return *v
			}
		}
		return false
	}
	if !isTrue(c.SecurityContext.RunAsNonRoot, pod.SecurityContext.RunAsNonRoot) {
		add(file, "%s: securityContext.runAsNonRoot is not true", where)
	}
	if !isTrue(c.SecurityContext.ReadOnlyRootFilesystem) {
		add(file, "%s: securityContext.readOnlyRootFilesystem is not true", where)
	}
	if c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		add(file, "%s: securityContext.allowPrivilegeEscalation is not false", where)
	}

	// A writable data dir: the root filesystem is read-only.
	dataDir := cfg.DataDir
	if !path.IsAbs(dataDir) {
		wd := c.WorkingDir
		if wd == "" {
			wd = imageWorkdir
		}
		dataDir = path.Join(wd, dataDir)
	}
	if v, ok := mountFor(pod, c, path.Join(dataDir, "x")); !ok || (v != "emptyDir" && v != "persistentVolumeClaim" && v != "csi") {
		add(file, "%s: data_dir %s is not on a writable volume (emptyDir or a PersistentVolumeClaim)", where, dataDir)
	}

	// The append-only checkpoint file must outlive the pod and be writable.
	if f := cfg.Ledger.Anchors.File; f != "" && role == RoleWorker {
		if v, ok := mountFor(pod, c, f); !ok || (v != "persistentVolumeClaim" && v != "csi") {
			add(file, "%s: ledger.anchors.file %s is not on a writable persistent volume (a PersistentVolumeClaim or CSI volume): checkpoints there would be lost with the pod", where, f)
		}
	}

	// The config file.
	cfgPath := c.flag("config")
	for _, e := range c.Env {
		if e.Name == "SEVER_CONFIG" && cfgPath == "" {
			cfgPath = e.Value
		}
	}
	if cfgPath == "" {
		add(file, "%s: no config file: set SEVER_CONFIG or --config to a mounted sever.yaml", where)
	} else if _, ok := mountFor(pod, c, cfgPath); !ok {
		add(file, "%s: the config file %s is on no mounted volume", where, cfgPath)
	}

	if role == RoleServe && !hasService(d, byKind["Service"]) {
		add(file, "%s %s: no Service selects its pods: nothing reaches the API", d.Kind, d.Metadata.Name)
	}
}

func hasService(d *Object, svcs map[string]*Object) bool {
	for _, s := range svcs {
		if subset(s.serviceSelector, d.Spec.Template.Metadata.Labels) {
			return true
		}
	}
	return false
}

// portNumber resolves a probe's port (a number or one of the container's port names).
func (c *Container) portNumber(p string) string {
	for _, cp := range c.Ports {
		if cp.Name != "" && cp.Name == p {
			return fmt.Sprint(cp.ContainerPort)
		}
	}
	return p
}

// mountFor returns the kind of the volume that holds file in the container (the mount
// with the longest path at or above it) and whether there is one.
func mountFor(pod *PodSpec, c *Container, file string) (kind string, ok bool) {
	best := ""
	name := ""
	readOnly := false
	for _, m := range c.VolumeMounts {
		mp := strings.TrimSuffix(m.MountPath, "/")
		if (file == mp || strings.HasPrefix(file, mp+"/")) && len(mp) >= len(best) {
			best, name, readOnly = mp, m.Name, m.ReadOnly
		}
	}
	if name == "" {
		return "", false
	}
	for _, v := range pod.Volumes {
		if v.Name != name {
			continue
		}
		switch {
		case v.ConfigMap != nil:
			return "configMap", true
		case v.Secret != nil:
			return "secret", true
		case v.EmptyDir != nil && !readOnly:
			return "emptyDir", true
		case v.PersistentVolumeClaim != nil && !readOnly:
			return "persistentVolumeClaim", true
		case v.Projected != nil:
			return "projected", true
		case v.CSI != nil:
			return "csi", true
		}
		return "readOnly", true
	}
	return "", false
}
