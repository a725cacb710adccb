// c10d process groups over a TCPStore rendezvous.
#include "torchtune_cpp/distributed/process_group.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdio>
#include <cstdlib>

#include "torchtune_cpp/utils/check.h"

#if defined(TT_HAVE_GLOO)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(TT_WITH_CUDA)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace tt::distributed {

namespace {

// An exception's own text without LibTorch's backtrace or Gloo's source position: the
// first line of c10::Error::what_without_backtrace(), minus a leading "[file.cc:123] ".
std::string reason(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10_error ? c10_error->what_without_backtrace() : e.what();
  text = text.substr(0, text.find('\n'));
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find("] ");
    if (close != std::string::npos) text = text.substr(close + 2);
  }
  return text;
}

c10::intrusive_ptr<c10d::Store> rendezvous(const DistributedEnv& env,
                                           std::chrono::milliseconds timeout) {
  TT_CHECK(env.master_port > 0 && env.master_port < 65536, "MASTER_PORT", "port ", env.master_port,
           " is outside 1-65535; set MASTER_PORT (or --master_port) to a free port");
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(env.master_port);
  o.isServer = env.rank == 0;
  o.numWorkers = static_cast<size_t>(env.world_size);
  o.waitWorkers = false;  // the first collective waits for everyone
  o.timeout = timeout;
  try {
    return c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
  } catch (const std::exception& e) {
    const std::string why = reason(e);
    const bool taken = why.find("EADDRINUSE") != std::string::npos ||
                       why.find("already in use") != std::string::npos;
    TT_CHECK(
        false, "MASTER_ADDR/MASTER_PORT", "rank ", env.rank, " could not ",
        env.rank == 0 ? "serve" : "reach", " the rendezvous at ", env.master_addr, ":",
        env.master_port, " (", why, "); ",
        taken
            ? "the port is taken (another job on this host?): choose a free one with --master_port"
        : env.rank == 0
            ? "check that MASTER_ADDR is this host (rank 0 serves it) and that the port is free "
              "(--master_port)"
            : "check that MASTER_ADDR is this job's first node, that rank 0 started, and the port "
              "(--master_port)");
  }
  return {};
}

#if defined(TT_HAVE_GLOO)
// Gloo binds one interface: GLOO_SOCKET_IFNAME when set, loopback for a loopback master,
// else the interface this host's name resolves to (as PyTorch's default device).
std::shared_ptr<::gloo::transport::Device> gloo_device(const DistributedEnv& env) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost")
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

}  // namespace

ProcessGroup::ProcessGroup(const DistributedEnv& env, at::Device device,
                           const ProcessGroupOptions& options)
    : rank_(env.rank), world_size_(env.world_size), device_(device) {
  store_ = rendezvous(env, options.timeout);
  if (device.is_cuda()) {
#if defined(TT_WITH_CUDA)
    // A collective past the timeout ends the process at once (the user may override these):
    // no debug dump to wait for first, no communicator teardown that could itself hang on a
    // dead peer.
    setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "3", /*overwrite=*/0);
    setenv("TORCH_NCCL_DUMP_ON_TIMEOUT", "0", /*overwrite=*/0);
    c10::cuda::set_device(device.index());
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = options.timeout;
    auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store_, static_cast<int>(rank_),
                                                          static_cast<int>(world_size_), opts);
    pg->setBoundDeviceId(device);  // one communicator, made now rather than at the first collective
    backend_ = pg;
#else
    TT_CHECK(false, "device", "this build has no CUDA; use device=cpu");
#endif
  } else {
#if defined(TT_HAVE_GLOO)
    auto opts = c10d::ProcessGroupGloo::Options::create(options.timeout);
    opts->devices.push_back(gloo_device(env));
    backend_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, static_cast<int>(rank_),
                                                           static_cast<int>(world_size_), opts);
#else
    TT_CHECK(false, "device",
             "this build has no CPU process groups (Gloo headers were not found); ",
             "install libgloo-dev and rebuild, or train on CUDA");
#endif
  }
  if (world_size_ > 1) monitor_ = std::thread([this, t = options.timeout] { monitor(t); });
}

