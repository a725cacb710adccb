// Component registry, argument checking and the non-template half of instantiate().
#include "torchtune_cpp/config/registry.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "torchtune_cpp/config/interpolate.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/utils/strings.h"

namespace tt::config {

namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<RegisteredComponent>> by_name;
  std::map<std::string, std::string> unsupported;
};

Registry& registry() {
  static Registry r;
  return r;
}

std::string where_of(const Node& n, const std::string& fallback) {
  return n.loc.origin.empty() ? fallback : n.loc.str();
}

bool type_ok(const Node& v, ArgType type) {
  auto scalar_is = [](const Node& n, std::initializer_list<ScalarType> ok) {
    if (!n.is_scalar()) return false;
    return std::find(ok.begin(), ok.end(), n.scalar_type()) != ok.end();
  };
  switch (type) {
    case ArgType::kAny:
      return true;
    case ArgType::kBool:
      return scalar_is(v, {ScalarType::kBool});
    case ArgType::kInt:
      return scalar_is(v, {ScalarType::kInt});
    case ArgType::kFloat:
      return scalar_is(v, {ScalarType::kInt, ScalarType::kFloat});
    case ArgType::kString:
      return v.is_scalar();
    case ArgType::kList:
      return v.is_list();
    case ArgType::kStringList:
      return v.is_list() && std::all_of(v.items.begin(), v.items.end(),
                                        [](const Node& i) { return i.is_scalar() && !i.is_null(); });
    case ArgType::kNumberList:
      return v.is_list() && std::all_of(v.items.begin(), v.items.end(), [&](const Node& i) {
               return scalar_is(i, {ScalarType::kInt, ScalarType::kFloat});
             });
    case ArgType::kMap:
      return v.is_map();
    case ArgType::kListOrMap:
      return v.is_list() || v.is_map();
  }
  return false;
}

std::string shown(const Node& v) {
  if (v.is_scalar()) return str(describe_type(v), " '", v.text, "'");
  return describe_type(v);
}

}  // namespace

std::string describe(ArgType type) {
  switch (type) {
    case ArgType::kAny:
      return "any value";
    case ArgType::kBool:
      return "a boolean (True/False)";
    case ArgType::kInt:
      return "an integer";
    case ArgType::kFloat:
      return "a number";
    case ArgType::kString:
      return "text";
    case ArgType::kList:
      return "a list";
    case ArgType::kStringList:
      return "a list of text values";
    case ArgType::kNumberList:
      return "a list of numbers";
    case ArgType::kMap:
      return "a mapping";
    case ArgType::kListOrMap:
      return "a list or a mapping";
  }
  return "a value";
}

ArgSpec arg(std::string name, ArgType type, std::string help) {
  return ArgSpec{std::move(name), type, std::nullopt, std::move(help)};
}
ArgSpec arg(std::string name, ArgType type, std::string default_yaml, std::string help) {
  return ArgSpec{std::move(name), type, std::move(default_yaml), std::move(help)};
}
ArgSpec recipe_arg(std::string name, ArgType type, std::string help) {
  ArgSpec a{std::move(name), type, std::nullopt, std::move(help)};
  a.from_recipe = true;
  return a;
}

const ArgSpec* ComponentSpec::find_arg(const std::string& arg_name) const {
  for (const ArgSpec& a : args)
    if (a.name == arg_name) return &a;
  return nullptr;
}

void register_any(ComponentSpec spec, std::any builder) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto entry = std::make_shared<RegisteredComponent>(
      RegisteredComponent{std::move(spec), std::move(builder)});
  r.by_name[entry->spec.name] = entry;
  r.unsupported.erase(entry->spec.name);
  for (const std::string& alias : entry->spec.aliases) {
    r.by_name[alias] = entry;
    r.unsupported.erase(alias);
  }
}

void register_unsupported(const std::string& name, const std::string& alternative) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (r.by_name.count(name) == 0) r.unsupported[name] = alternative;
}

