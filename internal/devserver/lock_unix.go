//go:build unix

package devserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

const lockFileName = "temporal.lock"

// lockDataDir takes an exclusive advisory lock on DataDir/temporal.lock, so
// that two servers (in one process or two) never share a database: with a
// single history shard they would keep stealing it from each other. The
// kernel drops the lock when the returned file is closed or the process
// dies, so a crash never leaves a stale lock behind.
func lockDataDir(dataDir string) (*os.File, error) {
	path := filepath.Join(dataDir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data dir %s is in use by another Temporal server (%s is locked); stop it or use another --data-dir", dataDir, path)
		}
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	return f, nil
}
