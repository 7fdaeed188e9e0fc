#include "gda/checkpoint_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/checksum.h"
#include "core/validate.h"
#include "gda/learner_config.h"

namespace fsr {
namespace {
namespace fs = std::filesystem;

const std::vector<std::int64_t> kStages = {100, 50};  // steps [0, 100] and [100, 150]

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("fsr_checkpoint_files_test_" + name);
  fs::remove_all(dir);
  return dir;
}

Json config() { return to_json(LearnerConfig{}); }

// A complete state.json as write_checkpoint writes it, for `archive`.
Json full_state(std::int64_t step, int stage, const std::string& archive) {
  Json s = checkpoint_state(step, stage, config(), 42);
  s["files"] = {{"state.npz", {{"bytes", archive.size()}, {"crc32", crc32(archive)}}}};
  return s;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

// No process has this pid: Linux's pid_max is at most 2^22.
constexpr int kGonePid = 2147483647;

TEST(CheckpointState, ValidStateParses) {
  const CheckpointState s = parse_checkpoint_state(full_state(120, 1, "abc"), kStages, "s.json");
  EXPECT_EQ(s.global_step, 120);
  EXPECT_EQ(s.stage, 1);
  EXPECT_EQ(s.target_fingerprint, 42u);
  EXPECT_EQ(s.config, config());
  // The end of a stage may carry that stage's index (the last checkpoint of a run does).
  EXPECT_EQ(parse_checkpoint_state(full_state(100, 0, ""), kStages, "s").global_step, 100);
  EXPECT_EQ(parse_checkpoint_state(full_state(150, 1, ""), kStages, "s").global_step, 150);
}

// Each field is checked for presence, type and range; before, "stage": -1 segfaulted the resume,
// "stage": 7 ended in a c10 backtrace, global_step 1e12 "completed after 1000000000000/300 steps",
// a string step said "type must be number, but is number", a missing config printed an
// uninitialised double.
TEST(CheckpointState, EveryFieldIsCheckedAndNamed) {
  struct Case {
    const char* pointer;
    Json value;
    std::string expected;
  };
  const std::vector<Case> cases{
      {"/stage", -1, "s.json: stage = -1: must be an integer in [0, 1]"},
      {"/stage", 7, "s.json: stage = 7: must be an integer in [0, 1]"},
      {"/stage", 0.5, "s.json: stage = 0.5: must be an integer in [0, 1]"},
      {"/global_step", 1e12, "s.json: global_step = 1e+12: must be an integer in [100, 150]"},
      {"/global_step", 99, "s.json: global_step = 99: must be an integer in [100, 150]"},
      {"/global_step", "x", "s.json: global_step = \"x\": must be an integer"},
      {"/global_step", 1e300, "s.json: global_step = 1e+300: must be an integer in [100, 150]"},
      {"/schema_version", 2, "s.json: schema_version = 2: must be an integer in [1, 1]"},
      {"/config", "level1.json", "s.json: config = \"level1.json\": must be the learner config"},
      {"/target_fingerprint", -3, "s.json: target_fingerprint = -3: must be an integer in [0"},
      {"/files/state.npz/crc32", 1e10, "s.json: files.state.npz.crc32 = 1e+10: must be an integer"},
      {"/files/state.npz/bytes", -1, "s.json: files.state.npz.bytes = -1: must be an integer"},
      {"/extra", 1, "s.json: extra = (present): unknown key"},
  };
  for (const Case& c : cases) {
    Json s = full_state(120, 1, "abc");
    s[Json::json_pointer(c.pointer)] = c.value;
    SCOPED_TRACE(c.pointer);
    const std::string e = error_of([&] { parse_checkpoint_state(s, kStages, "s.json"); });
    EXPECT_EQ(e.rfind(c.expected, 0), 0u) << e;
  }
  for (const char* key : {"config", "stage", "global_step", "files", "target_fingerprint"}) {
    Json s = full_state(120, 1, "abc");
    s.erase(key);
    EXPECT_EQ(error_of([&] { parse_checkpoint_state(s, kStages, "s.json"); }),
              "s.json: " + std::string(key) + " = (missing): is required");
  }
  EXPECT_EQ(error_of([&] { parse_checkpoint_state(Json::array(), kStages, "s.json"); }),
            "s.json: (top level) = []: must be an object");
}

TEST(Checkpoint, RoundTripAndDamageIsDetected) {
  const fs::path dir = fresh_dir("roundtrip") / "checkpoint";
  std::string archive(5000, '\0');
  for (std::size_t i = 0; i < archive.size(); ++i) archive[i] = static_cast<char>(i * 7 + 3);
  write_checkpoint(dir, archive, checkpoint_state(120, 1, config(), 42));
  auto got = read_checkpoint(dir, kStages);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->archive, archive);
  EXPECT_EQ(got->state.global_step, 120);
  EXPECT_FALSE(fs::exists(dir.parent_path() / "checkpoint.new"));
  EXPECT_FALSE(fs::exists(dir.parent_path() / "checkpoint.old"));

  // One flipped bit: before, the resume went on silently to a different model.
  std::string flipped = archive;
  flipped[3000] ^= 0x04;
  write_file_atomic(dir / "state.npz", flipped);
  EXPECT_NE(error_of([&] { read_checkpoint(dir, kStages); }).find("the checkpoint is damaged"),
            std::string::npos);
  // Truncated, empty: before, a 20-line c10 backtrace.
  write_file_atomic(dir / "state.npz", archive.substr(0, 1000));
  EXPECT_NE(error_of([&] {
              read_checkpoint(dir, kStages);
            }).find("state.npz = 1000 bytes: state.json says 5000"),
            std::string::npos);
  write_file_atomic(dir / "state.npz", "");
  EXPECT_NE(error_of([&] { read_checkpoint(dir, kStages); }).find("= 0 bytes"), std::string::npos);
  fs::remove(dir / "state.json");
  EXPECT_NE(error_of([&] { read_checkpoint(dir, kStages); }).find("is incomplete"),
            std::string::npos);
  fs::remove_all(dir.parent_path());
}

// The states a kill can leave between write_checkpoint's steps; each must read back a complete
// checkpoint (the newest one that is complete where it is known to be).
TEST(Checkpoint, EveryStateOfTheSwapReadsBackACompleteCheckpoint) {
  const fs::path root = fresh_dir("swap");
  const fs::path dir = root / "checkpoint", fresh = root / "checkpoint.new",
                 old = root / "checkpoint.old";
  write_checkpoint(dir, "first", checkpoint_state(10, 0, config(), 42));
  // Killed while building the new one: a partial DIR.new beside a good DIR.
  fs::create_directories(fresh);
  write_file_atomic(fresh / "state.npz", "second, half written");
  EXPECT_EQ(read_checkpoint(dir, kStages)->archive, "first");
  // Killed between the renames: DIR.old and a complete DIR.new, no DIR.
  write_file_atomic(fresh / "state.json", full_state(20, 0, "second").dump());
  write_file_atomic(fresh / "state.npz", "second");
  fs::rename(dir, old);
  auto got = read_checkpoint(dir, kStages);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->archive, "second");
  EXPECT_EQ(got->dir, fresh);
  // Only DIR.old complete (DIR.new torn): the old one.
  write_file_atomic(fresh / "state.npz", "seco");
  got = read_checkpoint(dir, kStages);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->archive, "first");
  // Nothing complete anywhere: no checkpoint.
  fs::remove_all(old);
  EXPECT_FALSE(read_checkpoint(dir, kStages));
  // The next write replaces the leftovers and leaves one directory.
  write_checkpoint(dir, "third", checkpoint_state(30, 0, config(), 42));
  EXPECT_EQ(read_checkpoint(dir, kStages)->archive, "third");
  EXPECT_FALSE(fs::exists(fresh));
  EXPECT_FALSE(fs::exists(old));
  fs::remove_all(root);
}

