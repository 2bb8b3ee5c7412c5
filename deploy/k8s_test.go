package deploy

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/journeys-analytics/journeys/config"
	"github.com/journeys-analytics/journeys/enrich"
)

const k8sDir = "kubernetes"

// decodeStrict decodes one manifest into obj, failing on any field the type
// does not have (a misspelt or misplaced field is silently ignored by
// kubectl apply with some versions, and by the API server for some kinds),
// and checks that it is the apiVersion and kind obj stands for.
func decodeStrict(t *testing.T, file, apiVersion, kind string, obj any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(k8sDir, file))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "\n---") {
		t.Fatalf("%s: one object per file, please", file)
	}
	if err := yaml.UnmarshalStrict(b, obj); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(b, &tm); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if tm.APIVersion != apiVersion || tm.Kind != kind {
		t.Fatalf("%s: %s %s, want %s %s", file, tm.APIVersion, tm.Kind, apiVersion, kind)
	}
}

// podMonitor is the part of the Prometheus Operator's PodMonitor
// (monitoring.coreos.com/v1) the manifest uses, so that its decoding is as
// strict as the built-in kinds' without importing the operator's module.
type podMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

type kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Namespace       string `json:"namespace"`
	Labels          []struct {
		Pairs map[string]string `json:"pairs"`
	} `json:"labels"`
	Resources []string `json:"resources"`
	Images    []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// manifests decodes every file of deploy/kubernetes; a file the test does not
// know is a failure, so nothing ships unchecked.
type manifests struct {
	deployment     appsv1.Deployment
	configMap      corev1.ConfigMap
	secret         corev1.Secret
	service        corev1.Service
	serviceAccount corev1.ServiceAccount
	pdb            policyv1.PodDisruptionBudget
	podMonitor     podMonitor
	kustomization  kustomization
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	var m manifests
	decoders := map[string]func(file string){
		"deployment.yaml": func(f string) { decodeStrict(t, f, "apps/v1", "Deployment", &m.deployment) },
		"configmap.yaml":  func(f string) { decodeStrict(t, f, "v1", "ConfigMap", &m.configMap) },
		"secret.example.yaml": func(f string) {
			decodeStrict(t, f, "v1", "Secret", &m.secret)
		},
		"service.yaml":        func(f string) { decodeStrict(t, f, "v1", "Service", &m.service) },
		"serviceaccount.yaml": func(f string) { decodeStrict(t, f, "v1", "ServiceAccount", &m.serviceAccount) },
		"poddisruptionbudget.yaml": func(f string) {
			decodeStrict(t, f, "policy/v1", "PodDisruptionBudget", &m.pdb)
		},
		"podmonitor.yaml": func(f string) { decodeStrict(t, f, "monitoring.coreos.com/v1", "PodMonitor", &m.podMonitor) },
		"kustomization.yaml": func(f string) {
			decodeStrict(t, f, "kustomize.config.k8s.io/v1beta1", "Kustomization", &m.kustomization)
		},
	}
	files, err := filepath.Glob(filepath.Join(k8sDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		decode, ok := decoders[name]
		if !ok {
			t.Errorf("%s: no decoder in k8s_test.go; add one so the file is checked", name)
			continue
		}
		decode(name)
		seen[name] = true
	}
	for name := range decoders {
		if !seen[name] {
			t.Errorf("%s is missing", name)
		}
	}
	return &m
}

func TestK8sKustomization(t *testing.T) {
	m := loadManifests(t)
	want := []string{}
	files, _ := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	for _, f := range files {
		// The Secret is the operator's to create; the example only shows
		// its shape.
		if n := filepath.Base(f); n != "kustomization.yaml" && n != "secret.example.yaml" {
			want = append(want, n)
		}
	}
	if got := slices.Sorted(slices.Values(m.kustomization.Resources)); !slices.Equal(got, want) {
		t.Errorf("kustomization resources = %v, want %v", got, want)
	}
	c := m.deployment.Spec.Template.Spec.Containers[0]
	if !slices.ContainsFunc(m.kustomization.Images, func(i struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	}) bool {
		return i.Name == c.Image && i.NewName != "" && i.NewTag != "" && i.NewTag != "latest"
	}) {
		t.Errorf("kustomization does not pin image %q to a registry and version", c.Image)
	}
}

