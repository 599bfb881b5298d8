package run

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
	// nsexec, a C constructor, joins the namespaces before the Go runtime starts. It
	// does nothing unless _LIBCONTAINER_INITPIPE is set.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// init turns this process into a container's init when libcontainer re-executed us
// for that ("/proc/self/exe init", with its pipes in the environment). It runs
// before main and never returns in that case; see the package doc.
func init() {
	if isContainerInit() {
		libcontainer.Init() // sets GOMAXPROCS(1), locks the thread, never returns
	}
}

// isContainerInit requires libcontainer's init pipe next to the "init" argument, so
// a user's "builder init" or "runner init" command is never taken for it.
func isContainerInit() bool {
	return len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv("_LIBCONTAINER_INITPIPE") != ""
}
