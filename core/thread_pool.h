// A fixed team of threads: run(fn) calls fn(t) for t = 0..size()-1, t = 0 on the calling thread,
// and returns when every call has. The fast engine's parallel passes run on one, and so does the
// drawing of its real batches (SampleOptions::pool), so that a training run's threads never
// outnumber its `threads`. Workers spin briefly between tasks (a step issues a handful of short
// parallel passes, and waking a sleeping thread costs tens of microseconds), then sleep. Work is
// split by a fixed rule of t and size(), so results are deterministic for a given thread count.
//
//   fsr::ThreadPool pool(2);
//   pool.run([&](int t) { work(range(t)); });
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace fsr {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }
  void run(const std::function<void(int)>& fn);

 private:
  void worker(int t);

  int size_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* task_ = nullptr;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

// [n t / T, n (t + 1) / T): thread t's share of n items.
inline std::pair<int, int> share(int t, int threads, int n) {
  return {int(std::int64_t(n) * t / threads), int(std::int64_t(n) * (t + 1) / threads)};
}

}  // namespace fsr
