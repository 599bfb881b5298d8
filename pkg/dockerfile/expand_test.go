package dockerfile

import (
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

func TestExpanderWord(t *testing.T) {
	env := []string{"V=value", "EMPTY=", "P=prefix-rest", "V=later"}
	tests := []struct {
		word, want string
	}{
		{"$V", "later"}, // a later entry wins
		{"${V}x", "laterx"},
		{"${UNSET:-default}", "default"},
		{"${EMPTY:-default}", "default"},
		{"${V:-default}", "later"},
		{"${V:+alt}", "alt"},
		{"${UNSET:+alt}", ""},
		{"${P#prefix-}", "rest"},
		{"${P%-rest}", "prefix"},
		{"${P/rest/best}", "prefix-best"},
		{`\$V`, "$V"},
		{`'$V'`, "$V"},
		{`"$V and $UNSET"`, "later and "},
		{`"a b"`, "a b"},
		{"$UNSET", ""},
	}
	e := NewExpander('\\')
	for _, tt := range tests {
		got, err := e.Word(tt.word, env)
		if err != nil || got != tt.want {
			t.Errorf("Word(%q) = %q, %v; want %q", tt.word, got, err, tt.want)
		}
	}
	if _, err := e.Word("${X:?must be set}", env); err == nil || !strings.Contains(err.Error(), "X: must be set") {
		t.Errorf("${X:?...} error = %v", err)
	}
}

func TestExpanderBacktickEscape(t *testing.T) {
	e := NewExpander('`')
	got, err := e.Word("`$V C:\\dir\\$V", []string{"V=x"})
	if err != nil || got != `$V C:\dir\x` {
		t.Errorf("Word = %q, %v", got, err)
	}
}

// parseCmds parses a one-stage Dockerfile and returns its commands.
func parseCmds(t *testing.T, body string) []instructions.Command {
	t.Helper()
	return mustParse(t, "FROM scratch\n"+body).Stages[0].Commands
}

func TestExpanderExpand(t *testing.T) {
	env := []string{"DIR=/srv", "USER=app", "PORTS=80 443/tcp", "CACHE=/root/.cache", "SIG=SIGINT", "X=1"}
	tests := []struct {
		name, body, want string
	}{
		{"run shell untouched", `RUN echo $DIR "$USER"`, `RUN shell=true ["echo $DIR \"$USER\""]`},
		{"run exec untouched", `RUN ["echo", "$DIR"]`, `RUN shell=false ["echo" "$DIR"]`},
		{"run mounts expanded", `RUN --mount=type=cache,target=$CACHE,id=$USER true`, `mount{type=cache from="" source="" target="/root/.cache" id="app" ro=false}`},
		{"cmd untouched", `CMD echo $DIR`, `CMD shell=true ["echo $DIR"]`},
		{"entrypoint untouched", `ENTRYPOINT ["$DIR"]`, `ENTRYPOINT shell=false ["$DIR"]`},
		{"copy", `COPY --chown=$USER --chmod=75$X --from=stage --exclude=$DIR $DIR/a "b$X" ${DIR}/`, `COPY from="stage" chown="app" chmod="751" link=false parents=false exclude=["$DIR"] src=["/srv/a" "b1"] dest="/srv/"`},
		{"add", `ADD --checksum=$X $DIR/x /y`, `ADD chown="" chmod="" link=false checksum="1" keep-git-dir=unset unpack=unset exclude=[] src=["/srv/x"] dest="/y"`},
		{"workdir", `WORKDIR $DIR/app`, `WORKDIR "/srv/app"`},
		{"user", `USER ${USER}:${USER}`, `USER "app:app"`},
		{"volume", `VOLUME $DIR ${DIR}2`, `VOLUME ["/srv" "/srv2"]`},
		{"stopsignal", `STOPSIGNAL $SIG`, `STOPSIGNAL "SIGINT"`},
		{"expose splits", `EXPOSE $PORTS 8080`, `EXPOSE ["80" "443/tcp" "8080"]`},
		{"label", `LABEL dir=$DIR "$USER"=x`, `LABEL "dir"="/srv" "app"="x"`},
		{"env", `ENV A=$DIR B="$USER x"`, `ENV "A"="/srv" "B"="app x"`},
		{"arg defaults only", `ARG A=$DIR B`, `ARG A="/srv" B`},
		{"onbuild untouched", `ONBUILD RUN echo $DIR`, `ONBUILD "RUN echo $DIR"`},
		{"healthcheck untouched", `HEALTHCHECK CMD check $DIR`, `HEALTHCHECK test=["CMD-SHELL" "check $DIR"]`},
		{"shell untouched", `SHELL ["$DIR"]`, `SHELL ["$DIR"]`},
		{"maintainer untouched", `MAINTAINER $USER`, `MAINTAINER "$USER"`},
	}
	e := NewExpander('\\')
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := parseCmds(t, tt.body)[0]
			if err := e.Expand(cmd, env); err != nil {
				t.Fatal(err)
			}
			if got := describe(cmd); !strings.Contains(got, tt.want) {
				t.Errorf("after Expand:\n%s\nwant it to contain\n%s", got, tt.want)
			}
		})
	}
}

func TestExpanderHeredocs(t *testing.T) {
	cmds := parseCmds(t, "COPY <<A <<\"B\" /dst/\n$X \"q\" \\$X\nA\n$X\nB\n")
	if err := NewExpander('\\').Expand(cmds[0], []string{"X=1"}); err != nil {
		t.Fatal(err)
	}
	got := cmds[0].(*instructions.CopyCommand).SourceContents
	want := []instructions.SourceContent{
		{Path: "A", Data: "1 \"q\" $X\n", Expand: true}, // quotes kept: it is file content
		{Path: "B", Data: "$X\n", Expand: false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("heredocs = %#v, want %#v", got, want)
	}
}

func TestWithShell(t *testing.T) {
	tests := []struct {
		shell   []string
		os      string
		cmdline []string
		prepend bool
		want    []string
	}{
		{nil, "linux", []string{"echo hi"}, true, []string{"/bin/sh", "-c", "echo hi"}},
		{nil, "windows", []string{"dir"}, true, []string{"cmd", "/S", "/C", "dir"}},
		{[]string{"/bin/bash", "-eo", "pipefail", "-c"}, "linux", []string{"a | b"}, true, []string{"/bin/bash", "-eo", "pipefail", "-c", "a | b"}},
		{[]string{"/bin/bash", "-c"}, "linux", []string{"echo", "$X"}, false, []string{"echo", "$X"}},
	}
	for _, tt := range tests {
		if got := WithShell(tt.shell, tt.os, tt.cmdline, tt.prepend); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("WithShell(%q, %s, %q, %v) = %q, want %q", tt.shell, tt.os, tt.cmdline, tt.prepend, got, tt.want)
		}
	}
}

func TestRunArgsWindowsShebang(t *testing.T) {
	r := parseCmds(t, "RUN <<EOF\n#!/bin/sh\necho\nEOF\n")[0].(*instructions.RunCommand)
	args, script, err := RunArgs(r, nil, "windows")
	if err != nil || script != nil || !reflect.DeepEqual(args, []string{"cmd", "/S", "/C", "#!/bin/sh\necho\n"}) {
		t.Errorf("RunArgs on windows = %q, %v, %v; want the body run by the shell", args, script, err)
	}
}
