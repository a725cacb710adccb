// Progress bar rendering.
#include "torchtune_cpp/training/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace tt::training {

namespace {

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  return buf;
}

}  // namespace

ProgressBar::ProgressBar(int64_t total, int64_t initial)
    : ProgressBar(total, initial, ::isatty(::fileno(stdout)) != 0, stdout) {}

ProgressBar::ProgressBar(int64_t total, int64_t initial, bool enabled, std::FILE* out)
    : total_(total),
      initial_(initial),
      n_(initial),
      enabled_(enabled),
      out_(out),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  close();
}

std::string ProgressBar::render(int64_t n, const std::string& description, double elapsed_s) const {
  constexpr int kWidth = 20;
  const double frac = total_ > 0 ? std::clamp(static_cast<double>(n) / total_, 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar;
  for (int i = 0; i < kWidth; ++i) bar += i < filled ? "\u2588" : " ";
  const int64_t done = n - initial_;  // steps of this run
  const double rate = elapsed_s > 0 && done > 0 ? done / elapsed_s : NAN;
  const double eta = std::isnan(rate) ? NAN : (total_ - n) / rate;
  char rate_text[32];
  if (std::isnan(rate))
    std::snprintf(rate_text, sizeof rate_text, "?it/s");
  else if (rate >= 1.0)
    std::snprintf(rate_text, sizeof rate_text, "%.2fit/s", rate);
  else
    std::snprintf(rate_text, sizeof rate_text, "%.2fs/it", 1.0 / rate);
  char head[16];
  std::snprintf(head, sizeof head, "%3d%%", static_cast<int>(frac * 100));
  return description + ": " + head + "|" + bar + "| " + std::to_string(n) + "/" +
         std::to_string(total_) + " [" + clock_text(elapsed_s) + "<" + clock_text(eta) + ", " +
         rate_text + "]";
}

void ProgressBar::update(int64_t n, const std::string& description) {
  n_ = n;
  if (!enabled_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(out_, "\r\033[K%s", render(n, description, elapsed).c_str());
  std::fflush(out_);
  open_ = true;
}

void ProgressBar::clear() {
  if (enabled_ && open_) {
    std::fprintf(out_, "\r\033[K");
    std::fflush(out_);
    open_ = false;
  }
}

void ProgressBar::close() {
  if (enabled_ && open_) {
    std::fprintf(out_, "\n");
    std::fflush(out_);
  }
  open_ = false;
}

}  // namespace tt::training
