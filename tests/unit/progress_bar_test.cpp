// The progress bar's text (tqdm's layout), its resumed start, and that it stays silent when
// disabled (output not a terminal).
#include <gtest/gtest.h>

#include <cstdio>

#include "torchtune_cpp/training/progress_bar.h"

namespace tt {
namespace {

TEST(ProgressBar, RendersLikeTqdmAndCountsOnlyThisRunsSteps) {
  training::ProgressBar bar(48, 8, /*enabled=*/false, stdout);
  // Resumed at step 8: 4 more steps in 2 s is 2 it/s, 36 to go is 18 s.
  EXPECT_EQ(bar.render(12, "1|12|Loss: 2.5", 2.0),
            "1|12|Loss: 2.5:  25%|\u2588\u2588\u2588\u2588\u2588               | 12/48 "
            "[00:02<00:18, 2.00it/s]");
  EXPECT_EQ(bar.render(8, "1|8|Loss: 3", 0.0),
            "1|8|Loss: 3:  16%|\u2588\u2588\u2588                 | 8/48 [00:00<?, ?it/s]");
  EXPECT_EQ(bar.render(10, "x", 5000.0).substr(0, 8), "x:  20%|");
  EXPECT_NE(bar.render(10, "x", 5000.0).find("[1:23:20<"), std::string::npos);
  EXPECT_NE(bar.render(10, "x", 5000.0).find("2500.00s/it]"), std::string::npos);
}

TEST(ProgressBar, DisabledWritesNothing) {
  std::FILE* f = std::tmpfile();
  {
    training::ProgressBar bar(10, 0, /*enabled=*/false, f);
    bar.update(3, "1|3|Loss: 1");
    bar.close();
  }
  EXPECT_EQ(std::ftell(f), 0);
  {
    training::ProgressBar bar(10, 0, /*enabled=*/true, f);
    bar.update(3, "1|3|Loss: 1");
  }
  EXPECT_GT(std::ftell(f), 0);
  std::fclose(f);
}

}  // namespace
}  // namespace tt
