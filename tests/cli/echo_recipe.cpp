// A recipe program of the kind a user builds against torchtune_cpp (`tune cp` gives the
// CMake snippet): it registers a component of its own, parses --config and overrides the
// way every recipe does, checks the config, prints it resolved and builds its component.
// The CLI tests run it through `tune run`.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "torchtune_cpp/components.h"
#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/config/parse.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/config/validate.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/distributed/environment.h"
#include "torchtune_cpp/utils/check.h"

namespace {

struct Greeting {
  std::string text;
  int64_t times;
  bool loud;
};

void register_echo_components() {
  using namespace tt::config;
  register_component<Greeting>(
      ComponentSpec{"echo.Greeting",
                    "greeting",
                    "prints a line",
                    {},
                    {arg("text", ArgType::kString, "what to print"),
                     arg("times", ArgType::kInt, "1", "how often"),
                     arg("loud", ArgType::kBool, "False", "upper-case it")}},
      [](const Kwargs& kw) {
        return Greeting{kw.get_string("text"), kw.get_int("times"), kw.get_bool("loud")};
      });
}

// Under a multi-process launch: reports where this process sits; ECHO_FAIL_RANK=<r> makes
// rank r fail, ECHO_WAIT=1 makes the others wait to be stopped (launcher tests).
void distributed_probe() {
  tt::distributed::DistributedEnv env = tt::distributed::read_distributed_env();
  if (!env.distributed()) return;
  std::cout << "rank " << env.rank << " of " << env.world_size << ", local " << env.local_rank
            << " of " << env.local_world_size << ", master " << env.master_addr << ":"
            << env.master_port << " (" << env.launcher << ")" << std::endl;
  if (const char* fail = std::getenv("ECHO_FAIL_RANK"); fail && std::to_string(env.rank) == fail) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::exit(3);
  }
  if (const char* wait = std::getenv("ECHO_WAIT"); wait && std::string(wait) == "1")
    std::this_thread::sleep_for(std::chrono::seconds(120));
}

int echo_main(int argc, char** argv) {
  distributed_probe();
  tt::config::RecipeArgs args = tt::config::parse_recipe_args(argc, argv);
  if (args.help) {
    std::cout << tt::config::recipe_usage("echo_recipe");
    return 0;
  }
  tt::register_builtin_components();
  register_echo_components();
  std::cout << "config: " << args.config_path << "\n";
  tt::config::Config cfg = tt::config::Config::load(args.config_path, args.overrides);
  tt::config::enforce(tt::config::validate_config(cfg.raw(), {"greeting", "output_dir"}));
  std::cout << tt::config::describe_resolved(cfg, "echo_recipe");
  if (cfg.has("output_dir")) tt::config::save_as_given(cfg, cfg.get_string("output_dir"));
  if (cfg.has("greeting")) {
    Greeting g = tt::config::instantiate<Greeting>(cfg, "greeting", tt::config::Node::map());
    for (int64_t i = 0; i < g.times; ++i)
      std::cout << (g.loud ? "HELLO " : "hello ") << g.text << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return tt::run_main("echo_recipe", echo_main, argc, argv);
}