func TestK8sDeployment(t *testing.T) {
	m := loadManifests(t)
	d := m.deployment
	pod := d.Spec.Template.Spec
	podLabels := labels.Set(d.Spec.Template.Labels)

	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not match its pods' labels %v (%v)", d.Spec.Selector, podLabels, err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Error("Deployment: want at least 2 replicas in the consumer group")
	}
	if pod.ServiceAccountName != m.serviceAccount.Name {
		t.Errorf("service account %q, want %q", pod.ServiceAccountName, m.serviceAccount.Name)
	}

	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("pod must run as non-root with a non-zero runAsUser")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("container: want allowPrivilegeEscalation false, readOnlyRootFilesystem true, capabilities drop ALL")
	}

	// Probes.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	probe := func(what string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET of %s", what, path)
			return
		}
		if p.HTTPGet.Path != path {
			t.Errorf("%s probe path %s, want %s", what, p.HTTPGet.Path, path)
		}
		if _, ok := ports[p.HTTPGet.Port.StrVal]; p.HTTPGet.Port.Type != intstr.String || !ok {
			t.Errorf("%s probe port %v is not a named container port", what, p.HTTPGet.Port)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("startup", c.StartupProbe, "/healthz")

	// Resources: requests for scheduling, a memory limit for GOMEMLIMIT.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			t.Errorf("no %s request", r)
		}
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || q.Cmp(c.Resources.Requests[corev1.ResourceMemory]) < 0 {
		t.Error("memory limit missing or below the request")
	}

	// Environment: only real config keys.
	keys := envKeys()
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
		if strings.HasPrefix(e.Name, "JOURNEYS_") && e.Name != config.ConfigEnv {
			if _, ok := keys[e.Name]; !ok {
				t.Errorf("env %s is not a config key's variable", e.Name)
			}
		}
		if strings.Contains(strings.ToLower(e.Name), "password") && e.Value != "" {
			t.Errorf("env %s holds a literal secret", e.Name)
		}
	}
	if _, ok := env[config.EnvName("kafka.group_id")]; ok {
		t.Error("the group id belongs in the ConfigMap, shared by every replica, not per pod")
	}

	// Mounts and volumes.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	for _, vm := range c.VolumeMounts {
		if _, ok := vols[vm.Name]; !ok {
			t.Errorf("mount of unknown volume %s", vm.Name)
		}
		if !vm.ReadOnly {
			t.Errorf("mount %s is writable", vm.Name)
		}
	}
	var secretVol *corev1.SecretVolumeSource
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil:
			if v.ConfigMap.Name != m.configMap.Name {
				t.Errorf("volume %s: ConfigMap %s, want %s", v.Name, v.ConfigMap.Name, m.configMap.Name)
			}
			for _, it := range v.ConfigMap.Items {
				if _, ok := m.configMap.Data[it.Key]; !ok {
					t.Errorf("volume %s: ConfigMap has no key %s", v.Name, it.Key)
				}
			}
		case v.Secret != nil:
			secretVol = v.Secret
			if v.Secret.SecretName != m.secret.Name {
				t.Errorf("volume %s: Secret %s, want %s (secret.example.yaml)", v.Name, v.Secret.SecretName, m.secret.Name)
			}
			for _, it := range v.Secret.Items {
				if _, ok := m.secret.StringData[it.Key]; !ok {
					t.Errorf("volume %s: secret.example.yaml has no key %s", v.Name, it.Key)
				}
			}
		}
	}
	if secretVol == nil {
		t.Error("no Secret volume for the ClickHouse password")
	}

	// Shutdown: SIGKILL must not cut the drain short.
	cfg := loadConfigMapConfig(t, m)
	if pod.TerminationGracePeriodSeconds == nil ||
		time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= cfg.Shutdown.Timeout {
		t.Errorf("terminationGracePeriodSeconds must exceed shutdown.timeout (%s)", cfg.Shutdown.Timeout)
	}
	if _, port, _ := strings.Cut(cfg.HTTP.Listen, ":"); port != "9464" || ports["http-metrics"] != 9464 {
		t.Errorf("http.listen %q and container port http-metrics %d disagree", cfg.HTTP.Listen, ports["http-metrics"])
	}

	// The files the config names are where the volumes put them.
	mounted := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		v := vols[vm.Name]
		var items []corev1.KeyToPath
		switch {
		case v.ConfigMap != nil:
			items = v.ConfigMap.Items
		case v.Secret != nil:
			items = v.Secret.Items
		}
		for _, it := range items {
			mounted[filepath.Join(vm.MountPath, it.Path)] = true
		}
	}
	for key, path := range map[string]string{
		"journey_map":              cfg.JourneyMap,
		"clickhouse.password_file": cfg.ClickHouse.PasswordFile,
		config.ConfigEnv:           env[config.ConfigEnv].Value,
	} {
		if !mounted[path] {
			t.Errorf("%s = %q is not a mounted file (mounted: %v)", key, path, slices.Sorted(maps.Keys(mounted)))
		}
	}
}