TEST(Metrics, TornLastLineIsDroppedGarbledMiddleLineIsNamed) {
  const std::string good = "{\"step\": 50, \"loss\": 1}\n{\"step\": 100}\n{\"step\": 150}\n";
  EXPECT_EQ(metrics_up_to(good, 100, "m"), "{\"step\": 50, \"loss\": 1}\n{\"step\": 100}\n");
  // A kill mid-write: the last line has no newline (before: a parse error naming no file).
  EXPECT_EQ(metrics_up_to(good + "{\"step\": 200, \"lo", 1000, "m"), good);
  EXPECT_EQ(metrics_up_to(good + "{\"step\": 200}", 1000, "m"), good);
  EXPECT_EQ(metrics_up_to(good + "{\"step\": 2\n", 1000, "m"), good);
  EXPECT_EQ(metrics_up_to("", 10, "m"), "");
  EXPECT_EQ(metrics_up_to("\n\n{\"step\": 1}\n\n", 10, "m"), "{\"step\": 1}\n");
  EXPECT_EQ(error_of([&] {
              metrics_up_to("{\"step\": 1}\n{bad\n{\"step\": 2}\n", 10, "m.jsonl");
            }).rfind("json file = m.jsonl:2: is not valid JSON", 0),
            0u);
  EXPECT_EQ(error_of([&] { metrics_up_to("{\"loss\": 1}\n{\"step\": 2}\n", 10, "m.jsonl"); }),
            "m.jsonl:1.step = (missing): is required");
  EXPECT_EQ(error_of([&] {
              metrics_up_to("{\"step\": -4}\n{\"step\": 2}\n", 10, "m.jsonl");
            }).rfind("m.jsonl:1: step = -4: must be an integer", 0),
            0u);
}

