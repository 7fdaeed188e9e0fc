#include "core/json_io.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/validate.h"

namespace fsr {
namespace {

TEST(JsonIo, DocumentsCarrySchemaVersionAndManifest) {
  RunInfo run{.seed = 5, .threads = 2, .device = "cpu", .config = {{"levels", 2}}};
  const Json doc = make_document("demo", {{"answer", 42}}, run);
  EXPECT_EQ(doc["schema_version"], kSchemaVersion);
  EXPECT_EQ(doc["kind"], "demo");
  EXPECT_EQ(doc["answer"], 42);
  const Json& m = doc["manifest"];
  for (const char* key : {"tool_version", "git_commit", "compiler", "libtorch_version", "device",
                          "threads", "seed", "config", "wall_time_s"}) {
    EXPECT_TRUE(m.contains(key)) << key;
  }
  EXPECT_EQ(m["seed"], 5);
  EXPECT_EQ(m["config"]["levels"], 2);
}

TEST(JsonIo, AtomicWriteReplacesAndLeavesNoTemporaries) {
  const auto dir = std::filesystem::temp_directory_path() / "fsr_json_io_test";
  std::filesystem::remove_all(dir);
  write_json_atomic(dir / "sub" / "a.json", Json{{"x", 1}});
  write_json_atomic(dir / "sub" / "a.json", Json{{"x", 2}});
  EXPECT_EQ(read_json(dir / "sub" / "a.json")["x"], 2);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "sub")) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1) << "a temporary file was left behind";
  std::filesystem::remove_all(dir);
}

TEST(AtomicFile, StaleTemporariesAreRemovedAndNothingElse) {
  const auto dir = std::filesystem::temp_directory_path() / "fsr_atomic_stale_test";
  std::filesystem::remove_all(dir);
  write_file_atomic(dir / "keep.json", "{}");
  write_file_atomic(dir / ".hidden", "x");                       // not a temporary
  write_file_atomic(dir / ".keep.json.tmp.123.0", "half of a");  // what a killed writer leaves
  remove_stale_temporaries(dir);
  EXPECT_TRUE(std::filesystem::exists(dir / "keep.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / ".hidden"));
  EXPECT_FALSE(std::filesystem::exists(dir / ".keep.json.tmp.123.0"));
  remove_stale_temporaries(dir / "missing");  // no directory: nothing to do, no throw
  std::filesystem::remove_all(dir);
}

TEST(JsonIo, BadFilesNameThePath) {
  const auto dir = std::filesystem::temp_directory_path() / "fsr_json_io_test2";
  write_file_atomic(dir / "broken.json", "{\"a\": ");
  try {
    read_json(dir / "broken.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_json(dir / "missing.json"), InputError);
  std::filesystem::remove_all(dir);
}

TEST(JsonIo, EigenMatricesAreListsOfRows) {
  Eigen::MatrixXd m(2, 2);
  m << 1, 2, 3, 4;
  EXPECT_EQ(to_json(m).dump(), "[[1.0,2.0],[3.0,4.0]]");
}

}  // namespace
}  // namespace fsr
