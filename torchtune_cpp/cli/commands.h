// The `tune` subcommands. Each takes the arguments after its name and returns the exit
// status; bad usage is a tt::Error.
#pragma once

#include <string>
#include <vector>

namespace tt::cli {

using Args = std::vector<std::string>;

int tune_main(const Args& args);  // dispatch: tune <subcommand> ...

int cmd_ls(const Args& args);
int cmd_cp(const Args& args);
int cmd_cat(const Args& args);
int cmd_validate(const Args& args);
int cmd_run(const Args& args);

}  // namespace tt::cli
