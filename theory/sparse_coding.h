// Sparse coding of patches over a dictionary and learning that dictionary from the patches
// alone — the tools that ask whether data *are* hierarchical sparse codes (docs/science.md §1, "sparse
// coding, edge-colour features") without knowing a planted M: orthogonal matching pursuit at a
// fixed reconstruction error, the MOD dictionary update (method of optimal directions, Engan et
// al. 1999), a MOD + OMP learning loop (k-SVD's loop with MOD's update), and a Gaussian control
// with the same mean and covariance as a batch.
//
//   fsr::SparseCodes c = fsr::omp(D, patches, {.tolerance = 0.3 * rms_norm});
//   // c.codes.row(n): the code of patch n (m entries, at most max_atoms non-zero);
//   // c.counts(n): how many atoms it took to bring ||x - D s|| down to the tolerance
//   fsr::DictionaryFit f = fsr::learn_dictionary(patches, {.atoms = 24, .tolerance = ...});
//
// Orientation as in moment_tools.h: a batch is N x d (one patch per row), a dictionary d x m
// (unit columns = atoms), codes N x m, so patches ~ codes * D^T. Codes are signed: a data set
// whose codes are >= 0 (a planted target) is coded the same way, an atom and its negative being
// one feature.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

namespace fsr {

struct OmpOptions {
  // Stop when ||x - D s|| <= tolerance (absolute, in the patches' units). A patch whose norm is
  // already below it takes 0 atoms.
  double tolerance = 0.0;
  int max_atoms = 0;  // cap on atoms per patch; 0 = min(d, m)
  int threads = 1;    // patches are split over threads; results do not depend on it
};

struct SparseCodes {
  Eigen::MatrixXd codes;      // N x m
  Eigen::VectorXi counts;     // N: non-zero atoms of each code
  Eigen::VectorXd residuals;  // N: ||x - D s|| after coding
};

// Orthogonal matching pursuit, one patch at a time (Batch-OMP of Rubinstein, Zibulevsky & Elad
// 2008: the Gram matrix D^T D and a Cholesky factor of the chosen atoms' Gram block, so each
// step costs O(m k) rather than a least-squares solve). Atoms are normalised first; `dictionary`
// columns of zero norm are never chosen. An atom that lies in the span of the chosen ones ends
// the patch (nothing new can be gained). Throws InputError on a d mismatch or bad options.
SparseCodes omp(const Eigen::MatrixXd& dictionary, const Eigen::MatrixXd& patches,
                const OmpOptions& options);

// One MOD step: the dictionary minimising ||patches - codes D^T||_F for fixed codes,
// D^T = (S^T S)^-1 S^T X, with unit columns. A column that no code uses keeps its value in
// `columns` (the normal equations are singular in it). Throws InputError on shape mismatches.
Eigen::MatrixXd mod_update(const Eigen::MatrixXd& patches, const Eigen::MatrixXd& codes,
                           const Eigen::MatrixXd& columns);

struct DictionaryOptions {
  int atoms = 0;           // m, >= 1
  int iterations = 30;     // OMP + MOD rounds
  double tolerance = 0.0;  // OMP stopping error (absolute), as OmpOptions
  // OMP cap while learning; 0 = min(d, m). The cap is what drives learning: with coding at a
  // fixed error alone, atoms that span the data already fit every patch and MOD has nothing to
  // improve (measured: 8 random patches as atoms of 2-sparse data stay put, |cos| 0.76-0.92 to
  // the planted atoms, where a cap of 2 finds them to 1.000).
  int max_atoms = 0;
  // After each of the first 80 % of the rounds, an atom used by fewer patches than
  // min_use_fraction times the mean use per atom, or within duplicate_cosine |cos| of an earlier
  // atom, is replaced by the normalised residual of the worst-coded patch not used for another
  // replacement (k-SVD's rule). Without the rarely-used rule, 1 seed in 4 on 2-sparse planted
  // data kept an atom used by 48 patches (others ~700) and never found a planted one.
  double duplicate_cosine = 0.99;
  double min_use_fraction = 0.1;
  std::uint64_t seed = 0;  // picks the initial atoms (distinct non-zero patches)
  int threads = 1;
};

struct DictionaryFit {
  Eigen::MatrixXd dictionary;        // d x m, unit columns
  std::vector<double> mean_atoms;    // per round, mean OMP count before the update
  std::vector<double> rms_residual;  // per round, RMS ||x - D s|| before the update
  int replaced = 0;                  // atoms replaced over all rounds
};

// Learns m atoms from patches: start at m distinct non-zero patches (normalised, seeded), then
// `iterations` rounds of OMP coding and MOD update with unused and duplicate atoms replaced.
// Needs at least m non-zero patches (InputError otherwise).
DictionaryFit learn_dictionary(const Eigen::MatrixXd& patches, const DictionaryOptions& options);

// `count` draws from N(mean, covariance) of the rows of `batch` (sample mean and covariance, the
// covariance factored by its eigendecomposition so that a singular one — patches of rank < d —
// is fine). Seeded and platform-independent (fsr::Rng). The control of "are these patches
// sparse": same first and second moments, nothing else.
Eigen::MatrixXd gaussian_like(const Eigen::MatrixXd& batch, std::int64_t count, std::uint64_t seed);

// Coherence statistics of a dictionary's columns (normalised): max_{i != j} |cos| and the mean
// over columns of each one's largest |cos| with another (0 for one column).
struct CoherenceStats {
  double max = 0.0, mean_max = 0.0;
};
CoherenceStats coherence_stats(const Eigen::MatrixXd& dictionary);

}  // namespace fsr
