#include "backend/inference_backend.h"

namespace sluice::backend {

Result<Precision> parsePrecision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "tf32") return Precision::kTf32;
  if (name == "fp16") return Precision::kFp16;
  if (name == "bf16") return Precision::kBf16;
  return Status::InvalidArgument("unknown precision '" + name + "'; use fp32, tf32, fp16 or bf16");
}

std::string precisionName(Precision precision) {
  switch (precision) {
    case Precision::kFp32: return "fp32";
    case Precision::kTf32: return "tf32";
    case Precision::kFp16: return "fp16";
    case Precision::kBf16: return "bf16";
  }
  return "?";
}

}  // namespace sluice::backend
