// fsr moments | fit-first-layer | match: the theory/ layer on the command line (docs/science.md §2–3).
#include <cstdio>
#include <iomanip>
#include <memory>
#include <ostream>

#include "apps/cli.h"
#include "core/npy.h"
#include "core/validate.h"
#include "theory/first_layer.h"
#include "theory/match_columns.h"
#include "theory/relu_moments.h"

namespace fsr::cli {
namespace {

// A sample array of rank >= 2 (N x m, or N x m x h x h as synth writes S_1) as an N x units matrix:
// trailing dimensions are flattened in C order, so unit u of S_1 is (channel, y, x).
Eigen::MatrixXd read_samples(const std::string& path) {
  const NpyArray a = read_npy(path);
  if (a.shape.size() < 2) {
    fail_field("--samples", path,
               "has shape " + format_shape(a.shape) + ": must be N x m (one row per sample)");
  }
  const std::int64_t n = a.shape[0];
  const std::int64_t units = n == 0 ? 0 : a.size() / n;
  require_all_finite("--samples", a.data.data(), a.data.size());
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      a.data.data(), n, units);
}

void add_moments(CLI::App& app) {
  struct Args {
    double alpha = 1.0, beta = 0.0;
    int order = 4;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "moments", "P(s > 0) and E[s^j], j = 1..K, for s = ReLU(alpha g - beta), g ~ N(0, 1)");
  cmd->add_option("--alpha", args->alpha, "scale alpha > 0")->required();
  cmd->add_option("--beta", args->beta, "threshold beta (any real)")->required();
  cmd->add_option("--order", args->order, "highest moment order K")->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args] {
    require_int_in_range("--order", args->order, 1, kMaxReluMomentOrder);
    const ReluMoments m = relu_moments(args->alpha, args->beta, args->order);
    const Json payload{{"alpha", args->alpha},
                       {"beta", args->beta},
                       {"t", args->beta / args->alpha},
                       {"p_active", m.p_active},
                       {"moments", m.moments}};
    const Json config{{"alpha", args->alpha}, {"beta", args->beta}, {"order", args->order}};
    print_result("moments", payload, args->json, config, [&](std::ostream& out) {
      out << "s = ReLU(alpha g - beta), alpha = " << args->alpha << ", beta = " << args->beta
          << ", t = beta/alpha = " << args->beta / args->alpha << "\n";
      out << std::setprecision(12) << "  P(s > 0)  " << m.p_active << "\n";
      for (std::size_t j = 0; j < m.moments.size(); ++j) {
        out << "  E[s^" << j + 1 << "]" << std::string(j + 1 < 10 ? 4 : 3, ' ') << m.moments[j]
            << "\n";
      }
    });
  });
}

void add_fit_first_layer(CLI::App& app) {
  struct Args {
    std::string samples, method = "auto", rho_method = "cross_moment";
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "fit-first-layer", "estimate alpha, beta and rho of first-layer units from samples of s");
  cmd->add_option("--samples", args->samples,
                  "S.npy: N x m, one row per sample (rank > 2 is "
                  "flattened after the first axis)")
      ->required();
  cmd->add_option("--method", args->method,
                  "per-unit estimator; auto = mle for units active in < 30% of samples")
      ->check(CLI::IsMember({"moments", "mle", "auto"}))
      ->capture_default_str();
  cmd->add_option("--rho-method", args->rho_method,
                  "correlations from E[s_i s_j] or from co-activation frequencies")
      ->check(CLI::IsMember({"cross_moment", "coactivation"}))
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args] {
    FirstLayerOptions options;
    options.unit_method = args->method;
    options.rho_method = args->rho_method;
    const Eigen::MatrixXd samples = read_samples(args->samples);
    const FirstLayerFit fit = fit_first_layer(samples, options);
    const Json payload = to_json(fit);
    const Json config{
        {"samples", args->samples}, {"method", args->method}, {"rho_method", args->rho_method}};
    print_result("fit-first-layer", payload, args->json, config, [&](std::ostream& out) {
      out << "first-layer fit of " << samples.cols() << " units from " << samples.rows()
          << " samples (rho: " << payload["rho_method"].get<std::string>() << ")\n";
      out << "  unit   method    n_active        alpha (se)              beta (se)\n";
      char line[160];
      for (Eigen::Index i = 0; i < fit.alpha.size(); ++i) {
        std::snprintf(line, sizeof line, "  %4ld   %-8s  %8lld   %9.5f (%.5f)   %9.5f (%.5f)\n",
                      static_cast<long>(i), fit.method[i].c_str(),
                      static_cast<long long>(fit.n_active[i]), fit.alpha[i], fit.stderr_alpha[i],
                      fit.beta[i], fit.stderr_beta[i]);
        out << line;
      }
      out << "  rho: PSD repair " << (fit.psd_repair.repaired ? "applied" : "not needed")
          << " (min eigenvalue before " << fit.psd_repair.min_eigenvalue_before << ")\n";
    });
  });
}

void add_match(CLI::App& app) {
  struct Args {
    std::string truth, estimate;
    double threshold = 0.99;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "match", "match estimated dictionary columns to true ones (Hungarian on |cos|)");
  cmd->add_option("--truth", args->truth, "T.npy: d x m, columns are features")->required();
  cmd->add_option("--estimate", args->estimate, "E.npy: d x m_hat, m_hat >= m")->required();
  cmd->add_option("--threshold", args->threshold, "report the fraction of |cos| >= threshold")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args] {
    const Eigen::MatrixXd truth = read_npy_matrix(args->truth, "--truth");
    const Eigen::MatrixXd estimate = read_npy_matrix(args->estimate, "--estimate");
    const ColumnMatch r = match_columns(truth, estimate, args->threshold);
    const Json payload = to_json(r);
    const Json config{
        {"truth", args->truth}, {"estimate", args->estimate}, {"threshold", args->threshold}};
    print_result("match", payload, args->json, config, [&](std::ostream& out) {
      out << "matched " << truth.cols() << " true columns against " << estimate.cols()
          << " estimated (d = " << truth.rows() << ")\n";
      out << "  true  est   |cos|    cos      best(reuse)\n";
      char line[128];
      for (std::size_t i = 0; i < r.permutation.size(); ++i) {
        std::snprintf(line, sizeof line, "  %4zu  %4d  %.4f  %+.4f   %.4f (col %d)\n", i,
                      r.permutation[i], r.cosines[i], r.signed_cosines[i], r.best_cosines[i],
                      r.best_index[i]);
        out << line;
      }
      std::snprintf(line, sizeof line, "  mean %.4f  worst %.4f  fraction >= %.3g: %.3f\n",
                    r.mean_cosine, r.min_cosine, r.threshold, r.fraction_above);
      out << line;
      out << "  unmatched estimate columns: " << r.unmatched.size() << " ("
          << r.duplicate_columns.size() << " duplicates, " << r.dead_columns.size() << " dead)\n";
    });
  });
}

}  // namespace

void register_theory_commands(CLI::App& app) {
  add_moments(app);
  add_fit_first_layer(app);
  add_match(app);
}

}  // namespace fsr::cli
