#pragma once
// Sets how many threads oneDNN's OpenMP runtime uses for the calling thread's parallel regions.

namespace sluice::backend {

/// `numThreads` <= 0 means all cores. oneDNN (Debian build) runs on OpenMP; the OpenMP runtime is
/// looked up at run time, since it comes in as a dependency of libdnnl, not of sluice.
void setComputeThreads(int numThreads);

}  // namespace sluice::backend
