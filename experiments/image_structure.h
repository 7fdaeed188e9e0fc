// Is a data set forward super-resolution (docs/science.md §1, §5 last row)? Per level of a pyramid —
// real images (synth/image_pyramid.h) or a planted target's samples — a dictionary learned from
// the patches alone (theory/sparse_coding.h: OMP + MOD), the per-patch sparsity of the codes at a
// fixed reconstruction error, the coherence of the learned atoms, the same against a Gaussian
// control with the patches' mean and covariance (which has nothing but second moments, so it
// must come out dense); and the locality of super-resolution: how well the level-l codes are
// predicted from the level-(l-1) codes in an n x n neighbourhood of the parent (n = 1: kernel 2;
// n = 2: kernel 4's 2x2 block) as n grows to the whole coarser image.
//
//   fsr::Json r = fsr::image_structure(spec, {.dir = "out/job", .threads = 1});
//   r["sources"]["images"]["levels"][1]["data"]["mean_atoms"];   // < ...["noise"]["mean_atoms"]
//
// The job kind "image_structure" (experiments/jobs.h) runs it in a suite; its config keys,
// defaults and the JSON it returns are in docs/real_images.md. The suite's target fixes the
// geometry (L, h_1, r, c) of both sources, so the real pyramid and the planted target have
// matched sizes; the planted source is the target rebuilt with the job's seed.
#pragma once

#include <filesystem>
#include <string>

#include "core/json_io.h"
#include "experiments/jobs.h"

namespace fsr {

// Validates and fills the defaults of an image_structure config; relative image paths resolve
// against base_dir. Unknown keys, missing image files and bad values are InputErrors naming the
// field.
Json normalize_image_structure(const Json& config, const std::string& field,
                               const std::filesystem::path& base_dir);

// Runs one job: the payload stored in result.json, also written as the document
// `structure.json` (kind "image-structure") in context.dir, with the learned dictionaries as
// D_<source>_<level>.npy (d x atoms, columns = atoms, the orientation of M_l; in whitened
// coordinates), the control's as D_noise_<source>_<level>.npy and the whitening matrix W
// (symmetric, d x d; patches are coded as W x) as whitening_<source>_<level>.npy beside it.
Json image_structure(const JobSpec& spec, const JobContext& context);

JobKind image_structure_job_kind();

}  // namespace fsr
