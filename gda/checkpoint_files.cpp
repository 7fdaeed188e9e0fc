#include "gda/checkpoint_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/atomic_file.h"
#include "core/checksum.h"
#include "core/validate.h"
#include "gda/learner_config.h"

namespace fsr {
namespace fs = std::filesystem;

namespace {


constexpr const char* kState = "state.json";

fs::path with_suffix(const fs::path& dir, const char* suffix) {
  return dir.parent_path() / (dir.filename().string() + suffix);
}

// Makes a rename inside `dir` durable; failure only weakens durability, never correctness.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// "<file>: <path>", the field of a message about part of state.json.
std::string field_of(const std::string& where, const std::string& path) {
  return path.empty() ? where : where + ": " + path;
}

// `object` (at `path` in the file `where`) is an object holding exactly `keys`.
void require_keys(const Json& object, const std::string& where, const std::string& path,
                  std::initializer_list<const char*> keys) {
  if (!object.is_object()) {
    fail_field(field_of(where, path.empty() ? "(top level)" : path),
               dump_json(object).substr(0, 60), "must be an object");
  }
  const std::string prefix = path.empty() ? "" : path + ".";
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool known = false;
    for (const char* k : keys) known = known || it.key() == k;
    if (!known) {
      fail_field(field_of(where, prefix + it.key()), "(present)",
                 "unknown key in a checkpoint state");
    }
  }
  for (const char* k : keys) {
    if (!object.contains(k)) fail_field(field_of(where, prefix + k), "(missing)", "is required");
  }
}

struct ArchiveFacts {
  std::int64_t bytes = 0;
  std::uint32_t crc = 0;
};

ArchiveFacts parse_files_block(const Json& state, const std::string& where) {
  const Json& files = state.at("files");
  require_keys(files, where, "files", {kCheckpointArchive});
  const Json& archive = files.at(kCheckpointArchive);
  const std::string path = std::string("files.") + kCheckpointArchive;
  require_keys(archive, where, path, {"bytes", "crc32"});
  return {
      json_integer(archive.at("bytes"), field_of(where, path + ".bytes"), 0, std::int64_t{1} << 50),
      static_cast<std::uint32_t>(
          json_integer(archive.at("crc32"), field_of(where, path + ".crc32"), 0, 0xFFFFFFFF))};
}

std::optional<LoadedCheckpoint> read_one(const fs::path& dir,
                                         const std::vector<std::int64_t>& stage_steps) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return std::nullopt;
  if (!fs::is_directory(dir, ec)) fail_field("checkpoint", dir.string(), "is not a directory");
  const fs::path state_file = dir / kState, archive_file = dir / kCheckpointArchive;
  if (!fs::exists(state_file, ec) || !fs::exists(archive_file, ec)) {
    fail_field("checkpoint", dir.string(), "is incomplete (needs state.json and state.npz)");
  }
  const std::string where = state_file.string();
  const Json state = read_json(state_file);
  LoadedCheckpoint out;
  out.state = parse_checkpoint_state(state, stage_steps, where);
  const ArchiveFacts facts = parse_files_block(state, where);
  out.archive = read_file(archive_file);
  if (static_cast<std::int64_t>(out.archive.size()) != facts.bytes) {
    fail_field(archive_file.string(), std::to_string(out.archive.size()) + " bytes",
               "state.json says " + std::to_string(facts.bytes) +
                   ": the checkpoint is truncated or damaged (remove " + dir.string() +
                   " and --resume restarts the run at step 0)");
  }
  const std::uint32_t crc = crc32(out.archive);
  if (crc != facts.crc) {
    fail_field(archive_file.string(), "CRC-32 " + crc32_hex(crc),
               "state.json says " + crc32_hex(facts.crc) + ": the checkpoint is damaged (remove " +
                   dir.string() + " and --resume restarts the run at step 0)");
  }
  out.dir = dir;
  return out;
}

}  // namespace

Json checkpoint_state(std::int64_t global_step, int stage, const Json& config,
                      std::uint64_t target_fingerprint) {
  return Json{{"schema_version", kSchemaVersion},
              {"global_step", global_step},
              {"stage", stage},
              {"config", config},
              {"target_fingerprint", target_fingerprint}};
}

CheckpointState parse_checkpoint_state(const Json& state,
                                       const std::vector<std::int64_t>& stage_steps,
                                       std::string_view where_view) {
  const std::string where(where_view);
  require_keys(state, where, "",
               {"schema_version", "global_step", "stage", "config", "target_fingerprint", "files"});
  const auto member = [&](const char* key) -> const Json& { return state.at(key); };
  const auto field = [&](const char* key) { return field_of(where, key); };
  json_integer(member("schema_version"), field("schema_version"), kSchemaVersion, kSchemaVersion);
  if (stage_steps.empty()) fail_field("stages", "0", "a run has at least one stage");
  CheckpointState s;
  s.stage = static_cast<int>(json_integer(member("stage"), field("stage"), 0,
                                          static_cast<std::int64_t>(stage_steps.size()) - 1));
  std::int64_t before = 0;
  for (int i = 0; i < s.stage; ++i) before += stage_steps[i];
  // The step lies in its stage: [first step of the stage, its last step + 1] (a checkpoint at the
  // end of a stage keeps that stage's index).
  s.global_step = json_integer(member("global_step"), field("global_step"), before,
                               before + stage_steps[s.stage]);
  s.config = member("config");
  if (!s.config.is_object()) {
    fail_field(field("config"), dump_json(s.config).substr(0, 60),
               "must be the learner config object");
  }
  s.target_fingerprint = json_uint64(member("target_fingerprint"), field("target_fingerprint"));
  parse_files_block(state, where);
  return s;
}