const RegisteredComponent* find_component(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.by_name.find(name);
  return it == r.by_name.end() ? nullptr : it->second.get();
}

std::optional<std::string> unsupported_alternative(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.unsupported.find(name);
  if (it == r.unsupported.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> registered_names() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> out;
  for (const auto& kv : r.by_name) out.push_back(kv.first);
  return out;
}

namespace {
std::vector<std::string> known_names() {
  std::vector<std::string> out = registered_names();
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const auto& kv : r.unsupported) out.push_back(kv.first);
  return out;
}
}  // namespace

std::vector<Problem> check_component(const Node& node, const std::string& key,
                                     bool with_recipe_kwargs) {
  std::vector<Problem> problems;
  auto add = [&](const Node& at, std::string message) {
    problems.push_back(Problem{where_of(at, str("key '", key, "'")), std::move(message)});
  };
  if (!node.is_map()) {
    add(node, str(key, ": expected a component (a mapping with a _component_ field), got ",
                  shown(node)));
    return problems;
  }
  const Node* comp = node.find("_component_");
  if (comp == nullptr) {
    add(node, str(key, ": Cannot instantiate specified object. Make sure you've specified a "
                  "_component_ field with a valid dotpath."));
    return problems;
  }
  if (!comp->is_scalar() || comp->is_null() || comp->text.empty()) {
    add(*comp, str(key, "._component_: expected a dotted name such as torch.optim.AdamW, got ",
                   shown(*comp)));
    return problems;
  }
  const std::string& name = comp->text;
  const RegisteredComponent* rc = find_component(name);
  if (rc == nullptr) {
    if (auto alt = unsupported_alternative(name)) {
      add(*comp, str(key, ": '", name, "' is a torchtune component that torchtune_cpp does not "
                     "provide. ", *alt));
    } else {
      add(*comp, str(key, ": unknown component '", name, "'.",
                     did_you_mean(name, known_names()),
                     " `tune ls --components` lists the registered names."));
    }
    return problems;
  }
  const ComponentSpec& spec = rc->spec;
  std::vector<std::string> accepted;
  for (const ArgSpec& a : spec.args) accepted.push_back(a.name);
  for (const auto& [field, value] : node.entries) {
    if (field == "_component_") continue;
    if (std::find(spec.positional.begin(), spec.positional.end(), field) != spec.positional.end()) {
      add(value, str(key, ".", field, ": '", field, "' of ", spec.name,
                     " is passed by the recipe; remove it from the config"));
      continue;
    }
    const ArgSpec* a = spec.find_arg(field);
    if (a == nullptr) {
      if (spec.accepts_any_kwargs) continue;
      add(value, str(key, ".", field, ": ", spec.name, " got an unexpected keyword argument '",
                     field, "'.", did_you_mean(field, accepted), " Accepted keywords: ",
                     accepted.empty() ? std::string("(none)") : join(accepted, ", "), "."));
      continue;
    }
    bool nullable = a->default_value.has_value() && *a->default_value == "null";
    if (value.is_null()) {
      if (!nullable)
        add(value, str(key, ".", field, ": ", spec.name, " needs ", describe(a->type), " for '",
                       field, "', got null; give a value",
                       a->default_value ? str(" or remove the key (default: ", *a->default_value, ")")
                                        : std::string()));
      continue;
    }
    if (!type_ok(value, a->type))
      add(value, str(key, ".", field, ": ", spec.name, " needs ", describe(a->type), " for '",
                     field, "', got ", shown(value)));
  }
  for (const ArgSpec& a : spec.args) {
    if (a.required() && node.find(a.name) == nullptr && (with_recipe_kwargs || !a.from_recipe))
      add(node, str(key, ": ", spec.name, " is missing required argument '", a.name,
                    "'; add `", a.name, ":` (", describe(a.type), ") under `", key, ":`"));
  }
  return problems;
}

