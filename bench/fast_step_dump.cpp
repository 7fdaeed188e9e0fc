// Writes the inputs of one SGDA step (bench/step_model.h on the fast engine) and its result, for
// the equivalence check and the timing of bench/pytorch_step.py on the same inputs:
//   OUT/step.json       shape, options, losses of the step (d_loss, g_loss), dtype
//   OUT/init/<p>.npy    every parameter before the step (canonical layout, gda/fast/cpu_engine.h)
//   OUT/after/<p>.npy   every parameter after the step
//   OUT/X<l>.npy        the real batch, images (B, c, side, side), from synth's sampler
//   OUT/z_d.npy, z_g.npy  the latents of the D and G steps (B, m0)
//
//   fast_step_dump --target experiments/targets/quickstart.json --batch 256 --out DIR [--double]
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "bench/step_model.h"
#include "core/json_io.h"
#include "core/npy.h"
#include "core/validate.h"
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
void write_parameters(const std::filesystem::path& dir, const CpuEngine<T>& e) {
  std::filesystem::create_directories(dir);
  for (const auto& p : e.parameters()) {
    const std::vector<T> v(p.data.begin(), p.data.end());
    write(dir / (p.name + ".npy"), v, p.shape);
  }
}

template <typename T>
int run(const std::filesystem::path& config, int batch, const std::filesystem::path& out,
        double lr) {
  const Target t = build_target(parse_target_config(read_json(config), config.parent_path()));
  const ModelShape s = bench::step_shape(t);
  CpuEngine<T> engine(s, bench::step_options(batch));
  bench::init_step_model(engine, 1);
  engine.begin_stage(bench::step_stage(s));
  write_parameters(out / "init", engine);
  const SampleBatch b = sample(t, 0, batch);
  for (int l = 1; l <= s.levels; ++l) {
    const std::vector<T> x(b.x[l - 1].data(), b.x[l - 1].data() + b.x[l - 1].size());
    const int side = t.side_at(l);
    write(out / ("X" + std::to_string(l) + ".npy"), x, {batch, t.colors, side, side});
  }
  const std::size_t zs = std::size_t(batch) * s.latent_dim;
  std::vector<T> z(2 * zs);
  Rng rd(1, 11), rg(1, 12);
  for (std::size_t i = 0; i < zs; ++i) z[i] = T(rd.normal());
  for (std::size_t i = 0; i < zs; ++i) z[zs + i] = T(rg.normal());
  write(out / "z_d.npy", std::vector<T>(z.begin(), z.begin() + zs), {batch, s.latent_dim});
  write(out / "z_g.npy", std::vector<T>(z.begin() + zs, z.end()), {batch, s.latent_dim});
  const RealBatch<T> real = real_patches<T>(s, b.x);
  const StepStats loss = engine.step({&real}, z.data(), lr, lr);
  write_parameters(out / "after", engine);
  Json j{{"levels", s.levels},
         {"grid", s.grid},
         {"patch", s.patch},
         {"colors", s.colors},
         {"kernel", s.kernel},
         {"channels", s.channels},
         {"units", s.units},
         {"latent_dim", s.latent_dim},
         {"batch", batch},
         {"lr_d", lr},
         {"lr_g", lr},
         {"lambda", engine.options().penalty_weight},
         {"d_loss", loss.loss_d},
         {"g_loss", loss.loss_g},
         {"dtype", sizeof(T) == 4 ? "float32" : "float64"},
         {"flops_per_step", bench::flops_per_step(s, batch)},
         {"target", config.string()}};
  write_json_atomic(out / "step.json", j);
  std::cout << "d_loss " << loss.loss_d << " g_loss " << loss.loss_g << "\n";
  return 0;
}

}  // namespace
}  // namespace fsr::fast

int main(int argc, char** argv) {
  std::string target, out;
  int batch = 0;
  bool dbl = false;
  double lr = 1e-2;
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
      lr = std::stod(next());
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
    return dbl ? fsr::fast::run<double>(target, batch, out, lr)
               : fsr::fast::run<float>(target, batch, out, lr);
  } catch (const fsr::InputError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
}
