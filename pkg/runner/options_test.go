package runner

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParsePublish(t *testing.T) {
	tests := []struct {
		in      string
		want    PortBinding
		wantErr bool
	}{
		{"8000:8080", PortBinding{HostIP: "0.0.0.0", HostPort: 8000, ContainerPort: 8080, Proto: "tcp"}, false},
		{"127.0.0.1:8000:8080", PortBinding{HostIP: "127.0.0.1", HostPort: 8000, ContainerPort: 8080, Proto: "tcp"}, false},
		{"127.0.0.1::53/udp", PortBinding{HostIP: "127.0.0.1", ContainerPort: 53, Proto: "udp"}, false},
		{"8080", PortBinding{HostIP: "0.0.0.0", ContainerPort: 8080, Proto: "tcp"}, false},
		{"[::1]:8000:80", PortBinding{HostIP: "::1", HostPort: 8000, ContainerPort: 80, Proto: "tcp"}, false},
		{"8000:0", PortBinding{}, true},
		{"8000:80/sctp", PortBinding{}, true},
		{"nonsense:80:80", PortBinding{}, true},
		{"1:2:3:4", PortBinding{}, true},
		{"70000:80", PortBinding{}, true},
	}
	for _, tt := range tests {
		got, err := ParsePublish(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParsePublish(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("ParsePublish(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseVolume(t *testing.T) {
	tests := []struct {
		in      string
		want    Volume
		wantErr bool
	}{
		{"/data", Volume{Type: "volume", Destination: "/data", Anonymous: true}, false},
		{"cache:/var/cache", Volume{Type: "volume", Name: "cache", Destination: "/var/cache"}, false},
		{"cache:/var/cache:ro", Volume{Type: "volume", Name: "cache", Destination: "/var/cache", ReadOnly: true}, false},
		{"/srv:/srv:rw", Volume{Type: "bind", Source: "/srv", Destination: "/srv"}, false},
		{"./here:/x", Volume{Type: "bind", Source: "./here", Destination: "/x"}, false},
		{"cache:relative", Volume{}, true},
		{"cache:/x:bogus", Volume{}, true},
		{"bad name:/x", Volume{}, true},
	}
	for _, tt := range tests {
		got, err := ParseVolume(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseVolume(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("ParseVolume(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestRestartPolicy(t *testing.T) {
	tests := []struct {
		in          string
		code, count int
		restart     bool
		wantErr     bool
	}{
		{"no", 1, 0, false, false},
		{"", 1, 0, false, false},
		{"always", 0, 100, true, false},
		{"unless-stopped", 0, 0, true, false},
		{"on-failure", 0, 0, false, false},
		{"on-failure", 1, 50, true, false},
		{"on-failure:2", 1, 1, true, false},
		{"on-failure:2", 1, 2, false, false},
		{"on-failure:x", 0, 0, false, true},
		{"always:3", 0, 0, false, true},
		{"sometimes", 0, 0, false, true},
	}
	for _, tt := range tests {
		p, err := ParseRestart(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseRestart(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && p.shouldRestart(tt.code, tt.count) != tt.restart {
			t.Errorf("%q.shouldRestart(%d, %d) = %v, want %v", tt.in, tt.code, tt.count, !tt.restart, tt.restart)
		}
	}
}

func TestCommand(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name           string
		ep, cmd        []string
		flag           *string
		args           []string
		wantEp, wantCm []string
	}{
		{"image cmd", nil, []string{"sh"}, nil, nil, nil, []string{"sh"}},
		{"args replace cmd", []string{"/init"}, []string{"serve"}, nil, []string{"debug"}, []string{"/init"}, []string{"debug"}},
		{"entrypoint drops image cmd", []string{"/init"}, []string{"serve"}, str("/bin/sh"), nil, []string{"/bin/sh"}, nil},
		{"entrypoint and args", nil, []string{"serve"}, str("echo"), []string{"hi"}, []string{"echo"}, []string{"hi"}},
		{"empty entrypoint clears it", []string{"/init"}, []string{"serve"}, str(""), []string{"ls"}, nil, []string{"ls"}},
	}
	for _, tt := range tests {
		ep, cmd := command(tt.ep, tt.cmd, tt.flag, tt.args)
		if !reflect.DeepEqual(ep, tt.wantEp) || !reflect.DeepEqual(cmd, tt.wantCm) {
			t.Errorf("%s: got %q %q, want %q %q", tt.name, ep, cmd, tt.wantEp, tt.wantCm)
		}
	}
}

func TestBuildEnv(t *testing.T) {
	t.Setenv("FROM_HOST", "h")
	file := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(file, []byte("# comment\n\nA=file\nQ=\"quoted\"\nFROM_HOST\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := buildEnv([]string{"PATH=/bin", "A=image"}, []string{file}, []string{"B=flag", "A=flag", "UNSET_HERE"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=/bin", "A=flag", "Q=\"quoted\"", "FROM_HOST=h", "B=flag"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("buildEnv = %q, want %q", got, want)
	}
	if _, err := buildEnv(nil, nil, []string{"=x"}); err == nil {
		t.Error("buildEnv accepted an empty name")
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"SIGTERM": 15, "term": 15, "KILL": 9, "9": 9, "SIGUSR1": 10} {
		if got, err := parseSignal(in); err != nil || int(got) != want {
			t.Errorf("parseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "SIGNOPE", "0", "99"} {
		if _, err := parseSignal(in); err == nil {
			t.Errorf("parseSignal(%q) succeeded", in)
		}
	}
}
