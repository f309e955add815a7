#include "model/protobuf_wire_reader.h"

#include <gtest/gtest.h>

#include "model/protobuf_test_encoder.h"

namespace sluice::model {
namespace {

using testing::bytesField;
using testing::floatField;
using testing::packedVarints;
using testing::varintField;

TEST(ProtobufWireReaderTest, DecodesVarintFixedAndLengthDelimitedFields) {
  std::string bytes = varintField(3, 300) + floatField(2, 1.5f) + bytesField(4, "Conv") +
                      varintField(5, static_cast<uint64_t>(-7LL));
  WireReader reader(bytes);
  auto first = reader.next();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->fieldNumber, 3u);
  EXPECT_EQ(first->asInt64(), 300);
  auto second = reader.next();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->wireType, WireType::kFixed32);
  EXPECT_FLOAT_EQ(second->asFloat(), 1.5f);
  auto third = reader.next();
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->bytes, "Conv");
  auto fourth = reader.next();
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ(fourth->asInt64(), -7);
  EXPECT_TRUE(reader.atEnd());
}

TEST(ProtobufWireReaderTest, ReadsPackedAndUnpackedRepeatedIntegers) {
  std::vector<int64_t> values;
  const std::string packedBytes = packedVarints(1, {1, 200, -1});
  WireReader packed(packedBytes);
  auto field = packed.next();
  ASSERT_TRUE(field.ok());
  ASSERT_TRUE(appendVarints(*field, values).ok());
  const std::string unpackedBytes = varintField(1, 5);
  WireReader unpacked(unpackedBytes);
  auto single = unpacked.next();
  ASSERT_TRUE(single.ok());
  ASSERT_TRUE(appendVarints(*single, values).ok());
  EXPECT_EQ(values, (std::vector<int64_t>{1, 200, -1, 5}));
}

TEST(ProtobufWireReaderTest, ReadsPackedAndUnpackedRepeatedFloats) {
  std::vector<float> values;
  const std::string bytes = bytesField(7, testing::rawFloats({0.5f, -2.f})) + floatField(7, 3.f);
  WireReader packed(bytes);
  while (!packed.atEnd()) {
    auto field = packed.next();
    ASSERT_TRUE(field.ok());
    ASSERT_TRUE(appendFloats(*field, values).ok());
  }
  EXPECT_EQ(values, (std::vector<float>{0.5f, -2.f, 3.f}));
}

TEST(ProtobufWireReaderTest, ReportsTruncatedLengthDelimitedField) {
  std::string bytes = bytesField(4, "Convolution").substr(0, 5);
  WireReader reader(bytes);
  auto field = reader.next();
  ASSERT_FALSE(field.ok());
  EXPECT_NE(field.status().message().find("ends inside"), std::string::npos);
}

TEST(ProtobufWireReaderTest, RejectsDeprecatedGroupWireType) {
  std::string bytes = "\x0b";  // field 1, wire type 3 (start group)
  WireReader reader(bytes);
  EXPECT_FALSE(reader.next().ok());
}

}  // namespace
}  // namespace sluice::model
