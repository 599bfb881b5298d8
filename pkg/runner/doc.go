// Package runner manages containers the way `docker run` users expect, without a daemon:
// run, ps, stop, start, restart, kill, rm, logs, exec, inspect, port, prune, and the image
// commands on the shared store.
//
// # The conmon model
//
// Every started container has a supervisor: this program re-executed as
// `runner _supervise SPEC` in a session of its own (Supervise). It mounts the
// container's root (an overlay of the image's layer dirs and the container's own upper
// dir), creates its network namespace, forwards the published ports into it, creates and
// starts the container through pkg/run, writes its output to the log, records the exit
// code, applies the restart policy, and with --rm removes the container. The command that
// started it (`run`, `start`) binds the published ports itself, so that a port already in
// use fails that command, and hands the sockets over; it then waits on a report pipe for
// "started" (or the start error) and, when attached, for the exit code.
//
// Other commands never talk to the supervisor: they read the state files it writes and act
// on the container through libcontainer's state (pkg/run.Load). The supervisor holds an
// flock on its container's supervisor.lock for as long as it lives, so a dead supervisor
// is told apart from a live one without trusting pids.
//
// # State
//
// Under the store root (persistent): containers/<id>/{config.json,state.json,ctr.log,
// hosts,hostname,resolv.conf,rootfs/}, names/<name> (holding the id, created with O_EXCL so
// that two runs cannot take one name), volumes/<name>/_data. Under the run dir
// (/run/dockyard): libcontainer's state of running containers.
//
// # Networks
//
// "private" (the default) is a network namespace of the container's own, with loopback
// up, held by the supervisor. Published ports reach it through the supervisor, which
// accepts on the host address and dials the container port from a thread inside the
// namespace. Outbound connections go through slirp4netns when it is installed; otherwise
// the container is offline and Run says so. "host" shares the host's namespace (published
// ports are then discarded, as docker does), "none" has loopback only.
//
// # Images
//
// Images come from the shared store; a missing one is pulled (pkg/push.Pull) unless
// RunOptions.Pull is "never". --init binds a static init from the host (tini-static,
// catatonit, docker-init) at /dev/init, as docker and podman inject theirs.
//
// # Not done
//
// No attach to a detached container, no OOM-kill detection (an OOM kill shows as 137), and
// a supervisor that was SIGKILLed leaves its container running unsupervised: ps still
// shows it Up, stop and rm clean it up, but its published ports no longer forward.
package runner
