// Named arrays in one NumPy .npz file — an uncompressed zip of .npy files — so that a set of
// tensors (a training checkpoint) is one atomic write and opens with numpy.load.
//
//   fsr::write_npz("state.npz", {{"A", a}, {"M1", m}});   // NpyArray values, each with its dtype
//   for (const auto& [name, array] : fsr::read_npz("state.npz")) ...
//   // python: numpy.load("state.npz")["A"]
//
// Entries keep their order. Only stored (uncompressed) entries are read; a compressed, truncated
// or garbled archive is an fsr::InputError naming the file and the rule.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/npy.h"

namespace fsr {

using NamedArrays = std::vector<std::pair<std::string, NpyArray>>;

// Writes atomically (core/atomic_file.h). Names must be unique, non-empty, without '/'.
void write_npz(const std::filesystem::path& path, const NamedArrays& arrays);
NamedArrays read_npz(const std::filesystem::path& path);

// The same archive as bytes (for a checkpoint written with its own checksum, gda/checkpoint_files.h),
// and parsed from bytes; `name` opens every message.
std::string npz_bytes(const NamedArrays& arrays);
NamedArrays parse_npz(std::string_view bytes, std::string_view name);

}  // namespace fsr
