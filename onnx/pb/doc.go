// Package pb holds the Go protobuf types for the ONNX model format, generated
// from onnx.proto (ONNX 1.12, IR version 8) as shipped by Debian's
// python3-onnx package. The generated file is committed; regenerate it with
// `go generate ./onnx/pb` after installing protoc (Debian protobuf-compiler)
// and protoc-gen-go:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//
// Nothing here is hand-written except this file.
package pb

//go:generate protoc -I /usr/lib/python3/dist-packages --go_out=. --go_opt=module=github.com/slimgo/slimgo/onnx/pb --go_opt=Monnx/onnx.proto=github.com/slimgo/slimgo/onnx/pb onnx/onnx.proto
