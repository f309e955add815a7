#pragma once
// Converts Arrow statuses to sluice statuses at the call site, with context saying what was being
// done. Arrow's messages are kept, since they name the underlying cause (file, S3 error, ...).

#include <arrow/result.h>
#include <arrow/status.h>

#include "sluice/status.h"

namespace sluice::io {

inline Status fromArrow(const arrow::Status& status, const std::string& context) {
  if (status.ok()) return Status::OK();
  std::string message = context + ": " + status.message();
  if (status.IsIOError()) return Status::IoError(message);
  if (status.IsInvalid() || status.IsSerializationError()) return Status::InvalidData(message);
  if (status.IsNotImplemented()) return Status::Unsupported(message);
  if (status.IsCancelled()) return Status::Cancelled(message);
  return Status::IoError(message);
}

}  // namespace sluice::io

/// Returns from the current function if the Arrow status `expr` failed, saying what was being done.
#define SLUICE_RETURN_IF_ARROW_ERROR(expr, context)                           \
  do {                                                                        \
    ::arrow::Status sluice_arrow_status_ = (expr);                            \
    if (!sluice_arrow_status_.ok())                                           \
      return ::sluice::io::fromArrow(sluice_arrow_status_, (context));        \
  } while (false)

#define SLUICE_ASSIGN_OR_RETURN_ARROW_IMPL(result, lhs, expr, context)          \
  auto result = (expr);                                                         \
  if (!result.ok()) return ::sluice::io::fromArrow(result.status(), (context)); \
  lhs = std::move(result).ValueUnsafe()

/// Like SLUICE_ASSIGN_OR_RETURN for an arrow::Result.
#define SLUICE_ASSIGN_OR_RETURN_ARROW(lhs, expr, context) \
  SLUICE_ASSIGN_OR_RETURN_ARROW_IMPL(SLUICE_CONCAT(sluice_arrow_result_, __LINE__), lhs, expr, context)
