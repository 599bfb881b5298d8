// Package run runs a process in a container through runc's libcontainer: the
// builder's RUN steps (Run) and the runner's long-lived containers (Create, Start,
// Exec, Signal, Destroy, and Load from another process). It receives a prepared
// root directory; images and layers are not its business.
//
// # Re-exec as container init
//
// libcontainer starts every container process as "/proc/self/exe init". Importing
// this package installs an init function that recognises that invocation and turns
// the process into libcontainer's init before main runs (and before cobra parses
// any flag). It only does so when libcontainer's init pipe is in the environment
// too, so a user command named "init" reaches cobra as usual. The nsenter C
// constructor that comes with it does nothing in an ordinary invocation.
//
// # What a container gets
//
//   - New mount, pid, uts and ipc namespaces; a new network namespace with loopback
//     up unless Network is "host" or names a namespace to join. No user or cgroup
//     namespace: run as root.
//   - Its own cgroup, CgroupParent/ID in every hierarchy (absolute paths, as docker's
//     /docker/ID; nesting below our own cgroup breaks on cgroup v2, whose "no
//     internal processes" rule forbids it). Limits apply there. Destroy removes it;
//     the parent stays, shared by all containers.
//   - /proc, a tmpfs /dev with null, zero, full, random, urandom, tty and ptmx
//     (→ pts/ptmx), /dev/pts, /dev/shm, /dev/mqueue, and /sys read-only; docker's
//     masked and read-only paths under /proc and /sys; docker's default
//     capabilities; our rlimits (none are set); no seccomp profile unless
//     Spec.Seccomp is given (which needs the seccomp build tag).
//   - PATH, HOME (from /etc/passwd, else "/") and, with a TTY, TERM=xterm when
//     Env lacks them.
//
// # What changes in Root
//
// The runtime writes to Root only to create what is missing: the working
// directory (owned by the resolved user, 0755), and the targets of mounts (with
// their parent directories, root-owned 0755; a bind of a file gets an empty
// 0644 file). /proc, /sys and /dev are created if absent; everything below /dev
// lives on the tmpfs. Callers that want a pristine diff (the builder) pre-create
// those targets themselves.
//
// # Exit codes
//
// Run and Process.Wait return the process's exit status, or 128+signal when a
// signal killed it (137 for SIGKILL, also after an OOM kill). A container's init is
// pid 1 of its namespace, so signals it has no handler for, sent from inside, do
// nothing to it, exactly as in docker.
//
// libcontainer checks the command with exec.LookPath before starting it and
// reports a failure from Start as text; a message of the form `exec: "cmd": ...`
// becomes an *ExecError with Code 127 (not found: no such file, not in $PATH) or
// 126 (found but not executable: permission denied, a directory), and Run returns
// that code with the error. A command that passes LookPath but fails in execve
// itself (e.g. ENOEXEC: no shebang, wrong architecture) cannot be told apart:
// libcontainer's init prints "exec CMD: exec format error" to the process's stderr
// and exits 255.
//
// # Standard streams
//
// Nil streams are /dev/null. A Stdin that is not an *os.File is fed through a pipe
// the package owns, so a reader that never reaches EOF does not keep Wait from
// returning. With Stdio.TTY the process gets a pty; the package copies Stdin to its
// master and the master's output to Stdout, and Process.Console gives the master
// (for Resize, or for callers that copy it themselves and pass no streams). Output
// of processes that outlive an exec'd process on its pty is cut off when it exits,
// as with runc exec -t.
//
// The library prints nothing itself; libcontainer logs warnings through logrus's
// standard logger, which the binaries may configure.
package run
