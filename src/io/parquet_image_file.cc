#include "io/parquet_image_file.h"

#include <arrow/io/interfaces.h>
#include <arrow/util/key_value_metadata.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/schema.h>
#include <parquet/column_reader.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>
#include <parquet/properties.h>

#include <algorithm>
#include <bit>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "io/arrow_status.h"

namespace sluice::io {

namespace {

void collectLeaves(const parquet::arrow::SchemaField& field, std::vector<int>& leaves) {
  if (field.is_leaf()) leaves.push_back(field.column_index);
  for (const auto& child : field.children) collectLeaves(child, leaves);
}

bool isUint8(const std::shared_ptr<arrow::DataType>& type) { return type->id() == arrow::Type::UINT8; }

Result<ImageColumnKind> imageKindOf(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::LIST:
      if (isUint8(static_cast<const arrow::ListType&>(type).value_type())) return ImageColumnKind::kList;
      break;
    case arrow::Type::LARGE_LIST:
      if (isUint8(static_cast<const arrow::LargeListType&>(type).value_type())) return ImageColumnKind::kList;
      break;
    case arrow::Type::FIXED_SIZE_LIST:
      if (isUint8(static_cast<const arrow::FixedSizeListType&>(type).value_type()))
        return ImageColumnKind::kFixedSizeList;
      break;
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
      return ImageColumnKind::kBinary;
    default:
      break;
  }
  return Status::InvalidArgument("has type " + type.ToString() +
                                 "; expected list<uint8>, fixed_size_list<uint8> or binary");
}

parquet::ReaderProperties readerProperties() {
  parquet::ReaderProperties properties;
  // Stream column chunks page by page instead of loading whole chunks: a row group of 1,000 raw
  // 256x256 images is 200 MB.
  properties.enable_buffered_stream();
  properties.set_buffer_size(4 << 20);
  return properties;
}

/// The first level in [from, end) that does not continue a run of values: a new row (repetition 0)
/// or anything but a value (definition below valueLevel). A run is a whole image, so this scan
/// touches every pixel's levels: eight at a time where SSE2 is there.
int64_t endOfValueRun(const int16_t* repetition, const int16_t* definition, int16_t valueLevel, int64_t from,
                      int64_t end) {
  int64_t i = from;
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  const __m128i value = _mm_set1_epi16(valueLevel);
  for (; i + 8 <= end; i += 8) {
    const __m128i repetitions = _mm_loadu_si128(reinterpret_cast<const __m128i*>(repetition + i));
    const __m128i definitions = _mm_loadu_si128(reinterpret_cast<const __m128i*>(definition + i));
    const __m128i continues =
        _mm_andnot_si128(_mm_cmpeq_epi16(repetitions, zero), _mm_cmpeq_epi16(definitions, value));
    const int mask = _mm_movemask_epi8(continues);
    if (mask != 0xFFFF) return i + std::countr_one(static_cast<unsigned>(mask)) / 2;
  }
#endif
  while (i < end && repetition[i] != 0 && definition[i] == valueLevel) ++i;
  return i;
}

/// Whether every index is in [0, length): Parquet does not check the indices it hands out. The
/// bitwise OR of all indices bounds each of them and vectorizes; only when it is not below
/// `length` (a dictionary of fewer than 2^k entries, or a bad index) are they checked one by one.
bool indicesInRange(const int32_t* indices, int64_t count, int32_t length) {
  uint32_t all = 0;
  for (int64_t i = 0; i < count; ++i) all |= static_cast<uint32_t>(indices[i]);
  if (all < static_cast<uint32_t>(length)) return true;
  for (int64_t i = 0; i < count; ++i) {
    if (static_cast<uint32_t>(indices[i]) >= static_cast<uint32_t>(length)) return false;
  }
  return true;
}

/// Keeps the Parquet file reader alive for as long as the batches are read from it.
class OwningBatchReader : public arrow::RecordBatchReader {
 public:
  OwningBatchReader(std::unique_ptr<parquet::arrow::FileReader> fileReader,
                    std::shared_ptr<arrow::RecordBatchReader> batches)
      : fileReader_(std::move(fileReader)), batches_(std::move(batches)) {}
  std::shared_ptr<arrow::Schema> schema() const override { return batches_->schema(); }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
    try {
      return batches_->ReadNext(batch);
    } catch (const parquet::ParquetException& error) {
      return arrow::Status::IOError(error.what());
    }
  }

 private:
  std::unique_ptr<parquet::arrow::FileReader> fileReader_;
  std::shared_ptr<arrow::RecordBatchReader> batches_;
};

}  // namespace

Result<int64_t> parquetRowCount(const Location& location, const arrow::fs::FileInfo& info) {
  const std::string uri = location.uriOf(info.path());
  SLUICE_ASSIGN_OR_RETURN_ARROW(auto input, location.fileSystem->OpenInputFile(info), "opening " + uri);
  try {
    return parquet::ParquetFileReader::Open(input, readerProperties())->metadata()->num_rows();
  } catch (const parquet::ParquetException& error) {
    return Status::InvalidData(uri + " is not a readable Parquet file: " + error.what());
  }
}

