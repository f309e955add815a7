#pragma once
#include <cstdint>

namespace sluice {

/// Peak resident set size of this process so far, in bytes.
int64_t peakResidentBytes();

/// Current resident set size of this process, in bytes (0 where it cannot be read).
int64_t currentResidentBytes();

/// Physical memory of the machine, in bytes.
int64_t physicalMemoryBytes();

}  // namespace sluice
