#pragma once
// The real photographs `sluice datagen` derives its images from.

#include <string>
#include <vector>

#include "image/image.h"
#include "sluice/status.h"

namespace sluice::datagen {

/// A decoded source photograph; its index in the library is the label of images made from it.
struct Photo {
  std::string name;  // file name, e.g. "astronaut.png"
  image::Image pixels;
};

/// The folder of scikit-image's sample data this build found, or "" when there was none.
std::string defaultPhotoDir();

/// Decodes the photographs in `directory`, sorted by file name. For the default (scikit-image)
/// folder only its real photographs are used (no synthetic test charts, logos or text); for any
/// other folder every .png, .jpg and .jpeg file. Fails, naming the folder and suggesting
/// --photos, when the folder is missing or holds no usable photograph.
Result<std::vector<Photo>> loadPhotos(const std::string& directory);

}  // namespace sluice::datagen
