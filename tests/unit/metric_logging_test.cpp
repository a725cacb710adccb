// Metric loggers: DiskLogger/StdoutLogger text byte-equal to torchtune's own (fixtures from
// tests/scripts/make_metric_logging_fixtures.py), CRC-32C known answers, TensorBoard files
// read back by TensorBoard's EventAccumulator as scalars and compared with a file
// torch.utils.tensorboard writes for the same values (tests/interop/read_tensorboard.py,
// run with TT_TEST_PYTHON),
// JsonlLogger lines, building each logger from YAML, log_config, and the errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "tests/common/temp_dir.h"
#include "tests/unit/test_util.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/training/metric_logging.h"
#include "torchtune_cpp/utils/strings.h"

namespace tt {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
using tt::testing::TempDir;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<fs::path> files_under(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

config::Config yaml_config(const std::string& yaml) {
  return config::Config(config::parse_yaml(yaml, "c.yaml"), "c.yaml");
}

TEST(MetricLogging, PythonFloatStr) {
  EXPECT_EQ(python_float_str(1.5), "1.5");
  EXPECT_EQ(python_float_str(0.0001), "0.0001");
  EXPECT_EQ(python_float_str(1e-05), "1e-05");
  EXPECT_EQ(python_float_str(2.0), "2.0");
  EXPECT_EQ(python_float_str(-0.0), "-0.0");
  EXPECT_EQ(python_float_str(1e16), "1e+16");
  EXPECT_EQ(python_float_str(1e15), "1000000000000000.0");
  EXPECT_EQ(python_float_str(123456.789), "123456.789");
  EXPECT_EQ(python_float_str(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(python_float_str(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(python_float_str(static_cast<double>(0.1f)), "0.10000000149011612");
}

// Every call torchtune's DiskLogger and StdoutLogger made, with the text they produced.
TEST(MetricLogging, DiskAndStdoutTextEqualTorchtunes) {
  std::ifstream in(std::string(TT_SOURCE_DIR) +
                   "/tests/assets/golden/metric_logging/disk_lines.json");
  ASSERT_TRUE(in.good()) << "run tests/scripts/make_metric_logging_fixtures.py";
  nlohmann::json golden = nlohmann::json::parse(in);
  TempDir dir;
  training::DiskLogger disk(dir.str(), "golden.txt");
  std::ostringstream printed;
  training::StdoutLogger stdout_logger(printed);
  size_t disk_size = 0;
  ASSERT_GE(golden["cases"].size(), 8u);
  for (const auto& c : golden["cases"]) {
    training::MetricValues values;
    for (const auto& p : c["payload"])
      values.emplace_back(p[0].get<std::string>(),
                          std::strtod(p[1].get<std::string>().c_str(), nullptr));
    int64_t step = c["step"].get<int64_t>();
    printed.str("");
    if (c["method"] == "log") {
      ASSERT_EQ(values.size(), 1u);
      disk.log(values[0].first, values[0].second, step);
      stdout_logger.log(values[0].first, values[0].second, step);
    } else {
      disk.log_dict(values, step);
      stdout_logger.log_dict(values, step);
    }
    std::string text = read_all(disk.path_to_log_file());
    EXPECT_EQ(text.substr(disk_size), c["disk"].get<std::string>());
    EXPECT_EQ(printed.str(), c["stdout"].get<std::string>());
    disk_size = text.size();
  }
}

TEST(MetricLogging, DiskLoggerNamesByTimeAndAppends) {
  TempDir dir;
  auto before = static_cast<int64_t>(training::unix_time_now());
  {
    training::DiskLogger logger(dir.str() + "/nested/logs");
    std::smatch m;
    std::string name = logger.path_to_log_file().filename().string();
    ASSERT_TRUE(std::regex_match(name, m, std::regex(R"(log_(\d+)\.txt)"))) << name;
    int64_t ts = std::stoll(m[1]);
    EXPECT_GE(ts, before);
    EXPECT_LE(ts, static_cast<int64_t>(training::unix_time_now()));
    EXPECT_EQ(logger.path_to_log_file().parent_path(), dir.path() / "nested/logs");
  }
  {
    training::DiskLogger a(dir.str(), "run.txt");
    a.log("loss", 1.0, 1);
    // Written through at once: readable while the logger is still open.
    EXPECT_EQ(read_all(dir.path() / "run.txt"), "Step 1 | loss:1.0\n");
  }
  training::DiskLogger b(dir.str(), "run.txt");  // append mode, as torchtune's open(..., "a")
  b.log_dict({{"loss", 0.5}}, 2);
  b.close();
  EXPECT_EQ(read_all(dir.path() / "run.txt"), "Step 1 | loss:1.0\nStep 2 | loss:0.5 \n");
  testing::expect_error([&] { b.log("loss", 1.0, 3); }, {"run.txt", "after close()"});
}

TEST(MetricLogging, Crc32cKnownAnswers) {
  EXPECT_EQ(training::tensorboard::crc32c("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0'), ones(32, '\xff');
  EXPECT_EQ(training::tensorboard::crc32c(zeros.data(), zeros.size()),
            0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(training::tensorboard::crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(training::tensorboard::crc32c("", 0), 0u);
  // Continuing a CRC equals one CRC over the whole.
  EXPECT_EQ(training::tensorboard::crc32c("56789", 5, training::tensorboard::crc32c("1234", 4)),
            0xE3069283u);
  uint32_t crc = 0xE3069283u;
  EXPECT_EQ(training::tensorboard::masked_crc32c("123456789", 9),
            ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST(MetricLogging, TfRecordFraming) {
  std::string data = "hello";
  std::string rec = training::tensorboard::tfrecord(data);
  ASSERT_EQ(rec.size(), 8 + 4 + data.size() + 4);
  EXPECT_EQ(rec.substr(0, 8), std::string("\x05\0\0\0\0\0\0\0", 8));
  auto u32_at = [&](size_t pos) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<uint32_t>(static_cast<unsigned char>(rec[pos + i])) << (8 * i);
    return v;
  };
  EXPECT_EQ(u32_at(8), training::tensorboard::masked_crc32c(rec.data(), 8));
  EXPECT_EQ(rec.substr(12, 5), data);
  EXPECT_EQ(u32_at(17), training::tensorboard::masked_crc32c(data.data(), data.size()));
}

TEST(MetricLogging, ScalarEventBytes) {
  // wall_time 1.0, step 3, tag "a", value 1.0f: the bytes of Python protobuf's
  // Event(summary=torch.utils.tensorboard.summary.scalar("a", 1.0), wall_time=1.0, step=3).
  const char kWant[] =
      "\x09\x00\x00\x00\x00\x00\x00\xf0\x3f"  // wall_time
      "\x10\x03"                              // step
      "\x2a\x0a\x0a\x08"                      // summary, its value
      "\x0a\x01\x61"                          // tag "a"
      "\x15\x00\x00\x80\x3f";                 // simple_value 1.0f
  std::string want(kWant, sizeof kWant - 1);
  EXPECT_EQ(training::tensorboard::scalar_event(1.0, 3, "a", 1.0f), want);
  // Step 0 is proto3's default and is left out; simple_value 0.0 is a oneof member and kept.
  EXPECT_EQ(training::tensorboard::scalar_event(1.0, 0, "a", 0.0f),
            want.substr(0, 9) + want.substr(11, 8) + std::string("\0\0\0\0", 4));
}

bool python_has_tensorboard() {
  std::string command = std::string(TT_TEST_PYTHON) +
                        " -c 'import tensorboard, torch.utils.tensorboard' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

// Runs read_tensorboard.py; its output goes to a file shown on failure.
void expect_tensorboard_reads(const fs::path& dir, const std::string& expected_json) {
  std::ofstream(dir / "expected.json") << expected_json;
  fs::path out = dir / "reader_output.txt";
  std::string command = std::string(TT_TEST_PYTHON) + " " + TT_SOURCE_DIR +
                        "/tests/interop/read_tensorboard.py " + (dir / "tb").string() +
                        " --expect " + (dir / "expected.json").string() + " >" + out.string() +
                        " 2>&1";
  int status = std::system(command.c_str());
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << command << "\n"
      << read_all(out) << "\nexpected: " << expected_json;
}

TEST(MetricLogging, TensorBoardRoundTripThroughTensorBoard) {
  if (!python_has_tensorboard()) GTEST_SKIP() << TT_TEST_PYTHON << " lacks tensorboard";
  TempDir dir;
  training::TensorBoardLogger logger((dir.path() / "tb").string(), /*organize_logs=*/true,
                                     /*rank=*/0);
  std::string run = logger.log_dir().filename().string();
  EXPECT_TRUE(std::regex_match(run, std::regex(R"(run_0_\d{10}(\.\d+)?)"))) << run;
  std::string file = logger.event_file().filename().string();
  EXPECT_TRUE(std::regex_match(file, std::regex(R"(events\.out\.tfevents\.\d{10}\..+\.\d+\.\d+)")))
      << file;
  logger.log("loss", 2.5, 0);
  logger.log_dict({{"loss", 1.2345678901}, {"lr", 2e-5}, {"train/grad norm", 1e30}}, 1);
  logger.log_dict({{"loss", std::numeric_limits<double>::quiet_NaN()}, {"lr", -0.0}}, 2);
  logger.log("lr", 1e-50, int64_t{1} << 40);  // float32 underflow; a 6-byte varint step
  // Written through at once: readable before close().
  auto f32 = [](double v) { return python_float_str(static_cast<float>(v)); };
  std::string expected = "{\"tags\": {\"loss\": [[0, 2.5], [1, " + f32(1.2345678901) +
                         "], [2, NaN]], \"lr\": [[1, " + f32(2e-5) +
                         "], [2, -0.0], [1099511627776, 0.0]], " + "\"train/grad norm\": [[1, " +
                         f32(1e30) + "]]}}";
  expect_tensorboard_reads(dir.path(), expected);
  logger.close();
  logger.log("loss", 1.0, 3);  // after close: nothing, as torchtune
  expect_tensorboard_reads(dir.path(), expected);
}

TEST(MetricLogging, TensorBoardOnlyRankZeroWrites) {
  TempDir dir;
  training::TensorBoardLogger other((dir.path() / "tb").string(), true, /*rank=*/1);
  other.log("loss", 1.0, 1);
  EXPECT_TRUE(other.event_file().empty());
  EXPECT_EQ(other.log_dir().filename().string().rfind("run_1_", 0), 0u);
  EXPECT_FALSE(fs::exists(dir.path() / "tb"));
  training::TensorBoardLogger flat((dir.path() / "flat").string(), /*organize_logs=*/false, 0);
  EXPECT_EQ(flat.event_file().parent_path(), dir.path() / "flat");
}

TEST(MetricLogging, JsonlLines) {
  TempDir dir;
  training::JsonlLogger logger(dir.str(), "m.jsonl");
  logger.log_dict(
      {{"loss", 1.5}, {"lr", 2e-05}, {"na\"me", std::numeric_limits<double>::infinity()}}, 3);
  logger.log("loss", std::numeric_limits<double>::quiet_NaN(), 4);
  logger.close();
  EXPECT_EQ(read_all(dir.path() / "m.jsonl"),
            "{\"step\": 3, \"loss\": 1.5, \"lr\": 2e-05, \"na\\\"me\": Infinity}\n"
            "{\"step\": 4, \"loss\": NaN}\n");
  training::JsonlLogger named(dir.str());
  EXPECT_TRUE(std::regex_match(named.path_to_log_file().filename().string(),
                               std::regex(R"(log_\d+\.jsonl)")));
}

TEST(MetricLogging, BuiltFromYamlWithInterpolatedLogDir) {
  training::register_metric_loggers();
  TempDir dir;
  struct Case {
    std::string component;
    std::string extra;
  };
  for (const Case& c :
       {Case{"torchtune.training.metric_logging.DiskLogger", "  filename: d.txt\n"},
        Case{"torchtune.utils.metric_logging.DiskLogger", "  unknown_kwarg: 1\n"},
        Case{"torchtune.training.metric_logging.TensorBoardLogger", "  organize_logs: False\n"},
        Case{"torchtune.utils.metric_logging.TensorBoardLogger", ""},
        Case{"torchtune_cpp.training.JsonlLogger", "  filename: j.jsonl\n"}}) {
    SCOPED_TRACE(c.component);
    fs::remove_all(dir.path() / "logs");
    auto cfg =
        yaml_config("output_dir: " + dir.str() + "\nmetric_logger:\n  _component_: " + c.component +
                    "\n  log_dir: ${output_dir}/logs\n" + c.extra);
    auto logger =
        config::instantiate<training::MetricLoggerPtr>(cfg, "metric_logger", config::Node::map());
    ASSERT_TRUE(logger);
    logger->log_dict({{"loss", 1.0}}, 1);
    logger->close();
    auto files = files_under(dir.path() / "logs");
    ASSERT_EQ(files.size(), 1u);
    EXPECT_GT(fs::file_size(files[0]), 0u);
  }
  EXPECT_TRUE(fs::exists(dir.path() / "logs/j.jsonl"));
  auto cfg = yaml_config(
      "metric_logger:\n  _component_: torchtune.training.metric_logging.StdoutLogger\n");
  EXPECT_TRUE(
      config::instantiate<training::MetricLoggerPtr>(cfg, "metric_logger", config::Node::map()));
  // StdoutLogger takes no arguments in torchtune (no **kwargs).
  auto bad = yaml_config(
      "metric_logger:\n  _component_: torchtune.training.metric_logging.StdoutLogger\n"
      "  log_dir: /tmp\n");
  testing::expect_error(
      [&] {
        config::instantiate<training::MetricLoggerPtr>(bad, "metric_logger", config::Node::map());
      },
      {"metric_logger", "log_dir"});
  auto missing =
      yaml_config("metric_logger:\n  _component_: torchtune.training.metric_logging.DiskLogger\n");
  testing::expect_error(
      [&] {
        config::instantiate<training::MetricLoggerPtr>(missing, "metric_logger",
                                                       config::Node::map());
      },
      {"log_dir"});
}

TEST(MetricLogging, UnwritableLogDirNamesItAndTheKey) {
  training::register_metric_loggers();
  TempDir dir;
  std::ofstream(dir.path() / "a_file") << "x";
  std::string bad = (dir.path() / "a_file/logs").string();
  testing::expect_error([&] { training::DiskLogger logger(bad); },
                        {bad, "cannot create the metric log folder"});
  testing::expect_error([&] { training::TensorBoardLogger logger(bad, true, 0); },
                        {bad, "metric_logger.log_dir"});
  testing::expect_error([&] { training::JsonlLogger logger(bad); }, {bad});
  for (const char* component : {"torchtune.training.metric_logging.DiskLogger",
                                "torchtune.training.metric_logging.TensorBoardLogger",
                                "torchtune_cpp.training.JsonlLogger"}) {
    auto cfg = yaml_config(std::string("metric_logger:\n  _component_: ") + component +
                           "\n  log_dir: " + bad + "\n");
    testing::expect_error(
        [&] {
          config::instantiate<training::MetricLoggerPtr>(cfg, "metric_logger", config::Node::map());
        },
        {"c.yaml:3:", "metric_logger.log_dir", bad, "writable"});
  }
}

TEST(MetricLogging, LogConfigWritesTheConfigAsGivenToOutputDir) {
  TempDir dir;
  auto cfg = yaml_config("output_dir: " + dir.str() +
                         "/out\nmetric_logger:\n  log_dir: ${output_dir}/logs\n");
  training::StdoutLogger logger;
  logger.log_config(cfg);
  std::string saved = read_all(dir.path() / "out/torchtune_config.yaml");
  EXPECT_NE(saved.find("${output_dir}/logs"), std::string::npos) << saved;  // not resolved
  // Without output_dir torchtune only warns; so do we.
  ::testing::internal::CaptureStderr();
  training::StdoutLogger().log_config(yaml_config("batch_size: 2\n"));
  std::string warning = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("warning: c.yaml: has no output_dir"), std::string::npos) << warning;
}

}  // namespace
}  // namespace tt
