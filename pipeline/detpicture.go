package pipeline

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/detect"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/atomicfile"
	"github.com/slimgo/slimgo/report"
	"github.com/slimgo/slimgo/train"
)

// The picture of predicted boxes (report.PlotDetections) in a detector's
// compress report and in demo --task detect.
const (
	// DetPictureImages is the number of val/ images drawn.
	DetPictureImages = 6
)

// DetPictureNMS is the post-processing of the drawn boxes: the usual
// display setting of YOLO detectors (a score of at least 0.25), per-class
// NMS at the evaluation's IoU 0.6, at most 100 an image. The mAP figures
// use detect.DefaultNMS (every box down to 0.001).
var DetPictureNMS = detect.NMSOptions{ScoreThreshold: 0.25, IoUThreshold: 0.6, MaxDetections: 100}

// detPictureModel is one row of the picture.
type detPictureModel struct {
	name, detail string
	g            *graph.Graph
}

// pictureImages picks the first n images of set with at least one true
// box (the set's order: file names), then background images if too few.
func pictureImages(set *data.DetDataset, n int) []int {
	var with, without []int
	for i, o := range set.Objects {
		if len(o) > 0 {
			with = append(with, i)
		} else {
			without = append(without, i)
		}
	}
	idx := append(with, without...)
	return idx[:min(n, len(idx))]
}

// detPicture runs each model on the first n images of set (pictureImages)
// with nms and returns the picture of their boxes: each image as read from
// its file, its true boxes mapped back to its pixels (the letterbox's
// inverse), each model's detections (train.PredictDetector: in the
// image's pixels). Errors: an empty set, an unreadable image file, an
// engine error.
func detPicture(set *data.DetDataset, n int, models []detPictureModel, nms detect.NMSOptions) (*report.DetectionPicture, error) {
	idx := pictureImages(set, n)
	if len(idx) == 0 {
		return nil, fmt.Errorf("no images to draw in %s", set.Source)
	}
	pic := &report.DetectionPicture{Classes: set.Classes}
	for _, i := range idx {
		path := set.Files[i]
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		img, err := data.DecodeImage(b, path)
		if err != nil {
			return nil, err
		}
		truth := make([]detect.GroundTruth, len(set.Objects[i]))
		for k, o := range set.Objects[i] {
			truth[k] = o
			truth[k].Box = set.Letterbox[i].Inverse(o.Box)
		}
		pic.Images = append(pic.Images, report.DetectionImage{Name: filepath.Base(path), Image: img, Truth: truth,
			Dets: make([][]detect.Detection, len(models))})
	}
	sub := set.Subset(idx)
	for m, md := range models {
		dets, err := train.PredictDetector(md.g, sub, nms)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", md.name, err)
		}
		for k := range pic.Images {
			pic.Images[k].Dets[m] = dets[k]
		}
		pic.Models = append(pic.Models, report.DetectionModel{Name: md.name, Detail: md.detail})
	}
	pic.Title = fmt.Sprintf("Predicted boxes on %d val/ images (score >= %g, NMS IoU %g)", len(idx), nms.ScoreThreshold, nms.IoUThreshold)
	return pic, nil
}

// pictureCaption is the line under the picture in report.md.
func pictureCaption(pic *report.DetectionPicture, rows string, nms detect.NMSOptions) string {
	return fmt.Sprintf("%s on the first %d val/ images with objects (file-name order): the boxes scoring at least %g after per-class NMS at IoU %g (at most %d an image; mAP counts every box down to %g), drawn in each image's own pixels enlarged by a whole factor (nearest neighbour, 64 x 64 at 3x); dashed: the true boxes; colour: the class.",
		rows, len(pic.Images), nms.ScoreThreshold, nms.IoUThreshold, nms.MaxDetections, detect.DefaultNMS.ScoreThreshold)
}

// detReportPicture sets the compress report's picture: the input model
// and the delivered one (model.slimpack as it restores, else
// model.pruned.onnx) on val/. A failure is a warning and a "Skipped"
// line in the report, not a failed run.
func (p *run) detReportPicture() {
	p.sum.Detections = nil
	if p.det == nil {
		return
	}
	pic, err := p.detPictureModels()
	if err != nil {
		fmt.Fprintf(p.e.Log, "warning: no picture of predicted boxes: %v\n", err)
		return
	}
	p.sum.Detections = pic
}

func (p *run) detPictureModels() (*report.DetectionPicture, error) {
	in, err := p.inputModel()
	if err != nil {
		return nil, err
	}
	file := p.sum.Files["packed"]
	if file == "" {
		file = p.sum.Files["pruned_onnx"]
	}
	if file == "" {
		return nil, fmt.Errorf("no delivered model recorded")
	}
	out, err := loadModel(file)
	if err != nil {
		return nil, err
	}
	first, last := p.sum.Before(), p.sum.After()
	models := []detPictureModel{
		{"input model", fmt.Sprintf("%s, mAP@0.5 %.2f %% on val/", filepath.Base(p.o.Model), first.Accuracy), in},
		{"delivered model", fmt.Sprintf("%s (%s stage), mAP@0.5 %.2f %% on val/", filepath.Base(file), last.Name, last.Accuracy), out},
	}
	pic, err := detPicture(p.det.test, DetPictureImages, models, DetPictureNMS)
	if err != nil {
		return nil, err
	}
	pic.Caption = pictureCaption(pic, fmt.Sprintf("Predictions of the input model (%s, top row) and of the delivered model (%s, %s stage, bottom row)",
		filepath.Base(p.o.Model), filepath.Base(file), last.Name), DetPictureNMS)
	return pic, nil
}

// writeDemoPicture draws the boxes of demo --task detect's trained model g
// (written to model, mAP@0.5 map50 percent) on the first val/ images of
// va to DIR/detections.png and returns its path. Errors: detPicture's, a
// failed write.
func writeDemoPicture(dir string, g *graph.Graph, va *data.DetDataset, model string, map50 float64) (string, error) {
	pic, err := detPicture(va, DetPictureImages, []detPictureModel{
		{"trained model", fmt.Sprintf("%s, mAP@0.5 %.2f %% on val/", filepath.Base(model), map50), g}}, DetPictureNMS)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, report.PlotDetections)
	return path, atomicfile.Write(path, func(w io.Writer) error { return report.DrawDetections(w, pic) })
}
