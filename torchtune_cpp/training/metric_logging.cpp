// The metric loggers, TensorBoard's event encoding (TFRecord framing, CRC-32C, hand-encoded
// protobuf) and their registration under torchtune's names.
#include "torchtune_cpp/training/metric_logging.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/strings.h"

namespace tt::training {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFixLogDir = "set metric_logger.log_dir to a writable folder";

fs::path make_log_dir(const std::string& log_dir) {
  TT_CHECK(!log_dir.empty(), "log_dir", "is empty; set it to a folder such as ${output_dir}/logs");
  std::error_code ec;
  fs::create_directories(log_dir, ec);
  TT_CHECK(!ec, log_dir, "cannot create the metric log folder (", ec.message(), "); ", kFixLogDir);
  return fs::path(log_dir);
}

std::FILE* open_file(const fs::path& path, const char* mode) {
  std::FILE* file = std::fopen(path.c_str(), mode);
  TT_CHECK(file != nullptr, path.string(), "cannot open the metric log for writing (",
           std::strerror(errno), "); ", kFixLogDir);
  return file;
}

// Writes and flushes at once: the log of a run killed mid-way ends at its last step.
void write_flushed(std::FILE* file, const fs::path& path, const std::string& text) {
  TT_CHECK(file != nullptr, path.string(), "the logger was used after close(); close it last");
  bool ok = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  ok = std::fflush(file) == 0 && ok;
  TT_CHECK(ok, path.string(), "could not write the metric log (", std::strerror(errno),
           "); check free disk space");
}

std::string default_file_name(const char* extension) {
  return str("log_", static_cast<int64_t>(unix_time_now()), extension);
}

// torchtune writes `if not filename: filename = log_{ts}.txt`, so "" also means the default.
std::string file_name_or(const std::optional<std::string>& filename, const char* extension) {
  return filename && !filename->empty() ? *filename : default_file_name(extension);
}

// "Step 3 | " + "name:value " per entry: torchtune's format, trailing space included.
std::string dict_line(const MetricValues& values, int64_t step) {
  std::string line = str("Step ", step, " | ");
  for (const auto& [name, value] : values) line += str(name, ":", python_float_str(value), " ");
  return line + "\n";
}

std::string single_line(const std::string& name, double value, int64_t step) {
  return str("Step ", step, " | ", name, ":", python_float_str(value), "\n");
}

int env_rank() {
  const char* text = std::getenv("RANK");
  if (text == nullptr || *text == '\0') return 0;
  char* end = nullptr;
  long rank = std::strtol(text, &end, 10);
  TT_CHECK(*end == '\0' && rank >= 0, "environment variable RANK", "is '", text,
           "', not a process rank; unset it or start the run with `tune run`");
  return static_cast<int>(rank);
}

std::string host_name() {
  std::array<char, 256> buf{};
  if (gethostname(buf.data(), buf.size() - 1) != 0) return "localhost";
  return buf.data();
}

// EventFileWriter numbers the files a process opens (its _global_uid), from 0.
std::atomic<int> next_event_file_id{0};

}  // namespace

double unix_time_now() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return static_cast<double>(ns.count()) / 1e9;
}

void MetricLogger::log_config(const config::Config& cfg) {
  try {
    TT_CHECK(cfg.has("output_dir"), cfg.origin(),
             "has no output_dir, so torchtune_config.yaml was not saved; add output_dir: <folder>");
    config::save_as_given(cfg, cfg.get_string("output_dir"));
  } catch (const Error& e) {
    std::cerr << "warning: " << e.where() << ": " << e.message() << "\n";
  }
}

// ---- DiskLogger ----------------------------------------------------------------------

DiskLogger::DiskLogger(const std::string& log_dir, std::optional<std::string> filename) {
  path_ = make_log_dir(log_dir) / file_name_or(filename, ".txt");
  file_ = open_file(path_, "a");
  std::cout << "Writing logs to " << path_.string() << std::endl;
}

DiskLogger::~DiskLogger() {
  close();
}

void DiskLogger::write(const std::string& text) {
  write_flushed(file_, path_, text);
}

void DiskLogger::log(const std::string& name, double value, int64_t step) {
  write(single_line(name, value, step));
}

void DiskLogger::log_dict(const MetricValues& values, int64_t step) {
  write(dict_line(values, step));
}

