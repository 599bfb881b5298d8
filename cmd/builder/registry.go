package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dockyard/dockyard/pkg/push"
	"github.com/dockyard/dockyard/pkg/store"
)

// registryFlags are the transport and credential settings every registry command shares.
type registryFlags struct {
	insecure      []string
	skipTLSVerify bool
	caFile        string
	format        string
	retries       int
}

func (r *registryFlags) add(fl *pflag.FlagSet) {
	fl.StringArrayVar(&r.insecure, "insecure-registry", nil, "registry (host[:port]) to reach over plain HTTP; repeatable (localhost is always allowed)")
	fl.BoolVar(&r.skipTLSVerify, "skip-tls-verify", false, "accept any TLS certificate (insecure)")
	fl.StringVar(&r.caFile, "ca-file", "", "PEM file of extra certificate authorities to trust")
	fl.IntVar(&r.retries, "retries", 5, "retries of transient registry errors, with back-off")
}

func (r *registryFlags) addFormat(fl *pflag.FlagSet) {
	fl.StringVar(&r.format, "format", "oci", "manifest format to push: oci or docker (Docker v2 schema 2)")
}

func (r *registryFlags) options(progress io.Writer) push.Options {
	o := push.Options{
		Insecure: r.insecure, SkipTLSVerify: r.skipTLSVerify, CAFile: r.caFile, Retries: r.retries,
		Format: r.format, Progress: progress,
		Warn: func(msg string) { fmt.Fprintln(os.Stderr, "warning:", msg) },
	}
	if r.retries == 0 {
		o.Retries = -1
	}
	return o
}

// fetcher pulls for the store with these settings.
func (r *registryFlags) fetcher(platform v1.Platform, progress io.Writer) store.Fetcher {
	opts := r.options(progress)
	opts.Format = ""
	return func(ctx context.Context, ref string) (v1.Image, error) {
		return push.Pull(ctx, ref, platform, opts)
	}
}

func newPushCmd(g *globals) *cobra.Command {
	r := &registryFlags{}
	var digestFile string
	cmd := &cobra.Command{
		Use:   "push [flags] IMAGE [DESTINATION]",
		Short: "Push a stored image to a registry (under another name when DESTINATION is given)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.openStore()
			if err != nil {
				return err
			}
			defer s.Close()
			img, err := s.Image(args[0])
			if err != nil {
				return err
			}
			dest := args[len(args)-1]
			d, err := push.Push(cmd.Context(), img, []string{dest}, r.options(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s@%s\n", dest, d)
			return writeDigest(digestFile, d)
		},
	}
	r.add(cmd.Flags())
	r.addFormat(cmd.Flags())
	cmd.Flags().StringVar(&digestFile, "digest-file", "", "write the pushed manifest digest to this file")
	return cmd
}

func newLoginCmd() *cobra.Command {
	r := &registryFlags{}
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [flags] REGISTRY",
		Short: "Check credentials against a registry and store them in the docker config",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if password != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: --password shows up in shell history and ps; prefer --password-stdin")
			}
			if passwordStdin {
				if password != "" {
					return errors.New("--password and --password-stdin are exclusive")
				}
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("read password from stdin: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
			}
			if user == "" || password == "" {
				return errors.New("login needs --username and a password (--password-stdin)")
			}
			if err := push.Login(cmd.Context(), args[0], user, password, r.options(nil)); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
			return nil
		},
	}
	r.add(cmd.Flags())
	cmd.Flags().StringVarP(&user, "username", "u", "", "user name")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password (prefer --password-stdin)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

func newLogoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout REGISTRY",
		Short: "Remove a registry's stored credentials",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := push.Logout(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", args[0])
			return nil
		},
	}
}

func writeDigest(path string, d v1.Hash) error {
	if path == "" {
		return nil
	}
	return os.WriteFile(path, []byte(d.String()), 0o644)
}
