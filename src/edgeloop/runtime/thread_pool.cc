#include "edgeloop/runtime/thread_pool.h"

#include <pthreadpool.h>

namespace edgeloop::runtime {

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  if (threads_ > 1) pool_ = pthreadpool_create(static_cast<size_t>(threads_));
  if (pool_ == nullptr) threads_ = 1;  // could not start workers: run on the caller
}

ThreadPool::~ThreadPool() {
  if (pool_ != nullptr) pthreadpool_destroy(pool_);
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  if (pool_ == nullptr || n <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  pthreadpool_parallelize_1d(
      pool_, [](void* ctx, size_t i) { (*static_cast<const std::function<void(size_t)>*>(ctx))(i); },
      const_cast<std::function<void(size_t)>*>(&fn), n, 0);
}

}  // namespace edgeloop::runtime
