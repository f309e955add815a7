#pragma once
#include <cstdint>
#include <string>

#include "sluice/status.h"

namespace sluice {

/// Parses a size such as "512M", "4GiB", "1.5G" or "1048576" (bytes). Suffixes K, M, G, T (with
/// optional "i" and "B") are powers of 1024.
Result<int64_t> parseByteSize(const std::string& text);

/// Formats bytes for people: "1.5 GiB", "12.0 MiB", "512 B".
std::string formatByteSize(int64_t bytes);

}  // namespace sluice
