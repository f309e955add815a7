#include "core/system_memory.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace sluice {

int64_t peakResidentBytes() {
  // VmHWM belongs to this address space; getrusage's ru_maxrss also carries a parent's peak across
  // fork+exec, which would charge a big launcher's memory to this process.
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:  1234 kB"
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

int64_t currentResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t totalPages = 0;
  int64_t residentPages = 0;
  if (!(statm >> totalPages >> residentPages)) return 0;
  return residentPages * sysconf(_SC_PAGESIZE);
}

int64_t physicalMemoryBytes() {
  return static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
}

}  // namespace sluice
