// The one thread pool of a Program: pthreadpool, shared by XNNPACK and edgeloop's own kernels.
#pragma once

#include <cstddef>
#include <functional>

typedef struct pthreadpool* pthreadpool_t;  // NOLINT: pthreadpool's own C typedef

namespace edgeloop::runtime {

class ThreadPool {
 public:
  // threads ≥ 1; with 1 there are no worker threads and work runs on the calling thread.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  // Calls fn(i) for every i in [0, n), spread over the threads; returns when all are done.
  // Not reentrant: one parallel_for at a time per pool.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);
  // The pthreadpool to hand to XNNPACK; null when threads() == 1.
  pthreadpool_t handle() const { return pool_; }

 private:
  int threads_;
  pthreadpool_t pool_ = nullptr;
};

}  // namespace edgeloop::runtime
