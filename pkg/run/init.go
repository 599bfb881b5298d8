package run

import (
	"os"
	"runtime"

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
	// Keep the main thread for the main goroutine. libcontainer starts a container from
	// a goroutine that locks its thread, joins the container's mount namespace and
	// exits without unlocking, so that Go ends the thread; had that goroutine run on
	// the main thread, which Go never ends, the main thread would stay in the mount
	// namespace of a container long gone, keeping its mounts alive, and everything
	// that reads /proc/self (the thread group leader's view) would see that
	// container's mounts instead of ours.
	runtime.LockOSThread()
}

// isContainerInit requires libcontainer's init pipe next to the "init" argument, so
// a user's "builder init" or "runner init" command is never taken for it.
func isContainerInit() bool {
	return len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv("_LIBCONTAINER_INITPIPE") != ""
}