// loadConfigMapConfig loads the ConfigMap's journeys.yaml as `journeys run`
// would, with password_file pointed at a local file instead of the mount.
func loadConfigMapConfig(t *testing.T, m *manifests) *config.Config {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "journeys.yaml")
	if err := os.WriteFile(file, []byte(m.configMap.Data["journeys.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{config.ConfigEnv: file, config.EnvName("clickhouse.password_file"): pw}
	cfg, err := config.Load(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("ConfigMap journeys.yaml:\n%v", err)
	}
	// The file's own value, not the override.
	var raw struct {
		ClickHouse struct {
			PasswordFile string `json:"password_file"`
		} `json:"clickhouse"`
	}
	if err := yaml.Unmarshal([]byte(m.configMap.Data["journeys.yaml"]), &raw); err != nil {
		t.Fatal(err)
	}
	cfg.ClickHouse.PasswordFile = raw.ClickHouse.PasswordFile
	if cfg.ClickHouse.Password != "secret" {
		t.Error("password_file was not read")
	}
	return cfg
}

func TestK8sConfigMap(t *testing.T) {
	m := loadManifests(t)
	cfg := loadConfigMapConfig(t, m)
	if cfg.ClickHouse.PasswordFile == "" {
		t.Error("clickhouse.password_file is not set: the password must come from the Secret")
	}
	if len(cfg.ClickHouse.Addr) == 0 {
		t.Error("clickhouse.addr is empty: journeys run would refuse to start")
	}
	if !strings.HasPrefix(cfg.HTTP.Listen, "0.0.0.0:") {
		t.Errorf("http.listen %q is not reachable by the kubelet's probes", cfg.HTTP.Listen)
	}
	mapText := m.configMap.Data["journey-map.yaml"]
	want, err := os.ReadFile("journey-map.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if mapText != string(want) {
		t.Error("ConfigMap journey-map.yaml differs from deploy/journey-map.yaml")
	}
	file := filepath.Join(t.TempDir(), "journey-map.yaml")
	if err := os.WriteFile(file, []byte(mapText), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := enrich.Load(file); err != nil {
		t.Errorf("ConfigMap journey-map.yaml: %v", err)
	}
}

func TestK8sServiceMonitoring(t *testing.T) {
	m := loadManifests(t)
	podLabels := labels.Set(m.deployment.Spec.Template.Labels)
	ports := map[string]bool{}
	for _, p := range m.deployment.Spec.Template.Spec.Containers[0].Ports {
		ports[p.Name] = true
	}

	if !labels.SelectorFromSet(m.service.Spec.Selector).Matches(podLabels) {
		t.Errorf("Service selector %v does not match the pods %v", m.service.Spec.Selector, podLabels)
	}
	for _, p := range m.service.Spec.Ports {
		if p.TargetPort.Type != intstr.String || !ports[p.TargetPort.StrVal] {
			t.Errorf("Service port %s targets %v, not a named container port", p.Name, p.TargetPort)
		}
	}

	pdbSel, err := metav1.LabelSelectorAsSelector(m.pdb.Spec.Selector)
	if err != nil || !pdbSel.Matches(podLabels) {
		t.Errorf("PodDisruptionBudget selector does not match the pods (%v)", err)
	}
	if m.pdb.Spec.MaxUnavailable == nil && m.pdb.Spec.MinAvailable == nil {
		t.Error("PodDisruptionBudget sets neither maxUnavailable nor minAvailable")
	}

	pmSel, err := metav1.LabelSelectorAsSelector(&m.podMonitor.Spec.Selector)
	if err != nil || !pmSel.Matches(podLabels) {
		t.Errorf("PodMonitor selector does not match the pods (%v)", err)
	}
	if len(m.podMonitor.Spec.PodMetricsEndpoints) == 0 {
		t.Fatal("PodMonitor has no endpoints")
	}
	for _, e := range m.podMonitor.Spec.PodMetricsEndpoints {
		if !ports[e.Port] || e.Path != "/metrics" {
			t.Errorf("PodMonitor endpoint %s%s: want a named container port and /metrics", e.Port, e.Path)
		}
		if _, err := time.ParseDuration(e.Interval); err != nil {
			t.Errorf("PodMonitor interval: %v", err)
		}
	}
	if m.serviceAccount.AutomountServiceAccountToken == nil || *m.serviceAccount.AutomountServiceAccountToken {
		t.Error("the service account should not mount an API token: the collector never calls the API")
	}
}
