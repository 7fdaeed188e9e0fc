// Writes the inputs of one SGDA step (gda/fast/fast_step.h) and its result, for the equivalence
// check and the timing of bench/pytorch_step.py on the same inputs:
//   OUT/step.json       shape, options, losses of the step (d_loss, g_loss), dtype
//   OUT/init/<p>.npy    every parameter before the step (canonical layout, fast_step.h)
//   OUT/after/<p>.npy   every parameter after the step
//   OUT/X<l>.npy        the real batch, images (B, c, side, side), from synth's sampler
//   OUT/z_d.npy, z_g.npy  the latents of the D and G steps (B, m0)
//
//   fast_step_dump --target experiments/targets/quickstart.json --batch 256 --out DIR [--double]
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "core/json_io.h"
#include "core/npy.h"
#include "core/validate.h"
#include "gda/fast/fast_step.h"
#include "synth/config.h"
#include "synth/sample.h"

namespace fsr::fast {
namespace {

void write(const std::filesystem::path& p, const std::vector<float>& v,
           const std::vector<std::int64_t>& shape) {
  write_npy(p, v.data(), shape);
}
void write(const std::filesystem::path& p, const std::vector<double>& v,
           const std::vector<std::int64_t>& shape) {
  write_npy(p, v.data(), shape, DType::kFloat64);
}

template <typename T>
int run(const std::filesystem::path& config, int batch, const std::filesystem::path& out,
        const StepOptions& options) {
  const Target t = build_target(parse_target_config(read_json(config), config.parent_path()));
  const StepShape s = step_shape(t, batch);
  FastSgda<T> sgda(s, options);
  sgda.init(1);
  std::filesystem::create_directories(out / "init");
  std::filesystem::create_directories(out / "after");
  for (const auto& p : sgda.parameters()) write(out / "init" / (p.name + ".npy"), p.data, p.shape);
  const SampleBatch b = sample(t, 0, batch);
  for (int l = 1; l <= s.levels; ++l) {
    const std::vector<T> x(b.x[l - 1].data(), b.x[l - 1].data() + b.x[l - 1].size());
    const int side = t.side_at(l);
    write(out / ("X" + std::to_string(l) + ".npy"), x, {batch, t.colors, side, side});
  }
  std::vector<T> zd(std::size_t(batch) * s.latent_dim), zg(zd.size());
  Rng rd(1, 11), rg(1, 12);
  for (T& v : zd) v = T(rd.normal());
  for (T& v : zg) v = T(rg.normal());
  write(out / "z_d.npy", zd, {batch, s.latent_dim});
  write(out / "z_g.npy", zg, {batch, s.latent_dim});
  const StepLosses loss = sgda.step(real_patches<T>(s, b), zd.data(), zg.data());
  for (const auto& p : sgda.parameters()) write(out / "after" / (p.name + ".npy"), p.data, p.shape);
  Json j{{"levels", s.levels},
         {"grid", s.grid},
         {"patch", s.patch},
         {"colors", s.colors},
         {"kernel", s.kernel},
         {"channels", s.channels},
         {"units", s.units},
         {"latent_dim", s.latent_dim},
         {"batch", s.batch},
         {"lr_d", options.lr_d},
         {"lr_g", options.lr_g},
         {"lambda", options.lambda},
         {"d_loss", loss.d_loss},
         {"g_loss", loss.g_loss},
         {"dtype", sizeof(T) == 4 ? "float32" : "float64"},
         {"flops_per_step", flops_per_step(s)},
         {"target", config.string()}};
  write_json_atomic(out / "step.json", j);
  std::cout << "d_loss " << loss.d_loss << " g_loss " << loss.g_loss << "\n";
  return 0;
}

}  // namespace
}  // namespace fsr::fast

int main(int argc, char** argv) {
  std::string target, out;
  int batch = 0;
  bool dbl = false;
  fsr::fast::StepOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << ": missing value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--target")
      target = next();
    else if (a == "--batch")
      batch = std::stoi(next());
    else if (a == "--out")
      out = next();
    else if (a == "--lr")
      options.lr_d = options.lr_g = std::stod(next());
    else if (a == "--double")
      dbl = true;
    else {
      std::cerr
          << "usage: fast_step_dump --target CONFIG --batch B --out DIR [--lr LR] [--double]\n";
      return 2;
    }
  }
  try {
    if (target.empty() || out.empty()) fsr::fail_field("--target/--out", "", "both are required");
    return dbl ? fsr::fast::run<double>(target, batch, out, options)
               : fsr::fast::run<float>(target, batch, out, options);
  } catch (const fsr::InputError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
}
