#!/usr/bin/env bash
# Regenerates Sources/FuRAFormats/ONNX/onnx-subset.pb.swift from scripts/onnx/onnx-subset.proto.
# Needs protoc (Debian: protobuf-compiler) and protoc-gen-swift from apple/swift-protobuf at the version
# Package.swift names (build it once: swift build -c release --product protoc-gen-swift in a checkout).
set -euo pipefail
cd "$(dirname "$0")/../.."
PLUGIN=${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}
[ -x "$PLUGIN" ] || { echo "protoc-gen-swift not found: set PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift" >&2; exit 1; }
protoc --plugin=protoc-gen-swift="$PLUGIN" --swift_opt=Visibility=Internal \
  --proto_path=scripts/onnx --swift_out=Sources/FuRAFormats/ONNX scripts/onnx/onnx-subset.proto
echo "wrote Sources/FuRAFormats/ONNX/onnx-subset.pb.swift"
