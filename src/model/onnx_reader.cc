#include "model/onnx_reader.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/protobuf_wire_reader.h"

namespace sluice::model {

namespace {

// Field numbers from onnx.proto.
namespace model_field {
constexpr uint32_t kOpsetImport = 8, kGraph = 7;
}
namespace opset_field {
constexpr uint32_t kDomain = 1, kVersion = 2;
}
namespace graph_field {
constexpr uint32_t kNode = 1, kInitializer = 5, kSparseInitializer = 15, kInput = 11, kOutput = 12;
}
namespace node_field {
constexpr uint32_t kInput = 1, kOutput = 2, kName = 3, kOpType = 4, kAttribute = 5, kDomain = 7;
}
namespace attribute_field {
constexpr uint32_t kName = 1, kF = 2, kI = 3, kS = 4, kT = 5, kFloats = 7, kInts = 8, kType = 20;
}
namespace attribute_type {
constexpr int64_t kFloat = 1, kInt = 2, kString = 3, kTensor = 4, kFloats = 6, kInts = 7;
}
namespace tensor_field {
constexpr uint32_t kDims = 1, kDataType = 2, kFloatData = 4, kInt32Data = 5, kInt64Data = 7,
                   kName = 8, kRawData = 9, kExternalData = 13, kDataLocation = 14;
}
namespace tensor_type {
constexpr int64_t kFloat = 1, kInt32 = 6, kInt64 = 7;
}
namespace value_info_field {
constexpr uint32_t kName = 1, kType = 2;
}
constexpr uint32_t kTypeTensorType = 1, kTensorTypeShape = 2, kShapeDim = 1, kDimValue = 1,
                   kDimParam = 2;

// Parse errors that say which part of the model was malformed; the caller adds the file name.
Status malformed(const std::string& what) { return Status::InvalidArgument(what); }

Status expectWireType(const WireField& field, WireType type, const char* what) {
  if (field.wireType != type) {
    return malformed(std::string(what) + " has the wrong protobuf wire type");
  }
  return Status::OK();
}

std::string dataTypeName(int64_t type) {
  static const char* kNames[] = {"UNDEFINED", "FLOAT",  "UINT8",     "INT8",      "UINT16",
                                 "INT16",     "INT32",  "INT64",     "STRING",    "BOOL",
                                 "FLOAT16",   "DOUBLE", "UINT32",    "UINT64",    "COMPLEX64",
                                 "COMPLEX128", "BFLOAT16"};
  if (type >= 0 && type < static_cast<int64_t>(std::size(kNames))) return kNames[type];
  return "data type " + std::to_string(type);
}

Result<Tensor> parseTensor(std::string_view bytes) {
  Tensor tensor;
  int64_t dataType = 0;
  std::string_view rawData;
  bool hasRawData = false;
  bool external = false;
  std::vector<int64_t> intData;  // int32_data and int64_data both decode as varints
  WireReader reader(bytes);
  while (!reader.atEnd()) {
    SLUICE_ASSIGN_OR_RETURN(WireField field, reader.next());
    switch (field.fieldNumber) {
      case tensor_field::kDims:
        SLUICE_RETURN_IF_ERROR(appendVarints(field, tensor.dims));
        break;
      case tensor_field::kDataType:
        dataType = field.asInt64();
        break;
      case tensor_field::kFloatData:
        SLUICE_RETURN_IF_ERROR(appendFloats(field, tensor.floats));
        break;
      case tensor_field::kInt32Data:
      case tensor_field::kInt64Data:
        SLUICE_RETURN_IF_ERROR(appendVarints(field, intData));
        break;
      case tensor_field::kName:
        SLUICE_RETURN_IF_ERROR(expectWireType(field, WireType::kLengthDelimited, "a tensor name"));
        tensor.name = std::string(field.bytes);
        break;
      case tensor_field::kRawData:
        SLUICE_RETURN_IF_ERROR(expectWireType(field, WireType::kLengthDelimited, "raw_data"));
        rawData = field.bytes;
        hasRawData = true;
        break;
      case tensor_field::kExternalData:
        external = true;
        break;
      case tensor_field::kDataLocation:
        external = external || field.number == 1;
        break;
      default:
        break;
    }
  }
  const std::string label = "tensor '" + tensor.name + "'";
  if (external) {
    return Status::Unsupported(label + " stores its data in an external file, which sluice does "
                               "not read; save the model with all tensors inside the .onnx file");
  }
  for (int64_t dim : tensor.dims) {
    if (dim < 0) return malformed(label + " has a negative dimension");
  }
  const int64_t count = tensor.numElements();
  switch (dataType) {
    case tensor_type::kFloat:
      tensor.dataType = DataType::kFloat;
      if (hasRawData) {
        if (static_cast<int64_t>(rawData.size()) != count * 4) {
          return malformed(label + " has " + std::to_string(rawData.size()) +
                           " bytes of raw data for " + std::to_string(count) + " floats");
        }
        tensor.floats.resize(count);
        std::memcpy(tensor.floats.data(), rawData.data(), rawData.size());
      }
      if (static_cast<int64_t>(tensor.floats.size()) != count) {
        return malformed(label + " has " + std::to_string(tensor.floats.size()) +
                         " values for " + std::to_string(count) + " elements");
      }
      return tensor;
    case tensor_type::kInt32:
    case tensor_type::kInt64: {
      tensor.dataType = DataType::kInt64;
      const size_t width = dataType == tensor_type::kInt32 ? 4 : 8;
      if (hasRawData) {
        if (rawData.size() != static_cast<size_t>(count) * width) {
          return malformed(label + " has " + std::to_string(rawData.size()) +
                           " bytes of raw data for " + std::to_string(count) + " integers");
        }
        tensor.ints.resize(count);
        for (int64_t i = 0; i < count; ++i) {
          if (width == 4) {
            int32_t value;
            std::memcpy(&value, rawData.data() + i * 4, 4);
            tensor.ints[i] = value;
          } else {
            std::memcpy(&tensor.ints[i], rawData.data() + i * 8, 8);
          }
        }
      } else {
        tensor.ints = std::move(intData);
        // int32_data holds int32 values sign-extended to 64-bit varints; truncating is exact.
        if (width == 4) {
          for (int64_t& value : tensor.ints) value = static_cast<int32_t>(value);
        }
      }
      if (static_cast<int64_t>(tensor.ints.size()) != count) {
        return malformed(label + " has " + std::to_string(tensor.ints.size()) +
                         " values for " + std::to_string(count) + " elements");
      }
      return tensor;
    }
    default:
      return Status::Unsupported(label + " has data type " + dataTypeName(dataType) +
                                 "; sluice reads FLOAT, INT64 and INT32 tensors only");
  }
}

Result<Attribute> parseAttribute(std::string_view bytes, std::string& name) {
  Attribute attribute;
  int64_t type = 0;
  WireReader reader(bytes);
  while (!reader.atEnd()) {
    SLUICE_ASSIGN_OR_RETURN(WireField field, reader.next());
    switch (field.fieldNumber) {
      case attribute_field::kName:
        SLUICE_RETURN_IF_ERROR(
            expectWireType(field, WireType::kLengthDelimited, "an attribute name"));
        name = std::string(field.bytes);
        break;
      case attribute_field::kType:
        type = field.asInt64();
        break;
      case attribute_field::kF:
        SLUICE_RETURN_IF_ERROR(expectWireType(field, WireType::kFixed32, "a float attribute"));
        attribute.floatValue = field.asFloat();
        break;
      case attribute_field::kI:
        attribute.intValue = field.asInt64();
        break;
      case attribute_field::kS:
        SLUICE_RETURN_IF_ERROR(
            expectWireType(field, WireType::kLengthDelimited, "a string attribute"));
        attribute.stringValue = std::string(field.bytes);
        break;
      case attribute_field::kT: {
        SLUICE_RETURN_IF_ERROR(
            expectWireType(field, WireType::kLengthDelimited, "a tensor attribute"));
        SLUICE_ASSIGN_OR_RETURN(attribute.tensor, parseTensor(field.bytes));
        break;
      }
      case attribute_field::kFloats:
        SLUICE_RETURN_IF_ERROR(appendFloats(field, attribute.floats));
        break;
      case attribute_field::kInts:
        SLUICE_RETURN_IF_ERROR(appendVarints(field, attribute.ints));
        break;
      default:
        break;
    }
  }
  switch (type) {
    case attribute_type::kFloat: attribute.type = Attribute::Type::kFloat; break;
    case attribute_type::kInt: attribute.type = Attribute::Type::kInt; break;
    case attribute_type::kString: attribute.type = Attribute::Type::kString; break;
    case attribute_type::kTensor: attribute.type = Attribute::Type::kTensor; break;
    case attribute_type::kFloats: attribute.type = Attribute::Type::kFloats; break;
    case attribute_type::kInts: attribute.type = Attribute::Type::kInts; break;
    default:
      // Graph-valued and other attributes belong to ops sluice rejects anyway; keep the name so
      // the unsupported-op message is what the user sees.
      attribute.type = Attribute::Type::kString;
      break;
  }
  return attribute;
}

Result<Node> parseNode(std::string_view bytes) {
  Node node;
  WireReader reader(bytes);
  while (!reader.atEnd()) {
    SLUICE_ASSIGN_OR_RETURN(WireField field, reader.next());
    if (field.fieldNumber >= node_field::kInput && field.fieldNumber <= node_field::kAttribute) {
      SLUICE_RETURN_IF_ERROR(expectWireType(field, WireType::kLengthDelimited, "a node field"));
    }
    switch (field.fieldNumber) {
      case node_field::kInput: node.inputs.emplace_back(field.bytes); break;
      case node_field::kOutput: node.outputs.emplace_back(field.bytes); break;
      case node_field::kName: node.name = std::string(field.bytes); break;
      case node_field::kOpType: node.opType = std::string(field.bytes); break;
      case node_field::kDomain:
        if (!field.bytes.empty() && field.bytes != "ai.onnx") {
          node.opType = std::string(field.bytes) + "." + node.opType;
        }
        break;
      case node_field::kAttribute: {
        std::string name;
        SLUICE_ASSIGN_OR_RETURN(Attribute attribute, parseAttribute(field.bytes, name));
        node.attributes[name] = std::move(attribute);
        break;
      }
      default:
        break;
    }
  }
  return node;
}

Result<ValueInfo> parseValueInfo(std::string_view bytes) {
  ValueInfo info;
  WireReader reader(bytes);
  while (!reader.atEnd()) {
    SLUICE_ASSIGN_OR_RETURN(WireField field, reader.next());
    if (field.fieldNumber == value_info_field::kName) {
      info.name = std::string(field.bytes);
    } else if (field.fieldNumber == value_info_field::kType) {
      // TypeProto.tensor_type.shape.dim[*].(dim_value | dim_param)
      WireReader typeReader(field.bytes);
      while (!typeReader.atEnd()) {
        SLUICE_ASSIGN_OR_RETURN(WireField typeField, typeReader.next());
        if (typeField.fieldNumber != kTypeTensorType) continue;
        WireReader tensorReader(typeField.bytes);
        while (!tensorReader.atEnd()) {
          SLUICE_ASSIGN_OR_RETURN(WireField tensorField, tensorReader.next());
          if (tensorField.fieldNumber != kTensorTypeShape) continue;
          WireReader shapeReader(tensorField.bytes);
          while (!shapeReader.atEnd()) {
            SLUICE_ASSIGN_OR_RETURN(WireField dimField, shapeReader.next());
            if (dimField.fieldNumber != kShapeDim) continue;
            int64_t dim = -1;
            WireReader dimReader(dimField.bytes);
            while (!dimReader.atEnd()) {
              SLUICE_ASSIGN_OR_RETURN(WireField valueField, dimReader.next());
              if (valueField.fieldNumber == kDimValue) dim = valueField.asInt64();
              if (valueField.fieldNumber == kDimParam) dim = -1;
            }
            info.dims.push_back(dim);
          }
        }
      }
    }
  }
  return info;
}

Status parseGraph(std::string_view bytes, OnnxModel& model) {
  WireReader reader(bytes);
  while (!reader.atEnd()) {
    SLUICE_ASSIGN_OR_RETURN(WireField field, reader.next());
    switch (field.fieldNumber) {
      case graph_field::kNode: {
        SLUICE_RETURN_IF_ERROR(expectWireType(field, WireType::kLengthDelimited, "a node"));
        SLUICE_ASSIGN_OR_RETURN(Node node, parseNode(field.bytes));
        model.nodes.push_back(std::move(node));
        break;
      }
      case graph_field::kInitializer: {
        SLUICE_RETURN_IF_ERROR(
            expectWireType(field, WireType::kLengthDelimited, "an initializer"));
        SLUICE_ASSIGN_OR_RETURN(Tensor tensor, parseTensor(field.bytes));
        model.initializers.push_back(std::move(tensor));
        break;
      }
      case graph_field::kSparseInitializer:
        return Status::Unsupported("the model has a sparse initializer, which sluice does not read");
      case graph_field::kInput:
      case graph_field::kOutput: {
        SLUICE_RETURN_IF_ERROR(
            expectWireType(field, WireType::kLengthDelimited, "a graph input or output"));
        SLUICE_ASSIGN_OR_RETURN(ValueInfo info, parseValueInfo(field.bytes));
        (field.fieldNumber == graph_field::kInput ? model.inputs : model.outputs)
            .push_back(std::move(info));
        break;
      }
      default:
        break;
    }
  }
  return Status::OK();
}

Status parseModel(std::string_view bytes, OnnxModel& model) {
  bool hasGraph = false;
  WireReader reader(bytes);
  while (!reader.atEnd()) {
    SLUICE_ASSIGN_OR_RETURN(WireField field, reader.next());
    if (field.fieldNumber == model_field::kGraph) {
      SLUICE_RETURN_IF_ERROR(expectWireType(field, WireType::kLengthDelimited, "the graph"));
      SLUICE_RETURN_IF_ERROR(parseGraph(field.bytes, model));
      hasGraph = true;
    } else if (field.fieldNumber == model_field::kOpsetImport) {
      SLUICE_RETURN_IF_ERROR(expectWireType(field, WireType::kLengthDelimited, "opset_import"));
      std::string domain;
      int64_t version = 0;
      WireReader opsetReader(field.bytes);
      while (!opsetReader.atEnd()) {
        SLUICE_ASSIGN_OR_RETURN(WireField opsetField, opsetReader.next());
        if (opsetField.fieldNumber == opset_field::kDomain) domain = opsetField.bytes;
        if (opsetField.fieldNumber == opset_field::kVersion) version = opsetField.asInt64();
      }
      if (domain.empty() || domain == "ai.onnx") model.opsetVersion = version;
    }
  }
  if (!hasGraph) return malformed("it has no graph");
  if (model.opsetVersion == 0) return malformed("it imports no opset of the default domain");
  if (model.nodes.empty()) return malformed("its graph has no nodes");
  return Status::OK();
}

}  // namespace

Result<OnnxModel> parseOnnxModel(std::string_view bytes, const std::string& sourceName) {
  OnnxModel model;
  Status status = parseModel(bytes, model);
  if (!status.ok()) {
    if (status.code() == StatusCode::kUnsupported) {
      return Status::Unsupported("model " + sourceName + ": " + status.message());
    }
    return Status::InvalidArgument("model " + sourceName + " is not a valid ONNX file: " +
                                   status.message());
  }
  return model;
}

Result<OnnxModel> readOnnxFile(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found) {
    return Status::InvalidArgument("model " + path + " is not a valid ONNX file: it does not exist");
  }
  if (status.type() == std::filesystem::file_type::directory) {
    return Status::InvalidArgument("model " + path + " is not a valid ONNX file: it is a directory");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return Status::InvalidArgument("model " + path +
                                   " is not a valid ONNX file: it cannot be opened (check the "
                                   "path and permissions)");
  }
  std::string bytes;
  if (status.type() == std::filesystem::file_type::regular) {
    // One read into a buffer of the opened file's size: a stream copy grows its string by
    // doubling, which for a 100 MB model costs more start-up time than parsing it.
    file.seekg(0, std::ios::end);
    const std::streamoff size = file.tellg();
    file.seekg(0, std::ios::beg);
    if (size < 0 || !file) {
      return Status::InvalidArgument("model " + path + " is not a valid ONNX file: its size cannot be read");
    }
    bytes.resize(static_cast<size_t>(size));
    file.read(bytes.data(), size);
    bytes.resize(static_cast<size_t>(file.gcount()));  // a file cut short meanwhile fails to parse
  } else {
    // A pipe or another stream (`--model <(...)`): no size to ask for.
    std::ostringstream contents;
    contents << file.rdbuf();
    bytes = std::move(contents).str();
  }
  if (file.bad()) {
    return Status::InvalidArgument("model " + path + " is not a valid ONNX file: reading it failed");
  }
  if (bytes.empty()) {
    return Status::InvalidArgument("model " + path + " is not a valid ONNX file: it is empty");
  }
  return parseOnnxModel(bytes, path);
}

}  // namespace sluice::model
