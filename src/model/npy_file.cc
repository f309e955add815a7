#include "model/npy_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>

namespace sluice::model {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

Status invalid(const std::string& path, const std::string& why) {
  return Status::InvalidArgument("input " + path + " is not a float32 C-order .npy file: " + why);
}

}  // namespace

Result<NpyArray> readNpyFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return invalid(path, "it cannot be opened");
  char prefix[kMagicSize + 2];
  if (!file.read(prefix, sizeof(prefix)) || std::memcmp(prefix, kMagic, kMagicSize) != 0) {
    return invalid(path, "it does not start with the .npy magic bytes");
  }
  const int major = static_cast<unsigned char>(prefix[kMagicSize]);
  uint32_t headerLength = 0;
  if (major == 1) {
    unsigned char length[2];
    if (!file.read(reinterpret_cast<char*>(length), 2)) return invalid(path, "it is truncated");
    headerLength = length[0] | (length[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char length[4];
    if (!file.read(reinterpret_cast<char*>(length), 4)) return invalid(path, "it is truncated");
    headerLength = length[0] | (length[1] << 8) | (length[2] << 16) | (uint32_t(length[3]) << 24);
  } else {
    return invalid(path, "format version " + std::to_string(major) + " is unknown");
  }
  std::string header(headerLength, '\0');
  if (!file.read(header.data(), headerLength)) return invalid(path, "its header is truncated");

  std::smatch match;
  if (!std::regex_search(header, match, std::regex("'descr'\\s*:\\s*'([^']*)'")) ||
      (match[1] != "<f4" && match[1] != "=f4")) {
    return invalid(path, "its dtype is not little-endian float32 ('<f4')");
  }
  if (!std::regex_search(header, match, std::regex("'fortran_order'\\s*:\\s*False"))) {
    return invalid(path, "it is in Fortran order");
  }
  if (!std::regex_search(header, match, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)"))) {
    return invalid(path, "its header has no shape");
  }
  NpyArray array;
  const std::string dims = match[1];
  std::regex number("[0-9]+");
  int64_t count = 1;
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number);
       it != std::sregex_iterator(); ++it) {
    array.shape.push_back(std::stoll(it->str()));
    count *= array.shape.back();
  }
  array.data.resize(count);
  if (!file.read(reinterpret_cast<char*>(array.data.data()), count * sizeof(float))) {
    return invalid(path, "it holds fewer than the " + std::to_string(count) +
                             " floats its shape promises");
  }
  return array;
}

Status writeNpyFile(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  std::string dims;
  int64_t count = 1;
  for (int64_t dim : shape) {
    dims += std::to_string(dim) + ",";
    count *= dim;
  }
  if (shape.size() > 1) dims.pop_back();  // "(3,)" for rank 1, "(2,3)" otherwise
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
  const size_t total = kMagicSize + 4 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) return Status::IoError("cannot create output file " + path + " (" + std::strerror(errno) + ")");
  file.write(kMagic, kMagicSize);
  const char version[2] = {1, 0};
  file.write(version, 2);
  const char length[2] = {static_cast<char>(header.size() & 0xff),
                          static_cast<char>((header.size() >> 8) & 0xff)};
  file.write(length, 2);
  file.write(header.data(), header.size());
  file.write(reinterpret_cast<const char*>(data), count * sizeof(float));
  file.close();
  if (!file) return Status::IoError("writing output file " + path + " failed (disk full?)");
  return Status::OK();
}

}  // namespace sluice::model
