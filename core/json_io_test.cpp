#include "core/json_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

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

// No process has this pid: Linux's pid_max is at most 2^22.
constexpr int kGonePid = 2147483647;

TEST(AtomicFile, StaleTemporariesAreRemovedAndNothingElse) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "fsr_atomic_stale_test";
  fs::remove_all(dir);
  const std::string gone = std::to_string(kGonePid), live = std::to_string(::getpid());
  write_file_atomic(dir / "keep.json", "{}");
  write_file_atomic(dir / ".hidden", "x");                                      // not a temporary
  write_file_atomic(dir / (".keep.json.tmp." + gone + ".0"), "half of a");      // a killed writer's
  write_file_atomic(dir / (".keep.json.tmp." + live + ".3"), "being written");  // a live one's
  fs::create_directories(dir / ("target.tmp-" + gone + "-0"));  // save_target's, killed
  fs::create_directories(dir / ("other.tmp-" + gone + "-0"));   // another stem: not ours
  remove_stale_temporaries(dir, "target");
  EXPECT_TRUE(fs::exists(dir / "keep.json"));
  EXPECT_TRUE(fs::exists(dir / ".hidden"));
  EXPECT_FALSE(fs::exists(dir / (".keep.json.tmp." + gone + ".0")));
  EXPECT_TRUE(fs::exists(dir / (".keep.json.tmp." + live + ".3")));
  EXPECT_FALSE(fs::exists(dir / ("target.tmp-" + gone + "-0")));
  EXPECT_TRUE(fs::exists(dir / ("other.tmp-" + gone + "-0")));
  remove_stale_temporaries(dir / "missing");  // no directory: nothing to do, no throw
  fs::remove_all(dir);
}

