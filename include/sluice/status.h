#pragma once
// Error handling in the style of Arrow's Status / Result: functions that can fail return
// [[nodiscard]] Status or Result<T>; callers propagate with SLUICE_RETURN_IF_ERROR and
// SLUICE_ASSIGN_OR_RETURN. Library code never throws across its API and never ends the process.

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sluice {

/// What kind of failure a Status carries; the CLI maps it to an exit code
/// (kInvalidArgument and kUnsupported -> 2, everything else -> 1).
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad flag, bad configuration, unreadable or invalid model
  kUnsupported,      // a model op or data type sluice does not handle
  kIoError,          // storage or file failure
  kInvalidData,      // a file whose content is not what it claims to be
  kCancelled,        // work stopped because another part of the job failed
  kInternal,         // a bug or a library failure that should not happen
};

/// The outcome of an operation: ok, or a code with a one-sentence message.
class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string message) {
    return Status(StatusCode::kInvalidArgument, std::move(message));
  }
  static Status Unsupported(std::string message) {
    return Status(StatusCode::kUnsupported, std::move(message));
  }
  static Status IoError(std::string message) {
    return Status(StatusCode::kIoError, std::move(message));
  }
  static Status InvalidData(std::string message) {
    return Status(StatusCode::kInvalidData, std::move(message));
  }
  static Status Cancelled(std::string message) {
    return Status(StatusCode::kCancelled, std::move(message));
  }
  static Status Internal(std::string message) {
    return Status(StatusCode::kInternal, std::move(message));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  /// True for errors the user caused through flags or configuration (exit code 2).
  bool isUsageError() const {
    return code_ == StatusCode::kInvalidArgument || code_ == StatusCode::kUnsupported;
  }

  /// The same status with `context` put in front of the message ("reading x: <message>").
  Status withContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

  /// The same status with `advice` after the message ("<message>; <advice>").
  Status withAdvice(const std::string& advice) const {
    if (ok()) return *this;
    return Status(code_, message_ + "; " + advice);
  }

  std::string toString() const;

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

/// A value of type T, or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : storage_(std::move(value)) {}  // NOLINT: implicit by design, like Arrow's
  Result(Status status) : storage_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(storage_).ok() && "Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(storage_); }
  Status status() const { return ok() ? Status::OK() : std::get<Status>(storage_); }

  const T& value() const& { return std::get<T>(storage_); }
  T& value() & { return std::get<T>(storage_); }
  T&& value() && { return std::get<T>(std::move(storage_)); }
  T valueOr(T fallback) const { return ok() ? value() : std::move(fallback); }

  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, Status> storage_;
};

namespace internal {
inline Status toStatus(Status status) { return status; }
template <typename T>
Status toStatus(const Result<T>& result) { return result.status(); }
}  // namespace internal

}  // namespace sluice

#define SLUICE_CONCAT_IMPL(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_IMPL(a, b)

/// Returns the status of `expr` (a Status or a Result) from the current function if it failed.
#define SLUICE_RETURN_IF_ERROR(expr)                                          \
  do {                                                                        \
    ::sluice::Status sluice_status_ = ::sluice::internal::toStatus((expr));   \
    if (!sluice_status_.ok()) return sluice_status_;                          \
  } while (false)

#define SLUICE_ASSIGN_OR_RETURN_IMPL(result, lhs, expr) \
  auto result = (expr);                                 \
  if (!result.ok()) return result.status();             \
  lhs = std::move(result).value()

/// Evaluates `expr` (a Result<T>); on failure returns its status, else assigns the value to `lhs`.
#define SLUICE_ASSIGN_OR_RETURN(lhs, expr) \
  SLUICE_ASSIGN_OR_RETURN_IMPL(SLUICE_CONCAT(sluice_result_, __LINE__), lhs, expr)