void DiskLogger::close() {
  if (file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
}

// ---- StdoutLogger --------------------------------------------------------------------

StdoutLogger::StdoutLogger(std::ostream& out) : out_(&out) {}
StdoutLogger::StdoutLogger() : out_(&std::cout) {}

void StdoutLogger::log(const std::string& name, double value, int64_t step) {
  *out_ << single_line(name, value, step) << std::flush;
}

void StdoutLogger::log_dict(const MetricValues& values, int64_t step) {
  *out_ << dict_line(values, step) << std::flush;
}

void StdoutLogger::close() {
  *out_ << std::flush;
}

// ---- TensorBoard encoding ------------------------------------------------------------

namespace tensorboard {

namespace {

std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected
    table[i] = c;
  }
  return table;
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

enum Wire { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_key(std::string& out, int field, Wire wire) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | wire);
}

void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out += bytes;
}

void put_double(std::string& out, int field, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_key(out, field, kFixed64);
  put_le(out, bits, 8);
}

// What identifies this writer in the file (Event.source_metadata.writer).
constexpr const char* kWriterName = "torchtune_cpp.training.TensorBoardLogger";

}  // namespace

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
  static const std::array<uint32_t, 256> table = make_crc32c_table();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string tfrecord(const std::string& data) {
  std::string out;
  put_le(out, data.size(), 8);
  put_le(out, masked_crc32c(out.data(), 8), 4);
  out += data;
  put_le(out, masked_crc32c(data.data(), data.size()), 4);
  return out;
}

// Fields are written in field-number order and proto3 defaults (0, "") omitted, as
// Python's protobuf serializes, so the bytes equal SummaryWriter's.
std::string file_version_event(double wall_time) {
  std::string source_metadata;
  put_bytes(source_metadata, 1, kWriterName);  // SourceMetadata.writer
  std::string event;
  if (wall_time != 0.0) put_double(event, 1, wall_time);  // Event.wall_time
  put_bytes(event, 3, "brain.Event:2");                   // Event.file_version
  put_bytes(event, 10, source_metadata);                  // Event.source_metadata
  return event;
}

std::string scalar_event(double wall_time, int64_t step, const std::string& tag, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  std::string summary_value;
  if (!tag.empty()) put_bytes(summary_value, 1, tag);  // Summary.Value.tag
  // Summary.Value.simple_value: a member of the `value` oneof, so written even when 0.0.
  put_key(summary_value, 2, kFixed32);
  put_le(summary_value, bits, 4);
  std::string summary;
  put_bytes(summary, 1, summary_value);  // Summary.value
  std::string event;
  if (wall_time != 0.0) put_double(event, 1, wall_time);
  if (step != 0) {  // Event.step; negative steps take 10 bytes, as int64 varints do
    put_key(event, 2, kVarint);
    put_varint(event, static_cast<uint64_t>(step));
  }
  put_bytes(event, 5, summary);  // Event.summary
  return event;
}

}  // namespace tensorboard

// ---- TensorBoardLogger ---------------------------------------------------------------

TensorBoardLogger::TensorBoardLogger(const std::string& log_dir, bool organize_logs,
                                     std::optional<int> rank) {
  int r = rank ? *rank : env_rank();
  // torchtune: os.path.join(log_dir, f"run_{rank}_{time.time()}") — the float time.
  log_dir_ = organize_logs
                 ? fs::path(log_dir) / str("run_", r, "_", python_float_str(unix_time_now()))
                 : fs::path(log_dir);
  if (r != 0) return;
  make_log_dir(log_dir_.string());
  path_ =
      log_dir_ / str("events.out.tfevents.", std::to_string(static_cast<int64_t>(unix_time_now())),
                     ".", host_name(), ".", getpid(), ".", next_event_file_id++);
  file_ = open_file(path_, "wb");
  write_event(tensorboard::file_version_event(unix_time_now()));
}

TensorBoardLogger::~TensorBoardLogger() {
  close();
}

void TensorBoardLogger::write_event(const std::string& event) {
  write_flushed(file_, path_, tensorboard::tfrecord(event));
}

void TensorBoardLogger::log(const std::string& name, double value, int64_t step) {
  // Off rank 0, and after close(), torchtune's writer is None and logging does nothing.
  if (file_ == nullptr) return;
  write_event(tensorboard::scalar_event(unix_time_now(), step, name, static_cast<float>(value)));
}

