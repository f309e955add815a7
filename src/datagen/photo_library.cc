#include "datagen/photo_library.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "image/image_decoder.h"

#ifndef SLUICE_DEFAULT_PHOTO_DIR
#define SLUICE_DEFAULT_PHOTO_DIR ""
#endif

namespace sluice::datagen {

namespace {

// scikit-image's data folder mixes photographs with synthetic images (chessboards, logos, a
// phantom, scanned text, binary masks) that look nothing like a dataset's content: only these
// photographs are used from it.
constexpr std::array<std::string_view, 16> kSkimagePhotographs = {
    "astronaut.png", "brick.png",  "camera.png",         "cell.png",        "chelsea.png",
    "coffee.png",    "coins.png",  "grass.png",          "gravel.png",      "hubble_deep_field.jpg",
    "ihc.png",       "moon.png",   "motorcycle_left.png", "motorcycle_right.png", "retina.jpg",
    "rocket.jpg"};

bool hasImageExtension(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg";
}

Status noPhotosError(const std::string& directory, const std::string& why) {
  return Status::InvalidArgument("no photographs to generate images from in '" + directory + "' (" +
                                 why + "); pass --photos DIR with a folder of PNG or JPEG photos");
}

}  // namespace

std::string defaultPhotoDir() { return SLUICE_DEFAULT_PHOTO_DIR; }

Result<std::vector<Photo>> loadPhotos(const std::string& directory) {
  namespace fs = std::filesystem;
  if (directory.empty()) return noPhotosError(directory, "no default folder: scikit-image was not found at build time");
  std::error_code error;
  if (!fs::is_directory(directory, error)) return noPhotosError(directory, "not a folder");

  const bool isDefault = fs::equivalent(directory, defaultPhotoDir(), error);
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    if (!entry.is_regular_file(error) || !hasImageExtension(entry.path())) continue;
    std::string name = entry.path().filename().string();
    if (isDefault && std::find(kSkimagePhotographs.begin(), kSkimagePhotographs.end(), name) ==
                         kSkimagePhotographs.end()) {
      continue;
    }
    names.push_back(std::move(name));
  }
  if (error) return Status::IoError("cannot list '" + directory + "': " + error.message());
  if (names.empty()) return noPhotosError(directory, "it holds no .png, .jpg or .jpeg file");
  std::sort(names.begin(), names.end());

  std::vector<Photo> photos;
  photos.reserve(names.size());
  for (std::string& name : names) {
    SLUICE_ASSIGN_OR_RETURN(image::Image pixels, image::readImageFile((fs::path(directory) / name).string()));
    photos.push_back(Photo{std::move(name), std::move(pixels)});
  }
  return photos;
}

}  // namespace sluice::datagen
