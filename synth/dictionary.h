// Output dictionaries M_l of G* (docs/science.md §1): d x m matrices whose unit-norm columns are the
// "edge-colour features" of one level; orthonormal when m <= d, random incoherent (coherence
// <= mu) for overcomplete m > d. Row index of M = colour * r * r + dy * r + dx.
//
//   fsr::Rng rng(seed, stream);
//   Eigen::MatrixXd M = fsr::incoherent_dictionary(/*d=*/12, /*m=*/32, /*mu=*/0.45, rng);
//   double mu = fsr::coherence(M);   // max_{i != j} |<M_i, M_j>| / (|M_i| |M_j|)
#pragma once

#include <Eigen/Dense>
#include <string>

#include "core/rng.h"

namespace fsr {

// m <= d random orthonormal columns (QR of a Gaussian matrix, signs fixed so R has a positive
// diagonal, so the result is a deterministic function of the rng state).
Eigen::MatrixXd orthonormal_dictionary(int d, int m, Rng& rng);

// m random unit columns in R^d pushed apart until every pairwise |cosine| is <= mu, by projected
// gradient descent on sum_{i != j} (|<M_i, M_j>| - mu')_+^2 with mu' = 0.98 mu, renormalising
// columns after each step. Throws fsr::InputError naming `field` when mu is not reached within
// the iteration budget (the message gives the best coherence found and the Welch bound).
Eigen::MatrixXd incoherent_dictionary(int d, int m, double mu, Rng& rng,
                                      const std::string& field = "dictionary.coherence");

// Coherence of the columns after normalising each to unit norm; 0 for a single column.
double coherence(const Eigen::MatrixXd& M);

// Welch bound sqrt((m - d) / (d (m - 1))) for m > d, else 0.
double welch_bound(int d, int m);

}  // namespace fsr