void TensorBoardLogger::log_dict(const MetricValues& values, int64_t step) {
  for (const auto& [name, value] : values) log(name, value, step);
}

void TensorBoardLogger::close() {
  if (file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
}

// ---- JsonlLogger ---------------------------------------------------------------------

namespace {

std::string json_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v < 0 ? "-Infinity" : "Infinity";
  return python_float_str(v);
}

std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

JsonlLogger::JsonlLogger(const std::string& log_dir, std::optional<std::string> filename) {
  path_ = make_log_dir(log_dir) / file_name_or(filename, ".jsonl");
  file_ = open_file(path_, "a");
  std::cout << "Writing logs to " << path_.string() << std::endl;
}

JsonlLogger::~JsonlLogger() {
  close();
}

void JsonlLogger::log(const std::string& name, double value, int64_t step) {
  log_dict({{name, value}}, step);
}

void JsonlLogger::log_dict(const MetricValues& values, int64_t step) {
  std::string line = str("{\"step\": ", step);
  for (const auto& [name, value] : values)
    line += str(", ", json_string(name), ": ", json_number(value));
  write_flushed(file_, path_, line + "}\n");
}

void JsonlLogger::close() {
  if (file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
}

// ---- Registration --------------------------------------------------------------------

namespace {

// Errors from the constructors name a path; from a config they also name the key.
template <class F>
MetricLoggerPtr naming_log_dir(const config::Kwargs& kw, F&& make) {
  try {
    return make();
  } catch (const Error& e) {
    throw Error(kw.where("log_dir"), str(e.where(), ": ", e.message()));
  }
}

std::optional<std::string> filename_arg(const config::Kwargs& kw) {
  return kw.get_optional_string("filename");
}

}  // namespace

void register_metric_loggers() {
  using namespace config;
  const std::string kOld = "torchtune.utils.metric_logging.";
  const std::string kNew = "torchtune.training.metric_logging.";
  register_component<MetricLoggerPtr>(
      ComponentSpec{kNew + "DiskLogger",
                    "metric_logger",
                    "lines 'Step N | name:value ...' appended to log_dir/log_{unix time}.txt",
                    {},
                    {arg("log_dir", ArgType::kString, "folder for the log file (created)"),
                     arg("filename", ArgType::kString, "null", "default: log_{unix time}.txt")},
                    {kOld + "DiskLogger"},
                    /*accepts_any_kwargs=*/true},
      [](const Kwargs& kw) {
        return naming_log_dir(kw, [&] {
          return std::make_shared<DiskLogger>(kw.get_string("log_dir"), filename_arg(kw));
        });
      });
  register_component<MetricLoggerPtr>(
      ComponentSpec{kNew + "StdoutLogger",
                    "metric_logger",
                    "lines 'Step N | name:value ...' on stdout",
                    {},
                    {},
                    {kOld + "StdoutLogger"}},
      [](const Kwargs&) { return std::make_shared<StdoutLogger>(); });
  register_component<MetricLoggerPtr>(
      ComponentSpec{
          kNew + "TensorBoardLogger",
          "metric_logger",
          "TensorBoard event files in log_dir/run_{rank}_{time} (rank 0 writes)",
          {},
          {arg("log_dir", ArgType::kString, "TensorBoard log folder (created)"),
           arg("organize_logs", ArgType::kBool, "True", "one run_{rank}_{time} subfolder per run")},
          {kOld + "TensorBoardLogger"},
          /*accepts_any_kwargs=*/true},
      [](const Kwargs& kw) {
        return naming_log_dir(kw, [&] {
          return std::make_shared<TensorBoardLogger>(kw.get_string("log_dir"),
                                                     kw.get_bool("organize_logs"));
        });
      });
  register_component<MetricLoggerPtr>(
      ComponentSpec{"torchtune_cpp.training.JsonlLogger",
                    "metric_logger",
                    "one JSON object per step appended to log_dir/log_{unix time}.jsonl",
                    {},
                    {arg("log_dir", ArgType::kString, "folder for the log file (created)"),
                     arg("filename", ArgType::kString, "null", "default: log_{unix time}.jsonl")}},
      [](const Kwargs& kw) {
        return naming_log_dir(kw, [&] {
          return std::make_shared<JsonlLogger>(kw.get_string("log_dir"), filename_arg(kw));
        });
      });
}

}  // namespace tt::training
