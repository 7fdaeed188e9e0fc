// ThreadPool: every run calls fn(t) once for each t, t = 0 on the calling thread, and returns
// only when all have returned; share() splits n items into consecutive, disjoint ranges.
#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "core/validate.h"

namespace fsr {
namespace {

TEST(ThreadPool, EveryRunCallsEachThreadOnceAndWaitsForAll) {
  for (const int size : {1, 2, 4}) {
    ThreadPool pool(size);
    EXPECT_EQ(pool.size(), size);
    const std::thread::id caller = std::this_thread::get_id();
    // Many short runs back to back (the spin path) and a few after a pause (the sleep path:
    // workers sleep after 2 ms without work).
    for (int run = 0; run < 1000; ++run) {
      std::vector<std::atomic<int>> calls(size);
      std::atomic<bool> t0_on_caller{false};
      pool.run([&](int t) {
        calls[t].fetch_add(1);
        if (t == 0) t0_on_caller = std::this_thread::get_id() == caller;
      });
      for (int t = 0; t < size; ++t) ASSERT_EQ(calls[t].load(), 1) << "run " << run << " t " << t;
      ASSERT_TRUE(t0_on_caller.load()) << "run " << run;
      if (run % 250 == 249) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

TEST(ThreadPool, ShareSplitsItemsIntoConsecutiveDisjointRanges) {
  for (const int threads : {1, 2, 3, 7}) {
    for (const int n : {0, 1, 5, 100}) {
      int next = 0;
      for (int t = 0; t < threads; ++t) {
        const auto [a, b] = share(t, threads, n);
        EXPECT_EQ(a, next) << threads << " threads, n " << n << ", t " << t;
        EXPECT_LE(a, b);
        next = b;
      }
      EXPECT_EQ(next, n) << threads << " threads, n " << n;
    }
  }
}

TEST(ThreadPool, RefusesAThreadCountOutsideItsRange) {
  EXPECT_THROW(ThreadPool(0), InputError);
  EXPECT_THROW(ThreadPool(257), InputError);
}

}  // namespace
}  // namespace fsr
