// Metric loggers as torchtune.training.metric_logging: the recipe logs `loss`, `lr`, ... per
// step through one MetricLogger chosen by the config's `metric_logger._component_`.
//
//   DiskLogger         log_dir/log_{unix time}.txt, lines "Step 3 | loss:1.5 lr:2e-05 "
//   StdoutLogger       the same lines on stdout
//   TensorBoardLogger  TensorBoard event files with scalars as torch.utils.tensorboard's
//                      add_scalar writes them (no TensorFlow or protobuf library needed)
//   JsonlLogger        ours: one JSON object per step, for scripts
//
// Values are doubles printed as Python prints a float, so the text equals torchtune's. The
// recipes log some values as 0-dim float32/bf16 tensors (loss, tokens_per_second_per_gpu,
// grad_norm), which Python prints widened to double: pass `double(tensor.item<float>())`,
// not a value computed in double, to get the same digits.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "torchtune_cpp/config/config.h"

namespace tt::training {

// name -> value, in the order the recipe built them (torchtune's dict order).
using MetricValues = std::vector<std::pair<std::string, double>>;

class MetricLogger {
 public:
  virtual ~MetricLogger() = default;
  virtual void log(const std::string& name, double value, int64_t step) = 0;
  virtual void log_dict(const MetricValues& values, int64_t step) = 0;
  // As torchtune's save_config (every logger): the config as given, interpolations kept, to
  // <output_dir>/torchtune_config.yaml. Like torchtune, a failure is a warning on stderr,
  // never the end of the run.
  virtual void log_config(const config::Config& cfg);
  // Flushes and releases the file; torchtune's loggers must not be used afterwards.
  virtual void close() = 0;
};

using MetricLoggerPtr = std::shared_ptr<MetricLogger>;

// time.time(): seconds since the epoch, sub-second precision.
double unix_time_now();

class DiskLogger : public MetricLogger {
 public:
  // Creates log_dir; appends to log_dir/filename, or log_dir/log_{int(time.time())}.txt.
  explicit DiskLogger(const std::string& log_dir,
                      std::optional<std::string> filename = std::nullopt);
  ~DiskLogger() override;

  const std::filesystem::path& path_to_log_file() const { return path_; }
  void log(const std::string& name, double value, int64_t step) override;
  void log_dict(const MetricValues& values, int64_t step) override;
  void close() override;

 private:
  void write(const std::string& text);

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

class StdoutLogger : public MetricLogger {
 public:
  explicit StdoutLogger(std::ostream& out);  // tests print elsewhere
  StdoutLogger();                            // std::cout

  void log(const std::string& name, double value, int64_t step) override;
  void log_dict(const MetricValues& values, int64_t step) override;
  void close() override;

 private:
  std::ostream* out_;
};

// torch.utils.tensorboard's SummaryWriter as torchtune drives it: the event file
// log_dir[/run_{rank}_{time.time()}]/events.out.tfevents.{%010d time}.{host}.{pid}.{n}, a
// first event with file_version "brain.Event:2", then one event per scalar as
// SummaryWriter.add_scalar writes it by default: a Summary.Value with simple_value, the value
// rounded to float32. torchtune asks for add_scalar's new_style (a tensor summary), which
// TensorBoard's web page draws but its EventAccumulator files under "tensors", not
// "scalars"; simple values are read as scalars by both, and by every script that reads
// Scalars(tag). Only rank 0 writes, as in torchtune; other ranks create nothing. Every event
// is flushed at once (SummaryWriter waits up to 120 s), so a killed run keeps its curve.
class TensorBoardLogger : public MetricLogger {
 public:
  // `rank` defaults to the RANK environment variable that torchrun-style launchers set
  // (0 when unset), standing in for torch.distributed's rank.
  explicit TensorBoardLogger(const std::string& log_dir, bool organize_logs = true,
                             std::optional<int> rank = std::nullopt);
  ~TensorBoardLogger() override;

  const std::filesystem::path& log_dir() const { return log_dir_; }
  const std::filesystem::path& event_file() const { return path_; }  // empty off rank 0
  void log(const std::string& name, double value, int64_t step) override;
  void log_dict(const MetricValues& values, int64_t step) override;
  void close() override;

 private:
  void write_event(const std::string& event);

  std::filesystem::path log_dir_;
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

// Ours: log_dir/filename or log_dir/log_{int(time.time())}.jsonl, one line per call:
//   {"step": 3, "loss": 1.5, "lr": 2e-05}
// Numbers as Python prints them; NaN and infinities as Python's json module writes them
// (NaN, Infinity, -Infinity), which json.loads and pandas read back.
class JsonlLogger : public MetricLogger {
 public:
  explicit JsonlLogger(const std::string& log_dir,
                       std::optional<std::string> filename = std::nullopt);
  ~JsonlLogger() override;

  const std::filesystem::path& path_to_log_file() const { return path_; }
  void log(const std::string& name, double value, int64_t step) override;
  void log_dict(const MetricValues& values, int64_t step) override;
  void close() override;

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

// The TensorBoard event-file encoding, exposed for tests.
namespace tensorboard {

// CRC-32C (Castagnoli), as TFRecord uses; `crc` continues an earlier result.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);
// TFRecord's masking: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t size);
// One TFRecord: uint64 length, masked CRC of the length, data, masked CRC of the data.
std::string tfrecord(const std::string& data);
// Serialized Event protos, byte-equal to Python protobuf's serialization of the same;
// scalar_event's to Event(summary=torch.utils.tensorboard.summary.scalar(tag, value), ...).
std::string file_version_event(double wall_time);
std::string scalar_event(double wall_time, int64_t step, const std::string& tag, float value);

}  // namespace tensorboard

// Registers DiskLogger, StdoutLogger, TensorBoardLogger under
// torchtune.training.metric_logging.* (and torchtune.utils.metric_logging.*), and
// torchtune_cpp.training.JsonlLogger; each builds a MetricLoggerPtr.
void register_metric_loggers();

}  // namespace tt::training
