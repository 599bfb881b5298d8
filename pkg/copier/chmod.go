package copier

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Chmod is a parsed --chmod value: octal ("0755"), or symbolic as chmod(1) writes it
// ("u+x", "go-w", "u=rwX,go=rX", "g=u"), applied with a zero umask as BuildKit applies it
// (tonistiigi/dchapes-mode, a port of BSD setmode).
type Chmod struct {
	octal   *os.FileMode
	clauses []chmodClause
}

type chmodClause struct {
	who uint32 // the bits the clause may touch; 0 means "a" without the sticky bit
	ops []chmodOp
}

type chmodOp struct {
	op    byte   // '+', '-' or '='
	perm  uint32 // bits from r, w, x, s, t
	execX bool   // X: execute, for directories and files already executable by someone
	copy  byte   // 'u', 'g' or 'o': take that class's current bits
}

const (
	whoU   = unix.S_ISUID | unix.S_IRWXU
	whoG   = unix.S_ISGID | unix.S_IRWXG
	whoO   = unix.S_IRWXO
	whoAll = whoU | whoG | whoO
)

// ParseChmod parses a --chmod value.
func ParseChmod(s string) (*Chmod, error) {
	if n, err := strconv.ParseUint(s, 8, 32); err == nil {
		if n > 0o7777 {
			return nil, fmt.Errorf("invalid chmod parameter: '%s'. it should be octal string and between 0 and 07777", s)
		}
		m := fileMode(uint32(n))
		return &Chmod{octal: &m}, nil
	}
	if s == "" || strings.Trim(s, "0123456789") == "" {
		return nil, fmt.Errorf("invalid chmod parameter: '%s'. it should be octal string and between 0 and 07777", s)
	}
	c := &Chmod{}
	for _, part := range strings.Split(s, ",") {
		cl, err := parseClause(part)
		if err != nil {
			return nil, fmt.Errorf("invalid chmod parameter %q: %w", s, err)
		}
		c.clauses = append(c.clauses, cl)
	}
	return c, nil
}

func parseClause(s string) (chmodClause, error) {
	var cl chmodClause
	i := 0
	for ; i < len(s) && strings.IndexByte("ugoa", s[i]) >= 0; i++ {
		cl.who |= map[byte]uint32{'u': whoU, 'g': whoG, 'o': whoO, 'a': whoAll}[s[i]]
	}
	if i == len(s) {
		return cl, fmt.Errorf("%q: missing +, - or =", s)
	}
	for i < len(s) {
		op := chmodOp{op: s[i]}
		if strings.IndexByte("+-=", op.op) < 0 {
			return cl, fmt.Errorf("%q: unexpected %q", s, s[i])
		}
		i++
		if i < len(s) && strings.IndexByte("ugo", s[i]) >= 0 {
			op.copy = s[i]
			i++
		} else {
			for ; i < len(s) && strings.IndexByte("rwxXst", s[i]) >= 0; i++ {
				switch s[i] {
				case 'r':
					op.perm |= 0o444
				case 'w':
					op.perm |= 0o222
				case 'x':
					op.perm |= 0o111
				case 'X':
					op.execX = true
				case 's':
					op.perm |= unix.S_ISUID | unix.S_ISGID
				case 't':
					op.perm |= unix.S_ISVTX
				}
			}
		}
		if i < len(s) && strings.IndexByte("+-=", s[i]) < 0 {
			return cl, fmt.Errorf("%q: unexpected %q", s, s[i])
		}
		cl.ops = append(cl.ops, op)
	}
	return cl, nil
}

// apply returns mode (permission, set-id and sticky bits) changed by c.
func (c *Chmod) apply(mode uint32, isDir bool) uint32 {
	if c.octal != nil {
		return modeBits(*c.octal)
	}
	orig := mode
	for _, cl := range c.clauses {
		for _, op := range cl.ops {
			mode = op.apply(mode, orig, cl.who, isDir)
		}
	}
	return mode
}

// apply is one operation; X looks at the original mode, as BSD's getmode does.
func (op chmodOp) apply(mode, orig, who uint32, isDir bool) uint32 {
	mask := who
	if mask == 0 {
		mask = whoAll
	}
	perm := op.perm
	// BSD: s and t mean nothing for "o" alone; t belongs to no class, so it is kept out of
	// the mask and added explicitly.
	sticky := perm&unix.S_ISVTX != 0 && (who == 0 || who&^whoO != 0)
	perm &^= unix.S_ISVTX
	if op.execX && (isDir || orig&0o111 != 0) {
		perm |= 0o111
	}
	if op.copy != 0 {
		shift := map[byte]uint{'u': 6, 'g': 3, 'o': 0}[op.copy]
		bits := (mode >> shift) & 0o7
		perm = bits<<6 | bits<<3 | bits
	}
	perm &= mask
	switch op.op {
	case '+':
		mode |= perm
	case '-':
		mode &^= perm
	case '=':
		mode = mode&^mask | perm
	}
	if sticky {
		if op.op == '-' {
			mode &^= unix.S_ISVTX
		} else {
			mode |= unix.S_ISVTX
		}
	}
	return mode
}

// fileMode turns chmod(2) bits into an os.FileMode.
func fileMode(bits uint32) os.FileMode {
	m := os.FileMode(bits & 0o777)
	if bits&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if bits&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if bits&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}
