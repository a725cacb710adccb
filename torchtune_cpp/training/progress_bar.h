// A terminal progress bar for the training loop, as torchtune shows with tqdm:
//   1|12|Loss: 2.3456:  25%|█████               | 12/48 [00:07<00:21,  1.70it/s]
// Drawn in place on stdout when stdout is a terminal; a run whose output goes to a file or a
// pipe (schedulers, CI) gets no bar (the metric logger records every step anyway). A resumed
// run starts the bar at the resumed step; the rate and ETA count only this run's steps.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace tt::training {

class ProgressBar {
 public:
  // `total` steps, already at `initial`; `enabled` defaults to "stdout is a terminal".
  ProgressBar(int64_t total, int64_t initial);
  ProgressBar(int64_t total, int64_t initial, bool enabled, std::FILE* out);
  ~ProgressBar();

  bool enabled() const { return enabled_; }
  // Moves to step `n` (absolute) with the description shown before the bar.
  void update(int64_t n, const std::string& description);
  // Ends the line (the bar stays visible).
  void close();
  // Wipes the bar from its line so other output can be printed there; the next update()
  // draws it again.
  void clear();

  // The text update() draws, for a given elapsed time; exposed for tests.
  std::string render(int64_t n, const std::string& description, double elapsed_s) const;

 private:
  int64_t total_, initial_, n_ = 0;
  bool enabled_, open_ = false;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tt::training
