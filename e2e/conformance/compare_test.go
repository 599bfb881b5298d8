package conformance

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// difference is one way the two images differ; what names it as a case's differ: line
// does ("layers", "config Env", "path /etc/x").
type difference struct {
	what, ours, buildah string
}

func (d difference) String() string {
	return fmt.Sprintf("%s:\n\t  ours:    %s\n\t  buildah: %s", d.what, d.ours, d.buildah)
}

// buildahStubs are the mount points buildah's chroot isolation leaves in a RUN's layer,
// empty, where Docker and BuildKit leave nothing (BuildKit removes its mount stubs): a
// suite-wide departure, forgiven only when ours has no such path and buildah's is empty.
var buildahStubs = []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/secrets", "/run"}

// compare lists every difference between the images that the suite checks.
func compare(c *testCase, ours, buildah *image) ([]difference, error) {
	var diffs []difference
	if a, b := len(ours.layers), len(buildah.layers); a != b {
		diffs = append(diffs, difference{"layers", fmt.Sprint(a), fmt.Sprint(b)})
	}
	diffs = append(diffs, compareConfig(c, &ours.config, &buildah.config)...)
	ta, err := flatten(ours.layers)
	if err != nil {
		return nil, fmt.Errorf("ours: %w", err)
	}
	tb, err := flatten(buildah.layers)
	if err != nil {
		return nil, fmt.Errorf("buildah: %w", err)
	}
	forgiveStubs(ta, tb)
	diffs = append(diffs, compareTrees(c, ta, tb)...)
	return diffs, nil
}

func forgiveStubs(ours, buildah tree) {
	for _, p := range buildahStubs {
		e := buildah[p]
		if e == nil || ours[p] != nil {
			continue
		}
		empty := (e.Type == "file" && e.Size == 0) || (e.Type == "dir" && !hasChildren(buildah, p))
		if empty {
			delete(buildah, p)
		}
	}
}

func hasChildren(t tree, dir string) bool {
	prefix := dir + "/"
	for k := range t {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

func compareTrees(c *testCase, ours, buildah tree) []difference {
	paths := map[string]bool{}
	for p := range ours {
		paths[p] = true
	}
	for p := range buildah {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	mtimes := map[string]bool{}
	for _, p := range c.mtimes {
		mtimes[p] = true
	}
	var diffs []difference
	for _, p := range sorted {
		withTime := c.epoch != "" || mtimes[p]
		a, b := ours[p].describe(withTime), buildah[p].describe(withTime)
		if a != b {
			diffs = append(diffs, difference{"path " + p, a, b})
		}
	}
	return diffs
}

func compareConfig(c *testCase, ours, buildah *imageConfig) []difference {
	a, b := &ours.Config, &buildah.Config
	delete(b.Labels, "io.buildah.version")
	fields := []struct {
		name   string
		ao, bo any
	}{
		{"Env", a.Env, b.Env},
		{"Cmd", a.Cmd, b.Cmd},
		{"Entrypoint", a.Entrypoint, b.Entrypoint},
		{"WorkingDir", a.WorkingDir, b.WorkingDir},
		{"User", a.User, b.User},
		{"ExposedPorts", a.ExposedPorts, b.ExposedPorts},
		{"Volumes", a.Volumes, b.Volumes},
		{"Labels", a.Labels, b.Labels},
		{"StopSignal", a.StopSignal, b.StopSignal},
		{"Healthcheck", a.Healthcheck, b.Healthcheck},
		{"OnBuild", a.OnBuild, b.OnBuild},
		{"Shell", a.Shell, b.Shell},
	}
	if c.epoch != "" {
		fields = append(fields, struct {
			name   string
			ao, bo any
		}{"Created", ours.Created.UTC().Format(time.RFC3339), buildah.Created.UTC().Format(time.RFC3339)})
	}
	var diffs []difference
	for _, f := range fields {
		if !sameValue(f.ao, f.bo) {
			diffs = append(diffs, difference{"config " + f.name, show(f.ao), show(f.bo)})
		}
	}
	return diffs
}

// sameValue treats nil and empty (lists, maps, a zero health check) as equal: the JSON
// of one builder omits what the other writes as [] or {}.
func sameValue(a, b any) bool {
	if isEmpty(a) && isEmpty(b) {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func isEmpty(v any) bool {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map:
		return rv.Len() == 0
	case reflect.Pointer:
		return rv.IsNil()
	case reflect.String:
		return rv.Len() == 0
	}
	return false
}

func show(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return fmt.Sprintf("%+v", rv.Elem().Interface())
	}
	if rv.Kind() == reflect.Map {
		keys := rv.MapKeys()
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			val := rv.MapIndex(k).Interface()
			if _, ok := val.(struct{}); ok {
				parts = append(parts, fmt.Sprint(k.Interface()))
			} else {
				parts = append(parts, fmt.Sprintf("%v=%q", k.Interface(), val))
			}
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, " ") + "}"
	}
	return fmt.Sprintf("%q", v)
}

// judge splits differences into allowed and not, and lists allowances that did not
// occur (each one must still describe a real difference).
func judge(c *testCase, diffs []difference) (bad []difference, stale []string) {
	used := map[string]bool{}
	for _, d := range diffs {
		if _, ok := c.differ[d.what]; ok {
			used[d.what] = true
			continue
		}
		bad = append(bad, d)
	}
	for what := range c.differ {
		if !used[what] {
			stale = append(stale, what)
		}
	}
	sort.Strings(stale)
	return bad, stale
}
