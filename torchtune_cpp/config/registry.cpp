// Component registry, argument checking and the non-template half of instantiate().
#include "torchtune_cpp/config/registry.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
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
  std::map<std::string, Unsupported> unsupported;
};

Registry& registry() {
  static Registry r;
  return r;
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
      return v.is_list() && std::all_of(v.items.begin(), v.items.end(), [](const Node& i) {
               return i.is_scalar() && !i.is_null();
             });
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
ArgSpec arg(std::string name, ArgType type, std::string help, Constraint check) {
  ArgSpec a{std::move(name), type, std::nullopt, std::move(help)};
  a.check = std::move(check);
  return a;
}
ArgSpec arg(std::string name, ArgType type, std::string default_yaml, std::string help,
            Constraint check) {
  ArgSpec a{std::move(name), type, std::move(default_yaml), std::move(help)};
  a.check = std::move(check);
  return a;
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

void register_unsupported(const std::string& name, const std::string& alternative,
                          const std::string& kind) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (r.by_name.count(name) == 0) r.unsupported[name] = Unsupported{alternative, kind};
}

const RegisteredComponent* find_component(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.by_name.find(name);
  return it == r.by_name.end() ? nullptr : it->second.get();
}

std::optional<Unsupported> unsupported_component(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.unsupported.find(name);
  if (it == r.unsupported.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> unsupported_alternative(const std::string& name) {
  auto u = unsupported_component(name);
  if (!u) return std::nullopt;
  return u->alternative;
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

namespace {

// Likely typos of a component name: at most two edits (case aside), all in the module path
// or all in the last name, so a sibling family's builder (llama3.llama3_tokenizer vs
// llama2.llama2_tokenizer) is not offered as one. Only the closest are offered.
std::string component_did_you_mean(const std::string& name,
                                   const std::vector<std::string>& candidates) {
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  auto split = [](const std::string& s) {
    const size_t dot = s.rfind('.');
    return dot == std::string::npos ? std::make_pair(std::string(), s)
                                    : std::make_pair(s.substr(0, dot), s.substr(dot + 1));
  };
  const auto [module, last] = split(lower(name));
  size_t best = 3;
  std::vector<std::string> close;
  for (const std::string& c : candidates) {
    const auto [c_module, c_last] = split(lower(c));
    if (module != c_module && last != c_last) continue;
    const size_t d = edit_distance(module, c_module) + edit_distance(last, c_last);
    if (d < best) {
      best = d;
      close.clear();
    }
    if (d == best) close.push_back("'" + c + "'");
  }
  if (close.empty()) return "";
  if (close.size() > 3) close.resize(3);
  return " Did you mean " + join(close, " or ") + "?";
}

// The registered components of one kind (canonical names), for "what we have instead".
std::vector<std::string> names_of_kind(const std::string& kind) {
  std::vector<std::string> out;
  for (const std::string& n : registered_names()) {
    const RegisteredComponent* c = find_component(n);
    if (c != nullptr && c->spec.kind == kind && c->spec.name == n) out.push_back(n);
  }
  return out;
}

}  // namespace

std::string where_of(const Node& value, const std::string& key) {
  return value.loc.origin.empty() ? key : str(key, " (", value.loc.str(), ")");
}

std::vector<Problem> check_value(const Node& value, const ArgSpec& spec, const std::string& key,
                                 const std::string& owner) {
  std::vector<Problem> problems;
  const std::string who = owner.empty() ? std::string() : owner + " ";
  bool nullable = spec.default_value.has_value() && *spec.default_value == "null";
  if (value.is_null()) {
    if (!nullable)
      problems.push_back(Problem{
          where_of(value, key),
          str(who, "needs ", describe(spec.type), " for '", spec.name, "', got null; give a value",
              spec.default_value ? str(" or remove the key (default: ", *spec.default_value, ")")
                                 : std::string())});
    return problems;
  }
  if (!type_ok(value, spec.type)) {
    problems.push_back(Problem{
        where_of(value, key),
        str(who, "needs ", describe(spec.type), " for '", spec.name, "', got ", shown(value))});
    return problems;
  }
  // An integer beyond 64 bits reads as an integer but has no value.
  if (value.is_scalar() && value.scalar_type() == ScalarType::kInt && !value.as_int() &&
      (spec.type == ArgType::kInt || spec.type == ArgType::kFloat)) {
    problems.push_back(Problem{where_of(value, key),
                               str("'", value.text, "' is outside the 64-bit integer range (",
                                   INT64_MIN, " to ", INT64_MAX, "); write a smaller number")});
    return problems;
  }
  if (auto v = violation(value, spec.check)) problems.push_back(Problem{where_of(value, key), *v});
  return problems;
}

std::vector<Problem> check_component(const Node& node, const std::string& key,
                                     bool with_recipe_kwargs) {
  std::vector<Problem> problems;
  auto add = [&](const Node& at, const std::string& at_key, std::string message) {
    problems.push_back(Problem{where_of(at, at_key), std::move(message)});
  };
  if (!node.is_map()) {
    add(node, key,
        str("expected a component (a mapping with a _component_ field), got ", shown(node)));
    return problems;
  }
  const Node* comp = node.find("_component_");
  if (comp == nullptr) {
    add(node, key,
        "Cannot instantiate specified object. Make sure you've specified a "
        "_component_ field with a valid dotpath.");
    return problems;
  }
  const std::string comp_key = key + "._component_";
  if (!comp->is_scalar() || comp->is_null() || comp->text.empty()) {
    add(*comp, comp_key,
        str("expected a dotted name such as torch.optim.AdamW, got ", shown(*comp)));
    return problems;
  }
  const std::string& name = comp->text;
  const RegisteredComponent* rc = find_component(name);
  if (rc == nullptr) {
    if (auto alt = unsupported_component(name)) {
      const std::string what = alt->kind.empty() ? "component" : alt->kind;
      std::string text =
          name.rfind("torchtune.", 0) == 0
              ? str("'", name, "' is a torchtune ", what,
                    " that torchtune_cpp does not provide yet.")
              : str("'", name, "' is ",
                    std::string("aeiou").find(what[0]) != std::string::npos ? "an " : "a ", what,
                    " torchtune configs use that torchtune_cpp does not provide yet.");
      if (!alt->alternative.empty()) text += " " + alt->alternative;
      if (!alt->kind.empty()) {
        std::vector<std::string> ours = names_of_kind(alt->kind);
        if (!ours.empty())
          text += str(" torchtune_cpp's ", alt->kind, " components: ", join(ours, ", "), ".");
      }
      add(*comp, comp_key, text);
    } else {
      add(*comp, comp_key,
          str("unknown component '", name, "'.", component_did_you_mean(name, known_names()),
              " `tune ls --components` lists the registered names."));
    }
    return problems;
  }
  const ComponentSpec& spec = rc->spec;
  std::vector<std::string> accepted;
  for (const ArgSpec& a : spec.args) accepted.push_back(a.name);
  for (const auto& [field, value] : node.entries) {
    if (field == "_component_") continue;
    const std::string field_key = str(key, ".", field);
    if (std::find(spec.positional.begin(), spec.positional.end(), field) != spec.positional.end()) {
      add(value, field_key,
          str("'", field, "' of ", spec.name,
              " is passed by the recipe; remove it from the config"));
      continue;
    }
    const ArgSpec* a = spec.find_arg(field);
    if (a == nullptr) {
      if (spec.accepts_any_kwargs) continue;
      add(value, field_key,
          str(spec.name, " got an unexpected keyword argument '", field, "'.",
              did_you_mean(field, accepted), " Accepted keywords: ",
              accepted.empty() ? std::string("(none)") : join(accepted, ", "), "."));
      continue;
    }
    for (Problem& p : check_value(value, *a, field_key, spec.name))
      problems.push_back(std::move(p));
  }
  for (const ArgSpec& a : spec.args) {
    if (a.required() && node.find(a.name) == nullptr && (with_recipe_kwargs || !a.from_recipe))
      add(node, key,
          str(spec.name, " is missing required argument '", a.name, "'; add `", a.name, ":` (",
              describe(a.type), ") under `", key, ":`"));
  }
  if (problems.empty() && spec.cross_check) {
    Node fields = node;
    fields.erase("_component_");
    for (Problem& p : spec.cross_check(Kwargs(spec, std::move(fields), key)))
      problems.push_back(std::move(p));
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
  TT_CHECK(raw != nullptr && !raw->is_null(), cfg.origin(), "missing component '", key, "'; add `",
           key, ":` with a _component_ field to the config");
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
  throw Error(key, str("'", prepared.component->spec.name, "' builds a component of kind '",
                       prepared.component->spec.kind, "'",
                       ", which is not what this recipe expects under `", key,
                       ":`; choose a component of the right kind (`tune ls --components` lists "
                       "them)"));
}

Kwargs::Kwargs(const ComponentSpec& spec, Node fields, std::string key)
    : spec_(&spec), fields_(std::move(fields)), key_(std::move(key)) {
  for (const ArgSpec& a : spec.args) {
    if (a.default_value && fields_.find(a.name) == nullptr)
      defaults_.emplace_back(
          a.name, parse_yaml(*a.default_value, str("default of ", spec.name, ".", a.name)));
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
  return n != nullptr ? where_of(*n, str(key_, ".", name)) : str(key_, ".", name);
}

int64_t Kwargs::get_int(const std::string& name) const {
  return to_int(node(name), where(name));
}
double Kwargs::get_double(const std::string& name) const {
  return to_double(node(name), where(name));
}
bool Kwargs::get_bool(const std::string& name) const {
  return to_bool(node(name), where(name));
}
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