TEST(Metrics, AppendWritesWholeLines) {
  const fs::path dir = fresh_dir("append");
  fs::create_directories(dir);
  append_metrics(dir / "m.jsonl", Json{{"step", 1}});
  append_metrics(dir / "m.jsonl", Json{{"step", 2}, {"path", "bad \xff byte"}});
  EXPECT_EQ(read_file(dir / "m.jsonl"),
            "{\"step\":1}\n{\"path\":\"bad \xef\xbf\xbd byte\",\"step\":2}\n");
  fs::remove_all(dir);
}

TEST(Resume, WithoutACheckpointTheSameRunRestartsAnythingElseIsRefused) {
  const fs::path out = fresh_dir("resume");
  // Killed before its first checkpoint (before: neither --resume nor a new run could go on).
  fs::create_directories(out);
  write_json_atomic(out / "config.json", config());
  write_file_atomic(out / "metrics.jsonl", "{\"step\": 10}\n{\"st");
  const int gone = kGonePid;
  write_file_atomic(out / (".result.json.tmp." + std::to_string(gone) + ".0"), "half");
  fs::create_directories(out / ("model.tmp-" + std::to_string(gone) + "-3"));
  const std::string live = ".result.json.tmp." + std::to_string(::getpid()) + ".7";
  write_file_atomic(out / live, "a concurrent writer's");
  ResumePoint r = open_run_for_resume(out, config(), 42, kStages);
  EXPECT_FALSE(r.state);
  EXPECT_FALSE(fs::exists(out / "metrics.jsonl"));
  EXPECT_FALSE(fs::exists(out / (".result.json.tmp." + std::to_string(gone) + ".0")));
  EXPECT_FALSE(fs::exists(out / ("model.tmp-" + std::to_string(gone) + "-3")));
  EXPECT_TRUE(fs::exists(out / live));  // its writer still runs
  fs::remove(out / live);

  // Another config without a checkpoint: refused naming the first change.
  Json other = config();
  other["sgda"]["lr_g"] = 0.5;
  EXPECT_NE(error_of([&] {
              open_run_for_resume(out, other, 42, kStages);
            }).find("holds no checkpoint and a run of another config (sgda.lr_g: "),
            std::string::npos);

  // With a checkpoint: metrics cut back to its step, the torn line dropped.
  write_checkpoint(out / "checkpoint", "tensors", checkpoint_state(120, 1, config(), 42));
  write_file_atomic(out / "metrics.jsonl", "{\"step\": 100}\n{\"step\": 150}\n{\"step\": 1");
  r = open_run_for_resume(out, config(), 42, kStages);
  ASSERT_TRUE(r.state);
  EXPECT_EQ(r.state->global_step, 120);
  EXPECT_EQ(r.archive, "tensors");
  EXPECT_EQ(read_file(out / "metrics.jsonl"), "{\"step\": 100}\n");
  EXPECT_NE(error_of([&] {
              open_run_for_resume(out, other, 42, kStages);
            }).find("the config differs from the checkpoint's: sgda.lr_g"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              open_run_for_resume(out, config(), 43, kStages);
            }).find("trained on a different target"),
            std::string::npos);

  // A directory that is no run at all.
  const fs::path stranger = fresh_dir("stranger");
  write_file_atomic(stranger / "notes.txt", "mine");
  EXPECT_NE(error_of([&] {
              open_run_for_resume(stranger, config(), 42, kStages);
            }).find("holds no checkpoint and no config.json"),
            std::string::npos);
  // A missing one: the run starts.
  const fs::path missing = fresh_dir("missing");
  EXPECT_FALSE(open_run_for_resume(missing, config(), 42, kStages).state);
  EXPECT_TRUE(fs::exists(missing / "config.json"));
  for (const fs::path& p : {out, stranger, missing}) fs::remove_all(p);
}

}  // namespace
}  // namespace fsr