void fail_with(const std::vector<Problem>& problems) {
  if (problems.size() == 1) throw Error(problems[0].where, problems[0].message);
  std::string text = str(problems.size(), " problems in the config:");
  for (const Problem& p : problems) text += str("\n  ", p.where, ": ", p.message);
  throw Error("", text);
}

Prepared prepare(const Config& cfg, const std::string& key, const Node& call_kwargs) {
  const Node* raw = cfg.raw().find_path(key);
  TT_CHECK(raw != nullptr && !raw->is_null(), cfg.origin(), "missing component '", key,
           "'; add `", key, ":` with a _component_ field to the config");
  Node merged = *raw;
  if (call_kwargs.is_map() && merged.is_map())
    for (const auto& [k, v] : call_kwargs.entries) merged.set(k, v);
  Node resolved = resolve(merged, cfg.raw(), key);
  std::vector<Problem> problems = check_component(resolved, key);
  if (!problems.empty()) fail_with(problems);
  const RegisteredComponent* rc = find_component(resolved.find("_component_")->text);
  resolved.erase("_component_");
  return Prepared{rc, std::move(resolved)};
}

void fail_product(const Prepared& prepared, const std::string& key) {
  throw Error(str("key '", key, "'"),
              str("'", prepared.component->spec.name, "' builds a component of kind '", prepared.component->spec.kind, "'",
                  ", which is not what this recipe expects under `", key,
                  ":`; choose a component of the right kind (`tune ls --components` lists "
                  "them)"));
}

Kwargs::Kwargs(const ComponentSpec& spec, Node fields, std::string key)
    : spec_(&spec), fields_(std::move(fields)), key_(std::move(key)) {
  for (const ArgSpec& a : spec.args) {
    if (a.default_value && fields_.find(a.name) == nullptr)
      defaults_.emplace_back(a.name,
                             parse_yaml(*a.default_value, str("default of ", spec.name, ".", a.name)));
  }
}

const Node& Kwargs::node(const std::string& name) const {
  if (const Node* n = fields_.find(name)) return *n;
  for (const auto& [k, v] : defaults_)
    if (k == name) return v;
  throw Error(str("key '", key_, "'"), str(spec_->name, " has no argument '", name,
                                           "' (a builder asked for an undeclared argument)"));
}

bool Kwargs::has(const std::string& name) const {
  if (const Node* n = fields_.find(name)) return !n->is_null();
  for (const auto& [k, v] : defaults_)
    if (k == name) return !v.is_null();
  return false;
}

std::string Kwargs::where(const std::string& name) const {
  const Node* n = fields_.find(name);
  if (n != nullptr && !n->loc.origin.empty()) return str(n->loc.str(), ": ", key_, ".", name);
  return str(key_, ".", name);
}

int64_t Kwargs::get_int(const std::string& name) const { return to_int(node(name), where(name)); }
double Kwargs::get_double(const std::string& name) const {
  return to_double(node(name), where(name));
}
bool Kwargs::get_bool(const std::string& name) const { return to_bool(node(name), where(name)); }
std::string Kwargs::get_string(const std::string& name) const {
  return to_string(node(name), where(name));
}
std::vector<std::string> Kwargs::get_string_list(const std::string& name) const {
  return to_string_list(node(name), where(name));
}
std::vector<double> Kwargs::get_number_list(const std::string& name) const {
  const Node& n = node(name);
  TT_CHECK(n.is_list(), where(name), "expected a list of numbers such as [0.9, 0.999], got ",
           describe_type(n));
  std::vector<double> out;
  for (const Node& item : n.items) out.push_back(to_double(item, where(name)));
  return out;
}
std::optional<int64_t> Kwargs::get_optional_int(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  return get_int(name);
}
std::optional<double> Kwargs::get_optional_double(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  return get_double(name);
}
std::optional<std::string> Kwargs::get_optional_string(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  return get_string(name);
}

}  // namespace tt::config