void ProcessGroup::monitor(std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const std::string abort_key = "torchtune_cpp/abort";
  auto beat_key = [](int64_t r) { return "torchtune_cpp/heartbeat/" + std::to_string(r); };
  std::vector<int64_t> seen(static_cast<size_t>(world_size_), -1);
  std::vector<Clock::time_point> changed(static_cast<size_t>(world_size_), Clock::now());
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "error: rank %lld: %s; exiting\n", static_cast<long long>(rank_),
                 why.c_str());
    std::fflush(stderr);
    std::_Exit(1);
  };
  std::unique_lock<std::mutex> lock(monitor_mu_);
  while (!monitor_stop_) {
    try {
      store_->add(beat_key(rank_), 1);
      // add(key, 0) reads a counter without waiting for it to exist.
      if (const int64_t dead = store_->add(abort_key, 0); dead > 0)
        fail(str("rank ", dead - 1, " stopped (no heartbeat for ", timeout.count() / 1000, " s)"));
      const Clock::time_point now = Clock::now();
      for (int64_t r = 0; r < world_size_; ++r) {
        if (r == rank_ || (rank_ != 0 && r != 0))
          continue;  // rank 0 watches all, the others rank 0
        const int64_t v = store_->add(beat_key(r), 0);
        if (v != seen[r]) {
          seen[r] = v;
          changed[r] = now;
        } else if (now - changed[r] > timeout) {
          if (rank_ == 0) store_->add(abort_key, r + 1);
          fail(str("rank ", r, " stopped (no heartbeat for ", timeout.count() / 1000, " s)"));
        }
      }
    } catch (const std::exception& e) {
      if (monitor_stop_) break;
      fail(str("lost the rendezvous store (rank 0 gone?): ", reason(e)));
    }
    monitor_cv_.wait_for(lock, std::chrono::seconds(1));
  }
}

void ProcessGroup::stop_monitor() {
  {
    std::lock_guard<std::mutex> lock(monitor_mu_);
    monitor_stop_ = true;
  }
  monitor_cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
}

void ProcessGroup::finish() {
  stop_monitor();
  barrier();
}

ProcessGroup::~ProcessGroup() {
  stop_monitor();
  try {
    if (backend_) backend_->shutdown();
  } catch (...) {
    // A failing peer may already have broken the group; nothing is left to release cleanly.
  }
}

const char* ProcessGroup::backend_name() const {
  return device_.is_cuda() ? "nccl" : "gloo";
}

WorkPtr ProcessGroup::all_gather(at::Tensor& out, at::Tensor& in) {
  return backend_->_allgather_base(out, in);
}

WorkPtr ProcessGroup::reduce_scatter(at::Tensor& out, at::Tensor& in) {
  c10d::ReduceScatterOptions o;
  o.reduceOp = c10d::ReduceOp::SUM;
  return backend_->_reduce_scatter_base(out, in, o);
}

void ProcessGroup::all_reduce(at::Tensor& t, bool max) {
  std::vector<at::Tensor> v{t};
  c10d::AllreduceOptions o;
  o.reduceOp = max ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
  backend_->allreduce(v, o)->wait();
}

double ProcessGroup::sum(double value) {
  at::Tensor t = at::full({1}, value, at::TensorOptions().dtype(at::kDouble).device(device_));
  all_reduce(t);
  return t.item<double>();
}

int64_t ProcessGroup::max(int64_t value) {
  at::Tensor t = at::full({1}, value, at::TensorOptions().dtype(at::kLong).device(device_));
  all_reduce(t, /*max=*/true);
  return t.item<int64_t>();
}

void ProcessGroup::broadcast(at::Tensor& t, int64_t root) {
  std::vector<at::Tensor> v{t};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  backend_->broadcast(v, o)->wait();
}

void ProcessGroup::barrier() {
  max(0);
}

void ProcessGroup::all_succeed(const std::function<void()>& body, const std::string& what) {
  std::exception_ptr error;
  try {
    body();
  } catch (...) {
    error = std::current_exception();
  }
  // The lowest failing rank r reported as world_size - r: the largest value wins the MAX.
  const int64_t code = max(error ? world_size_ - rank_ : 0);
  if (error) std::rethrow_exception(error);
  if (code > 0)
    throw Error(str("rank ", rank_), str("stopped: rank ", world_size_ - code, " failed while ",
                                         what, " (its error says why)"));
}

std::optional<Error> collective_failure(const std::exception& e, int64_t rank) {
  if (dynamic_cast<const Error*>(&e) != nullptr) return std::nullopt;
  const std::string text = e.what();
  const bool gloo =
      text.find("gloo") != std::string::npos || text.find("Gloo") != std::string::npos;
  const bool nccl = text.find("NCCL") != std::string::npos;
  if (dynamic_cast<const c10::DistError*>(&e) == nullptr && !gloo && !nccl) return std::nullopt;
  return Error(
      str("rank ", rank),
      str("lost contact with the other ranks (",
          gloo   ? "Gloo"
          : nccl ? "NCCL"
                 : "c10d",
          ": ", reason(e),
          "): another process of this job stopped (its own error says why) or its host became "
          "unreachable. Restart the job; resume_from_checkpoint=True continues from the last "
          "checkpoint"));
}

std::string ProcessGroup::broadcast_string(const std::string& value, int64_t root) {
  const std::string key = "torchtune_cpp/broadcast/" + std::to_string(broadcasts_++);
  if (rank_ == root) {
    store_->set(key, std::vector<uint8_t>(value.begin(), value.end()));
    return value;
  }
  std::vector<uint8_t> bytes = store_->get(key);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace tt::distributed
