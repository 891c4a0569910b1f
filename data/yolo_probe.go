package data

import (
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
)

// IsYOLODir reports whether dir looks like a detection set in the YOLO
// layout that LoadYOLO reads: it names its classes (data.yaml or
// classes.txt) and holds an images/ folder (or data.yaml names a training
// folder). An image folder for classification (DIR/train/<class>/...)
// has neither, so commands tell the task from the data with it; a
// malformed data.yaml still counts, so that LoadYOLO reports what is
// wrong with it.
func IsYOLODir(dir string) bool {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, "data.yaml")); err == nil {
		return true
	}
	if _, err := os.Stat(filepath.Join(dir, "classes.txt")); err != nil {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, "images"))
	return err == nil && st.IsDir()
}

// YOLOImageSize returns the width and height of the first training image
// (by file name) of the YOLO set in dir, read from its header only: what a
// new detector's input size is chosen from. Errors: those of LoadYOLO's
// layout (no class names, no training images) and an unreadable header.
func YOLOImageSize(dir string) (w, h int, err error) {
	_, trDir, _, err := yoloLayout(dir)
	if err != nil {
		return 0, 0, err
	}
	s, err := scanYOLOSplit(trDir, 1)
	if err != nil {
		return 0, 0, err
	}
	f, err := os.Open(s.images[0])
	if err != nil {
		return 0, 0, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return 0, 0, fmt.Errorf("data: %s: %w", s.images[0], err)
	}
	return cfg.Width, cfg.Height, nil
}

// checkLabelDir fails when the training split's label folder does not
// exist: every image would silently be a background image and nothing
// could be learnt (ultralytics stops too, "no labels found").
func checkLabelDir(s yoloSplit, imgDir string) error {
	st, err := os.Stat(s.labels)
	if errors.Is(err, os.ErrNotExist) || err == nil && !st.IsDir() {
		return fmt.Errorf("data: YOLO split %s has no label folder %s (one class cx cy w h file per image)", imgDir, s.labels)
	}
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return nil
}
