// The files of a training run that must survive a kill at any moment, without LibTorch: the
// checkpoint directory (tensor archive state.npz + state.json) written as a unit and verified by a
// checksum when read, state.json validated field by field, metrics.jsonl appended a whole line at
// a time and cut back to the checkpoint on resume. The trainer (gda/trainer.cpp) only serialises
// tensors and calls these.
//
//   fsr::write_checkpoint(out / "checkpoint", archive_bytes,
//                         fsr::checkpoint_state(step, stage, config, fingerprint));
//   fsr::ResumePoint r = fsr::open_run_for_resume(out, config, fingerprint, stage_steps);
//   if (r.state) load_tensors(r.archive);   // else: no checkpoint yet, the run restarts at 0
//
// On disk: DIR/state.npz (any bytes) and DIR/state.json = {schema_version, global_step, stage,
// config, target_fingerprint, files: {"state.npz": {bytes, crc32}}}. A new checkpoint is built in
// DIR.new (each file flushed), then DIR is renamed to DIR.old, DIR.new to DIR, DIR.old removed:
// at every moment DIR, or else DIR.new or DIR.old, is complete, and the reader takes DIR, else the
// first of DIR.new, DIR.old that verifies. A DIR that fails its checksum is an InputError, never a
// silent resume to a different model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_io.h"

namespace fsr {

// The tensor archive's file name in the checkpoint directory (gda/checkpoint.h writes an .npz).
inline constexpr const char* kCheckpointArchive = "state.npz";

struct CheckpointState {
  std::int64_t global_step = 0;  // generator steps done, all stages
  int stage = 0;                 // index of the stage the step lies in
  Json config;                   // the normalised learner config (an object)
  std::uint64_t target_fingerprint = 0;
};

// state.json's content (without the files block, which write_checkpoint adds).
Json checkpoint_state(std::int64_t global_step, int stage, const Json& config,
                      std::uint64_t target_fingerprint);

// Validates state.json: every field present with its type, schema_version current, stage in
// [0, stages), global_step an integer inside that stage's range (`stage_steps[i]` = steps of stage
// i), no unknown key. `where` (the file) opens every message. Throws InputError.
CheckpointState parse_checkpoint_state(const Json& state,
                                       const std::vector<std::int64_t>& stage_steps,
                                       std::string_view where);

// Writes `archive` as state.npz and `state` (+ its files block) as state.json into `dir`, as
// described above. Throws std::runtime_error on an I/O failure; the previous checkpoint stays.
void write_checkpoint(const std::filesystem::path& dir, std::string_view archive,
                      const Json& state);

struct LoadedCheckpoint {
  CheckpointState state;
  std::string archive;  // state.npz, checksum verified
  std::filesystem::path dir;
};

// The checkpoint in `dir` (or the complete DIR.new / DIR.old a kill left), verified and
// validated; nullopt when there is none. InputError when DIR is damaged or invalid.
std::optional<LoadedCheckpoint> read_checkpoint(const std::filesystem::path& dir,
                                                const std::vector<std::int64_t>& stage_steps);

// Appends one record as one line with a single write (O_APPEND): a kill leaves at most one torn
// last line, which metrics_up_to() drops. Throws std::runtime_error on an I/O failure.
void append_metrics(const std::filesystem::path& file, const Json& record);

// The lines of a metrics.jsonl text whose "step" is <= global_step, in order, each ending in a
// newline. A last line that does not parse (torn by a kill, or without its newline) is dropped;
// a garbled line before it, or a record without an integer "step", is an InputError naming
// `name` and the line number.
std::string metrics_up_to(std::string_view text, std::int64_t global_step, std::string_view name);

// What `fsr train --resume` continues from.
struct ResumePoint {
  std::optional<CheckpointState> state;  // nullopt: no checkpoint yet, the run restarts at 0
  std::string archive;                   // state.npz of that checkpoint, verified
};

// Opens run directory `out` for --resume: temporaries of killed writers removed; the checkpoint
// read (read_checkpoint) and checked against this run's normalised `config` (each changed field
// named) and target; metrics.jsonl cut back to the checkpoint's step. Without a checkpoint (the
// run was killed before its first one) the directory must be missing, empty, or a run of this
// same config (config.json): metrics.jsonl is cleared and the run restarts at step 0.
// Throws InputError naming --resume.
ResumePoint open_run_for_resume(const std::filesystem::path& out, const Json& config,
                                std::uint64_t target_fingerprint,
                                const std::vector<std::int64_t>& stage_steps);

}  // namespace fsr