Result<std::unique_ptr<ParquetImageFile>> ParquetImageFile::Open(const Location& location, const InputFile& file,
                                                                 const std::string& imageColumn,
                                                                 const std::vector<std::string>& extraColumns,
                                                                 std::shared_ptr<parquet::FileMetaData> footer) {
  std::string uri = location.uriOf(file.path);
  auto result = std::unique_ptr<ParquetImageFile>(new ParquetImageFile());
  result->location_ = location;
  result->file_ = file;

  arrow::fs::FileInfo info(file.path, arrow::fs::FileType::File);
  if (file.sizeBytes >= 0) info.set_size(file.sizeBytes);
  SLUICE_ASSIGN_OR_RETURN_ARROW(auto input, location.fileSystem->OpenInputFile(info), "opening " + uri);
  std::unique_ptr<parquet::arrow::FileReader> reader;
  try {
    parquet::arrow::FileReaderBuilder builder;
    auto opened = builder.Open(input, readerProperties(), std::move(footer));
    if (!opened.ok()) {
      return Status::InvalidData(uri + " is not a readable Parquet file: " + opened.message());
    }
    SLUICE_RETURN_IF_ARROW_ERROR(builder.Build(&reader), "reading the footer of " + uri);
  } catch (const parquet::ParquetException& error) {
    return Status::InvalidData(uri + " is not a readable Parquet file: " + error.what());
  }
  result->metadata_ = reader->parquet_reader()->metadata();
  SLUICE_RETURN_IF_ARROW_ERROR(reader->GetSchema(&result->schema_), "reading the schema of " + uri);

  const auto& schema = *result->schema_;
  int imageIndex = schema.GetFieldIndex(imageColumn);
  if (imageIndex < 0) {
    return Status::InvalidArgument(uri + " has no column '" + imageColumn + "' (columns: " +
                                   schema.ToString(false) + "); choose the image column with --image-column");
  }
  auto kind = imageKindOf(*schema.field(imageIndex)->type());
  if (!kind.ok()) return Status::InvalidArgument(uri + ": column '" + imageColumn + "' " + kind.status().message());
  result->imageKind_ = *kind;

  const auto& manifest = reader->manifest();
  collectLeaves(manifest.schema_fields[imageIndex], result->leafColumns_);
  result->imageLeaves_ = result->leafColumns_.size();
  if (result->imageKind_ == ImageColumnKind::kList && result->imageLeaves_ == 1) {
    // A standard 3-level list of INT32 values: one repetition level, the values required or
    // optional (a legacy 2-level list, whose values are themselves repeated, goes through Arrow).
    const parquet::ColumnDescriptor* leaf = result->metadata_->schema()->Column(result->leafColumns_[0]);
    result->streamablePixels_ = leaf->physical_type() == parquet::Type::INT32 &&
                                leaf->max_repetition_level() == 1 && !leaf->schema_node()->is_repeated();
  }
  for (const auto& name : extraColumns) {
    int index = schema.GetFieldIndex(name);
    if (index < 0) return Status::InvalidArgument(uri + " has no column '" + name + "' to pass through");
    collectLeaves(manifest.schema_fields[index], result->leafColumns_);
  }
  return result;
}

std::string ParquetImageFile::metadataValue(const std::string& key) const {
  auto metadata = schema_->metadata();
  if (!metadata) return "";
  auto value = metadata->Get(key);
  return value.ok() ? *value : "";
}

Result<std::shared_ptr<arrow::RecordBatchReader>> ParquetImageFile::readRowGroup(int rowGroup, int64_t batchRows,
                                                                                 bool withImage) const {
  std::string what = "reading row group " + std::to_string(rowGroup) + " of " + uri();
  arrow::fs::FileInfo info(file_.path, arrow::fs::FileType::File);
  if (file_.sizeBytes >= 0) info.set_size(file_.sizeBytes);
  SLUICE_ASSIGN_OR_RETURN_ARROW(auto input, location_.fileSystem->OpenInputFile(info), what);
  parquet::ArrowReaderProperties arrowProperties;
  arrowProperties.set_batch_size(batchRows);
  arrowProperties.set_pre_buffer(false);
  std::unique_ptr<parquet::arrow::FileReader> reader;
  try {
    parquet::arrow::FileReaderBuilder builder;
    SLUICE_RETURN_IF_ARROW_ERROR(builder.Open(input, readerProperties(), metadata_), what);
    SLUICE_RETURN_IF_ARROW_ERROR(builder.properties(arrowProperties)->Build(&reader), what);
    std::shared_ptr<arrow::RecordBatchReader> batches;
    const std::vector<int> leaves(leafColumns_.begin() + (withImage ? 0 : static_cast<std::ptrdiff_t>(imageLeaves_)),
                                  leafColumns_.end());
    SLUICE_ASSIGN_OR_RETURN_ARROW(batches, reader->GetRecordBatchReader({rowGroup}, leaves), what);
    return std::shared_ptr<arrow::RecordBatchReader>(
        std::make_shared<OwningBatchReader>(std::move(reader), std::move(batches)));
  } catch (const parquet::ParquetException& error) {
    return Status::InvalidData(what + ": " + error.what());
  }
}

