// The component registry: `_component_: torch.optim.AdamW` in a config names a C++ builder
// registered here under torchtune's dotted name, with its keyword arguments declared (name,
// type, default, accepted values), so configs written for Python torchtune are checked and
// built unchanged, and `tune validate` checks exactly what building checks.
//
// Generic: this file knows no component. Each library folder registers its own builders
// (see torchtune_cpp/components.h), and recipes instantiate them:
//
//   auto opt = tt::config::instantiate<training::OptimizerPtr, NamedParameters>(cfg, "optimizer",
//   {}, params);
//
// As torchtune v0.6: positional arguments come from the recipe, config fields are keywords,
// and keywords given at the call site override the config's.
#pragma once

#include <any>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/config/constraint.h"
#include "torchtune_cpp/config/node.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::config {

enum class ArgType {
  kAny,
  kBool,
  kInt,
  kFloat,  // ints accepted, as Python accepts 1 for a float
  kString,
  kList,
  kStringList,
  kNumberList,
  kMap,
  kListOrMap,  // e.g. checkpoint_files: a list, or {filename_format, max_filename}
};

std::string describe(ArgType type);

struct ArgSpec {
  std::string name;
  ArgType type = ArgType::kAny;
  std::optional<std::string> default_value;  // YAML text; nullopt means required
  std::string help;
  // Passed as a keyword by the recipe (e.g. the scheduler's num_training_steps): required at
  // instantiation, optional in a config on its own (`tune validate`).
  bool from_recipe = false;
  // What values are accepted beyond the type (bounds, one-of), checked wherever the type is.
  Constraint check;

  bool required() const { return !default_value.has_value(); }
};

// A required keyword argument.
ArgSpec arg(std::string name, ArgType type, std::string help = {});
// A keyword argument with a default (YAML text: "2e-5", "null", "[0.9, 0.999]").
ArgSpec arg(std::string name, ArgType type, std::string default_yaml, std::string help);
// The same, with a value constraint (constraint.h).
ArgSpec arg(std::string name, ArgType type, std::string help, Constraint check);
ArgSpec arg(std::string name, ArgType type, std::string default_yaml, std::string help,
            Constraint check);
// A required keyword argument the recipe passes at the call site.
ArgSpec recipe_arg(std::string name, ArgType type, std::string help = {});

class Kwargs;
struct Problem;

struct ComponentSpec {
  std::string name;                     // torchtune's dotted name
  std::string kind;                     // what it builds: "model", "optimizer", ...
  std::string summary;                  // one line, for docs and listings
  std::vector<std::string> positional;  // supplied by the recipe (e.g. "params"), never by config
  std::vector<ArgSpec> args;
  std::vector<std::string> aliases;  // older dotted names (torchtune.utils.*)
  bool accepts_any_kwargs = false;   // **kwargs in torchtune's signature
  // Rules across arguments (each value alone being fine, e.g. SGD's nesterov needs a
  // momentum), checked with the arguments by `tune validate` and at instantiation alike.
  // Sees the config's fields with the defaults; arguments the recipe passes may be absent.
  std::function<std::vector<Problem>(const Kwargs&)> cross_check;

  const ArgSpec* find_arg(const std::string& name) const;
};

// One problem found while checking a config; `where` is "key (file:line:col)".
struct Problem {
  std::string where;
  std::string message;
};

// The keyword arguments a builder receives: the config node's fields, checked against the
// spec, with the spec's defaults for fields not given.
class Kwargs {
 public:
  Kwargs(const ComponentSpec& spec, Node fields, std::string key);

  const ComponentSpec& spec() const { return *spec_; }
  const std::string& key() const { return key_; }

