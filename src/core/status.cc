#include "sluice/status.h"

namespace sluice {

namespace {
const char* codeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "Invalid argument";
    case StatusCode::kUnsupported: return "Unsupported";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kInvalidData: return "Invalid data";
    case StatusCode::kCancelled: return "Cancelled";
    case StatusCode::kInternal: return "Internal error";
  }
  return "Unknown";
}
}  // namespace

std::string Status::toString() const {
  if (ok()) return "OK";
  return std::string(codeName(code_)) + ": " + message_;
}

}  // namespace sluice
