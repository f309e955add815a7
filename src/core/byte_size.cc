#include "core/byte_size.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace sluice {

Result<int64_t> parseByteSize(const std::string& text) {
  size_t numberEnd = 0;
  double number = 0;
  try {
    number = std::stod(text, &numberEnd);
  } catch (...) {
    numberEnd = 0;
  }
  auto invalid = [&] {
    return Status::InvalidArgument("'" + text +
                                   "' is not a size; use a number of bytes or a number with K, M, G or T "
                                   "(e.g. 512M, 4G)");
  };
  if (numberEnd == 0 || !(number >= 0) || !std::isfinite(number)) return invalid();
  std::string suffix;
  for (char c : text.substr(numberEnd)) suffix += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double multiplier = 1;
  if (!suffix.empty()) {
    static const char* kUnits = "KMGT";
    size_t unit = std::string(kUnits).find(suffix[0]);
    if (suffix == "B") {
      unit = std::string::npos;
    } else if (unit == std::string::npos) {
      return invalid();
    } else {
      std::string rest = suffix.substr(1);
      if (rest != "" && rest != "B" && rest != "I" && rest != "IB") return invalid();
      multiplier = std::pow(1024.0, static_cast<double>(unit + 1));
    }
  }
  return static_cast<int64_t>(std::llround(number * multiplier));
}

std::string formatByteSize(int64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (std::fabs(value) >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buffer[32];
  if (unit == 0) {
    std::snprintf(buffer, sizeof buffer, "%lld B", static_cast<long long>(bytes));
  } else {
    std::snprintf(buffer, sizeof buffer, "%.1f %s", value, kUnits[unit]);
  }
  return buffer;
}

}  // namespace sluice
