package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sever-ir/sever/config"
)

// loadConfig reads the config file (if any), then applies the --data-dir flag.
func (g *globals) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return nil, err
	}
	if g.dataDir != "" {
		// A token store path derived from the old data dir follows the new one; a path
		// set on purpose stays.
		if cfg.TokenStore.Path == filepath.Join(cfg.DataDir, "tokens.json") {
			cfg.TokenStore.Path = ""
		}
		cfg.DataDir = g.dataDir
	}
	if g.policy != "" {
		cfg.Runbooks.Policy = g.policy
	}
	if g.runbooksDir != "" {
		cfg.Runbooks.Dir = g.runbooksDir
	}
	return cfg, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func stderrf(format string, args ...any) { fmt.Fprintf(os.Stderr, format, args...) }
