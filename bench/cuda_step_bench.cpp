// Times the SGDA step of bench/step_model.h on the CUDA device step (gda/cuda/step.h) or on the
// CPU engine, for scripts/gpu_bench.sh: the same model, batch and inputs that
// bench/pytorch_step.py times in PyTorch. One JSON line per batch:
//   {"target", "batch", "device", "steps_per_s", "flops_per_s", "steps", "seconds"}
// and with --sgemm N one line {"sgemm_n", "sgemm_flops_per_s"}: cuBLAS float32 SGEMM (no TF32)
// on N x N x N, the reference of the 50 % target (docs/gpu.md).
//
//   cuda_step_bench --target experiments/targets/quickstart.json --batch 256,1024 --device cuda
//   cuda_step_bench --sgemm 8192
//
// Each step uploads its real batch and latents (fixed here) and ends with the download of its
// losses, as in training; the best of three segments of --seconds each.
#include <chrono>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "bench/step_model.h"
#include "core/json_io.h"
#include "core/validate.h"
#include "gda/cuda/cuda_engine.h"
#include "synth/config.h"
#include "synth/sample.h"

namespace fsr::fast {
namespace {

using Clock = std::chrono::steady_clock;

template <typename Step>
double best_rate(Step&& step, double seconds, std::int64_t* steps_out) {
  step();  // warm-up: first-use costs (cuBLAS heuristics, page faults)
  step();
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = Clock::now();
    std::int64_t n = 0;
    double dt = 0;
    do {
      step();
      ++n;
      dt = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (dt < seconds);
    if (n / dt > best) {
      best = n / dt;
      *steps_out = n;
    }
  }
  return best;
}

int run(const std::string& config, const std::vector<int>& batches, const std::string& device,
        double seconds) {
  const Target t = build_target(parse_target_config(read_json(config),
                                                    std::filesystem::path(config).parent_path()));
  const ModelShape s = bench::step_shape(t);
  for (int batch : batches) {
    ModelOptions o = bench::step_options(batch);
    o.threads = device == "cpu" ? int(std::max(1u, std::thread::hardware_concurrency())) : 1;
    CpuEngine<float> cpu(s, o);
    bench::init_step_model(cpu, 1);
    cpu.begin_stage(bench::step_stage(s));
    const SampleBatch b = sample(t, 0, batch);
    const RealBatch<float> real = real_patches<float>(s, b.x);
    std::vector<float> z(2 * std::size_t(batch) * s.latent_dim);
    Rng rng(1, 11);
    for (float& v : z) v = float(rng.normal());
    std::int64_t steps = 0;
    double rate = 0;
    if (device == "cpu") {
      rate = best_rate([&] { cpu.step({&real}, z.data(), 1e-2, 1e-2); }, seconds, &steps);
    } else {
      const cuda::StepLayout layout = cuda::step_layout(cpu, s, o);
      auto stepper = cuda::make_cuda_stepper<float>(layout);
      std::vector<cuda::StepBlock> blocks = layout.blocks;
      const StageLevels st = bench::step_stage(s);
      stepper->load(cpu.raw(0).data(), cpu.raw(1).data(), cpu.raw(2).data(), blocks,
                    cuda::StepStage{st.trained, st.first, st.last});
      const std::vector<const cuda::RealLevels<float>*> r{&real};
      rate = best_rate([&] { stepper->step(r, z.data(), 1e-2, 1e-2); }, seconds, &steps);
    }
    const Json j{{"target", config},
                 {"batch", batch},
                 {"device", device},
                 {"steps_per_s", rate},
                 {"flops_per_s", rate * bench::flops_per_step(s, batch)},
                 {"steps", steps},
                 {"seconds", seconds}};
    std::cout << j.dump() << std::endl;
  }
  return 0;
}

}  // namespace
}  // namespace fsr::fast

int main(int argc, char** argv) {
  std::string target, device = "cuda", batches = "256";
  double seconds = 2;
  int sgemm = 0;
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
      batches = next();
    else if (a == "--device")
      device = next();
    else if (a == "--seconds")
      seconds = std::stod(next());
    else if (a == "--sgemm")
      sgemm = std::stoi(next());
    else {
      std::cerr << "usage: cuda_step_bench --target CONFIG [--batch B1,B2,...] "
                   "[--device cuda|cpu] [--seconds S] | --sgemm N\n";
      return 2;
    }
  }
  try {
    if (sgemm > 0) {
      const double f = fsr::cuda::cuda_sgemm_flops(sgemm, seconds);
      std::cout << fsr::Json{{"sgemm_n", sgemm}, {"sgemm_flops_per_s", f}}.dump() << std::endl;
      return 0;
    }
    if (target.empty()) fsr::fail_field("--target", "", "is required");
    if (device != "cuda" && device != "cpu") fsr::fail_field("--device", device, "must be cuda or cpu");
    std::vector<int> bs;
    std::stringstream ss(batches);
    for (std::string item; std::getline(ss, item, ',');) bs.push_back(std::stoi(item));
    return fsr::fast::run(target, bs, device, seconds);
  } catch (const fsr::InputError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "cuda_step_bench: " << e.what() << "\n";
    return 1;
  }
}
