package build

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseExposed(t *testing.T) {
	cases := []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{in: []string{"80"}, want: []string{"80/tcp"}},
		{in: []string{"53/UDP", "8000-8002"}, want: []string{"53/udp", "8000/tcp", "8001/tcp", "8002/tcp"}},
		{in: []string{"127.0.0.1:8080:80"}, want: []string{"80/tcp"}},
		{in: []string{"[::1]:8080:80/sctp"}, want: []string{"80/sctp"}},
		{in: []string{"70000"}, wantErr: "out of range"},
		{in: []string{"90-80"}, wantErr: "invalid port range"},
		{in: []string{"80/xyz"}, wantErr: "invalid proto"},
		{in: []string{"/tcp"}, wantErr: "no port"},
	}
	for _, tc := range cases {
		got, err := parseExposed(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseExposed(%v) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseExposed(%v) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestWorkdirPath(t *testing.T) {
	for _, tc := range []struct{ cur, req, want string }{
		{"", "/app", "/app"}, {"", "app", "/app"}, {"/a", "b/c", "/a/b/c"}, {"/a", "../x", "/x"},
		{"/a", "/b/../c/", "/c"}, {"/", ".", "/"},
	} {
		if got := workdirPath(tc.cur, tc.req); got != tc.want {
			t.Errorf("workdirPath(%q, %q) = %q, want %q", tc.cur, tc.req, got, tc.want)
		}
	}
}

func TestCheckSignal(t *testing.T) {
	for sig, ok := range map[string]bool{
		"SIGTERM": true, "term": true, "9": true, "SIGRTMIN+3": true, "SIGWINCH": true,
		"0": false, "65": false, "SIGNOPE": false, "": false,
	} {
		if err := checkSignal(sig); (err == nil) != ok {
			t.Errorf("checkSignal(%q) = %v, want ok=%v", sig, err, ok)
		}
	}
}

func TestParseOutput(t *testing.T) {
	cases := map[string]Output{
		"type=oci,dest=out.tar":        {Type: "oci", Dest: "out.tar", Tar: true},
		"type=oci,dest=out/,tar=false": {Type: "oci", Dest: "out/", Tar: false},
		"type=docker,dest=-":           {Type: "docker", Dest: "-", Tar: true},
		"./rootfs":                     {Type: "local", Dest: "./rootfs"},
		"type=local,dest=dir":          {Type: "local", Dest: "dir", Tar: true},
	}
	for in, want := range cases {
		got, err := ParseOutput(in)
		if err != nil || got != want {
			t.Errorf("ParseOutput(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"type=registry,dest=x", "dest=x", "type=oci", "type=local,dest=-", "type=oci,dest=x,color=red"} {
		if _, err := ParseOutput(bad); err == nil {
			t.Errorf("ParseOutput(%q) accepted", bad)
		}
	}
}

func TestHistoryTexts(t *testing.T) {
	if got := strings.Join(argsPrefix([]string{"A=1", "B="}), " "); got != "|2 A=1 B=" {
		t.Errorf("argsPrefix = %q", got)
	}
	if argsPrefix(nil) != nil {
		t.Error("no ARGs must give no prefix")
	}
	if got := stepName("[app 3/7] RUN make"); got != "3/7" {
		t.Errorf("stepName = %q", got)
	}
}
