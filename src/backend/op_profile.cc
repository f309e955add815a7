#include "backend/op_profile.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace sluice::backend {

double ModelProfile::totalMilliseconds() const {
  double total = 0;
  for (const OpTiming& op : ops) total += op.milliseconds;
  return total;
}

double ModelProfile::totalFlops() const {
  double total = 0;
  for (const OpTiming& op : ops) total += op.flops;
  return total;
}

std::vector<KindTotal> totalsByKind(const ModelProfile& profile) {
  std::map<std::string, KindTotal> byKind;
  for (const OpTiming& op : profile.ops) {
    KindTotal& total = byKind[op.kind];
    total.kind = op.kind;
    ++total.ops;
    total.milliseconds += op.milliseconds;
    total.flops += op.flops;
    total.bytes += op.bytes;
  }
  std::vector<KindTotal> totals;
  for (auto& [kind, total] : byKind) totals.push_back(total);
  std::stable_sort(totals.begin(), totals.end(),
                   [](const KindTotal& a, const KindTotal& b) { return a.milliseconds > b.milliseconds; });
  return totals;
}

std::vector<OpTiming> slowestOps(const ModelProfile& profile, int count) {
  std::vector<OpTiming> ops = profile.ops;
  std::stable_sort(ops.begin(), ops.end(),
                   [](const OpTiming& a, const OpTiming& b) { return a.milliseconds > b.milliseconds; });
  if (count >= 0 && static_cast<size_t>(count) < ops.size()) ops.resize(count);
  return ops;
}

namespace {

std::string format(const char* pattern, auto... values) {
  std::string line(static_cast<size_t>(std::snprintf(nullptr, 0, pattern, values...)), '\0');
  std::snprintf(line.data(), line.size() + 1, pattern, values...);
  return line;
}

// "-" where an op has no such cost, or took no measurable time.
std::string rate(double amount, double milliseconds, double unit) {
  if (amount <= 0 || milliseconds <= 0) return "-";
  return format("%.1f", amount / (milliseconds * 1e-3) / unit);
}

}  // namespace

std::string formatProfile(const ModelProfile& profile, int top) {
  const double total = profile.totalMilliseconds();
  auto share = [&](double milliseconds) { return total > 0 ? 100.0 * milliseconds / total : 0.0; };
  std::string text = format("batch %lld, mean of %d eager passes: %.3f ms per pass in the ops",
                            static_cast<long long>(profile.batchSize), profile.runs, total);
  if (profile.forwardMilliseconds > 0) {
    text += format(" (the benchmark's pass: %.3f ms, %.1f TFLOP/s)", profile.forwardMilliseconds,
                   profile.totalFlops() / (profile.forwardMilliseconds * 1e9));
  }
  text += format("; %.1f TFLOP/s over the pass\n\n", total > 0 ? profile.totalFlops() / (total * 1e9) : 0.0);
  text += format("%-28s %5s %10s %7s %9s %8s\n", "kind", "ops", "ms", "share", "TFLOP/s", "GB/s");
  for (const KindTotal& kind : totalsByKind(profile)) {
    text += format("%-28s %5d %10.3f %6.1f%% %9s %8s\n", kind.kind.c_str(), kind.ops, kind.milliseconds,
                   share(kind.milliseconds), rate(kind.flops, kind.milliseconds, 1e12).c_str(),
                   rate(kind.bytes, kind.milliseconds, 1e9).c_str());
  }
  const std::vector<OpTiming> slowest = slowestOps(profile, top);
  if (slowest.empty()) return text;
  text += format("\nslowest %d ops\n%-22s %-24s %10s %7s %9s %8s  %s\n", static_cast<int>(slowest.size()), "node",
                 "kind", "ms", "share", "TFLOP/s", "GB/s", "shape, detail");
  for (const OpTiming& op : slowest) {
    text += format("%-22s %-24s %10.3f %6.1f%% %9s %8s  %s%s%s\n", op.node.c_str(), op.kind.c_str(), op.milliseconds,
                   share(op.milliseconds), rate(op.flops, op.milliseconds, 1e12).c_str(),
                   rate(op.bytes, op.milliseconds, 1e9).c_str(), op.shape.c_str(), op.detail.empty() ? "" : ", ",
                   op.detail.c_str());
  }
  return text;
}

}  // namespace sluice::backend
