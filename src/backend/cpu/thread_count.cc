#include "backend/cpu/thread_count.h"

#include <dlfcn.h>

#include <thread>

namespace sluice::backend {

void setComputeThreads(int numThreads) {
  using SetThreads = void (*)(int);
  static SetThreads setThreads =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (!setThreads) return;  // not an OpenMP build: the library's default applies
  if (numThreads <= 0) numThreads = static_cast<int>(std::thread::hardware_concurrency());
  setThreads(numThreads > 0 ? numThreads : 1);
}

}  // namespace sluice::backend
