// Package detect holds the geometry and the scoring of object detection,
// independent of any model or data format:
//
//   - box.go: Box in corner form (x1, y1, x2, y2), conversions to and from
//     centre form (cx, cy, w, h), IoU, GIoU and CIoU;
//   - nms.go: non-maximum suppression (class-agnostic and per class) with a
//     score threshold and a cap on the number of detections, matching
//     torchvision.ops.nms / batched_nms;
//   - letterbox.go: the letterbox transform (resize keeping the aspect
//     ratio, pad to the input size) as a mapping of coordinates, forward
//     for labels and inverse for predicted boxes;
//   - map.go: mAP@0.5 and mAP@0.5:0.95 as the COCO evaluation defines them
//     (greedy matching by score, 101-point interpolated precision, area
//     ranges); agnostic.go: the class-agnostic view of the same boxes;
//   - decode.go: the anchor-free (YOLOX-style) decoding of raw head maps
//     into boxes, classes and scores (best class per cell, or every class
//     for evaluation);
//   - loss.go, giou_grad.go: the training loss of such heads (centre
//     sampling assignment, GIoU box loss, objectness and class BCE, an
//     optional IoU-valued class target) with
//     its gradient with respect to the raw maps.
//
// Coordinates are float64 in whatever unit the caller uses consistently
// (pixels here, unless a function says otherwise); a box with x2 < x1 or
// y2 < y1 is degenerate and has zero area. The package imports nothing
// else of slimgo, so data, train and pipeline can all use it.
package detect
