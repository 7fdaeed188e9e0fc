#include "core/thread_pool.h"

#include <chrono>

#include "core/validate.h"

namespace fsr {

ThreadPool::ThreadPool(int threads) : size_(threads) {
  require_int_in_range("threads", threads, 1, 256);
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run(const std::function<void(int)>& fn) {
  if (size_ == 1) return fn(0);
  task_ = &fn;
  pending_.store(size_ - 1);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  fn(0);
  while (pending_.load(std::memory_order_acquire) > 0) std::this_thread::yield();
}

void ThreadPool::worker(int t) {
  std::uint64_t seen = 0;
  for (;;) {
    // Spin for a while (the next pass of a step follows within microseconds), then sleep.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
    while (generation_.load(std::memory_order_acquire) == seen &&
           std::chrono::steady_clock::now() < until) {
      for (int i = 0; i < 64; ++i) __builtin_ia32_pause();
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_) return;
    (*task_)(t);
    pending_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace fsr