Status ParquetImageFile::streamPixels(int rowGroup, int64_t maxRows, PixelSink& sink) const {
  const std::string what = "reading row group " + std::to_string(rowGroup) + " of " + uri();
  if (!streamablePixels_) return Status::Internal(what + ": the image column cannot be streamed");
  const int64_t rows = rowGroupRows(rowGroup);
  const int64_t wanted = std::min(maxRows, rows);
  if (wanted <= 0) return Status::OK();
  arrow::fs::FileInfo info(file_.path, arrow::fs::FileType::File);
  if (file_.sizeBytes >= 0) info.set_size(file_.sizeBytes);
  SLUICE_ASSIGN_OR_RETURN_ARROW(auto input, location_.fileSystem->OpenInputFile(info), what);
  try {
    auto reader = parquet::ParquetFileReader::Open(input, readerProperties(), metadata_);
    // Dictionary pages (pyarrow's and Spark's default) come as indices plus the dictionary, so that
    // only the pixels inside the crop are looked up. A chunk that fell back to plain pages midway
    // is read as values.
    std::shared_ptr<parquet::ColumnReader> column =
        reader->RowGroup(rowGroup)->ColumnWithExposeEncoding(leafColumns_[0], parquet::ExposedEncoding::DICTIONARY);
    auto& typed = static_cast<parquet::Int32Reader&>(*column);
    const bool dictionaryPages = column->GetExposedEncoding() == parquet::ExposedEncoding::DICTIONARY;
    const int32_t* dictionary = nullptr;
    int32_t dictionaryLength = 0;
    // Definition levels, from the top: a value; a null value (when values may be null); an empty
    // list; below that a null list (or a null ancestor).
    const int16_t valueLevel = column->descr()->max_definition_level();
    const bool nullableValues = column->descr()->schema_node()->is_optional();
    const int16_t emptyListLevel = static_cast<int16_t>(valueLevel - (nullableValues ? 2 : 1));
    constexpr int64_t kLevels = 64 * 1024;
    std::vector<int16_t> definitions(kLevels);
    std::vector<int16_t> repetitions(kLevels);
    std::vector<int32_t> values(kLevels);
    int64_t row = -1;
    PixelSink::Row current;
    while (typed.HasNext()) {
      int64_t valuesRead = 0;
      int64_t levels = 0;
      if (dictionaryPages) {
        const int32_t* pageDictionary = nullptr;
        int32_t pageDictionaryLength = 0;
        levels = typed.ReadBatchWithDictionary(kLevels, definitions.data(), repetitions.data(), values.data(),
                                               &valuesRead, &pageDictionary, &pageDictionaryLength);
        if (pageDictionary) {
          dictionary = pageDictionary;
          dictionaryLength = pageDictionaryLength;
        }
        if (!indicesInRange(values.data(), valuesRead, dictionary ? dictionaryLength : 0)) {
          return Status::InvalidData(what + ": the image column has a dictionary index out of range");
        }
      } else {
        levels = typed.ReadBatch(kLevels, definitions.data(), repetitions.data(), values.data(), &valuesRead);
      }
      const int16_t* const definition = definitions.data();
      const int16_t* const repetition = repetitions.data();
      int64_t value = 0;
      for (int64_t i = 0; i < levels;) {
        if (row < 0 && repetition[i] != 0) {
          return Status::InvalidData(what + ": the image column's first value does not start a row");
        }
        if (repetition[i] == 0) {  // a new row
          if (row >= 0) sink.endRow(row, current);
          if (++row == wanted) {
            if (wanted < rows) return Status::OK();
            return Status::InvalidData(what + ": the image column holds more rows than the footer's " +
                                       std::to_string(rows));
          }
          current = {};
          current.isNull = definition[i] < emptyListLevel;
        }
        if (definition[i] == valueLevel) {
          // A run of values, until the row ends or a null value comes.
          const int64_t next = endOfValueRun(repetition, definition, valueLevel, i + 1, levels);
          const int64_t count = next - i;
          if (value + count > valuesRead) {
            return Status::InvalidData(what + ": the image column's levels and values disagree");
          }
          sink.values(row, current.length, values.data() + value, count, dictionary);
          value += count;
          current.length += count;
          i = next;
        } else if (nullableValues && definition[i] == valueLevel - 1) {
          ++current.length;
          ++current.nullValues;
          ++i;
        } else if (repetition[i] == 0) {  // an empty or null list: its only level
          ++i;
        } else {
          return Status::InvalidData(what + ": the image column has an empty list inside a row");
        }
      }
    }
    if (row >= 0) sink.endRow(row, current);
    if (row + 1 != wanted) {
      return Status::InvalidData(uri() + ": row group " + std::to_string(rowGroup) +
                                 " ended before the rows its footer announces");
    }
    return Status::OK();
  } catch (const parquet::ParquetException& error) {
    return Status::InvalidData(what + ": " + error.what());
  }
}

}  // namespace sluice::io