  // Given (or defaulted) and not null.
  bool has(const std::string& name) const;
  // Written in the config (or at the call site), null included; false when defaulted.
  bool given(const std::string& name) const { return fields_.find(name) != nullptr; }
  // The given value, else the declared default.
  const Node& node(const std::string& name) const;
  // "optimizer.lr (file:line:col)" (just "optimizer.lr" for a default).
  std::string where(const std::string& name) const;

  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  std::string get_string(const std::string& name) const;
  std::vector<std::string> get_string_list(const std::string& name) const;
  std::vector<double> get_number_list(const std::string& name) const;
  std::optional<int64_t> get_optional_int(const std::string& name) const;
  std::optional<double> get_optional_double(const std::string& name) const;
  std::optional<std::string> get_optional_string(const std::string& name) const;

 private:
  const ComponentSpec* spec_;
  Node fields_;
  std::vector<std::pair<std::string, Node>> defaults_;
  std::string key_;
};

template <class T, class... Positional>
using Builder = std::function<T(const Kwargs&, Positional...)>;

struct RegisteredComponent {
  ComponentSpec spec;
  std::any builder;  // a Builder<T, Positional...>
};

// Registers a builder under spec.name and its aliases. Registering a name twice replaces
// the earlier entry (so tests and user programs can override a built-in).
void register_any(ComponentSpec spec, std::any builder);

// register_component<Product, Positional...>(spec, callable): the callable is invoked as
// callable(const Kwargs&, Positional...) and returns Product.
template <class T, class... Positional, class F>
void register_component(ComponentSpec spec, F&& builder) {
  register_any(std::move(spec), std::any(Builder<T, Positional...>(std::forward<F>(builder))));
}

// A torchtune component this project does not provide, with what to use instead and its
// kind ("model", "tokenizer", ...: the message then lists the registered components of that
// kind). Naming it in a config gives that message rather than "unknown component".
void register_unsupported(const std::string& name, const std::string& alternative,
                          const std::string& kind = {});

struct Unsupported {
  std::string alternative;
  std::string kind;
};

const RegisteredComponent* find_component(const std::string& name);
std::optional<Unsupported> unsupported_component(const std::string& name);
std::optional<std::string> unsupported_alternative(const std::string& name);
std::vector<std::string> registered_names();  // sorted, aliases included

// Checks one component node (resolved) at dotted `key` against its builder's declared
// arguments (names, types, value constraints); returns every problem found. Positional arguments
// are never required here; recipe-passed keywords only when `with_recipe_kwargs` (the node holds
// the call site's too).
std::vector<Problem> check_component(const Node& node, const std::string& key,
                                     bool with_recipe_kwargs = true);

// Checks one value (resolved) against its declaration: null where allowed, the type, the
// constraint. `key` is the dotted key for messages; `owner` names what declares it ("",
// or "torch.optim.AdamW") in the type messages.
std::vector<Problem> check_value(const Node& value, const ArgSpec& spec, const std::string& key,
                                 const std::string& owner = {});

// "optimizer.lr (file:line:col)", or just the key for a value with no location.
std::string where_of(const Node& value, const std::string& key);

// Throws one tt::Error listing every problem.
[[noreturn]] void fail_with(const std::vector<Problem>& problems);

// Builds the component at dotted `key` of `cfg`: call-site keywords (`call_kwargs`, a map)
// override the config's, interpolations resolve against the whole config.
template <class T, class... Positional>
T instantiate(const Config& cfg, const std::string& key, const Node& call_kwargs,
              Positional... positional);

// Internal: steps shared by every instantiate<T>.
struct Prepared {
  const RegisteredComponent* component;
  Node fields;  // resolved, without _component_
};
Prepared prepare(const Config& cfg, const std::string& key, const Node& call_kwargs);
[[noreturn]] void fail_product(const Prepared& prepared, const std::string& key);

template <class T, class... Positional>
T instantiate(const Config& cfg, const std::string& key, const Node& call_kwargs,
              Positional... positional) {
  Prepared p = prepare(cfg, key, call_kwargs);
  const auto* builder = std::any_cast<Builder<T, Positional...>>(&p.component->builder);
  if (builder == nullptr) fail_product(p, key);
  Kwargs kwargs(p.component->spec, std::move(p.fields), key);
  return (*builder)(kwargs, std::forward<Positional>(positional)...);
}

}  // namespace tt::config
