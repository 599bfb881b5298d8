// Package push moves images between the local side and registries, on
// go-containerregistry's remote package: Push writes, Pull reads (the store's
// pull-on-miss), Login and Logout manage the docker config credentials both use.
//
//	func Push(ctx context.Context, img v1.Image, refs []string, opts Options) (v1.Hash, error)
//	func Pull(ctx context.Context, ref string, platform v1.Platform, opts Options) (v1.Image, error)
//	func Login(ctx context.Context, registry, user, password string, opts Options) error
//	func Logout(registry string) error
//
// What a push does, per repository of refs (in the order given):
//   - HEAD each blob and skip those the repository has; a re-run of a failed push thus
//     uploads only what is missing, and a re-push of a tag already pointing at the image
//     costs one manifest HEAD;
//   - offer the others for cross-repository mount from the first repository of the same
//     registry written in this call, or from Options.MountFrom, or — for images that came
//     from Pull — from the repository they were pulled from; the registry mounts those it
//     holds and opens an ordinary upload for the rest;
//   - upload the rest, Options.Jobs at a time, then PUT the manifest under each tag.
//
// Transient failures (5xx, 429, dropped or reset connections, EOF, timeouts) are retried
// with exponential back-off: single requests by ggcr's retrying transport, a blob upload
// as a whole (a new upload session) by ggcr's upload loop. Registry failures come back as
// *Error, which names the operation, registry, repository and HTTP status, says what to do
// (401: run `builder login REG`; TLS: --ca-file or --insecure-registry), and unwraps to a
// sentinel (ErrUnauthorized, ErrNotFound, ErrInvalid, ErrTLS, …) and to ggcr's
// *transport.Error. Errors, warnings and progress show digests, sizes, hosts and
// repository names only: never credentials, and URL query strings are cut.
//
// Plain HTTP: loopback registries and those in Options.Insecure are tried over HTTPS
// first and then HTTP, like Docker's insecure registries. go-containerregistry also does
// this for RFC 1918 addresses on its own.
//
// The package never prints: progress goes to Options.Progress, warnings to Options.Warn.
package push