// Before, train and synth gave exit 1 with a filesystem_error for these (run and merge gave 2).
TEST(AtomicFile, OutputDirectoriesThatCannotBeAreRefused) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "fsr_output_dir_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto message = [](const fs::path& p) {
    try {
      ensure_output_directory(p, "--out");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  fs::create_symlink(dir / "nowhere" / "x", dir / "dangling");
  EXPECT_EQ(message(dir / "dangling"),
            "--out = " + (dir / "dangling").string() + ": is a dangling symbolic link");
  EXPECT_EQ(message("/dev/null"), "--out = /dev/null: exists and is not a directory");
  write_file_atomic(dir / "file", "x");
  EXPECT_NE(message(dir / "file" / "sub").find("is not a directory"), std::string::npos);
  EXPECT_EQ(message(dir / "new" / "deeper"), "<no error>");
  EXPECT_TRUE(fs::is_directory(dir / "new" / "deeper"));
  fs::remove_all(dir);
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

std::string parse_error(std::string_view text) {
  try {
    parse_json(text, "c.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

std::string nested(int depth, char open, char close) {
  return std::string(depth, open) + std::string(depth, close);
}

// Before, a config nested ~100 000 deep killed fsr (exit 139): the error message printed the value
// recursively. Nesting is refused at kMaxJsonDepth, as the parser reaches it.
TEST(JsonLimits, NestingDeeperThanTheLimitIsRefused) {
  EXPECT_NO_THROW(parse_json(nested(kMaxJsonDepth, '[', ']'), "c.json"));
  EXPECT_EQ(parse_error(nested(kMaxJsonDepth + 1, '[', ']')).substr(0, 11), "c.json: [0]");
  EXPECT_NE(parse_error(nested(kMaxJsonDepth + 1, '[', ']')).find("nesting deeper than 64 levels"),
            std::string::npos);
  EXPECT_NE(parse_error(nested(100000, '[', ']')).find("nesting deeper than 64"),
            std::string::npos);
  std::string objects;
  for (int i = 0; i < 70; ++i) objects += "{\"zz\": ";
  objects += "1" + std::string(70, '}');
  EXPECT_EQ(parse_error(objects).rfind("c.json: zz.zz.zz", 0), 0u);
  EXPECT_NE(parse_error("{\"zz\": " + nested(60000, '[', ']') + "}").find("c.json: zz[0][0]"),
            std::string::npos);
}

// Before, the last of two equal keys silently won.
TEST(JsonLimits, DuplicateKeysAreRefusedNamingWhere) {
  EXPECT_EQ(parse_error(R"({"noise": 0.0, "noise": 0.5})"),
            "c.json: noise = (given twice): duplicate keys are refused: each key may appear once");
  EXPECT_EQ(parse_error(R"({"jobs": [{"name": "a"}, {"name": "b", "kind": 1, "name": "c"}]})")
                .substr(0, 20),
            "c.json: jobs[1].name");
  EXPECT_NO_THROW(parse_json(R"([{"a": 1}, {"a": 2}])", "c.json"));  // one key per object
}

// Before: "[json.exception.out_of_range.406] number overflow parsing '1e999'", exit 1.
TEST(JsonLimits, NumbersBeyondDoubleRangeAreRefusedNamingWhere) {
  EXPECT_EQ(parse_error(R"({"sgda": {"lr_g": 1e999}})"),
            "c.json: sgda.lr_g = 1e999: number beyond double range (|x| <= 1.8e308)");
  EXPECT_EQ(parse_error(R"({"a": [1, 2, -1e400]})").substr(0, 25), "c.json: a[2] = -1e400: nu");
  EXPECT_EQ(parse_error("1e999").substr(0, 16), "c.json = 1e999: ");
  EXPECT_EQ(parse_json("[1.7e308, 5e-324, 1e-999]", "c.json")[1].get<double>(), 5e-324);
  // Integers beyond 64 bits are parsed as doubles (nlohmann's rule), in range.
  EXPECT_EQ(parse_json("123456789012345678901234567890", "c.json").get<double>(),
            1.2345678901234568e29);
}

TEST(JsonLimits, SyntaxErrorsNameTheFileAndTheReaderIsBounded) {
  EXPECT_EQ(parse_error("{\"a\": ").rfind("json file = c.json: is not valid JSON", 0), 0u);
  EXPECT_EQ(parse_error("").rfind("json file = c.json: is not valid JSON", 0), 0u);
  EXPECT_EQ(parse_error("[1] [2]").rfind("json file = c.json: is not valid JSON", 0), 0u);
  // A file is read to a limit, not to the end of an endless stream.
  try {
    read_file("/dev/zero", 4096);
    FAIL() << "read /dev/zero to the end";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("the limit for it is 4096 bytes"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(read_json(std::filesystem::temp_directory_path()), InputError);  // a directory
}

// Values that are not UTF-8 (a path from the command line) used to make dump() throw.
TEST(JsonIo, DumpReplacesInvalidUtf8) {
  EXPECT_EQ(dump_json(Json{{"out", "run\xff"}}), "{\"out\":\"run\xef\xbf\xbd\"}");
}

TEST(JsonIo, CheckedReadsNameTheFieldAndTheRule) {
  EXPECT_EQ(json_integer(Json(7), "n", 0, 10), 7);
  EXPECT_EQ(json_integer(Json(7.0), "n", 0, 10), 7);
  const auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  EXPECT_EQ(message([] { json_integer(Json(1e300), "n", 0, 10); }),
            "n = 1e+300: must be an integer in [0, 10]");
  EXPECT_EQ(message([] { json_integer(Json(UINT64_MAX), "n", 0, 10); }),
            "n = 18446744073709551615: must be an integer in [0, 10]");
  EXPECT_EQ(message([] { json_integer(Json("3"), "n", 0, 10); }), "n = \"3\": must be an integer");
  EXPECT_EQ(message([] { json_uint64(Json(-1), "seed"); }),
            "seed = -1: must be an integer in [0, 2^64)");
  EXPECT_EQ(message([] { json_number(Json(nullptr), "x"); }), "x = null: must be a number");
  EXPECT_EQ(message([] { json_member(Json::object(), "k", "doc"); }),
            "doc.k = (missing): is required");
}

TEST(JsonIo, EigenMatricesAreListsOfRows) {
  Eigen::MatrixXd m(2, 2);
  m << 1, 2, 3, 4;
  EXPECT_EQ(to_json(m).dump(), "[[1.0,2.0],[3.0,4.0]]");
}

}  // namespace
}  // namespace fsr
