// The recipes' process group, on PyTorch's own distributed engine (c10d): a TCPStore
// rendezvous at MASTER_ADDR:MASTER_PORT (rank 0 serves it), then ProcessGroupNCCL on CUDA
// (one GPU per process, cuda:LOCAL_RANK) or ProcessGroupGloo on the CPU.
//
// A dead or stuck peer never hangs the others: Gloo fails a collective at once when a peer's
// connection drops and after `timeout` otherwise; NCCL's watchdog aborts the process when a
// collective exceeds `timeout`. Beside them a liveness monitor (a thread per process, through
// the store) covers a peer killed outright while the others wait on the GPU: every rank
// counts a heartbeat; rank 0 watches all of them and, when one stalls for `timeout`, posts
// an abort and exits; the others watch rank 0 and the abort. Either way the rank exits
// non-zero, naming the rank that stopped.
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "torchtune_cpp/distributed/environment.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::distributed {

using WorkPtr = c10::intrusive_ptr<c10d::Work>;

struct ProcessGroupOptions {
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
};

class ProcessGroup {
 public:
  // Joins the rendezvous of `env` and builds the backend for `device` (NCCL for cuda:N,
  // Gloo for cpu). A tt::Error names what is missing (no Gloo in this build, no port).
  ProcessGroup(const DistributedEnv& env, at::Device device, const ProcessGroupOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }
  at::Device device() const { return device_; }
  const char* backend_name() const;

  // out [W * N] <- every rank's in [N], in rank order. Asynchronous: wait() on the result
  // (on CUDA a stream wait, so compute queued afterwards sees the data).
  WorkPtr all_gather(at::Tensor& out, at::Tensor& in);
  // out [N] <- the sum over ranks of in [W * N]'s rank-th slice. Asynchronous.
  WorkPtr reduce_scatter(at::Tensor& out, at::Tensor& in);
  // In place, blocking: sum (or max) over ranks.
  void all_reduce(at::Tensor& t, bool max = false);
  // Blocking conveniences for host scalars.
  double sum(double value);
  int64_t max(int64_t value);
  // In place, blocking: rank `root`'s t to every rank.
  void broadcast(at::Tensor& t, int64_t root);
  void barrier();
  // Rank `root`'s `value` on every rank (through the rendezvous store; small strings only).
  std::string broadcast_string(const std::string& value, int64_t root);
  // Runs `body` on this rank (it may do nothing on some ranks), then agrees with every rank
  // on the outcome, so that an error on one rank (a full disk on rank 0, a locked
  // output_dir) stops all of them together, each with one line, instead of leaving the
  // others waiting in a collective: when any rank's body threw, every rank throws, the
  // failing rank its own error and the others a tt::Error naming the lowest failing rank
  // and `what` ("saving step_40").
  void all_succeed(const std::function<void()>& body, const std::string& what);
  // The end of a run: stops the liveness monitor, then waits for every rank, so that no
  // rank takes another's normal exit for a failure.
  void finish();

 private:
  void monitor(std::chrono::milliseconds timeout);
  void stop_monitor();

  int64_t rank_ = 0, world_size_ = 1;
  at::Device device_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> backend_;
  std::thread monitor_;
  std::mutex monitor_mu_;
  std::condition_variable monitor_cv_;
  bool monitor_stop_ = false;
  int64_t broadcasts_ = 0;
};

using ProcessGroupPtr = std::shared_ptr<ProcessGroup>;

// An exception from a collective or the rendezvous store (Gloo's "Read error ...: Connection
// reset by peer", c10d's DistError, NCCL's errors) as one tt::Error for `rank` saying what
// happened and what to do; nullopt for any other exception.
std::optional<Error> collective_failure(const std::exception& e, int64_t rank);

}  // namespace tt::distributed