void write_checkpoint(const fs::path& dir, std::string_view archive, const Json& state) {
  const fs::path fresh = with_suffix(dir, ".new"), old = with_suffix(dir, ".old");
  std::error_code ec;
  fs::remove_all(fresh, ec);  // what a killed writer left: never the only complete checkpoint
  fs::create_directories(fresh);
  Json full = state;
  full["files"] = {{kCheckpointArchive, {{"bytes", archive.size()}, {"crc32", crc32(archive)}}}};
  write_file_atomic(fresh / kCheckpointArchive, archive);  // flushed before the state that vouches for it
  write_json_atomic(fresh / kState, full);
  sync_directory(fresh);
  if (fs::exists(dir)) {
    fs::remove_all(old);
    fs::rename(dir, old);
  }
  fs::rename(fresh, dir);
  sync_directory(dir.parent_path());
  fs::remove_all(old, ec);
}

std::optional<LoadedCheckpoint> read_checkpoint(const fs::path& dir,
                                                const std::vector<std::int64_t>& stage_steps) {
  std::error_code ec;
  if (fs::exists(dir, ec)) return read_one(dir, stage_steps);
  // A kill between the two renames of write_checkpoint: the complete one of the pair is good.
  for (const char* suffix : {".new", ".old"}) {
    try {
      if (auto found = read_one(with_suffix(dir, suffix), stage_steps)) return found;
    } catch (const InputError&) {
      // incomplete: the writer was killed while building it
    }
  }
  return std::nullopt;
}

void append_metrics(const fs::path& file, const Json& record) {
  const std::string line = dump_json(record) + "\n";
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot open " + file.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw std::runtime_error("cannot append to " + file.string() + ": " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

std::string metrics_up_to(std::string_view text, std::int64_t global_step, std::string_view name) {
  // Index of the last non-empty line: the only one a kill can tear.
  std::size_t last_start = std::string_view::npos;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    if (end > pos) last_start = pos;
    pos = end + 1;
  }
  std::string kept;
  std::size_t number = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    ++number;
    const bool last = pos == last_start;
    const bool has_newline = end < text.size();
    pos = end + 1;
    if (line.empty()) continue;
    const std::string where = std::string(name) + ":" + std::to_string(number);
    std::int64_t step = 0;
    try {
      if (last && !has_newline) throw InputError("torn");  // the write never completed
      const Json record = parse_json(line, where);
      step = json_integer(json_member(record, "step", where), where + ": step", 0, INT64_MAX);
    } catch (const InputError&) {
      if (last) break;  // torn by a kill: dropped
      throw;
    }
    if (step <= global_step) {
      kept.append(line);
      kept += '\n';
    }
  }
  return kept;
}

ResumePoint open_run_for_resume(const fs::path& out, const Json& config,
                                std::uint64_t target_fingerprint,
                                const std::vector<std::int64_t>& stage_steps) {
  check_output_directory(out, "--out");
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) fail_field("--out", out.string(), "cannot be created: " + ec.message());
  remove_stale_temporaries(out, "model");
  remove_stale_temporaries(out / "model");
  const fs::path metrics = out / "metrics.jsonl", checkpoint = out / "checkpoint";
  std::optional<LoadedCheckpoint> found = read_checkpoint(checkpoint, stage_steps);
  if (!found) {
    // Killed before its first checkpoint: restart, if this is (the start of) the same run.
    if (fs::exists(out / "config.json", ec)) {
      const auto changes = config_differences(read_json(out / "config.json"), config);
      if (!changes.empty()) {
        fail_field("--resume", out.string(),
                   "holds no checkpoint and a run of another config (" + changes.front() +
                       (changes.size() > 1 ? "; ..." : "") + "): use a fresh --out");
      }
    } else if (!fs::is_empty(out, ec)) {
      fail_field("--resume", out.string(),
                 "holds no checkpoint and no config.json: not a run directory");
    }
    fs::remove(metrics, ec);
    write_json_atomic(out / "config.json", config);
    return {};
  }
  if (found->dir != checkpoint) fs::rename(found->dir, checkpoint);  // back to its own name
  const CheckpointState& s = found->state;
  const auto changes = config_differences(s.config, config);
  if (!changes.empty()) {
    std::string list;
    for (const auto& ch : changes) list += (list.empty() ? "" : "; ") + ch;
    fail_field("--resume", out.string(), "the config differs from the checkpoint's: " + list);
  }
  if (s.target_fingerprint != target_fingerprint) {
    fail_field("--resume", out.string(), "the checkpoint was trained on a different target");
  }
  // Keep the metrics written up to the checkpoint; later lines are redone.
  if (fs::exists(metrics, ec)) {
    write_file_atomic(metrics, metrics_up_to(read_file(metrics), s.global_step, metrics.string()));
  }
  return {s, std::move(found->archive)};
}

}  // namespace fsr
